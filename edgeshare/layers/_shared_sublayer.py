"""Layer-instance arguments shared by several layers (a filter bank, shared factor matrices).

A layer that holds a shared sublayer returns the instance itself from `get_config`, not a serialized
dict. Keras serializes it afterwards, inside the `ObjectSharingScope` that `model.save` opens: the
second time it meets the same instance it marks both configs with one `shared_object_id`, and
`keras.saving.load_model` then builds one instance for every holder, whose weights are saved and loaded
once. Serializing to a dict inside `get_config` defeats this: Keras copies nested config dicts after
`get_config` returns, so the mark lands on a discarded copy and the reloaded holders get separate
copies (measured with Keras 3.15). The transformer-family layers follow the same convention.

Outside `model.save` / `load_model` there is no sharing scope: `from_config` of a serialized config
gives each holder its own copy.
"""

from __future__ import annotations

import keras


def shared_sublayer_from_config(value):
    """A stored layer-instance argument back as a layer: a serialized dict is deserialized (inside
    `load_model` this returns the one shared instance); an instance or None passes through."""
    if isinstance(value, dict):
        return keras.saving.deserialize_keras_object(value)
    return value
