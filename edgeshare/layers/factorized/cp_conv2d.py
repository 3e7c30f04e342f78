"""A convolution stored as a rank-R CP decomposition, with channel factors shareable across layers."""

from __future__ import annotations

import functools
from typing import Any

import keras
import numpy as np
from keras import ops

from edgeshare.layers._shared_sublayer import sublayer_from_config
from edgeshare.layers.conv.shapes import conv2d_output_shape, same_padding
from edgeshare.layers.factorized.cp_factors import CPFactors, fresh_initializer
from edgeshare.layers.factorized.tensor_decomposition import check_conv2d_layers, cp_decompose, decomposed_layers
from edgeshare.validation import check_choice, check_positive_int, normalize_int_pair


@keras.saving.register_keras_serializable(package="edgeshare")
class CPConv2D(keras.layers.Layer):
    """A 2D convolution whose kernel is a rank-`rank` CP decomposition, applied as four thin convolutions.

    The kernel is `K[h, w, i, o] = sum_r H[h, r] W[w, r] I[i, r] O[r, o]`. Following Lebedev et al.
    2015, the layer never forms K: it runs a 1x1 convolution with I (in_channels -> rank), a
    `(kh, 1)` depthwise convolution with H, a `(1, kw)` depthwise convolution with W and a 1x1
    convolution with O (rank -> filters), which is exactly the convolution with K, at
    `rank * (in + kh + kw + filters)` weights instead of `kh * kw * in * filters`.

    Strides: every depthwise convolution keeps equal strides, the only ones TensorFlow's CPU kernel
    accepts without oneDNN. With strides `(s, s)` the two spatial passes become one `(kh, kw)` depthwise
    convolution at stride `s` (its kernel is `H[:, r] W[:, r]^T` per rank channel) when that costs fewer
    taps, as for 3x3 kernels. Otherwise the `(kh, 1)` pass runs at stride 1 and the `(1, kw)` pass (equal
    strides) or the last 1x1 convolution (unequal strides) samples, after one explicit zero-pad of the
    rank channels for "same" padding. `python -m edgeshare.benchmarks.bench_cp_strides` measures the
    exported graphs.

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
        >>> tuple(layer(keras.ops.ones((2, 8, 8, 16))).shape)
        (2, 8, 8, 16)

    References:
        Lebedev et al. 2015, "Speeding-up Convolutional Neural Networks Using Fine-tuned
        CP-Decomposition" (ICLR).
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int, int],
        rank: int,
        factors: CPFactors | None = None,
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
        check_choice(padding, "padding", ("same", "valid"))
        self.filters = filters
        self.kernel_size = normalize_int_pair(kernel_size, "kernel_size")
        self.rank = rank
        self.factors = factors
        self.strides = normalize_int_pair(strides, "strides")
        self.padding = padding
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        # Set by cp_conv2d_from_conv2d: ||K - K_cp|| / ||K|| of the kernel it was initialized from.
        self.reconstruction_error: float | None = None

    def build(self, input_shape: Any) -> None:
        in_channels = input_shape[-1]
        if self.factors is not None and self.factors.in_channels != in_channels:
            raise ValueError(
                f"`factors` was made for {self.factors.in_channels} input channels but the inputs have "
                f"{in_channels}. Received: input_shape={tuple(input_shape)}"
            )
        self.channel_factors = self.factors or CPFactors(
            in_channels,
            self.filters,
            self.rank,
            initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name="factors",
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

    def call(self, inputs: Any) -> Any:
        kh, kw = self.kernel_size
        sh, sw = self.strides
        padding = self.padding
        height = ops.reshape(self.height_factor, (kh, 1, self.rank, 1))
        width = ops.reshape(self.width_factor, (1, kw, self.rank, 1))
        output_factor = ops.reshape(self.channel_factors.output_factor, (1, 1, self.rank, self.filters))
        samples: Any = 1  # the strides of the last 1x1 convolution
        x = self.channel_factors(inputs)  # (b, h, w, rank)
        # Every depthwise convolution below has equal strides: TensorFlow's CPU kernel without oneDNN takes no other.
        if (sh, sw) == (1, 1):
            # (b, h, w, rank) -> (b, h', w, rank) -> (b, h', w', rank): two passes of kh and kw taps.
            x = ops.depthwise_conv(x, height, 1, padding)
            x = ops.depthwise_conv(x, width, 1, padding)
        elif sh == sw and kh * kw <= sh * sw * kh + kw:
            # One (kh, kw) pass at the output positions costs fewer taps than a stride-1 pass and a strided one:
            # the per-rank spatial kernel H[:, r] W[:, r]^T, (kh, 1, rank, 1) * (1, kw, rank, 1) -> (kh, kw, rank, 1).
            x = ops.depthwise_conv(x, height * width, sh, padding)
        else:
            if padding == "same":
                # Filter at stride 1, sample later: "same" padding is written out with the pads of the layer's
                # strides (a stride-1 "same" pass centres its windows elsewhere). Padding after the bias-free input
                # projection pads its output with the zeros it would make of padded inputs.
                _, h, w, _ = ops.shape(x)
                x = ops.pad(x, ((0, 0), same_padding(h, kh, sh), same_padding(w, kw, sw), (0, 0)))
                padding = "valid"
            x = ops.depthwise_conv(x, height, 1, padding)  # (b, h, w, rank) -> (b, h1, w, rank)
            # With equal strides the one-row (1, kw) kernel samples the rows too: (b, h1, w, rank) -> (b, h', w', rank).
            # With unequal ones the 1x1 convolution below samples: convolutions take any strides on every CPU.
            x = ops.depthwise_conv(x, width, sh if sh == sw else 1, padding)
            samples = 1 if sh == sw else (sh, sw)
        y = ops.conv(x, output_factor, samples)  # (b, ., ., rank) x (rank, filters) as a 1x1 convolution
        if self.use_bias:
            y = y + self.bias
        return self.activation(y)

    def reconstructed_kernel(self) -> np.ndarray:
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
    def from_conv2d(cls, conv: Any, rank: int, **kwargs: Any) -> CPConv2D:
        """A CPConv2D initialized from a trained `keras.layers.Conv2D` by CP decomposition (ALS)."""
        return cp_conv2d_from_conv2d([conv], rank, **kwargs)[0]

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return conv2d_output_shape(input_shape, self.kernel_size, self.strides, self.padding, self.filters)

    def get_config(self) -> dict[str, Any]:
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


def cp_conv2d_from_conv2d(
    convs: Any, rank: int, *, max_iter: int = 500, seed: int = 0, name_suffix: str = "_cp"
) -> list[CPConv2D]:
    """CPConv2D layers initialized from trained Conv2D layers by CP decomposition.

    With several convolutions, they are decomposed jointly and the returned layers share one
    `CPFactors` (input and output channel factors); each keeps its own spatial factors and the bias of
    its convolution. Each layer's `reconstruction_error` holds `||K - K_cp|| / ||K||` for its kernel.

    Returns:
        A list of built CPConv2D layers, one per convolution, in order.
    """
    convs = check_conv2d_layers(convs)
    kh, kw, cin, cout = convs[0].kernel.shape
    dec = cp_decompose([np.asarray(c.kernel.numpy()) for c in convs], rank, max_iter=max_iter, seed=seed)
    factors = CPFactors(
        cin, cout, rank, dtype=convs[0].dtype_policy, name=convs[0].name + name_suffix + "_factors"
    )

    def set_spatial_factors(layer: CPConv2D, i: int) -> None:
        layer.height_factor.assign(dec.height_factors[i])
        layer.width_factor.assign(dec.width_factors[i])

    return decomposed_layers(
        convs, dec, factors, functools.partial(CPConv2D, cout, (kh, kw), rank), set_spatial_factors, name_suffix
    )
