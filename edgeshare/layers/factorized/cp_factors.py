"""Channel factor matrices of a CP-decomposed convolution, shareable across layers."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from edgeshare.validation import check_positive_int


def fresh_initializer(initializer: Any) -> Any:
    """A new instance with the same config. Keras 3 gives an unseeded initializer one seed for life, so
    reusing an instance for several weights of one shape initializes them identically."""
    return keras.initializers.get(keras.initializers.serialize(initializer))


@keras.saving.register_keras_serializable(package="edgeshare")
class CPFactors(keras.layers.Layer):
    """The input- and output-channel factors of a rank-`rank` CP (canonical polyadic) convolution.

    A CP convolution writes its kernel as a sum of `rank` rank-one terms,
    `K[h, w, i, o] = sum_r H[h, r] W[w, r] I[i, r] O[r, o]` (Lebedev et al. 2015). This layer holds the
    two channel factors, `input_factor` I `(in_channels, rank)` and `output_factor` O
    `(rank, filters)`, which are most of the parameters; each `CPConv2D` keeps its own small spatial
    factors H and W and its bias. Passing one `CPFactors` to several `CPConv2D` layers makes them share
    I and O (Kolda & Bader 2009 call such decompositions coupled). The factors are built when created.

    Args:
        in_channels: input channels of the convolutions that use these factors.
        filters: output channels of those convolutions.
        rank: number of rank-one terms.
        initializer: initializer of both factors.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: a tensor of shape `(batch, height, width, in_channels)`.

    Returns:
        The input projected onto the input factor, `(batch, height, width, rank)`: the first step of
        every `CPConv2D` that uses these factors.

    Example:
        >>> factors = CPFactors(in_channels=16, filters=16, rank=8)
        >>> a, b = CPConv2D(16, 3, 8, factors=factors), CPConv2D(16, 3, 8, factors=factors)
        >>> tuple(b(a(keras.ops.ones((2, 8, 8, 16)))).shape)
        (2, 8, 8, 16)

    References:
        Lebedev et al. 2015, "Speeding-up Convolutional Neural Networks Using Fine-tuned
        CP-Decomposition" (ICLR); Kolda & Bader 2009, "Tensor Decompositions and Applications".
    """

    def __init__(
        self, in_channels: int, filters: int, rank: int, initializer: Any = "glorot_uniform", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        check_positive_int(in_channels, "in_channels")
        check_positive_int(filters, "filters")
        check_positive_int(rank, "rank")
        self.in_channels = in_channels
        self.filters = filters
        self.rank = rank
        self.initializer = keras.initializers.get(initializer)
        # Independent of any input shape: created now so that every holder shares the variables.
        self.build()

    def build(self, input_shape: Any = None) -> None:
        self.input_factor = self.add_weight(
            name="input_factor", shape=(self.in_channels, self.rank), initializer=fresh_initializer(self.initializer)
        )
        self.output_factor = self.add_weight(
            name="output_factor", shape=(self.rank, self.filters), initializer=fresh_initializer(self.initializer)
        )

    def call(self, inputs: Any) -> Any:
        # (b, h, w, in) x (in, rank) -> (b, h, w, rank), as a 1x1 convolution
        return ops.conv(inputs, ops.reshape(self.input_factor, (1, 1, self.in_channels, self.rank)))

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return (*input_shape[:-1], self.rank)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "in_channels": self.in_channels,
            "filters": self.filters,
            "rank": self.rank,
            "initializer": keras.initializers.serialize(self.initializer),
        }
