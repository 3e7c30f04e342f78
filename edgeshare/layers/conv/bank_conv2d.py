"""A convolution whose kernel comes from a shared FilterBank (Savarese & Maire 2019)."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from edgeshare.layers._shared_sublayer import sublayer_from_config
from edgeshare.layers.conv.filter_bank import FilterBank
from edgeshare.layers.conv.shapes import conv2d_output_shape
from edgeshare.validation import check_choice, is_int, normalize_int_pair

MIXINGS = ("hard", "soft")


@keras.saving.register_keras_serializable(package="edgeshare")
class BankConv2D(keras.layers.Layer):
    """A 2D convolution that takes its kernel from a shared `FilterBank`.

    Several layers built on one bank share its templates. With `mixing="hard"` the layer uses template
    `template` as its kernel, so layers that pick the same template share their whole kernel (hard
    parameter sharing; exported once). With `mixing="soft"` the layer learns `num_templates`
    coefficients and its kernel is `sum_t coefficients[t] * templates[t]`: the soft sharing of
    Savarese & Maire, where the templates are shared and only the coefficients are per layer.

    The layer keeps its own bias. Inputs and outputs have `bank.channels` channels.

    Exporting (`edgeshare.converters.export_tflite(..., bank_export=...)`) chooses how a soft layer is
    stored: `"materialize"` lets the converter fold each layer's mix into its own kernel (the stock
    behavior: one kernel per layer, fastest); `"runtime"` keeps the bank stored once and mixes at
    inference, by running all the bank's templates as one convolution and combining their responses with
    the coefficients, which is exact because a convolution is linear in its kernel; `"runtime_kernel"`
    keeps the bank stored once and mixes the kernel itself at inference (float only). The converters set
    the attribute `bank_export` for the duration of an export (and, for `"runtime_kernel"`,
    `templates_input`, the tensor that stands for the bank's templates); neither is part of the config.

    Args:
        bank: the shared `FilterBank`.
        mixing: `"hard"` (use one template) or `"soft"` (learned mix of all templates).
        template: for `mixing="hard"`, the index of the template to use (default 0). Must stay `None`
            for `mixing="soft"`.
        strides: an int or a pair.
        padding: `"same"` or `"valid"`.
        activation: activation applied after the bias.
        use_bias: whether the layer adds a per-channel bias.
        coefficient_initializer: initializer of the soft-mixing coefficients, shape `(num_templates,)`.
        bias_initializer: initializer of the bias.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: a tensor of shape `(batch, height, width, bank.channels)`.

    Returns:
        A tensor of shape `(batch, out_height, out_width, bank.channels)`.

    Example:
        >>> bank = FilterBank(num_templates=4, kernel_size=3, channels=16)
        >>> x = keras.ops.ones((2, 8, 8, 16))
        >>> y = BankConv2D(bank, mixing="soft")(BankConv2D(bank, mixing="soft")(x))
        >>> tuple(y.shape)
        (2, 8, 8, 16)

    References:
        Savarese & Maire 2019, "Learning Implicitly Recurrent CNNs Through Parameter Sharing" (ICLR).
    """

    def __init__(
        self,
        bank: FilterBank,
        mixing: str = "soft",
        template: int | None = None,
        strides: int | tuple[int, int] = 1,
        padding: str = "same",
        activation: Any = None,
        use_bias: bool = True,
        coefficient_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(bank, FilterBank):
            raise TypeError(f"`bank` must be a FilterBank. Received: bank={bank!r}")
        check_choice(mixing, "mixing", MIXINGS)
        if mixing == "soft" and template is not None:
            raise ValueError(
                "`template` selects the kernel of a hard-mixing layer and must be None when mixing='soft'. "
                f"Received: mixing={mixing!r}, template={template}"
            )
        if mixing == "hard" and template is not None and (
            not is_int(template) or not 0 <= template < bank.num_templates
        ):
            raise ValueError(
                f"`template` must be an index into the bank, in [0, {bank.num_templates}). "
                f"Received: template={template}, num_templates={bank.num_templates}"
            )
        check_choice(padding, "padding", ("same", "valid"))
        self.bank = bank
        self.mixing = mixing
        self.template = template
        self.strides = normalize_int_pair(strides, "strides")
        self.padding = padding
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.coefficient_initializer = keras.initializers.get(coefficient_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        # Export-time form of a soft layer (see converters/bank_export.py) and, for "runtime_kernel", the tensor
        # that stands for the templates while the converters trace the model.
        self.bank_export = "materialize"
        self.templates_input: Any = None

    def build(self, input_shape: Any) -> None:
        channels = input_shape[-1]
        if channels != self.bank.channels:
            raise ValueError(
                f"BankConv2D needs inputs with the bank's {self.bank.channels} channels. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        if self.mixing == "soft":
            self.coefficients = self.add_weight(
                name="coefficients", shape=(self.bank.num_templates,), initializer=self.coefficient_initializer
            )
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.bank.channels,), initializer=self.bias_initializer)

    def call(self, inputs: Any) -> Any:
        if self.mixing == "hard":
            kernel = self.bank.templates[self.template or 0]
            y = ops.conv(inputs, kernel, strides=self.strides, padding=self.padding)
        elif self.bank_export == "runtime":
            # Run every template once, then mix the responses: conv(x, sum_t a_t W_t) = sum_t a_t conv(x, W_t).
            # The stacked bank is one constant for every layer on this bank, so it is stored once. The mix is
            # a scalar multiply-add per template on 4-D slices: measured fastest in LiteRT (XNNPACK, f32 and
            # int8) against a FULLY_CONNECTED or a MUL + SUM over a template axis.
            responses = ops.conv(inputs, self.bank.stacked_kernel(), strides=self.strides, padding=self.padding)
            parts = ops.split(responses, self.bank.num_templates, axis=-1)  # T x (b, h, w, c)
            y = parts[0] * self.coefficients[0]
            for t in range(1, self.bank.num_templates):
                y = y + parts[t] * self.coefficients[t]
        else:
            templates = self.bank.templates
            if self.bank_export == "runtime_kernel" and self.templates_input is not None:
                templates = self.templates_input  # an input of the traced graph: the converter cannot fold the mix
            # (T,) . (T, kh, kw, c, c) -> (kh, kw, c, c): this layer's kernel.
            kernel = ops.tensordot(self.coefficients, templates, axes=1)
            y = ops.conv(inputs, kernel, strides=self.strides, padding=self.padding)
        if self.use_bias:
            y = y + self.bias
        return self.activation(y)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return conv2d_output_shape(input_shape, self.bank.kernel_size, self.strides, self.padding, self.bank.channels)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            # The instance itself, not a dict: see edgeshare/layers/_shared_sublayer.py.
            "bank": self.bank,
            "mixing": self.mixing,
            "template": self.template,
            "strides": self.strides,
            "padding": self.padding,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "coefficient_initializer": keras.initializers.serialize(self.coefficient_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> BankConv2D:
        return cls(**{**config, "bank": sublayer_from_config(config["bank"])})
