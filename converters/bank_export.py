"""How soft-mixing `BankConv2D` layers are stored when exported: `bank_export=`.

A soft `BankConv2D` computes its kernel as a mix of its `FilterBank`'s templates. The stock TFLite
converter folds that mix into one constant kernel per layer (measured with TF 2.21: six layers over one
bank give six kernel buffers), so the bank's sharing is lost in the file. Two forms:

* `"materialize"` (default): the stock behavior. One kernel per soft layer; every runtime and delegate
  runs them at full speed. The file stores `layers x kernel` instead of `templates x kernel`.
* `"runtime"`: the bank is stored once and the mix happens at inference. Each soft layer convolves its
  input with all the templates at once (one constant `(kh, kw, c, c * T)` kernel that every layer on
  the bank reads from the same buffer) and combines the `T` responses with its coefficients, a
  `FULLY_CONNECTED` over the template axis. This is exact, since a convolution is linear in its kernel,
  and uses only ops with constant weights (`CONV_2D`, `RESHAPE`, `FULLY_CONNECTED`), so it quantizes
  (dynamic, int8) and delegates like any CNN; it costs `T` times the multiply-adds of the layer.

Mixing the kernel itself at inference (a `CONV_2D` whose filter is computed at run time) was measured
too: LiteRT's float kernels accept it but XNNPACK leaves those convolutions on the slower builtin
kernels, and the int8 `CONV_2D` rejects a computed filter (`conv.cc`: the filter zero point must be 0).
See BENCHMARKS.md (`python -m edgeshare.benchmarks.bench_bank_export`).

Hard-mixing layers read one template each; the converter folds that slice into a constant, and layers
on the same template share it. A bank used by both hard and soft layers stores its hard-used templates
twice under `"runtime"` (once sliced, once inside the stacked kernel): give hard and soft layers
separate banks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

BANK_EXPORT_FORMS = ("materialize", "runtime")


def check_bank_export(bank_export: str) -> None:
    from .errors import InvalidInputError

    if bank_export not in BANK_EXPORT_FORMS:
        raise InvalidInputError(
            f"`bank_export` must be one of {', '.join(BANK_EXPORT_FORMS)}. Received: bank_export={bank_export!r}"
        )


def soft_bank_layers(model: Any) -> list[Any]:
    """Every soft-mixing BankConv2D in the model, nested layers included."""
    from edgeshare.layers.conv.bank_conv2d import BankConv2D

    return [
        layer
        for layer in model._flatten_layers(include_self=True, recursive=True)
        if isinstance(layer, BankConv2D) and layer.mixing == "soft"
    ]


def banks(model: Any) -> list[Any]:
    """The distinct FilterBanks the model's BankConv2D layers read, in first-use order."""
    from edgeshare.layers.conv.bank_conv2d import BankConv2D

    out: list[Any] = []
    for layer in model._flatten_layers(include_self=True, recursive=True):
        if isinstance(layer, BankConv2D) and all(layer.bank is not b for b in out):
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


@contextlib.contextmanager
def layer_export_forms(
    model: Any, bank_export: str = "materialize", lower_grouped_conv: bool = False
) -> Iterator[None]:
    """The export-time forms of edgeshare's layers, for the duration of one conversion: soft BankConv2D
    layers in the `bank_export` form, and grouped Conv2D lowered when `lower_grouped_conv` is set."""
    from .grouped_conv import lowered_grouped_convs

    with bank_export_mode(model, bank_export), lowered_grouped_convs(model, lower_grouped_conv):
        yield
