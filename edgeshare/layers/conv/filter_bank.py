"""A bank of convolution templates shared by several layers (Savarese & Maire 2019)."""

from __future__ import annotations

import keras
from keras import ops


def normalize_kernel_size(kernel_size, name="kernel_size"):
    """An int or a pair of positive ints -> (height, width)."""
    size = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    if len(size) != 2 or not all(isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in size):
        raise ValueError(
            f"`{name}` must be a positive integer or a pair of positive integers. Received: {name}={kernel_size}"
        )
    return size


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
        >>> bank(keras.ops.ones((2, 8, 8, 16))).shape
        (2, 8, 8, 4, 16)

    References:
        Savarese & Maire 2019, "Learning Implicitly Recurrent CNNs Through Parameter Sharing" (ICLR).
    """

    def __init__(self, num_templates, kernel_size, channels, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        for arg, value in (("num_templates", num_templates), ("channels", channels)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{arg}` must be a positive integer. Received: {arg}={value}")
        self.num_templates = num_templates
        self.kernel_size = normalize_kernel_size(kernel_size)
        self.channels = channels
        self.initializer = keras.initializers.get(initializer)
        # The templates do not depend on any input shape: create them now, so that every layer the bank
        # is passed to shares one variable before anything is called.
        self.build()

    def build(self, input_shape=None):
        kh, kw = self.kernel_size
        self.templates = self.add_weight(
            name="templates",
            shape=(self.num_templates, kh, kw, self.channels, self.channels),
            initializer=self.initializer,
        )

    def stacked_kernel(self):
        """Every template side by side as one kernel `(kh, kw, channels, num_templates * channels)`.

        Output channel `t * channels + c` is channel `c` of template `t`. Call inside a layer's `call`.
        """
        kh, kw = self.kernel_size
        # (T, kh, kw, cin, cout) -> (kh, kw, cin, T, cout) -> (kh, kw, cin, T * cout)
        kernel = ops.transpose(self.templates, (1, 2, 3, 0, 4))
        return ops.reshape(kernel, (kh, kw, self.channels, self.num_templates * self.channels))

    def call(self, inputs):
        y = ops.conv(inputs, self.stacked_kernel(), padding="same")
        # (batch, h, w, T * channels) -> (batch, h, w, T, channels)
        return ops.reshape(y, (-1, y.shape[1], y.shape[2], self.num_templates, self.channels))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:3], self.num_templates, self.channels)

    def get_config(self):
        return {
            **super().get_config(),
            "num_templates": self.num_templates,
            "kernel_size": self.kernel_size,
            "channels": self.channels,
            "initializer": keras.initializers.serialize(self.initializer),
        }
