"""How soft-mixing `BankConv2D` layers are stored when exported: `bank_export=`.

A soft `BankConv2D` computes its kernel as a mix of its `FilterBank`'s templates. The stock TFLite
converter folds that mix into one constant kernel per layer (measured with TF 2.21: six layers over one
bank give six kernel buffers), so the bank's sharing is lost in the file. Three forms:

* `"materialize"` (default): the stock behavior. One kernel per soft layer; every runtime and delegate
  runs them at full speed. The file stores `layers x kernel` instead of `templates x kernel`.
* `"runtime"`: the bank is stored once and the mix happens at inference, on the template responses.
  Each soft layer convolves its input with all the templates at once (one constant
  `(kh, kw, c, T * c)` kernel that every layer on the bank reads from the same buffer), splits the `T`
  responses and adds them up weighted by its coefficients. Exact, since a convolution is linear in its
  kernel, and made of ops with constant weights only (`CONV_2D`, `SPLIT`, `MUL`, `ADD`): it quantizes
  (dynamic, int8) and XNNPACK takes every op. It costs about `T` times the multiply-adds of the layer.
* `"runtime_kernel"`: the bank is stored once and each layer's kernel is mixed at inference, then used
  as a computed `CONV_2D` filter. The converter would fold that mix, so the model is traced with the
  templates as extra inputs, which are then frozen into one constant buffer per bank. Float only
  (`quantize="none"` or `"fp16"`, and ONNX): dynamic-range quantization leaves a computed kernel in
  float, and LiteRT's int8 `CONV_2D` rejects one (`conv.cc`: filter zero point must be 0). XNNPACK does
  not take a convolution whose filter is computed, so LiteRT runs those on its builtin kernels; but
  onnxruntime folds the mix once when it loads the model, so in ONNX this form has the file size of
  `"runtime"` and the speed of `"materialize"`.

Measured trade-offs: BENCHMARKS.md (`python -m edgeshare.benchmarks.bench_bank_export`).

Hard-mixing layers read one template each; the converter folds that slice into a constant, and layers
on the same template share it. A bank used by both hard and soft layers stores its hard-used templates
twice under the runtime forms (once sliced, once whole): give hard and soft layers separate banks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from edgeshare.errors import InvalidInputError

from .grouped_conv import lowered_grouped_convs
from .masked_softmax import quantizable_masked_softmax
from .prepare import Prepared
from .to_tflite import tflite_bytes

BANK_EXPORT_FORMS = ("materialize", "runtime", "runtime_kernel")
KERNEL_MIXING_MODES = ("none", "fp16")


def check_bank_export(bank_export: str, quantize: str = "none", signatures: Any = None) -> None:
    if bank_export not in BANK_EXPORT_FORMS:
        raise InvalidInputError(
            f"`bank_export` must be one of {', '.join(BANK_EXPORT_FORMS)}. Received: bank_export={bank_export!r}"
        )
    if bank_export == "runtime_kernel" and quantize not in KERNEL_MIXING_MODES:
        raise InvalidInputError(
            "bank_export='runtime_kernel' computes each kernel at inference, which dynamic-range quantization "
            "leaves in float and LiteRT's int8 CONV_2D rejects; use bank_export='runtime'. "
            f"Received: bank_export='runtime_kernel', quantize={quantize!r}"
        )
    if bank_export == "runtime_kernel" and signatures is not None:
        raise InvalidInputError("bank_export='runtime_kernel' does not combine with `signatures`; use 'runtime'. "
                                f"Received: bank_export={bank_export!r}, signatures={signatures!r}")


def soft_bank_layers(model: Any) -> list[Any]:
    """Every soft-mixing BankConv2D in the model, nested layers included."""
    from edgeshare.layers.conv.bank_conv2d import BankConv2D

    return [
        layer
        for layer in model._flatten_layers(include_self=True, recursive=True)
        if isinstance(layer, BankConv2D) and layer.mixing == "soft"
    ]


def soft_banks(model: Any) -> list[Any]:
    """The distinct FilterBanks that the model's soft BankConv2D layers mix, in first-use order."""
    out: list[Any] = []
    for layer in soft_bank_layers(model):
        if all(layer.bank is not b for b in out):
            out.append(layer.bank)
    return out


