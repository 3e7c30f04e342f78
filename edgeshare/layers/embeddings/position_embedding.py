"""Learned absolute position embedding."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from edgeshare.validation import check_positive_int


@keras.saving.register_keras_serializable(package="edgeshare")
class PositionEmbedding(keras.layers.Layer):
    """A learned table of position vectors, returned for the positions of the input sequence.

    Args:
        sequence_length: the longest sequence the table covers.
        initializer: initializer of the (sequence_length, dim) table.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: a tensor of shape (batch, length, dim) with length <= sequence_length.

    Returns:
        The position vectors, shape (batch, length, dim), to be added to `inputs`.

    Example:
        >>> x = keras.ops.ones((2, 16, 32))
        >>> tuple(PositionEmbedding(64)(x).shape)
        (2, 16, 32)

    References:
        Vaswani et al. 2017, "Attention Is All You Need" (learned variant, as in BERT and GPT-2).
    """

    def __init__(self, sequence_length: int, initializer: Any = "glorot_uniform", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        check_positive_int(sequence_length, "sequence_length")
        self.sequence_length = sequence_length
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape: Any) -> None:
        dim = input_shape[-1]
        self.table = self.add_weight(
            name="table", shape=(self.sequence_length, dim), initializer=self.initializer
        )

    def call(self, inputs: Any) -> Any:
        length = ops.shape(inputs)[1]
        # (length, dim) -> (1, length, dim), broadcast over the batch.
        positions = ops.expand_dims(self.table[:length], 0)
        return ops.broadcast_to(positions, ops.shape(inputs))

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "sequence_length": self.sequence_length,
            "initializer": keras.initializers.serialize(self.initializer),
        }
