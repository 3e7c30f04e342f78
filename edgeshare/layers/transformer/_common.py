"""Helpers shared by the transformer-family layers.

`check_positive` validates sizes. The rest makes layer-instance arguments survive a `.keras` save and reload
with their sharing intact.

Some edgeshare layers accept another layer instance, so that one sublayer can serve several owners:
`TransformerBlock(attention=...)`, `Repeat(layer)`, `SharedBasisDense(basis)`. Their `get_config` returns
the instance itself (`sublayer_config`), not a serialized dict. Keras serializes it afterwards, inside the
`ObjectSharingScope` that `model.save` opens: the second time it meets the same instance it marks both
configs with one `shared_object_id`, and `keras.saving.load_model` then builds a single instance for every
owner, whose weights are saved and loaded once. Serializing to a dict inside `get_config` defeats this:
Keras copies nested config dicts after `get_config` returns, so the id lands on a discarded copy and the
reloaded owners get separate copies (measured with Keras 3.15).

Outside `model.save` / `load_model` (for example `keras.Model.from_config(model.get_config())`) there is
no sharing scope, and each owner is rebuilt with its own copy of the sublayer.
"""

from __future__ import annotations

from typing import Any

import keras


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


def sublayer_config(layer: Any) -> Any:
    """The value `get_config` stores for a layer-instance argument: the instance itself (see above)."""
    return layer


def sublayer_from_config(value: Any) -> Any:
    """Turn a stored layer-instance argument back into a layer: a serialized dict is deserialized (inside
    `load_model` this returns the one shared instance), an instance or None passes through."""
    if isinstance(value, dict):
        return keras.saving.deserialize_keras_object(value)
    return value
