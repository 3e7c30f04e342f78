"""Channel shuffle between grouped convolutions (ShuffleNet, Zhang et al. 2018)."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from edgeshare.validation import check_positive_int


@keras.saving.register_keras_serializable(package="edgeshare")
class ChannelShuffle(keras.layers.Layer):
    """Interleaves the channels of `groups` groups so that the next grouped convolution mixes them.

    A grouped convolution only connects channels within a group. Shuffling reshapes the channels to
    `(groups, channels // groups)`, transposes to `(channels // groups, groups)` and flattens back, so
    that output channel `j * groups + g` is input channel `g * (channels // groups) + j`: every group
    of the next grouped convolution then sees channels from every group of the previous one.

    The shuffle uses 4-D tensors only (GPU delegates handle at most 4-D).

    Args:
        groups: number of channel groups; the channels must divide evenly.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: a tensor of shape `(batch, height, width, channels)`.

    Returns:
        A tensor of the same shape with the channels permuted.

    Example:
        >>> x = keras.ops.reshape(keras.ops.arange(6, dtype="float32"), (1, 1, 1, 6))
        >>> keras.ops.convert_to_numpy(ChannelShuffle(2)(x)).reshape(-1).tolist()
        [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]

    References:
        Zhang et al. 2018, "ShuffleNet: An Extremely Efficient Convolutional Neural Network for Mobile
        Devices" (CVPR).
    """

    def __init__(self, groups: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        check_positive_int(groups, "groups")
        self.groups = groups

    def build(self, input_shape: Any) -> None:
        if len(input_shape) != 4:
            raise ValueError(
                f"ChannelShuffle expects 4-D inputs (batch, height, width, channels). "
                f"Received: input_shape={tuple(input_shape)}"
            )
        channels = input_shape[-1]
        if channels is None or channels % self.groups:
            raise ValueError(
                f"The channels must be divisible by `groups`. Received: channels={channels}, groups={self.groups}"
            )

    def call(self, inputs: Any) -> Any:
        shape = ops.shape(inputs)
        channels = inputs.shape[-1]
        per_group = channels // self.groups
        # (b, h, w, c) -> (b, h*w, groups, c/groups) -> (b, h*w, c/groups, groups) -> (b, h, w, c)
        x = ops.reshape(inputs, (-1, shape[1] * shape[2], self.groups, per_group))
        x = ops.transpose(x, (0, 1, 3, 2))
        return ops.reshape(x, (-1, shape[1], shape[2], channels))

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "groups": self.groups}
