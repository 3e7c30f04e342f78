"""Runtime: run a .tflite or .onnx on the host behind one interface (light: no TensorFlow, no Keras).

- `base`: `Runner` (inputs and outputs by name, real values in and out) and `TensorSpec`;
- `litert`: LiteRT's Interpreter; `compiled`: LiteRT's CompiledModel API (with XNNPACK's weight cache);
  `onnxrt`: onnxruntime's CPU provider;
- `inputs`: the one random-input generator;
- `delegates`: which ops XNNPACK and the GPU delegate take.

`open_runner(path)` picks the runtime from the file's bytes.
"""

from __future__ import annotations

import os
from typing import Any

from ..formats.source import open_source, sniff_format
from .base import Runner, TensorSpec
from .compiled import CompiledModelRunner
from .inputs import concrete_shape, random_batch, random_feeds
from .litert import LiteRTRunner
from .onnxrt import OnnxRunner


def open_runner(model: str | os.PathLike[str] | bytes, **options: Any) -> Runner:
    """A LiteRTRunner for a .tflite, an OnnxRunner for an .onnx (options go to the runner)."""
    with open_source(model) as src:
        fmt = sniff_format(src.data, src.path)
    return LiteRTRunner(model, **options) if fmt == "tflite" else OnnxRunner(model, **options)


__all__ = [
    "CompiledModelRunner",
    "LiteRTRunner",
    "OnnxRunner",
    "Runner",
    "TensorSpec",
    "concrete_shape",
    "open_runner",
    "random_batch",
    "random_feeds",
]
