"""Lower grouped convolutions to split, convolutions and concat, for runtimes without grouped conv.

`keras.layers.Conv2D(groups=g)` converts to one TFLite `CONV_2D` whose filter holds `in_channels / g`
input channels (and, through `export_onnx`, to one ONNX `Conv` with `group=g`). LiteRT's builtin
kernels and XNNPACK run that natively, and one grouped op is several times faster than `g` separate
convolutions (see BENCHMARKS.md). Runtimes and delegates that only know dense convolutions need the
lowered form instead: `export_tflite(..., lower_grouped_conv=True)` (off by default) traces every grouped
`Conv2D` of the model as `SPLIT` of the input into `g` parts, `g` dense `CONV_2D`s over the matching
slices of the kernel, and a `CONCATENATION`. The weights are the same numbers, sliced: nothing is
stored twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any


def grouped_conv_layers(model: Any) -> list[Any]:
    """Every `keras.layers.Conv2D` with `groups > 1` in the model, nested layers included."""
    import keras

    return [
        layer
        for layer in model._flatten_layers(include_self=True, recursive=True)
        if isinstance(layer, keras.layers.Conv2D) and getattr(layer, "groups", 1) > 1
    ]


def _split_convolution(layer: Any) -> Callable[[Any, Any], Any]:
    from keras import ops

    groups = int(layer.groups)

    def convolution_op(inputs: Any, kernel: Any) -> Any:
        # inputs (b, h, w, c_in) -> g x (b, h, w, c_in / g); kernel (kh, kw, c_in / g, c_out) -> g x (..., c_out / g)
        xs = ops.split(inputs, groups, axis=-1)
        ks = ops.split(kernel, groups, axis=-1)
        ys = [
            ops.conv(x, k, strides=list(layer.strides), padding=layer.padding, dilation_rate=layer.dilation_rate,
                     data_format=layer.data_format)
            for x, k in zip(xs, ks)
        ]
        return ops.concatenate(ys, axis=-1)  # (b, h', w', c_out), groups in order

    return convolution_op


@contextlib.contextmanager
def lowered_grouped_convs(model: Any, enabled: bool = True) -> Iterator[list[str]]:
    """While active, the model's grouped Conv2D layers compute split / conv / concat. Yields their names.

    The replacement is an instance attribute on each layer, removed on exit; with `enabled=False`
    nothing changes.
    """
    if not enabled:
        yield []
        return
    layers = grouped_conv_layers(model)
    for layer in layers:
        if layer.data_format != "channels_last":
            raise ValueError(
                "Lowering grouped convolutions supports channels_last only. "
                f"Received: layer={layer.name!r}, data_format={layer.data_format!r}"
            )
        # object.__setattr__: a plain attribute, outside Keras' layer tracking.
        object.__setattr__(layer, "convolution_op", _split_convolution(layer))
    try:
        yield [layer.name for layer in layers]
    finally:
        for layer in layers:
            object.__delattr__(layer, "convolution_op")