@contextlib.contextmanager
def bank_export_mode(model: Any, bank_export: str = "materialize") -> Iterator[list[str]]:
    """While active, every soft BankConv2D of the model computes in the `bank_export` form.

    Yields the names of the affected layers; restores each layer's previous form on exit.
    """
    check_bank_export(bank_export)
    layers = soft_bank_layers(model)
    previous = [layer.bank_export for layer in layers]
    for layer in layers:
        layer.bank_export = bank_export
    try:
        yield [layer.name for layer in layers]
    finally:
        for layer, form in zip(layers, previous):
            layer.bank_export = form
            object.__setattr__(layer, "templates_input", None)


@contextlib.contextmanager
def layer_export_forms(
    model: Any, bank_export: str = "materialize", lower_grouped_conv: bool = False
) -> Iterator[None]:
    """The export-time forms of edgeshare's layers, for the duration of one conversion: soft BankConv2D
    layers in the `bank_export` form, and grouped Conv2D lowered when `lower_grouped_conv` is set."""
    with bank_export_mode(model, bank_export), lowered_grouped_convs(model, lower_grouped_conv):
        yield


def tflite_with_layer_forms(
    p: Prepared,
    quantize: str,
    signatures: Mapping[str, Sequence[str]] | None = None,
    bank_export: str = "materialize",
    lower_grouped_conv: bool = False,
    int8_softmax: bool | None = None,
) -> bytes:
    """TFLite bytes of the prepared export `p` with the layers in their export forms. `int8_softmax`
    (default: `quantize == "int8"`) traces Keras' masked softmax in its quantizable form (masked_softmax.py),
    which the float model that ONNX int8 quantizes also needs."""
    check_bank_export(bank_export, quantize, signatures)
    int8_softmax = quantize == "int8" if int8_softmax is None else int8_softmax
    with layer_export_forms(p.model, bank_export, lower_grouped_conv), quantizable_masked_softmax(int8_softmax):
        if bank_export == "runtime_kernel" and soft_banks(p.model):
            return kernel_mixing_tflite_bytes(p, quantize)
        return tflite_bytes(p, quantize, signatures, trace_key=(bank_export, lower_grouped_conv, int8_softmax))


def kernel_mixing_tflite_bytes(p: Prepared, quantize: str) -> bytes:
    """Convert with every soft bank's templates as an extra input (so that no mix is folded), then
    freeze those inputs into constant buffers: each bank stored once, each kernel mixed at inference."""
    banks = soft_banks(p.model)
    layers = soft_bank_layers(p.model)
    bank_names = [f"edgeshare_bank_{i}" for i in range(len(banks))]
    extra = [(n, tuple(int(d) for d in b.templates.shape), "float32") for b, n in zip(banks, bank_names)]

    @contextlib.contextmanager
    def templates_as_inputs(values: Sequence[Any]) -> Iterator[None]:
        for layer in layers:
            index = next(i for i, b in enumerate(banks) if b is layer.bank)
            object.__setattr__(layer, "templates_input", values[index])
        try:
            yield
        finally:
            for layer in layers:
                object.__setattr__(layer, "templates_input", None)

    data = tflite_bytes(p, quantize, None, extra, templates_as_inputs)
    for bank, name in zip(banks, bank_names):
        data = freeze_input(data, name, np.asarray(bank.templates.numpy(), dtype=np.float32))
    return data


def freeze_input(data: bytes, name: str, value: np.ndarray) -> bytes:
    """A .tflite whose input `name` (primary subgraph) became a constant tensor holding `value`."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(data, 0)
    sg = model.subgraphs[0]
    matches = [i for i in sg.inputs if sg.tensors[i].name.decode("utf-8", "replace") == name]
    for sig in model.signatureDefs or []:
        matches += [t.tensorIndex for t in sig.inputs or [] if t.name.decode("utf-8", "replace") == name]
    if not matches:
        raise InvalidInputError(f"`name` must be an input of the converted model. Received: name={name!r}")
    index = matches[0]
    tensor = sg.tensors[index]
    shape = [int(d) for d in tensor.shape]
    if shape != list(value.shape):
        raise InvalidInputError(
            f"the value for input {name!r} must have its shape {shape}. Received: shape={list(value.shape)}"
        )
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(np.ascontiguousarray(value, dtype=np.float32).tobytes(), np.uint8)
    model.buffers.append(buffer)
    tensor.buffer = len(model.buffers) - 1
    sg.inputs = [i for i in sg.inputs if i != index]
    for sig in model.signatureDefs or []:
        sig.inputs = [t for t in sig.inputs or [] if t.tensorIndex != index]
    builder = flatbuffers.Builder(len(data) + value.nbytes + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
