"""Channel factor matrices of a Tucker-2 convolution, shareable across layers."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from edgeshare.layers.factorized.cp_factors import fresh_initializer
from edgeshare.validation import check_positive_int, normalize_int_pair


@keras.saving.register_keras_serializable(package="edgeshare")
class TuckerFactors(keras.layers.Layer):
    """The input- and output-channel factors of a Tucker-2 convolution.

    A Tucker-2 convolution writes its kernel as a small core between two channel factors,
    `K[h, w, i, o] = sum_{r, s} I[i, r] G[h, w, r, s] O[s, o]` (Kim et al. 2016). This layer holds
    `input_factor` I `(in_channels, ranks[0])` and `output_factor` O `(ranks[1], filters)`; each
    `TuckerConv2D` keeps its own core G `(kh, kw, ranks[0], ranks[1])` and bias. Passing one
    `TuckerFactors` to several `TuckerConv2D` layers makes them share I and O. Built when created.

    Args:
        in_channels: input channels of the convolutions that use these factors.
        filters: output channels of those convolutions.
        ranks: an int or a pair `(input_rank, output_rank)`.
        initializer: initializer of both factors.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: a tensor of shape `(batch, height, width, in_channels)`.

    Returns:
        The input projected onto the input factor, `(batch, height, width, ranks[0])`.

    Example:
        >>> factors = TuckerFactors(in_channels=16, filters=16, ranks=(6, 6))
        >>> a = TuckerConv2D(16, 3, (6, 6), factors=factors)
        >>> b = TuckerConv2D(16, 3, (6, 6), factors=factors)
        >>> tuple(b(a(keras.ops.ones((2, 8, 8, 16)))).shape)
        (2, 8, 8, 16)

    References:
        Kim et al. 2016, "Compression of Deep Convolutional Neural Networks for Fast and Low Power Mobile
        Applications" (ICLR); Tucker 1966, "Some Mathematical Notes on Three-Mode Factor Analysis".
    """

    def __init__(
        self,
        in_channels: int,
        filters: int,
        ranks: int | tuple[int, int],
        initializer: Any = "glorot_uniform",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_positive_int(in_channels, "in_channels")
        check_positive_int(filters, "filters")
        self.in_channels = in_channels
        self.filters = filters
        self.ranks = normalize_int_pair(ranks, "ranks")
        self.initializer = keras.initializers.get(initializer)
        self.build()

    def build(self, input_shape: Any = None) -> None:
        r_in, r_out = self.ranks
        self.input_factor = self.add_weight(
            name="input_factor", shape=(self.in_channels, r_in), initializer=fresh_initializer(self.initializer)
        )
        self.output_factor = self.add_weight(
            name="output_factor", shape=(r_out, self.filters), initializer=fresh_initializer(self.initializer)
        )

    def call(self, inputs: Any) -> Any:
        # (b, h, w, in) x (in, r_in) -> (b, h, w, r_in), as a 1x1 convolution
        return ops.conv(inputs, ops.reshape(self.input_factor, (1, 1, self.in_channels, self.ranks[0])))

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return (*input_shape[:-1], self.ranks[0])

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "in_channels": self.in_channels,
            "filters": self.filters,
            "ranks": self.ranks,
            "initializer": keras.initializers.serialize(self.initializer),
        }
