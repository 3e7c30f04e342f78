"""Build small, valid .tflite files by hand (ai-edge-litert's schema object API), for verifier tests
that pair a good model with a minimally broken one. No TensorFlow involved."""

from __future__ import annotations

from typing import Any

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as s

_TYPES = {
    "float32": s.TensorType.FLOAT32,
    "float16": s.TensorType.FLOAT16,
    "int8": s.TensorType.INT8,
    "int32": s.TensorType.INT32,
}

_OPTIONS = {
    "FULLY_CONNECTED": (s.BuiltinOptions.FullyConnectedOptions, s.FullyConnectedOptionsT),
    "BATCH_MATMUL": (s.BuiltinOptions.BatchMatMulOptions, s.BatchMatMulOptionsT),
    "GATHER": (s.BuiltinOptions.GatherOptions, s.GatherOptionsT),
    "ADD": (s.BuiltinOptions.AddOptions, s.AddOptionsT),
    "DEQUANTIZE": (s.BuiltinOptions.DequantizeOptions, s.DequantizeOptionsT),
}


class TFLiteBuilder:
    """One subgraph; tensors with data get their own buffer unless `buffer=` reuses one."""

    def __init__(self) -> None:
        self.model = s.ModelT()
        self.model.version = 3
        self.model.description = "edgeshare test model"
        self.model.buffers = [s.BufferT()]  # buffer 0 is the empty sentinel
        self.model.operatorCodes = []
        self.sg = s.SubGraphT()
        self.sg.tensors, self.sg.operators, self.sg.inputs, self.sg.outputs = [], [], [], []
        self.model.subgraphs = [self.sg]

    def tensor(self, name: str, shape: tuple[int, ...], dtype: str = "float32", data: np.ndarray | None = None,
               scale: Any = None, zero_point: Any = None, axis: int = 0, buffer: int | None = None) -> int:
        t = s.TensorT()
        t.name = name
        t.shape = list(shape)
        t.type = _TYPES[dtype]
        if buffer is not None:
            t.buffer = buffer
        elif data is not None:
            b = s.BufferT()
            b.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
            self.model.buffers.append(b)
            t.buffer = len(self.model.buffers) - 1
        else:
            b = s.BufferT()
            self.model.buffers.append(b)
            t.buffer = len(self.model.buffers) - 1
        if scale is not None:
            q = s.QuantizationParametersT()
            q.scale = list(np.atleast_1d(np.asarray(scale, np.float32)))
            zp = np.zeros(len(q.scale), np.int64) if zero_point is None else np.atleast_1d(zero_point)
            q.zeroPoint = [int(z) for z in zp]
            q.quantizedDimension = axis
            t.quantization = q
        self.sg.tensors.append(t)
        return len(self.sg.tensors) - 1

    def buffer_of(self, tensor: int) -> int:
        return int(self.sg.tensors[tensor].buffer)

    def op(self, name: str, inputs: list[int], outputs: list[int], **options: Any) -> None:
        code = getattr(s.BuiltinOperator, name)
        idx = next((i for i, c in enumerate(self.model.operatorCodes) if c.builtinCode == code), None)
        if idx is None:
            c = s.OperatorCodeT()
            c.builtinCode = code
            c.deprecatedBuiltinCode = min(code, 127)
            c.version = 1
            self.model.operatorCodes.append(c)
            idx = len(self.model.operatorCodes) - 1
        o = s.OperatorT()
        o.opcodeIndex = idx
        o.inputs = list(inputs)
        o.outputs = list(outputs)
        if name in _OPTIONS:
            kind, cls = _OPTIONS[name]
            opt = cls()
            for k, v in options.items():
                setattr(opt, k, v)
            o.builtinOptionsType = kind
            o.builtinOptions = opt
        self.sg.operators.append(o)

    def io(self, inputs: list[int], outputs: list[int]) -> None:
        self.sg.inputs = list(inputs)
        self.sg.outputs = list(outputs)

    def build(self) -> bytes:
        b = flatbuffers.Builder(1024)
        b.Finish(self.model.Pack(b), file_identifier=b"TFL3")
        return bytes(b.Output())


def quantize_per_tensor(w: np.ndarray) -> tuple[np.ndarray, float]:
    scale = float(np.abs(w).max()) / 127.0
    return np.clip(np.round(w / scale), -127, 127).astype(np.int8), scale


def quantize_per_channel(w: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    other = tuple(i for i in range(w.ndim) if i != axis)
    scale = np.abs(w).max(axis=other) / 127.0
    shape = [1] * w.ndim
    shape[axis] = -1
    return np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8), scale.astype(np.float32)
