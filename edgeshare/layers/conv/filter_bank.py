"""A bank of convolution templates shared by several layers (Savarese & Maire 2019)."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from edgeshare.validation import check_positive_int, normalize_int_pair


@keras.saving.register_keras_serializable(package="edgeshare")
class FilterBank(keras.layers.Layer):
    """A bank of `num_templates` convolution kernels that several `BankConv2D` layers share.

    The bank holds one variable, `templates`, of shape
    `(num_templates, kernel_h, kernel_w, channels, channels)`: each template is a whole kernel of a
    square (`channels` in, `channels` out) convolution. Pass the same bank to several `BankConv2D`
    layers: with `mixing="hard"` a layer uses one template as its kernel; with `mixing="soft"` a
    layer's kernel is a learned linear combination of all templates. The bank is built when it is
    created, so every layer that holds it sees the same variable from the start.

    Args:
        num_templates: number of templates in the bank.
        kernel_size: an int or a pair `(kernel_h, kernel_w)`.
        channels: input and output channels of every template.
        initializer: initializer of the templates.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: a tensor of shape `(batch, height, width, channels)`.

    Returns:
        The response of every template (stride 1, "same" padding), shape
        `(batch, height, width, num_templates, channels)`: channel `c` of template `t` sits at
        `[..., t, c]`. `BankConv2D` computes such responses, with its own strides and padding, when it
        is exported with `bank_export="runtime"`.

    Example:
        >>> bank = FilterBank(num_templates=4, kernel_size=3, channels=16)
        >>> tuple(bank(keras.ops.ones((2, 8, 8, 16))).shape)
        (2, 8, 8, 4, 16)

    References:
        Savarese & Maire 2019, "Learning Implicitly Recurrent CNNs Through Parameter Sharing" (ICLR).
    """

    def __init__(
        self,
        num_templates: int,
        kernel_size: int | tuple[int, int],
        channels: int,
        initializer: Any = "glorot_uniform",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_positive_int(num_templates, "num_templates")
        check_positive_int(channels, "channels")
        self.num_templates = num_templates
        self.kernel_size = normalize_int_pair(kernel_size, "kernel_size")
        self.channels = channels
        self.initializer = keras.initializers.get(initializer)
        # The templates do not depend on any input shape: create them now, so that every layer the bank
        # is passed to shares one variable before anything is called.
        self.build()

    def build(self, input_shape: Any = None) -> None:
        kh, kw = self.kernel_size
        self.templates = self.add_weight(
            name="templates",
            shape=(self.num_templates, kh, kw, self.channels, self.channels),
            initializer=self.initializer,
        )

    def stacked_kernel(self) -> Any:
        """Every template side by side as one kernel `(kh, kw, channels, num_templates * channels)`.

        Output channel `t * channels + c` is channel `c` of template `t`. Call inside a layer's `call`.
        """
        kh, kw = self.kernel_size
        # (T, kh, kw, cin, cout) -> (kh, kw, cin, T, cout) -> (kh, kw, cin, T * cout)
        kernel = ops.transpose(self.templates, (1, 2, 3, 0, 4))
        return ops.reshape(kernel, (kh, kw, self.channels, self.num_templates * self.channels))

    def call(self, inputs: Any) -> Any:
        y = ops.conv(inputs, self.stacked_kernel(), padding="same")
        # (batch, h, w, T * channels) -> (batch, h, w, T, channels)
        return ops.reshape(y, (-1, y.shape[1], y.shape[2], self.num_templates, self.channels))

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return (*input_shape[:3], self.num_templates, self.channels)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_templates": self.num_templates,
            "kernel_size": self.kernel_size,
            "channels": self.channels,
            "initializer": keras.initializers.serialize(self.initializer),
        }
