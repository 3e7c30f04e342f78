"""A convolution stored as a Tucker-2 decomposition, with channel factors shareable across layers."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from edgeshare.layers._shared_sublayer import sublayer_from_config
from edgeshare.layers.conv.filter_bank import normalize_kernel_size
from edgeshare.layers.factorized.cp_factors import check_positive_int, fresh_initializer
from edgeshare.layers.factorized.tensor_decomposition import conv2d_output_shape
from edgeshare.layers.factorized.tucker_factors import TuckerFactors, normalize_ranks


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
        >>> layer(keras.ops.ones((2, 8, 8, 16))).shape
        (2, 8, 8, 32)

    References:
        Kim et al. 2016, "Compression of Deep Convolutional Neural Networks for Fast and Low Power
        Mobile Applications" (ICLR).
    """

    def __init__(
        self,
        filters,
        kernel_size,
        ranks,
        factors=None,
        strides=1,
        padding="same",
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int(filters, "filters")
        ranks = normalize_ranks(ranks)
        factors = sublayer_from_config(factors)
        if factors is not None and not isinstance(factors, TuckerFactors):
            raise TypeError(f"`factors` must be a TuckerFactors or None. Received: factors={factors!r}")
        if factors is not None and (factors.filters, factors.ranks) != (filters, ranks):
            raise ValueError(
                "`factors` must have the layer's `filters` and `ranks`. "
                f"Received: filters={filters}, ranks={ranks}, factors.filters={factors.filters}, "
                f"factors.ranks={factors.ranks}"
            )
        if padding not in ("same", "valid"):
            raise ValueError(f"`padding` must be 'same' or 'valid'. Received: padding={padding!r}")
        self.filters = filters
        self.kernel_size = normalize_kernel_size(kernel_size)
        self.ranks = ranks
        self.factors = factors
        self.strides = normalize_kernel_size(strides, "strides")
        self.padding = padding
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        # Set by tucker_conv2d_from_conv2d: ||K - K_tucker|| / ||K|| of the kernel it was initialized from.
        self.reconstruction_error = None

    def build(self, input_shape):
        in_channels = input_shape[-1]
        if self.factors is not None and self.factors.in_channels != in_channels:
            raise ValueError(
                f"`factors` was made for {self.factors.in_channels} input channels but the inputs have "
                f"{in_channels}. Received: input_shape={tuple(input_shape)}"
            )
        self.channel_factors = self.factors or TuckerFactors(
            in_channels, self.filters, self.ranks, initializer=self.kernel_initializer, name="factors"
        )
        self.core = self.add_weight(
            name="core", shape=(*self.kernel_size, *self.ranks), initializer=fresh_initializer(self.kernel_initializer)
        )
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer)

    def call(self, inputs):
        r_out = self.ranks[1]
        x = self.channel_factors(inputs)  # (b, h, w, r_in)
        x = ops.conv(x, self.core, strides=self.strides, padding=self.padding)  # (b, h', w', r_out)
        # (b, h', w', r_out) x (r_out, filters) as a 1x1 convolution
        y = ops.conv(x, ops.reshape(self.channel_factors.output_factor, (1, 1, r_out, self.filters)))
        if self.use_bias:
            y = y + self.bias
        return self.activation(y)

    def reconstructed_kernel(self):
        """The dense kernel `(kh, kw, in_channels, filters)` the factors stand for, as a NumPy array."""
        f = self.channel_factors
        return np.einsum(
            "ir,hwrs,so->hwio",
            np.asarray(f.input_factor.numpy()),
            np.asarray(self.core.numpy()),
            np.asarray(f.output_factor.numpy()),
        )

    @classmethod
    def from_conv2d(cls, conv, ranks, **kwargs):
        """A TuckerConv2D initialized from a trained `keras.layers.Conv2D` by Tucker-2 decomposition."""
        from edgeshare.layers.factorized.tensor_decomposition import tucker_conv2d_from_conv2d

        return tucker_conv2d_from_conv2d([conv], ranks, **kwargs)[0]

    def compute_output_shape(self, input_shape):
        return conv2d_output_shape(input_shape, self.kernel_size, self.strides, self.padding, self.filters)

    def get_config(self):
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
