"""A convolution stored as a Tucker-2 decomposition, with channel factors shareable across layers."""

from __future__ import annotations

import functools
from typing import Any

import keras
import numpy as np
from keras import ops

from edgeshare.layers._shared_sublayer import sublayer_from_config
from edgeshare.layers.conv.shapes import conv2d_output_shape
from edgeshare.layers.factorized.cp_factors import fresh_initializer
from edgeshare.layers.factorized.tensor_decomposition import (
    check_conv2d_layers,
    decomposed_layers,
    tucker_decompose,
)
from edgeshare.layers.factorized.tucker_factors import TuckerFactors
from edgeshare.validation import check_choice, check_positive_int, normalize_int_pair


@keras.saving.register_keras_serializable(package="edgeshare")
class TuckerConv2D(keras.layers.Layer):
    """A 2D convolution whose kernel is a Tucker-2 decomposition, applied as three convolutions.

    The kernel is `K[h, w, i, o] = sum_{r, s} I[i, r] G[h, w, r, s] O[s, o]`. As in Kim et al. 2016,
    the layer runs a 1x1 convolution with I (in_channels -> ranks[0]), a `(kh, kw)` convolution with
    the core G (ranks[0] -> ranks[1], with the layer's strides and padding) and a 1x1 convolution with O
    (ranks[1] -> filters), which is exactly the convolution with K.

    The channel factors I and O live in a `TuckerFactors` layer. Pass the same `factors` to several
    layers to share them (each keeps its own core and bias); leave it `None` and the layer makes its
    own. `tucker_conv2d_from_conv2d` (or `TuckerConv2D.from_conv2d`) initializes layers from trained
    `Conv2D`s (HOSVD refined by HOOI) and records the relative reconstruction error in
    `reconstruction_error`.

    Args:
        filters: output channels.
        kernel_size: an int or a pair `(kh, kw)`.
        ranks: an int or a pair `(input_rank, output_rank)`.
        factors: a `TuckerFactors` to share, or None for the layer's own.
        strides: an int or a pair.
        padding: `"same"` or `"valid"`.
        activation: activation applied after the bias.
        use_bias: whether to add a bias.
        kernel_initializer: initializer of the core (and of the layer's own channel factors).
        bias_initializer: initializer of the bias.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: a tensor of shape `(batch, height, width, in_channels)`.

    Returns:
        A tensor of shape `(batch, out_height, out_width, filters)`.

    Example:
        >>> layer = TuckerConv2D(32, 3, ranks=(8, 8))
        >>> tuple(layer(keras.ops.ones((2, 8, 8, 16))).shape)
        (2, 8, 8, 32)

    References:
        Kim et al. 2016, "Compression of Deep Convolutional Neural Networks for Fast and Low Power
        Mobile Applications" (ICLR).
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int, int],
        ranks: int | tuple[int, int],
        factors: TuckerFactors | None = None,
        strides: int | tuple[int, int] = 1,
        padding: str = "same",
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_positive_int(filters, "filters")
        ranks = normalize_int_pair(ranks, "ranks")
        factors = sublayer_from_config(factors)
        if factors is not None and not isinstance(factors, TuckerFactors):
            raise TypeError(f"`factors` must be a TuckerFactors or None. Received: factors={factors!r}")
        if factors is not None and (factors.filters, factors.ranks) != (filters, ranks):
            raise ValueError(
                "`factors` must have the layer's `filters` and `ranks`. "
                f"Received: filters={filters}, ranks={ranks}, factors.filters={factors.filters}, "
                f"factors.ranks={factors.ranks}"
            )
        check_choice(padding, "padding", ("same", "valid"))
        self.filters = filters
        self.kernel_size = normalize_int_pair(kernel_size, "kernel_size")
        self.ranks = ranks
        self.factors = factors
        self.strides = normalize_int_pair(strides, "strides")
        self.padding = padding
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        # Set by tucker_conv2d_from_conv2d: ||K - K_tucker|| / ||K|| of the kernel it was initialized from.
        self.reconstruction_error: float | None = None

    def build(self, input_shape: Any) -> None:
        in_channels = input_shape[-1]
        if self.factors is not None and self.factors.in_channels != in_channels:
            raise ValueError(
                f"`factors` was made for {self.factors.in_channels} input channels but the inputs have "
                f"{in_channels}. Received: input_shape={tuple(input_shape)}"
            )
        self.channel_factors = self.factors or TuckerFactors(
            in_channels,
            self.filters,
            self.ranks,
            initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name="factors",
        )
        self.core = self.add_weight(
            name="core", shape=(*self.kernel_size, *self.ranks), initializer=fresh_initializer(self.kernel_initializer)
        )
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer)

    def call(self, inputs: Any) -> Any:
        r_out = self.ranks[1]
        x = self.channel_factors(inputs)  # (b, h, w, r_in)
        x = ops.conv(x, self.core, strides=self.strides, padding=self.padding)  # (b, h', w', r_out)
        # (b, h', w', r_out) x (r_out, filters) as a 1x1 convolution
        y = ops.conv(x, ops.reshape(self.channel_factors.output_factor, (1, 1, r_out, self.filters)))
        if self.use_bias:
            y = y + self.bias
        return self.activation(y)

    def reconstructed_kernel(self) -> np.ndarray:
        """The dense kernel `(kh, kw, in_channels, filters)` the factors stand for, as a NumPy array."""
        f = self.channel_factors
        return np.einsum(
            "ir,hwrs,so->hwio",
            np.asarray(f.input_factor.numpy()),
            np.asarray(self.core.numpy()),
            np.asarray(f.output_factor.numpy()),
        )

    @classmethod
    def from_conv2d(cls, conv: Any, ranks: int | tuple[int, int], **kwargs: Any) -> TuckerConv2D:
        """A TuckerConv2D initialized from a trained `keras.layers.Conv2D` by Tucker-2 decomposition."""
        return tucker_conv2d_from_conv2d([conv], ranks, **kwargs)[0]

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return conv2d_output_shape(input_shape, self.kernel_size, self.strides, self.padding, self.filters)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "ranks": self.ranks,
            # The instance itself, not a dict: see edgeshare/layers/_shared_sublayer.py.
            "factors": self.factors,
            "strides": self.strides,
            "padding": self.padding,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }


def tucker_conv2d_from_conv2d(
    convs: Any, ranks: int | tuple[int, int], *, max_iter: int = 50, name_suffix: str = "_tucker"
) -> list[TuckerConv2D]:
    """TuckerConv2D layers initialized from trained Conv2D layers by Tucker-2 decomposition.

    With several convolutions, they are decomposed jointly and share one `TuckerFactors`; each keeps its
    own core and the bias of its convolution. Each layer's `reconstruction_error` holds
    `||K - K_tucker|| / ||K||` for its kernel.

    Returns:
        A list of built TuckerConv2D layers, one per convolution, in order.
    """
    convs = check_conv2d_layers(convs)
    kh, kw, cin, cout = convs[0].kernel.shape
    dec = tucker_decompose([np.asarray(c.kernel.numpy()) for c in convs], ranks, max_iter=max_iter)
    factors = TuckerFactors(
        cin, cout, ranks, dtype=convs[0].dtype_policy, name=convs[0].name + name_suffix + "_factors"
    )

    def set_core(layer: TuckerConv2D, i: int) -> None:
        layer.core.assign(dec.cores[i])

    return decomposed_layers(
        convs, dec, factors, functools.partial(TuckerConv2D, cout, (kh, kw), ranks), set_core, name_suffix
    )
