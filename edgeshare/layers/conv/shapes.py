"""Output shapes and "same" padding of 2-D convolutions: the one home of this arithmetic for every conv
layer in edgeshare (BankConv2D, CPConv2D, TuckerConv2D, ShuffleUnit).

Plain integer arithmetic, no Keras: TensorFlow's rules (Keras follows them on every backend).
- "valid": `out = (size - kernel) // stride + 1`.
- "same": `out = ceil(size / stride)`; the input is padded with `max((out - 1) * stride + kernel - size, 0)`
  zeros in all, the smaller half before and the larger half after.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def conv_output_length(size: int | None, kernel: int, stride: int, padding: str) -> int | None:
    """The output length of a convolution along one axis (None, an unknown size, stays None)."""
    if size is None:
        return None
    if padding == "same":
        return -(-size // stride)
    return (size - kernel) // stride + 1


def conv2d_output_shape(
    input_shape: Sequence[Any], kernel_size: Sequence[int], strides: Sequence[int], padding: str, filters: int
) -> tuple[Any, ...]:
    """`(batch, out_height, out_width, filters)` of a 2-D convolution over an NHWC `input_shape`."""
    height, width = (
        conv_output_length(size, k, s, padding) for size, k, s in zip(input_shape[1:3], kernel_size, strides)
    )
    return (input_shape[0], height, width, filters)


def same_padding(size: Any, kernel: int, stride: int) -> tuple[Any, Any]:
    """`(before, after)`: the zeros "same" padding adds along one axis of length `size`.

    `size` may also be a backend scalar tensor (a dynamic dimension inside a layer's `call`): the
    arithmetic uses only `//`, `-`, `*`, `+` and `abs`, which every backend's tensors support.
    """
    total = (-(-size // stride) - 1) * stride + kernel - size
    total = (total + abs(total)) // 2  # max(total, 0) without a backend op
    before = total // 2
    return before, total - before
