"""A low-rank basis that several dense layers share: the B of W_l = B C_l."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from edgeshare.validation import check_positive_int


@keras.saving.register_keras_serializable(package="edgeshare")
class SharedBasis(keras.layers.Layer):
    """A shared (input_dim, rank) basis B; calling it projects inputs onto it: `x B`.

    Pass one instance to several `SharedBasisDense` layers: each computes `(x B) C_l + b_l`, which is the
    dense layer `x W_l + b_l` with `W_l = B C_l`. The basis is stored once; each layer adds only its
    (rank, units) coefficients. The basis takes its input width from the first layer that builds it.

    Args:
        rank: the number of basis vectors (columns of B).
        kernel_initializer: initializer of B.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: a tensor of shape (..., input_dim).

    Returns:
        The coordinates in the basis, shape (..., rank).

    Example:
        >>> basis = SharedBasis(8)
        >>> layers = [SharedBasisDense(64, basis) for _ in range(4)]  # 4 layers, one 32 x 8 basis
        >>> tuple(layers[0](keras.ops.ones((2, 32))).shape)
        (2, 64)

    References:
        Wang et al. 2024, "Basis Sharing: Cross-Layer Parameter Sharing for Large Language Model
        Compression".
    """

    def __init__(self, rank: int, kernel_initializer: Any = "glorot_uniform", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        check_positive_int(rank, "rank")
        self.rank = rank
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape: Any) -> None:
        self.basis = self.add_weight(
            name="basis", shape=(input_shape[-1], self.rank), initializer=self.kernel_initializer
        )

    def call(self, inputs: Any) -> Any:
        return ops.matmul(inputs, self.basis)  # (..., input_dim) x (input_dim, rank) -> (..., rank)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return (*input_shape[:-1], self.rank)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "rank": self.rank,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
