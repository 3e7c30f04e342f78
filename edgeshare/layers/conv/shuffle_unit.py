"""The ShuffleNet unit: grouped 1x1 conv, channel shuffle, depthwise conv, grouped 1x1 conv."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from edgeshare.layers.conv.channel_shuffle import ChannelShuffle
from edgeshare.layers.conv.shapes import conv_output_length
from edgeshare.validation import check_choice, check_in_range, check_positive_int


@keras.saving.register_keras_serializable(package="edgeshare")
class ShuffleUnit(keras.layers.Layer):
    """A ShuffleNet (v1) unit built on `keras.layers.Conv2D(groups=...)`.

    The bottleneck branch is a grouped 1x1 convolution, batch norm and ReLU, a `ChannelShuffle`, a 3x3
    depthwise convolution (with the unit's stride) and batch norm, then a grouped 1x1 convolution and
    batch norm. With `strides=1` the branch is added to the input (`filters` must equal the input
    channels); with `strides=2` it is concatenated with a 3x3 average pool of the input, so the
    branch produces `filters - input_channels` channels. A ReLU follows.

    A grouped convolution with `groups=g` stores `1/g` of the weights of a dense one: each group of
    filters only reads its own group of input channels.

    Args:
        filters: output channels of the unit.
        groups: groups of both 1x1 convolutions. The input channels, the bottleneck channels and the
            branch's output channels must be divisible by it.
        strides: 1 (residual add) or 2 (downsample and concatenate).
        bottleneck_ratio: bottleneck channels as a fraction of the branch's output channels, rounded to
            a multiple of `groups`.
        bn_momentum: momentum of the three batch norms' moving statistics (0.9 suits short training
            runs on small datasets, where 0.99 lags behind the weights).
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: a tensor of shape `(batch, height, width, channels)`.
        training: whether batch norm uses batch statistics.

    Returns:
        A tensor of shape `(batch, height / strides, width / strides, filters)`.

    Example:
        >>> unit = ShuffleUnit(24, groups=3)
        >>> tuple(unit(keras.ops.ones((2, 8, 8, 24))).shape)
        (2, 8, 8, 24)

    References:
        Zhang et al. 2018, "ShuffleNet: An Extremely Efficient Convolutional Neural Network for Mobile
        Devices" (CVPR).
    """

    def __init__(
        self,
        filters: int,
        groups: int = 3,
        strides: int = 1,
        bottleneck_ratio: float = 0.25,
        bn_momentum: float = 0.99,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_positive_int(filters, "filters")
        check_positive_int(groups, "groups")
        check_choice(strides, "strides", (1, 2))
        check_in_range(bottleneck_ratio, "bottleneck_ratio", 0, 1, low_inclusive=False, high_inclusive=True)
        check_in_range(bn_momentum, "bn_momentum", 0, 1)
        self.filters = filters
        self.groups = groups
        self.strides = strides
        self.bottleneck_ratio = bottleneck_ratio
        self.bn_momentum = bn_momentum

    def _branch_filters(self, in_channels: int) -> int:
        return self.filters if self.strides == 1 else self.filters - in_channels

    def build(self, input_shape: Any) -> None:
        in_channels = input_shape[-1]
        branch = self._branch_filters(in_channels)
        if self.strides == 1 and in_channels != self.filters:
            raise ValueError(
                "With strides=1 the unit adds its branch to the input, so `filters` must equal the input "
                f"channels. Received: filters={self.filters}, input_channels={in_channels}"
            )
        if self.strides == 2 and branch < 1:
            raise ValueError(
                "With strides=2 the unit concatenates the pooled input, so `filters` must exceed the input "
                f"channels. Received: filters={self.filters}, input_channels={in_channels}"
            )
        if in_channels % self.groups or branch % self.groups:
            raise ValueError(
                "The input channels and the branch's output channels must be divisible by `groups`. "
                f"Received: input_channels={in_channels}, branch_filters={branch}, groups={self.groups}"
            )
        bottleneck = max(self.groups, round(branch * self.bottleneck_ratio / self.groups) * self.groups)
        self.bottleneck = bottleneck
        dtype = self.dtype_policy
        self.group_conv1 = keras.layers.Conv2D(
            bottleneck, 1, groups=self.groups, use_bias=False, dtype=dtype, name="group_conv1"
        )
        self.bn1 = keras.layers.BatchNormalization(momentum=self.bn_momentum, dtype=dtype, name="bn1")
        self.shuffle = ChannelShuffle(self.groups, dtype=dtype, name="shuffle")
        self.depthwise = keras.layers.DepthwiseConv2D(
            3, strides=self.strides, padding="same", use_bias=False, dtype=dtype, name="depthwise"
        )
        self.bn2 = keras.layers.BatchNormalization(momentum=self.bn_momentum, dtype=dtype, name="bn2")
        self.group_conv2 = keras.layers.Conv2D(
            branch, 1, groups=self.groups, use_bias=False, dtype=dtype, name="group_conv2"
        )
        self.bn3 = keras.layers.BatchNormalization(momentum=self.bn_momentum, dtype=dtype, name="bn3")
        shape = tuple(input_shape)
        self.group_conv1.build(shape)
        mid = (*shape[:-1], bottleneck)
        self.bn1.build(mid)
        self.shuffle.build(mid)
        self.depthwise.build(mid)
        out = self.depthwise.compute_output_shape(mid)
        self.bn2.build(out)
        self.group_conv2.build(out)
        self.bn3.build((*out[:-1], branch))
        if self.strides == 2:
            self.pool = keras.layers.AveragePooling2D(3, strides=2, padding="same", dtype=dtype, name="pool")

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        x = ops.relu(self.bn1(self.group_conv1(inputs), training=training))
        x = self.shuffle(x)
        x = self.bn2(self.depthwise(x), training=training)
        x = self.bn3(self.group_conv2(x), training=training)
        if self.strides == 1:
            return ops.relu(inputs + x)
        return ops.relu(ops.concatenate([self.pool(inputs), x], axis=-1))

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        b, h, w, _ = input_shape
        return (b, conv_output_length(h, 3, self.strides, "same"), conv_output_length(w, 3, self.strides, "same"),
                self.filters)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "groups": self.groups,
            "strides": self.strides,
            "bottleneck_ratio": self.bottleneck_ratio,
            "bn_momentum": self.bn_momentum,
        }
