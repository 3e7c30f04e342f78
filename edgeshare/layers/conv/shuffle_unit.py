"""The ShuffleNet unit: grouped 1x1 conv, channel shuffle, depthwise conv, grouped 1x1 conv."""

from __future__ import annotations

import keras
from keras import ops

from edgeshare.layers.conv.channel_shuffle import ChannelShuffle


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
        >>> unit(keras.ops.ones((2, 8, 8, 24))).shape
        (2, 8, 8, 24)

    References:
        Zhang et al. 2018, "ShuffleNet: An Extremely Efficient Convolutional Neural Network for Mobile
        Devices" (CVPR).
    """

    def __init__(self, filters, groups=3, strides=1, bottleneck_ratio=0.25, bn_momentum=0.99, **kwargs):
        super().__init__(**kwargs)
        for arg, value in (("filters", filters), ("groups", groups)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{arg}` must be a positive integer. Received: {arg}={value}")
        if strides not in (1, 2):
            raise ValueError(f"`strides` must be 1 or 2. Received: strides={strides}")
        if not 0 < bottleneck_ratio <= 1:
            raise ValueError(f"`bottleneck_ratio` must be in (0, 1]. Received: bottleneck_ratio={bottleneck_ratio}")
        if not 0 <= bn_momentum < 1:
            raise ValueError(f"`bn_momentum` must be in [0, 1). Received: bn_momentum={bn_momentum}")
        self.filters = filters
        self.groups = groups
        self.strides = strides
        self.bottleneck_ratio = bottleneck_ratio
        self.bn_momentum = bn_momentum

    def _branch_filters(self, in_channels):
        return self.filters if self.strides == 1 else self.filters - in_channels

    def build(self, input_shape):
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
        self.group_conv1 = keras.layers.Conv2D(bottleneck, 1, groups=self.groups, use_bias=False, name="group_conv1")
        self.bn1 = keras.layers.BatchNormalization(momentum=self.bn_momentum, name="bn1")
        self.shuffle = ChannelShuffle(self.groups, name="shuffle")
        self.depthwise = keras.layers.DepthwiseConv2D(
            3, strides=self.strides, padding="same", use_bias=False, name="depthwise"
        )
        self.bn2 = keras.layers.BatchNormalization(momentum=self.bn_momentum, name="bn2")
        self.group_conv2 = keras.layers.Conv2D(branch, 1, groups=self.groups, use_bias=False, name="group_conv2")
        self.bn3 = keras.layers.BatchNormalization(momentum=self.bn_momentum, name="bn3")
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
            self.pool = keras.layers.AveragePooling2D(3, strides=2, padding="same", name="pool")

    def call(self, inputs, training=None):
        x = ops.relu(self.bn1(self.group_conv1(inputs), training=training))
        x = self.shuffle(x)
        x = self.bn2(self.depthwise(x), training=training)
        x = self.bn3(self.group_conv2(x), training=training)
        if self.strides == 1:
            return ops.relu(inputs + x)
        return ops.relu(ops.concatenate([self.pool(inputs), x], axis=-1))

    def compute_output_shape(self, input_shape):
        b, h, w, _ = input_shape
        if self.strides == 2:
            h = None if h is None else -(-h // 2)
            w = None if w is None else -(-w // 2)
        return (b, h, w, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "groups": self.groups,
            "strides": self.strides,
            "bottleneck_ratio": self.bottleneck_ratio,
            "bn_momentum": self.bn_momentum,
        }
