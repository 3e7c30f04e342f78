"""A causal mask that survives full-int8 TFLite: the study's workaround for a finding of issue 12.

Keras' attention (`keras.layers.MultiHeadAttention` through `keras.ops.dot_product_attention` on the
TensorFlow backend) masks scores with `where(mask, scores, -0.7 * float32 max)`. In a full-int8 TFLite
file that masked tensor gets one int8 scale for its whole range, which the mask value stretches to
9.3e35 per step (measured on the `SelectV2` output of every causal block). Every real score
then rounds to the same level, and softmax attends uniformly over the visible prefix: the attention is
gone. Any causal `TransformerBlock`, `SharedTransformerStack`, `UniversalTransformer` or `Repeat` of them
is hit, shared or not.

`bounded_mask(value)` makes the masked positions `value` (default -30) instead while a model is traced
for export. In float this changes nothing that matters: a masked score sits at least 30 - (max score)
below the largest one, so its softmax weight is below e^-20 of the largest where scores stay within
+-10 (they do here; the export's numerics check against Keras measures it). In int8 the masked tensor's
range is then about [-30, max score], a step of about 0.16. It patches two private Keras functions that
pick the mask value (`keras.src.backend.tensorflow.nn._get_large_negative`, and
`keras.src.layers.activations.softmax._large_negative_number` for the unfused path) for the duration of
the block only; the lasting fix belongs in the layers or in the converter (see BENCHMARKS.md's study
section).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

DEFAULT_MASK_VALUE = -30.0


@contextlib.contextmanager
def bounded_mask(value: float = DEFAULT_MASK_VALUE) -> Iterator[None]:
    """While active, Keras masks attention scores with `value` instead of -1e9."""
    if not value < 0:
        raise ValueError(f"`value` must be negative to mask a score. Received: value={value}")
    import tensorflow as tf
    from keras.src.backend.tensorflow import nn as tf_nn
    from keras.src.layers.activations import softmax

    originals = (tf_nn._get_large_negative, softmax._large_negative_number)
    tf_nn._get_large_negative = lambda dtype: tf.constant(value, dtype=dtype)
    softmax._large_negative_number = lambda dtype: value
    try:
        yield
    finally:
        tf_nn._get_large_negative, softmax._large_negative_number = originals
