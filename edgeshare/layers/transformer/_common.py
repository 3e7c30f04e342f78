"""Helpers shared by the transformer-family layers: `check_positive` and `check_sublayer` validate
arguments; the layer-instance helpers live in `edgeshare.layers._shared_sublayer`."""

from __future__ import annotations

from typing import Any

import keras

from edgeshare.layers._shared_sublayer import sublayer_config, sublayer_from_config

__all__ = ["check_positive", "check_sublayer", "sublayer_config", "sublayer_from_config"]


def check_positive(value: Any, name: str, allow_none: bool = False) -> None:
    """Raise a ValueError naming `name` unless `value` is a positive int (or None when allowed)."""
    if value is None and allow_none:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value}")


def check_sublayer(value: Any, argument: str, allow_none: bool = True) -> None:
    """Raise a TypeError naming `argument` unless `value` is a Keras layer (or None when allowed)."""
    if value is None and allow_none:
        return
    if not isinstance(value, keras.layers.Layer):
        expected = "a Keras layer instance or None" if allow_none else "a Keras layer instance"
        raise TypeError(f"`{argument}` must be {expected}. Received: {argument}={value!r}")
