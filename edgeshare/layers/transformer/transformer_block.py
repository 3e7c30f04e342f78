"""A pre-norm Transformer block whose attention and feed-forward sublayers can be shared."""

from __future__ import annotations

from typing import Any, cast

import keras

from edgeshare.layers._shared_sublayer import check_sublayer, sublayer_config, sublayer_from_config
from edgeshare.layers.transformer.feed_forward import FeedForward
from edgeshare.validation import check_in_range, check_positive_int


@keras.saving.register_keras_serializable(package="edgeshare")
class TransformerBlock(keras.layers.Layer):
    """A pre-norm Transformer block: `x + attention(norm(x))`, then `x + feed_forward(norm(x))`.

    `attention` and `feed_forward` accept existing layer instances, so that one sublayer serves several
    blocks: pass the same attention layer to many blocks for layer-wise head sharing (family 5), the same
    `FeedForward` for block-level FFN sharing with the residual (skip) connections kept per block (family 6).
    The layer norms always belong to the block. A shared sublayer stays one instance after a `.keras` save
    and reload. Without them the block builds its own `keras.layers.MultiHeadAttention` and `FeedForward`.

    Args:
        num_heads: attention heads of the block's own attention; ignored when `attention` is given.
        key_dim: size of each attention head; ignored when `attention` is given.
        ffn_dim: hidden width of the block's own feed-forward; ignored when `feed_forward` is given.
        attention: an attention layer with the `keras.layers.MultiHeadAttention` call signature
            (`query, value, attention_mask=, use_causal_mask=`), e.g. `MultiHeadAttention`,
            `GroupQueryAttention` or `SharedHeadAttention`; None builds a `MultiHeadAttention`.
        feed_forward: a layer mapping (..., dim) to (..., dim); None builds a `FeedForward(ffn_dim)`.
        causal: whether each position attends only to itself and earlier positions (a decoder block).
        dropout: dropout rate on the attention and feed-forward outputs during training.
        activation: activation of the block's own feed-forward.
        use_bias: whether the block's own attention and feed-forward projections have biases.
        norm_epsilon: epsilon of the two layer norms.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: a tensor of shape (batch, length, dim).
        attention_mask: optional boolean mask of shape (batch, length, length); True where attention is
            allowed. Combined with the causal mask when `causal=True`.
        training: whether dropout is active.

    Returns:
        A tensor of shape (batch, length, dim).

    Example:
        >>> attention = keras.layers.MultiHeadAttention(4, 8)
        >>> first = TransformerBlock(ffn_dim=64, attention=attention)
        >>> second = TransformerBlock(ffn_dim=64, attention=attention)  # layer-wise head sharing
        >>> tuple(second(first(keras.ops.ones((2, 10, 32)))).shape)
        (2, 10, 32)

    References:
        Vaswani et al. 2017, "Attention Is All You Need".
        Xiong et al. 2020, "On Layer Normalization in the Transformer Architecture" (pre-norm).
        Lan et al. 2019, "ALBERT" (sharing attention or FFN across layers).
    """

    def __init__(
        self,
        num_heads: int | None = None,
        key_dim: int | None = None,
        ffn_dim: int | None = None,
        attention: keras.layers.Layer | None = None,
        feed_forward: keras.layers.Layer | None = None,
        causal: bool = False,
        dropout: float = 0.0,
        activation: Any = "gelu",
        use_bias: bool = True,
        norm_epsilon: float = 1e-5,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        attention = sublayer_from_config(attention)
        feed_forward = sublayer_from_config(feed_forward)
        check_sublayer(attention, "attention")
        check_sublayer(feed_forward, "feed_forward")
        if attention is None and (num_heads is None or key_dim is None):
            raise ValueError(
                "`num_heads` and `key_dim` are required when no `attention` layer is given. "
                f"Received: num_heads={num_heads}, key_dim={key_dim}, attention=None"
            )
        if feed_forward is None and ffn_dim is None:
            raise ValueError(
                "`ffn_dim` is required when no `feed_forward` layer is given. Received: ffn_dim=None, "
                "feed_forward=None"
            )
        check_positive_int(num_heads, "num_heads", allow_none=True)
        check_positive_int(key_dim, "key_dim", allow_none=True)
        check_positive_int(ffn_dim, "ffn_dim", allow_none=True)
        check_in_range(dropout, "dropout", 0, 1)
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.ffn_dim = ffn_dim
        self.attention = attention
        self.feed_forward = feed_forward
        self.causal = causal
        self.dropout = dropout
        self.activation = activation
        self.use_bias = use_bias
        self.norm_epsilon = norm_epsilon

    def build(self, input_shape: Any) -> None:
        # The sublayers in use: the given (possibly shared) instances, or the block's own.
        if self.attention is not None:
            self.attention_layer = self.attention
        else:
            self.attention_layer = keras.layers.MultiHeadAttention(
                self.num_heads, self.key_dim, use_bias=self.use_bias, dtype=self.dtype_policy, name="attention"
            )
        if self.feed_forward is not None:
            self.feed_forward_layer = self.feed_forward
        else:
            self.feed_forward_layer = FeedForward(
                cast(int, self.ffn_dim),  # not None: __init__ requires it when no feed_forward is given
                activation=self.activation,
                use_bias=self.use_bias,
                dtype=self.dtype_policy,
                name="feed_forward",
            )
        # A shared sublayer is built once, by its first owner.
        if not self.attention_layer.built:
            self.attention_layer.build(input_shape, input_shape)
        if not self.feed_forward_layer.built:
            self.feed_forward_layer.build(input_shape)
        self.attention_norm = keras.layers.LayerNormalization(
            epsilon=self.norm_epsilon, dtype=self.dtype_policy, name="attention_norm"
        )
        self.attention_norm.build(input_shape)
        self.feed_forward_norm = keras.layers.LayerNormalization(
            epsilon=self.norm_epsilon, dtype=self.dtype_policy, name="feed_forward_norm"
        )
        self.feed_forward_norm.build(input_shape)
        self.attention_dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy, name="attention_dropout")
        self.feed_forward_dropout = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="feed_forward_dropout"
        )

    def call(self, inputs: Any, attention_mask: Any = None, training: bool | None = None) -> Any:
        hidden = self.attention_norm(inputs)
        hidden = self.attention_layer(
            hidden, hidden, attention_mask=attention_mask, use_causal_mask=self.causal, training=training
        )
        x = inputs + self.attention_dropout(hidden, training=training)
        hidden = self.feed_forward_layer(self.feed_forward_norm(x))
        return x + self.feed_forward_dropout(hidden, training=training)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "ffn_dim": self.ffn_dim,
            "attention": sublayer_config(self.attention),
            "feed_forward": sublayer_config(self.feed_forward),
            "causal": self.causal,
            "dropout": self.dropout,
            "activation": self.activation,
            "use_bias": self.use_bias,
            "norm_epsilon": self.norm_epsilon,
        }
