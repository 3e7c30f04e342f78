"""A masked softmax that survives full-integer quantization, traced in place of Keras' for int8 exports.

Keras writes a masked softmax as `softmax(where(mask, logits, -1e9))` (`keras.layers.Softmax`, used by
`MultiHeadAttention` and keras-hub's Gemma and Llama attention) or with `-0.7 * float32 max`
(`ops.dot_product_attention` on TensorFlow, used by GPT-2's attention). TFLite's int8 `SELECT_V2` takes
one scale for both branches and its output, so the attention logits are quantized over [-1e9, max]:
every logit rounds to the same integer and the attention becomes uniform. Measured on a keras-hub Gemma
built from config: worst per-sample cosine 0.32 against Keras; GPT-2 and Llama built from config pass
only because their random attention logits are close to uniform anyway.

Traced instead, only for `quantize="int8"`: `where(mask, exp(min(x - m, 0)), 0) / sum(...)` with `m` the row's
largest unmasked logit (Bridle's softmax, shifted by the unmasked maximum), the division written as two
products with `rsqrt(sum)`. Every tensor keeps the logits' own range; masked positions get exactly 0, as
in Keras, and so does a row with no unmasked position. The float modes keep Keras' form.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


def masked_softmax(x: Any, mask: Any, axis: Any) -> Any:
    """softmax(x) over `axis` restricted to `mask` (bool, broadcastable), 0 where masked."""
    from keras import ops

    axes = tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
    # The mask stays boolean: a float copy of a constant (causal) mask would be stored as a weight.
    keep = ops.broadcast_to(mask, ops.shape(x))
    low = ops.min(x, axis=axes, keepdims=True)
    # The largest unmasked logit; filling masked positions with the row's minimum keeps the range.
    top = ops.max(ops.where(keep, x, low), axis=axes, keepdims=True)
    # exp of at most 0: in (0, 1], and masked positions 0, a value inside that range (one int8 scale).
    e = ops.where(keep, ops.exp(ops.minimum(x - top, 0.0)), 0.0)
    # A row with an unmasked position sums to at least 1 (its maximum gives exp(0)); a fully masked row
    # sums to 0 and stays 0 (the floor of 1 keeps its reciprocal finite).
    total = ops.maximum(ops.sum(e, axis=axes, keepdims=True), 1.0)
    # e / total as two products with rsqrt(total): TFLite's int8 DIV returns its largest value for some
    # numerators one step above zero (measured on the tied_lm reference: 1.0 where 0.0007 was due, a
    # worst-sample cosine of 0.974 against Keras); int8 RSQRT and MUL keep every value in range.
    inv = ops.rsqrt(total)
    return (e * inv) * inv


def _softmax_call(original: Any) -> Any:
    def call(self: Any, inputs: Any, mask: Any = None) -> Any:
        if mask is None:
            return original(self, inputs)
        from keras import ops

        if mask.dtype != "bool":
            mask = ops.greater(mask, ops.cast(0.5, mask.dtype))
        return masked_softmax(inputs, mask, self.axis)

    return call


def _attention_xla(original: Any) -> Any:
    def attention(query: Any, key: Any, value: Any, bias: Any, mask: Any, is_causal: bool, scale: Any) -> Any:
        if mask is None and not is_causal:
            return original(query, key, value, bias, mask, is_causal, scale)
        import tensorflow as tf

        # query (B, T, N, H), key (B, S, N, H) -> logits (B, N, T, S), as in Keras' TensorFlow backend
        logits = tf.einsum("BTNH,BSNH->BNTS", query, key, optimize="optimal")
        logits = tf.multiply(tf.cast(logits, "float32"), tf.cast(scale, "float32"))
        if bias is not None:
            logits = tf.add(logits, tf.cast(bias, logits.dtype))
        keep = tf.ones_like(logits, dtype="bool")
        if mask is not None:
            keep = tf.logical_and(keep, mask)
        if is_causal:
            t, s = tf.shape(logits)[2], tf.shape(logits)[3]
            keep = tf.logical_and(keep, tf.linalg.band_part(tf.ones((t, s), "bool"), -1, 0)[None, None])
        probs = tf.cast(masked_softmax(logits, keep, -1), key.dtype)
        # probs (B, N, T, S), value (B, S, N, H) -> (B, T, N, H)
        return tf.einsum("BNTS,BSNH->BTNH", probs, value, optimize="optimal")

    return attention


@contextlib.contextmanager
def quantizable_masked_softmax(active: bool) -> Iterator[None]:
    """While active, Keras' masked softmax traces as `masked_softmax` (see the module docstring)."""
    if not active:
        yield
        return
    from keras.src.backend.tensorflow import nn as tf_nn
    from keras.src.layers.activations import softmax as softmax_module

    layer_call = softmax_module.Softmax.call
    attention = tf_nn._dot_product_attention_xla
    softmax_module.Softmax.call = _softmax_call(layer_call)
    tf_nn._dot_product_attention_xla = _attention_xla(attention)
    try:
        yield
    finally:
        softmax_module.Softmax.call = layer_call
        tf_nn._dot_product_attention_xla = attention
