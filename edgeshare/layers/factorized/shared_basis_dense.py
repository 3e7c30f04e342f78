"""A dense layer whose kernel is a shared low-rank basis times its own coefficients."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from edgeshare.layers._shared_sublayer import sublayer_config, sublayer_from_config
from edgeshare.layers.factorized.shared_basis import SharedBasis
from edgeshare.validation import check_positive_int


@keras.saving.register_keras_serializable(package="edgeshare")
class SharedBasisDense(keras.layers.Layer):
    """`activation(x B C + b)`: a dense layer with kernel `W = B C`, B a `SharedBasis` shared across layers.

    Several layers built on one `SharedBasis` instance store B once, each with its own (rank, units)
    coefficients C and bias b (family 9, low-rank factors shared across layers). The product is computed as
    `(x B) C`, never as `x (B C)`, so the exported graph keeps the factors apart and stores B once. The
    basis stays one instance after a `.keras` save and reload.

    Args:
        units: the output width.
        basis: the `SharedBasis` instance to use.
        activation: activation of the output.
        use_bias: whether to add a bias.
        kernel_initializer: initializer of the coefficients C.
        bias_initializer: initializer of the bias.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: a tensor of shape (..., input_dim); the basis must have been built (or be built here) for
            this input_dim.

    Returns:
        A tensor of shape (..., units).

    Example:
        >>> basis = SharedBasis(8)
        >>> up = SharedBasisDense(64, basis)
        >>> gate = SharedBasisDense(64, basis)  # W_up = B C_up, W_gate = B C_gate
        >>> tuple(up(keras.ops.ones((2, 32))).shape)
        (2, 64)

    References:
        Wang et al. 2024, "Basis Sharing: Cross-Layer Parameter Sharing for Large Language Model
        Compression".
    """

    def __init__(
        self,
        units: int,
        basis: SharedBasis,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        basis = sublayer_from_config(basis)
        if not isinstance(basis, SharedBasis):
            raise TypeError(f"`basis` must be a SharedBasis instance. Received: basis={basis!r}")
        check_positive_int(units, "units")
        self.units = units
        self.basis = basis
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape: Any) -> None:
        if not self.basis.built:
            self.basis.build(input_shape)
        elif self.basis.basis.shape[0] != input_shape[-1]:
            raise ValueError(
                f"`basis` was built for inputs of width {self.basis.basis.shape[0]}, but this layer receives "
                f"width {input_shape[-1]}. Received: input_shape={tuple(input_shape)}"
            )
        self.coefficients = self.add_weight(
            name="coefficients", shape=(self.basis.rank, self.units), initializer=self.kernel_initializer
        )
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.units,), initializer=self.bias_initializer)

    def call(self, inputs: Any) -> Any:
        coordinates = self.basis(inputs)  # (..., input_dim) -> (..., rank)
        outputs = ops.matmul(coordinates, self.coefficients)  # (..., rank) x (rank, units) -> (..., units)
        if self.use_bias:
            outputs = outputs + self.bias
        return self.activation(outputs)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "basis": sublayer_config(self.basis),
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
