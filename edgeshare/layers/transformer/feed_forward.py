"""The position-wise feed-forward network of a Transformer block, as a reusable (shareable) layer."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from edgeshare.validation import check_in_range, check_positive_int


@keras.saving.register_keras_serializable(package="edgeshare")
class FeedForward(keras.layers.Layer):
    """Two dense layers with an activation between them, applied to each position independently.

    One instance can be passed to several `TransformerBlock`s (`feed_forward=...`) to share the FFN across
    blocks, ALBERT's FFN-only sharing (family 6). With `gated=True` it is a gated linear unit: the hidden
    layer is `activation(x W_gate) * (x W_up)`, SwiGLU when `activation="silu"` (as in MobileLLM).

    Args:
        hidden_dim: width of the hidden layer.
        output_dim: width of the output; None keeps the input width.
        activation: activation of the hidden layer (or of the gate when `gated=True`).
        gated: whether to use a gated linear unit (three kernels instead of two).
        dropout: dropout rate applied to the hidden layer during training.
        use_bias: whether the dense layers have biases.
        kernel_initializer: initializer of every kernel.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: a tensor of shape (..., dim).
        training: whether dropout is active.

    Returns:
        A tensor of shape (..., output_dim), or (..., dim) when `output_dim` is None.

    Example:
        >>> ffn = FeedForward(64)
        >>> tuple(ffn(keras.ops.ones((2, 8, 16))).shape)
        (2, 8, 16)

    References:
        Vaswani et al. 2017, "Attention Is All You Need" (position-wise FFN).
        Shazeer 2020, "GLU Variants Improve Transformer" (gated variant).
        Lan et al. 2019, "ALBERT" (sharing the FFN across layers).
    """

    def __init__(
        self,
        hidden_dim: int,
        output_dim: int | None = None,
        activation: Any = "gelu",
        gated: bool = False,
        dropout: float = 0.0,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_positive_int(hidden_dim, "hidden_dim")
        check_positive_int(output_dim, "output_dim", allow_none=True)
        check_in_range(dropout, "dropout", 0, 1)
        self.hidden_dim = hidden_dim
        self.output_dim = output_dim
        self.activation = keras.activations.get(activation)
        self.gated = gated
        self.dropout = dropout
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def _dense(self, units: int, name: str, activation: Any = None) -> keras.layers.Dense:
        return keras.layers.Dense(
            units,
            activation=activation,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer.__class__.from_config(self.kernel_initializer.get_config()),
            dtype=self.dtype_policy,
            name=name,
        )

    def build(self, input_shape: Any) -> None:
        dim = input_shape[-1]
        hidden_shape = (*input_shape[:-1], self.hidden_dim)
        self.up = self._dense(self.hidden_dim, "up", None if self.gated else self.activation)
        self.up.build(input_shape)
        if self.gated:
            self.gate = self._dense(self.hidden_dim, "gate", self.activation)
            self.gate.build(input_shape)
        self.down = self._dense(self.output_dim or dim, "down")
        self.down.build(hidden_shape)
        self.hidden_dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy, name="hidden_dropout")

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        hidden = self.up(inputs)  # (..., dim) -> (..., hidden_dim)
        if self.gated:
            hidden = ops.multiply(self.gate(inputs), hidden)
        hidden = self.hidden_dropout(hidden, training=training)
        return self.down(hidden)  # (..., hidden_dim) -> (..., output_dim)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return (*input_shape[:-1], self.output_dim or input_shape[-1])

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "hidden_dim": self.hidden_dim,
            "output_dim": self.output_dim,
            "activation": keras.activations.serialize(self.activation),
            "gated": self.gated,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
