"""Layer-instance arguments shared by several layers (a filter bank, shared factor matrices, an
attention or FFN sublayer shared across blocks, the layer a Repeat applies).

A layer that holds a shared sublayer returns the instance itself from `get_config` (`sublayer_config`),
not a serialized dict. Keras serializes it afterwards, inside the `ObjectSharingScope` that `model.save`
opens: the second time it meets the same instance it marks both configs with one `shared_object_id`,
and `keras.saving.load_model` then builds one instance for every holder, whose weights are saved and
loaded once. Serializing to a dict inside `get_config` defeats this: Keras copies nested config dicts
after `get_config` returns, so the mark lands on a discarded copy and the reloaded holders get separate
copies (measured with Keras 3.15).

Outside `model.save` / `load_model` (for example `keras.Model.from_config(model.get_config())`) there is
no sharing scope: each holder is rebuilt with its own copy of the sublayer.
"""

from __future__ import annotations

from typing import Any

import keras


def sublayer_config(layer: Any) -> Any:
    """The value `get_config` stores for a layer-instance argument: the instance itself (see above)."""
    return layer


def sublayer_from_config(value: Any) -> Any:
    """A stored layer-instance argument back as a layer: a serialized dict is deserialized (inside
    `load_model` this returns the one shared instance); an instance or None passes through."""
    if isinstance(value, dict):
        return keras.saving.deserialize_keras_object(value)
    return value


def check_sublayer(value: Any, argument: str, allow_none: bool = True) -> None:
    """Raise a TypeError naming `argument` unless `value` is a Keras layer (or None when allowed)."""
    if value is None and allow_none:
        return
    if not isinstance(value, keras.layers.Layer):
        expected = "a Keras layer instance or None" if allow_none else "a Keras layer instance"
        raise TypeError(f"`{argument}` must be {expected}. Received: {argument}={value!r}")
