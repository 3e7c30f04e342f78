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
    "int64": s.TensorType.INT64,
    "bool": s.TensorType.BOOL,
    "string": s.TensorType.STRING,
}

_OPTIONS = {
    "FULLY_CONNECTED": (s.BuiltinOptions.FullyConnectedOptions, s.FullyConnectedOptionsT),
    "BATCH_MATMUL": (s.BuiltinOptions.BatchMatMulOptions, s.BatchMatMulOptionsT),
    "GATHER": (s.BuiltinOptions.GatherOptions, s.GatherOptionsT),
    "ADD": (s.BuiltinOptions.AddOptions, s.AddOptionsT),
    "DEQUANTIZE": (s.BuiltinOptions.DequantizeOptions, s.DequantizeOptionsT),
    "IF": (s.BuiltinOptions.IfOptions, s.IfOptionsT),
    "RESHAPE": (s.BuiltinOptions.ReshapeOptions, s.ReshapeOptionsT),
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

    def tensor(self, name: str, shape: tuple[int, ...], dtype: str = "float32", data: Any = None,
               scale: Any = None, zero_point: Any = None, axis: int = 0, buffer: int | None = None,
               variable: bool = False, sparsity: Any = None, signature: tuple[int, ...] | None = None) -> int:
        """`data`: an array, or raw bytes (string tensors); `sparsity`: a SparsityParametersT, with `data`
        holding only the listed values; `signature`: the shape signature (-1 for dynamic dimensions)."""
        t = s.TensorT()
        t.name = name
        t.shape = list(shape)
        t.type = _TYPES[dtype]
        t.isVariable = variable
        t.sparsity = sparsity
        if signature is not None:
            t.shapeSignature = list(signature)
        if buffer is not None:
            t.buffer = buffer
        elif data is not None:
            b = s.BufferT()
            raw = data if isinstance(data, bytes) else np.ascontiguousarray(data).tobytes()
            b.data = np.frombuffer(raw, np.uint8)
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

    def _opcode(self, code: int, custom: str | None = None) -> int:
        for i, c in enumerate(self.model.operatorCodes):
            if c.builtinCode == code and (custom is None or c.customCode == custom.encode()):
                return i
        c = s.OperatorCodeT()
        c.builtinCode = code
        c.deprecatedBuiltinCode = min(code, 127)
        c.version = 1
        if custom is not None:
            c.customCode = custom
        self.model.operatorCodes.append(c)
        return len(self.model.operatorCodes) - 1

    def custom(self, code: str, inputs: list[int], outputs: list[int], options: bytes = b"") -> None:
        """A custom op (`code`), with its custom options (flexbuffer bytes, as LiteRT's custom ops read them)."""
        o = s.OperatorT()
        o.opcodeIndex = self._opcode(s.BuiltinOperator.CUSTOM, code)
        o.inputs, o.outputs = list(inputs), list(outputs)
        if options:
            o.customOptions = list(options)
        self.sg.operators.append(o)

    def subgraph(self, name: str = "") -> int:
        """Start a new subgraph: tensors, ops and io() go there until the next call."""
        self.sg = s.SubGraphT()
        self.sg.tensors, self.sg.operators, self.sg.inputs, self.sg.outputs = [], [], [], []
        self.sg.name = name or None
        self.model.subgraphs.append(self.sg)
        return len(self.model.subgraphs) - 1

    def signature(self, key: str, subgraph: int, inputs: dict[str, int], outputs: dict[str, int]) -> None:
        def maps(named: dict[str, int]) -> list[Any]:
            out = []
            for name, index in named.items():
                m = s.TensorMapT()
                m.name, m.tensorIndex = name, index
                out.append(m)
            return out

        sd = s.SignatureDefT()
        sd.signatureKey, sd.subgraphIndex = key, subgraph
        sd.inputs, sd.outputs = maps(inputs), maps(outputs)
        self.model.signatureDefs = [*(self.model.signatureDefs or []), sd]

    def metadata(self, name: str, data: bytes) -> int:
        """A named metadata entry with its own buffer; returns the buffer index."""
        b = s.BufferT()
        b.data = np.frombuffer(data, np.uint8)
        self.model.buffers.append(b)
        m = s.MetadataT()
        m.name, m.buffer = name, len(self.model.buffers) - 1
        self.model.metadata = [*(self.model.metadata or []), m]
        return m.buffer

    def metadata_buffer(self, data: bytes) -> int:
        """A buffer listed in the deprecated `metadata_buffer` vector; returns its index."""
        b = s.BufferT()
        b.data = np.frombuffer(data, np.uint8)
        self.model.buffers.append(b)
        index = len(self.model.buffers) - 1
        self.model.metadataBuffer = [*(self.model.metadataBuffer or []), index]
        return index

    def op(self, name: str, inputs: list[int], outputs: list[int], **options: Any) -> None:
        idx = self._opcode(getattr(s.BuiltinOperator, name))
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


def string_data(strings: list[bytes]) -> bytes:
    """TFLite's string tensor layout: the count, count + 1 offsets from the buffer's start, the bytes."""
    head = 4 * (len(strings) + 2)
    offsets, pos = [], head
    for x in strings:
        offsets.append(pos)
        pos += len(x)
    offsets.append(pos)
    return np.asarray([len(strings), *offsets], "<i4").tobytes() + b"".join(strings)


def _int32_vector(values: np.ndarray) -> Any:
    v = s.Int32VectorT()
    v.values = [int(x) for x in values]
    return v


def csr_sparsity(dense: np.ndarray) -> tuple[np.ndarray, Any]:
    """A 2-D array as TFLite stores it sparse: (the non-zero values in row order, the SparsityParametersT of
    a dense row level and a CSR column level)."""
    return _row_sparsity(dense, 1)


def block_sparsity(dense: np.ndarray, block: int = 4) -> tuple[np.ndarray, Any]:
    """A 2-D array in 1 x `block` blocks along its columns, as LiteRT's sparse FULLY_CONNECTED reads it: (the
    values of the non-zero blocks, the SparsityParametersT: dense rows, CSR block columns, a dense block)."""
    return _row_sparsity(dense, block)


def _row_sparsity(dense: np.ndarray, block: int) -> tuple[np.ndarray, Any]:
    rows, cols = dense.shape
    blocks = dense.reshape(rows, cols // block, block)
    segments, indices, values = [0], [], []
    for r in range(rows):
        nz = np.flatnonzero(np.any(blocks[r] != 0, axis=1))
        indices += nz.tolist()
        values += [blocks[r, c] for c in nz]
        segments.append(segments[-1] + nz.size)
    d0 = s.DimensionMetadataT()
    d0.format, d0.denseSize = s.DimensionType.DENSE, rows
    d1 = s.DimensionMetadataT()
    d1.format = s.DimensionType.SPARSE_CSR
    d1.arraySegmentsType, d1.arraySegments = s.SparseIndexVector.Int32Vector, _int32_vector(np.asarray(segments))
    d1.arrayIndicesType, d1.arrayIndices = s.SparseIndexVector.Int32Vector, _int32_vector(np.asarray(indices))
    sp = s.SparsityParametersT()
    if block == 1:
        sp.traversalOrder, sp.blockMap, sp.dimMetadata = [0, 1], [], [d0, d1]
    else:
        d2 = s.DimensionMetadataT()
        d2.format, d2.denseSize = s.DimensionType.DENSE, block
        sp.traversalOrder, sp.blockMap, sp.dimMetadata = [0, 1, 2], [1], [d0, d1, d2]
    flat = np.concatenate(values) if values else np.zeros(0, dense.dtype)
    return flat.astype(dense.dtype), sp


def float_beside_int8(w: np.ndarray, q: np.ndarray, scale: float, copy: str) -> bytes:
    """Two FULLY_CONNECTED ops on x [1, in]: one reads the float weight "w", the other DEQUANTIZE of `copy`,
    its per-tensor int8 copy `q` at `scale`."""
    units, inputs = w.shape
    b = TFLiteBuilder()
    x = b.tensor("x", (1, inputs))
    wt = b.tensor("w", w.shape, data=w)
    qt = b.tensor(copy, w.shape, "int8", q, scale=scale)
    wd = b.tensor(copy + "_f32", w.shape)
    y1, y2 = b.tensor("y1", (1, units)), b.tensor("y2", (1, units))
    b.op("FULLY_CONNECTED", [x, wt, -1], [y1])
    b.op("DEQUANTIZE", [qt], [wd])
    b.op("FULLY_CONNECTED", [x, wd, -1], [y2])
    b.io([x], [y1, y2])
    return b.build()
