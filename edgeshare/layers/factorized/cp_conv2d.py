"""A convolution stored as a rank-R CP decomposition, with channel factors shareable across layers."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from edgeshare.layers._shared_sublayer import sublayer_from_config
from edgeshare.layers.conv.filter_bank import normalize_kernel_size
from edgeshare.layers.factorized.cp_factors import CPFactors, check_positive_int, fresh_initializer
from edgeshare.layers.factorized.tensor_decomposition import conv2d_output_shape


@keras.saving.register_keras_serializable(package="edgeshare")
class CPConv2D(keras.layers.Layer):
    """A 2D convolution whose kernel is a rank-`rank` CP decomposition, applied as four thin convolutions.

    The kernel is `K[h, w, i, o] = sum_r H[h, r] W[w, r] I[i, r] O[r, o]`. Following Lebedev et al.
    2015, the layer never forms K: it runs a 1x1 convolution with I (in_channels -> rank), a
    `(kh, 1)` depthwise convolution with H, a `(1, kw)` depthwise convolution with W and a 1x1
    convolution with O (rank -> filters), which is exactly the convolution with K, at
    `rank * (in + kh + kw + filters)` weights instead of `kh * kw * in * filters`.

    The channel factors I and O live in a `CPFactors` layer. Pass the same `factors` to several layers to
    share them (each keeps its own H, W and bias); leave it `None` and the layer makes its own.
    `cp_conv2d_from_conv2d` (or `CPConv2D.from_conv2d`) initializes layers from trained `Conv2D`s by
    decomposition and records the relative reconstruction error in `reconstruction_error`.

    Args:
        filters: output channels.
        kernel_size: an int or a pair `(kh, kw)`.
        rank: the CP rank.
        factors: a `CPFactors` to share, or None for the layer's own.
        strides: an int or a pair.
        padding: `"same"` or `"valid"`.
        activation: activation applied after the bias.
        use_bias: whether to add a bias.
        kernel_initializer: initializer of the spatial factors (and of the layer's own channel factors).
        bias_initializer: initializer of the bias.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: a tensor of shape `(batch, height, width, in_channels)`.

    Returns:
        A tensor of shape `(batch, out_height, out_width, filters)`.

    Example:
        >>> factors = CPFactors(in_channels=16, filters=16, rank=8)
        >>> layer = CPConv2D(16, 3, rank=8, factors=factors)
        >>> layer(keras.ops.ones((2, 8, 8, 16))).shape
        (2, 8, 8, 16)

    References:
        Lebedev et al. 2015, "Speeding-up Convolutional Neural Networks Using Fine-tuned
        CP-Decomposition" (ICLR).
    """

    def __init__(
        self,
        filters,
        kernel_size,
        rank,
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
        check_positive_int(rank, "rank")
        factors = sublayer_from_config(factors)
        if factors is not None and not isinstance(factors, CPFactors):
            raise TypeError(f"`factors` must be a CPFactors or None. Received: factors={factors!r}")
        if factors is not None and (factors.filters, factors.rank) != (filters, rank):
            raise ValueError(
                "`factors` must have the layer's `filters` and `rank`. "
                f"Received: filters={filters}, rank={rank}, factors.filters={factors.filters}, "
                f"factors.rank={factors.rank}"
            )
        if padding not in ("same", "valid"):
            raise ValueError(f"`padding` must be 'same' or 'valid'. Received: padding={padding!r}")
        self.filters = filters
        self.kernel_size = normalize_kernel_size(kernel_size)
        self.rank = rank
        self.factors = factors
        self.strides = normalize_kernel_size(strides, "strides")
        self.padding = padding
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        # Set by cp_conv2d_from_conv2d: ||K - K_cp|| / ||K|| of the kernel it was initialized from.
        self.reconstruction_error = None

    def build(self, input_shape):
        in_channels = input_shape[-1]
        if self.factors is not None and self.factors.in_channels != in_channels:
            raise ValueError(
                f"`factors` was made for {self.factors.in_channels} input channels but the inputs have "
                f"{in_channels}. Received: input_shape={tuple(input_shape)}"
            )
        self.channel_factors = self.factors or CPFactors(
            in_channels, self.filters, self.rank, initializer=self.kernel_initializer, name="factors"
        )
        kh, kw = self.kernel_size
        self.height_factor = self.add_weight(
            name="height_factor", shape=(kh, self.rank), initializer=fresh_initializer(self.kernel_initializer)
        )
        self.width_factor = self.add_weight(
            name="width_factor", shape=(kw, self.rank), initializer=fresh_initializer(self.kernel_initializer)
        )
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer)

    def call(self, inputs):
        kh, kw = self.kernel_size
        sh, sw = self.strides
        x = self.channel_factors(inputs)  # (b, h, w, rank)
        # Depthwise over the rank channels: (kh, 1, rank, 1), then (1, kw, rank, 1).
        x = ops.depthwise_conv(x, ops.reshape(self.height_factor, (kh, 1, self.rank, 1)), (sh, 1), self.padding)
        x = ops.depthwise_conv(x, ops.reshape(self.width_factor, (1, kw, self.rank, 1)), (1, sw), self.padding)
        # (b, h', w', rank) x (rank, filters) as a 1x1 convolution
        y = ops.conv(x, ops.reshape(self.channel_factors.output_factor, (1, 1, self.rank, self.filters)))
        if self.use_bias:
            y = y + self.bias
        return self.activation(y)

    def reconstructed_kernel(self):
        """The dense kernel `(kh, kw, in_channels, filters)` the factors stand for, as a NumPy array."""
        f = self.channel_factors
        return np.einsum(
            "hr,wr,ir,ro->hwio",
            np.asarray(self.height_factor.numpy()),
            np.asarray(self.width_factor.numpy()),
            np.asarray(f.input_factor.numpy()),
            np.asarray(f.output_factor.numpy()),
        )

    @classmethod
    def from_conv2d(cls, conv, rank, **kwargs):
        """A CPConv2D initialized from a trained `keras.layers.Conv2D` by CP decomposition (ALS)."""
        from edgeshare.layers.factorized.tensor_decomposition import cp_conv2d_from_conv2d

        return cp_conv2d_from_conv2d([conv], rank, **kwargs)[0]

    def compute_output_shape(self, input_shape):
        return conv2d_output_shape(input_shape, self.kernel_size, self.strides, self.padding, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "rank": self.rank,
            # The instance itself, not a dict: see edgeshare/layers/_shared_sublayer.py.
            "factors": self.factors,
            "strides": self.strides,
            "padding": self.padding,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
