"""Inter-head sharing: attention heads that share their key/value, query/key or value projections."""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

from edgeshare.validation import check_choice, check_in_range, check_positive_int

SHARED = ("kv", "qk", "v")


@keras.saving.register_keras_serializable(package="edgeshare")
class SharedHeadAttention(keras.layers.Layer):
    """Multi-head attention whose heads share the projections named by `shared` (family 5, inter-head).

    - `shared="kv"`: all heads share one key and one value projection: multi-query attention. This is
      `keras.layers.GroupQueryAttention` with one key/value head, which the layer builds and calls.
    - `shared="qk"`: all heads share one query and one key projection, so they share one attention map,
      and each head applies it to its own value projection.
    - `shared="v"`: each head has its own query and key projections (its own attention map), and all apply
      them to one shared value projection.

    Every head keeps its slice of the output projection. For grouped-query attention (heads sharing keys
    and values in groups) use `keras.layers.GroupQueryAttention` directly; for layer-wise head sharing,
    pass one attention instance to several `TransformerBlock`s. The call signature is that of
    `keras.layers.MultiHeadAttention`, so the layer fits `TransformerBlock(attention=...)`.

    Args:
        num_heads: number of attention heads.
        key_dim: size of each head (queries, keys and values).
        shared: `"kv"`, `"qk"` or `"v"`: which projections the heads share.
        dropout: dropout rate on the attention weights during training.
        use_bias: whether the projections have biases.
        kernel_initializer: initializer of the projection kernels.
        **kwargs: standard layer arguments.

    Call arguments:
        query: a tensor of shape (batch, target_length, dim).
        value: a tensor of shape (batch, source_length, value_dim).
        key: optional tensor of shape (batch, source_length, key_dim_in); defaults to `value`.
        attention_mask: optional boolean mask of shape (batch, target_length, source_length); True where
            attention is allowed.
        use_causal_mask: whether position t attends only to source positions up to t.
        training: whether dropout is active.

    Returns:
        A tensor of shape (batch, target_length, dim).

    Example:
        >>> attention = SharedHeadAttention(num_heads=4, key_dim=8, shared="qk")
        >>> x = keras.ops.ones((2, 10, 32))
        >>> tuple(attention(x, x).shape)
        (2, 10, 32)

    References:
        Shazeer 2019, "Fast Transformer Decoding: One Write-Head is All You Need" (shared keys and values).
        Cordonnier et al. 2020, "Multi-Head Attention: Collaborate Instead of Concatenate" (heads sharing
        query/key projections; `"v"` is the same idea applied to the values).
    """

    def __init__(
        self,
        num_heads: int,
        key_dim: int,
        shared: str = "kv",
        dropout: float = 0.0,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_positive_int(num_heads, "num_heads")
        check_positive_int(key_dim, "key_dim")
        check_choice(shared, "shared", SHARED)
        check_in_range(dropout, "dropout", 0, 1)
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.shared = shared
        self.dropout = dropout
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def _projection(self, name: str, heads: int, equation: str = "bsd,dhk->bshk") -> keras.layers.EinsumDense:
        return keras.layers.EinsumDense(
            equation,
            output_shape=(None, heads, self.key_dim),
            bias_axes="hk" if self.use_bias else None,
            kernel_initializer=self.kernel_initializer.__class__.from_config(self.kernel_initializer.get_config()),
            dtype=self.dtype_policy,
            name=name,
        )

    def build(self, query_shape: Any, value_shape: Any, key_shape: Any = None) -> None:
        key_shape = value_shape if key_shape is None else key_shape
        if self.shared == "kv":
            # Multi-query attention: keras' GroupQueryAttention with a single key/value head.
            self.attention = keras.layers.GroupQueryAttention(
                head_dim=self.key_dim,
                num_query_heads=self.num_heads,
                num_key_value_heads=1,
                dropout=self.dropout,
                use_bias=self.use_bias,
                kernel_initializer=self.kernel_initializer.__class__.from_config(self.kernel_initializer.get_config()),
                dtype=self.dtype_policy,
                name="attention",
            )
            self.attention.build(query_shape, value_shape, key_shape)
            return
        qk_heads = 1 if self.shared == "qk" else self.num_heads
        v_heads = 1 if self.shared == "v" else self.num_heads
        self.query_dense = self._projection("query", qk_heads)
        self.query_dense.build(query_shape)
        self.key_dense = self._projection("key", qk_heads)
        self.key_dense.build(key_shape)
        self.value_dense = self._projection("value", v_heads)
        self.value_dense.build(value_shape)
        self.output_dense = keras.layers.EinsumDense(
            "bthk,hkd->btd",
            output_shape=(None, query_shape[-1]),
            bias_axes="d" if self.use_bias else None,
            kernel_initializer=self.kernel_initializer.__class__.from_config(self.kernel_initializer.get_config()),
            dtype=self.dtype_policy,
            name="attention_output",
        )
        self.output_dense.build((*query_shape[:-1], self.num_heads, self.key_dim))
        self.softmax = keras.layers.Softmax(axis=-1, dtype=self.dtype_policy, name="softmax")
        self.weights_dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy, name="weights_dropout")

    def _mask(self, query: Any, value: Any, attention_mask: Any, use_causal_mask: bool) -> Any:
        mask = None if attention_mask is None else ops.cast(attention_mask, "bool")  # (batch, target, source)
        if use_causal_mask:
            ones = ops.ones((1, ops.shape(query)[1], ops.shape(value)[1]), dtype="int32")
            causal = ops.greater_equal(ops.cumsum(ones, axis=-2), ops.cumsum(ones, axis=-1))  # (1, target, source)
            mask = causal if mask is None else ops.logical_and(mask, causal)
        return mask

    def call(
        self,
        query: Any,
        value: Any,
        key: Any = None,
        attention_mask: Any = None,
        use_causal_mask: bool = False,
        training: bool | None = None,
    ) -> Any:
        if self.shared == "kv":
            return self.attention(
                query, value, key=key, attention_mask=attention_mask, use_causal_mask=use_causal_mask,
                training=training,
            )
        key = value if key is None else key
        mask = self._mask(query, value, attention_mask, use_causal_mask)
        scale = 1.0 / math.sqrt(self.key_dim)
        q = self.query_dense(query) * scale  # (batch, target, qk_heads, key_dim)
        k = self.key_dense(key)  # (batch, source, qk_heads, key_dim)
        v = self.value_dense(value)  # (batch, source, v_heads, key_dim)
        if self.shared == "qk":
            # One attention map for every head: (b, t, k) x (b, s, k) -> (b, t, s).
            scores = ops.einsum("btk,bsk->bts", q[:, :, 0, :], k[:, :, 0, :])
            weights = self.weights_dropout(self.softmax(scores, mask=mask), training=training)
            # Each head's own values: (b, t, s) x (b, s, h, k) -> (b, t, h, k).
            heads = ops.einsum("bts,bshk->bthk", weights, v)
        else:
            # A map per head: (b, t, h, k) x (b, s, h, k) -> (b, h, t, s).
            scores = ops.einsum("bthk,bshk->bhts", q, k)
            head_mask = None if mask is None else ops.expand_dims(mask, 1)  # (batch | 1, 1, target, source)
            weights = self.weights_dropout(self.softmax(scores, mask=head_mask), training=training)
            # One shared value projection: (b, h, t, s) x (b, s, k) -> (b, t, h, k).
            heads = ops.einsum("bhts,bsk->bthk", weights, v[:, :, 0, :])
        return self.output_dense(heads)  # (b, t, h, k) -> (b, t, dim)

    def compute_output_shape(self, query_shape: Any, value_shape: Any, key_shape: Any = None) -> tuple[Any, ...]:
        return tuple(query_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "shared": self.shared,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
