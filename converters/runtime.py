"""Run an artifact on the host: .tflite on the LiteRT Interpreter, .onnx on onnxruntime's CPU provider.

Inputs and outputs are float or integer arrays in the model's own (Keras) terms: int8 I/O tensors of a
full-integer model are quantized and dequantized here with the tensor's own parameters.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .errors import InvalidInputError


def _quantize(x: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    scale, zero = detail["quantization"]
    dtype = detail["dtype"]
    if scale == 0 or np.issubdtype(x.dtype, np.integer):
        return x.astype(dtype)
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zero), info.min, info.max).astype(dtype)


def _dequantize(y: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    scale, zero = detail["quantization"]
    if scale == 0 or not np.issubdtype(y.dtype, np.integer):
        return y
    return (y.astype(np.float32) - zero) * scale


class TFLiteRunner:
    """One signature of a .tflite model, called with inputs in signature order."""

    def __init__(self, model: str | bytes, signature: str | None = None, num_threads: int | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        from ._quiet import quiet_fds

        kwargs: dict[str, Any] = {"num_threads": num_threads} if num_threads else {}
        try:
            # LiteRT announces its XNNPACK delegate on stderr; keep that off the CLI's output.
            with quiet_fds():
                if isinstance(model, (bytes, bytearray)):
                    self.interpreter = Interpreter(model_content=bytes(model), **kwargs)
                else:
                    self.interpreter = Interpreter(model_path=os.fspath(model), **kwargs)
                self.interpreter.allocate_tensors()
        except ValueError as exc:
            label = "<bytes>" if isinstance(model, (bytes, bytearray)) else os.fspath(model)
            raise InvalidInputError(f"LiteRT cannot load the model: {str(exc).splitlines()[0]}", label) from exc
        sigs = self.interpreter.get_signature_list()
        if sigs:
            key = signature or next(iter(sigs))
            if key not in sigs:
                raise InvalidInputError(f"no signature {key!r}; the model has {sorted(sigs)}")
            self.signature = key
            self.runner = self.interpreter.get_signature_runner(key)
            self.input_names = list(sigs[key]["inputs"])
            self.output_names = list(sigs[key]["outputs"])
            self.input_details = self.runner.get_input_details()
            self.output_details = self.runner.get_output_details()
        else:
            self.signature = None
            self.runner = None
            ins = self.interpreter.get_input_details()
            outs = self.interpreter.get_output_details()
            self.input_names = [d["name"] for d in ins]
            self.output_names = [d["name"] for d in outs]
            self.input_details = {d["name"]: d for d in ins}
            self.output_details = {d["name"]: d for d in outs}

    def __call__(self, *inputs: np.ndarray) -> list[np.ndarray]:
        if len(inputs) != len(self.input_names):
            raise InvalidInputError(f"the model takes {len(self.input_names)} inputs, got {len(inputs)}")
        feeds = {n: _quantize(np.asarray(x), self.input_details[n]) for n, x in zip(self.input_names, inputs)}
        if self.runner is not None:
            out = self.runner(**feeds)
            return [_dequantize(np.asarray(out[n]), self.output_details[n]) for n in self.output_names]
        it = self.interpreter
        for n, x in feeds.items():
            it.set_tensor(self.input_details[n]["index"], x)
        it.invoke()
        return [_dequantize(it.get_tensor(self.output_details[n]["index"]), self.output_details[n])
                for n in self.output_names]


class OnnxRunner:
    """An onnxruntime CPU session, called with inputs in graph-input order."""

    def __init__(self, model: str | bytes, num_threads: int | None = None) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if num_threads:
            opts.intra_op_num_threads = num_threads
        try:
            self.session = ort.InferenceSession(
                bytes(model) if isinstance(model, (bytes, bytearray)) else os.fspath(model),
                sess_options=opts,
                providers=["CPUExecutionProvider"],
            )
        except Exception as exc:
            label = "<bytes>" if isinstance(model, (bytes, bytearray)) else os.fspath(model)
            raise InvalidInputError(f"onnxruntime cannot load the model: {str(exc).splitlines()[0]}", label) from exc
        self.inputs = self.session.get_inputs()
        self.input_names = [i.name for i in self.inputs]
        self.output_names = [o.name for o in self.session.get_outputs()]

    def __call__(self, *inputs: np.ndarray) -> list[np.ndarray]:
        feeds = {}
        for meta, x in zip(self.inputs, inputs):
            want = _ORT_TYPES.get(meta.type)
            feeds[meta.name] = np.asarray(x).astype(want) if want is not None else np.asarray(x)
        return [np.asarray(y) for y in self.session.run(None, feeds)]


_ORT_TYPES: dict[str, Any] = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
}
