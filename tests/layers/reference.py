"""NumPy references for the transformer-family layer tests: attention, layer norm, FFN and a pre-norm block,
computed from the Keras layers' weights in float64."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def gelu(x: np.ndarray) -> np.ndarray:
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def layer_norm(x: np.ndarray, layer: Any) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + layer.epsilon) * _w(layer.gamma) + _w(layer.beta)


def _w(v: Any) -> np.ndarray:
    return np.asarray(v.numpy() if hasattr(v, "numpy") else v, dtype=np.float64)


def dense(x: np.ndarray, layer: Any) -> np.ndarray:
    """keras Dense or EinsumDense with a (in, ...) kernel contracted over x's last axis."""
    kernel = _w(layer.kernel)
    y = np.tensordot(x, kernel, axes=([x.ndim - 1], [0]))
    if getattr(layer, "bias", None) is not None:
        y = y + _w(layer.bias)
    return y


def softmax(scores: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    scores = scores - scores.max(-1, keepdims=True)
    e = np.exp(scores)
    return e / e.sum(-1, keepdims=True)


def causal_mask(t: int, s: int) -> np.ndarray:
    return np.tril(np.ones((t, s), dtype=bool))


def attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """q (b, t, h, d), k and v (b, s, h, d) with h broadcast; mask (b|1, t, s). Returns (b, t, h, d)."""
    scores = np.einsum("bthd,bshd->bhts", q, k) / math.sqrt(q.shape[-1])
    w = softmax(scores, None if mask is None else mask[:, None])
    return np.einsum("bhts,bshd->bthd", w, v)


def mha(x: np.ndarray, layer: Any, causal: bool, mask: np.ndarray | None = None) -> np.ndarray:
    """keras MultiHeadAttention or GroupQueryAttention (self-attention) in NumPy."""
    q = dense(x, layer._query_dense)
    k = dense(x, layer._key_dense)
    v = dense(x, layer._value_dense)
    heads = q.shape[2]
    k = np.repeat(k, heads // k.shape[2], axis=2)  # GQA: each key/value head serves a group of query heads
    v = np.repeat(v, heads // v.shape[2], axis=2)
    if causal:
        cm = causal_mask(x.shape[1], x.shape[1])[None]
        mask = cm if mask is None else np.logical_and(mask, cm)
    out = np.tensordot(attention(q, k, v, mask), _w(layer._output_dense.kernel), axes=([2, 3], [0, 1]))
    return out if layer._output_dense.bias is None else out + _w(layer._output_dense.bias)


def feed_forward(x: np.ndarray, layer: Any) -> np.ndarray:
    """edgeshare FeedForward with gelu or silu."""
    act = {"gelu": gelu, "silu": lambda z: z / (1.0 + np.exp(-z))}[layer.activation.__name__]
    if layer.gated:
        hidden = act(dense(x, layer.gate)) * dense(x, layer.up)
    else:
        hidden = act(dense(x, layer.up))
    return dense(hidden, layer.down)


def block(x: np.ndarray, layer: Any, mask: np.ndarray | None = None) -> np.ndarray:
    """edgeshare TransformerBlock (pre-norm) with MHA/GQA attention and a FeedForward."""
    h = layer_norm(x, layer.attention_norm)
    x = x + mha(h, layer.attention_layer, layer.causal, mask)
    h = layer_norm(x, layer.feed_forward_norm)
    return x + feed_forward(h, layer.feed_forward_layer)
