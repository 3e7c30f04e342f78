"""Read a .tflite flatbuffer with the schema that ai-edge-litert ships, without TensorFlow.

The Python flatbuffer accessors do no validation: on a truncated or corrupt file they raise
struct.error, IndexError or TypeError, or return absurd lengths. Every read here is bounds-checked
first and any failure becomes an InvalidInputError that names the file.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgeshare.errors import InvalidInputError

from .source import OpenedSource
from .sparsity import Sparsity, densify, read_sparsity, stored_count
from .weights import Quantization, StoredWeight


def _schema() -> Any:
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


def _enum_names(cls: type) -> dict[int, str]:
    return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


_DTYPES: dict[str, str] = {
    "FLOAT32": "float32",
    "FLOAT16": "float16",
    "FLOAT64": "float64",
    "BFLOAT16": "bfloat16",
    "INT8": "int8",
    "UINT8": "uint8",
    "INT16": "int16",
    "UINT16": "uint16",
    "INT32": "int32",
    "UINT32": "uint32",
    "INT64": "int64",
    "UINT64": "uint64",
    "INT4": "int4",
    "BOOL": "bool",
}


NUMERIC_DTYPES = frozenset(v for v in _DTYPES.values() if v != "bool")
FLOAT_DTYPES = frozenset(("float32", "float16", "bfloat16", "float64"))


def dtype_name(type_name: str) -> str:
    """The dtype name the reader gives a TFLite TensorType name (numpy's where it has one)."""
    return _DTYPES.get(type_name, type_name)


def numpy_dtype(name: str) -> np.dtype:
    if name not in NUMERIC_DTYPES:
        raise InvalidInputError(f"tensor type {name} has no numeric layout")
    if name == "bfloat16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    if name == "int4":
        return np.dtype(np.int8)
    return np.dtype(name)


@dataclass
class TensorInfo:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str  # numpy-style name, or the TFLite enum name when numpy has none
    buffer: int
    quant: Quantization | None
    is_variable: bool
    sparsity: Sparsity | None = None  # stored sparse: the buffer holds only the listed values
    external: bool = False  # data in an external buffer (Model.external_buffers), not in this file


@dataclass
class OpInfo:
    index: int
    opcode: str
    inputs: list[int]
    outputs: list[int]

    def label(self, subgraph: int) -> str:
        return f"{self.opcode}#{self.index}" if subgraph == 0 else f"{self.opcode}#{subgraph}.{self.index}"


@dataclass
class SubgraphInfo:
    index: int
    name: str
    tensors: list[TensorInfo]
    operators: list[OpInfo]
    inputs: list[int]
    outputs: list[int]


@dataclass
class SignatureInfo:
    key: str
    subgraph: int
    inputs: dict[str, int]
    outputs: dict[str, int]


@dataclass
class BufferInfo:
    start: int  # absolute byte position of the data in the file
    length: int  # bytes


@dataclass
class TFLiteFile:
    source: OpenedSource
    version: int
    buffers: list[BufferInfo]
    subgraphs: list[SubgraphInfo]
    signatures: list[SignatureInfo] = field(default_factory=list)
    description: str = ""

    @property
    def label(self) -> str:
        return self.source.label

    def buffer_bytes(self, buffer: int) -> memoryview:
        """A zero-copy view of a buffer's raw bytes (inline or at its offset past the flatbuffer)."""
        info = self.buffers[buffer]
        return self.source.data[info.start : info.start + info.length]

    def buffer_array(self, buffer: int, dtype: str, shape: tuple[int, ...],
                     sparsity: Sparsity | None = None) -> np.ndarray:
        """A buffer's data as an array of `shape`: a zero-copy view, or for a sparse tensor its dense values
        (int4 is unpacked)."""
        info = self.buffers[buffer]
        if sparsity is not None:
            listed = stored_count(sparsity)
            values = self.buffer_array(buffer, dtype, (listed,))
            try:
                return densify(values, sparsity, shape)
            except ValueError as exc:
                raise InvalidInputError(f"buffer {buffer}: {exc}", self.label) from exc
        numel = int(np.prod(shape)) if shape else 1
        if dtype == "int4":
            packed = np.frombuffer(self.source.data, np.uint8, info.length, info.start)
            lo = (packed & 0x0F).astype(np.int8)
            hi = (packed >> 4).astype(np.int8)
            both = np.stack([lo, hi], axis=-1).reshape(-1)[:numel]
            return np.where(both > 7, both - 16, both).astype(np.int8).reshape(shape)
        dt = numpy_dtype(dtype)
        count = info.length // dt.itemsize
        if count != numel:
            raise InvalidInputError(
                f"buffer {buffer} holds {count} values of {dtype} but its tensor has shape {list(shape)}",
                self.label,
            )
        return np.frombuffer(self.source.data, dt, count, info.start).reshape(shape)

    def stored_weights(self) -> list[StoredWeight]:
        """One StoredWeight per non-empty constant buffer, with every tensor and op that reads it."""
        consumers: dict[tuple[int, int], list[str]] = {}
        for sg in self.subgraphs:
            for op in sg.operators:
                for ti in op.inputs:
                    if ti >= 0:
                        consumers.setdefault((sg.index, ti), []).append(op.label(sg.index))
        by_buffer: dict[int, StoredWeight] = {}
        for sg in self.subgraphs:
            op_by_label = {op.label(sg.index): op for op in sg.operators}
            for t in sg.tensors:
                if (t.buffer <= 0 or t.is_variable or t.external or t.buffer >= len(self.buffers)
                        or t.dtype not in NUMERIC_DTYPES):
                    continue
                info = self.buffers[t.buffer]
                if info.length == 0:
                    continue
                # Follow DEQUANTIZE so that an fp16 weight names the op that really uses it.
                readers = []
                for label in consumers.get((sg.index, t.index), []):
                    op = op_by_label[label]
                    if op.opcode == "DEQUANTIZE" and op.outputs:
                        after = consumers.get((sg.index, op.outputs[0]), [])
                        readers.append(label + "→" + "/".join(a.split("#")[0] for a in after) if after else label)
                    else:
                        readers.append(label)
                w = by_buffer.get(t.buffer)
                if w is None:
                    w = StoredWeight(
                        key=f"buffer {t.buffer}",
                        name=t.name,
                        shape=t.shape,
                        dtype=t.dtype,
                        nbytes=info.length,
                        load=_loader(self, t.buffer, t.dtype, t.shape, t.sparsity),
                        quant=t.quant,
                        ref=t.buffer,
                        layout=t.sparsity.describe() if t.sparsity is not None else None,
                    )
                    by_buffer[t.buffer] = w
                w.tensors.append(t.name if sg.index == 0 else f"{t.name} (subgraph {sg.index})")
                w.consumers.extend(readers)
        return list(by_buffer.values())


def _loader(f: TFLiteFile, buffer: int, dtype: str, shape: tuple[int, ...], sparsity: Sparsity | None) -> Any:
    return lambda: f.buffer_array(buffer, dtype, shape, sparsity)


def _check(cond: bool, what: str, label: str) -> None:
    if not cond:
        raise InvalidInputError(f"corrupt TFLite flatbuffer: {what}", label)


def read_tflite(src: OpenedSource) -> TFLiteFile:
    """Parse the flatbuffer. Raises InvalidInputError on anything malformed."""
    try:
        return _read(src)
    except InvalidInputError:
        raise
    except (struct.error, IndexError, TypeError, ValueError, OverflowError, UnicodeDecodeError, KeyError) as exc:
        raise InvalidInputError(
            f"corrupt or truncated TFLite flatbuffer ({type(exc).__name__} while reading the schema)", src.label
        ) from exc


def _read(src: OpenedSource) -> TFLiteFile:
    s = _schema()
    data = src.data
    size = data.nbytes
    label = src.label
    _check(size >= 16, f"only {size} bytes", label)
    root = struct.unpack_from("<I", data, 0)[0]
    _check(8 <= root < size, f"root table offset {root} outside the file of {size} bytes", label)
    model = s.Model.GetRootAs(data, 0)
    version = model.Version()
    _check(version == 3, f"schema version {version}, expected 3", label)
    opnames = _enum_names(s.BuiltinOperator)
    tnames = _enum_names(s.TensorType)

    # A vector length can never exceed the file: a larger one means corrupt offsets.
    def length(n: int, what: str, per_item: int = 4) -> int:
        _check(0 <= n * per_item <= size, f"{what} count {n} cannot fit in {size} bytes", label)
        return n

    opcodes: list[str] = []
    for i in range(length(model.OperatorCodesLength(), "operator code")):
        oc = model.OperatorCodes(i)
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        if code == s.BuiltinOperator.CUSTOM:
            custom = oc.CustomCode()
            opcodes.append("CUSTOM:" + (custom.decode("utf-8", "replace") if custom else "?"))
        else:
            opcodes.append(opnames.get(code, f"OP_{code}"))

    buffers: list[BufferInfo] = []
    for i in range(length(model.BuffersLength(), "buffer")):
        b = model.Buffers(i)
        _check(b is not None, f"buffer {i} is missing", label)
        o = b._tab.Offset(4)
        if o:
            start = b._tab.Vector(o)
            n = b._tab.VectorLen(o)
        else:
            off, n = b.Offset(), b.Size()
            start = off if off > 1 else 0
            if off <= 1:
                n = 0
        _check(start >= 0 and start + n <= size, f"buffer {i} data runs past the end of the file", label)
        buffers.append(BufferInfo(start, n))

    subgraphs: list[SubgraphInfo] = []
    for si in range(length(model.SubgraphsLength(), "subgraph")):
        sg = model.Subgraphs(si)
        tensors: list[TensorInfo] = []
        n_tensors = length(sg.TensorsLength(), "tensor")
        for ti in range(n_tensors):
            t = sg.Tensors(ti)
            shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
            _check(all(d >= -1 for d in shape), f"tensor {ti} has a negative dimension", label)
            tname = tnames.get(t.Type(), f"TYPE_{t.Type()}")
            dtype = _DTYPES.get(tname, tname)
            buf = t.Buffer()
            quant = _quantization(t, label)
            if quant is not None and quant.scale.size > 1:
                ax = quant.axis if quant.axis is not None else -1
                _check(
                    0 <= ax < len(shape) and shape[ax] == quant.scale.size,
                    f"tensor {ti} has {quant.scale.size} scales along axis {ax} of shape {list(shape)}",
                    label,
                )
            _check(0 <= buf < max(1, len(buffers)), f"tensor {ti} points at buffer {buf} of {len(buffers)}", label)
            try:
                sparsity = read_sparsity(t)
            except ValueError as exc:
                raise InvalidInputError(f"corrupt TFLite flatbuffer: tensor {ti}: {exc}", label) from exc
            tensors.append(
                TensorInfo(
                    index=ti,
                    name=(t.Name() or b"").decode("utf-8", "replace"),
                    shape=shape,
                    dtype=dtype,
                    buffer=buf,
                    quant=quant,
                    is_variable=bool(t.IsVariable()),
                    sparsity=sparsity,
                    external=bool(t.ExternalBuffer()),
                )
            )
        ops: list[OpInfo] = []
        for oi in range(length(sg.OperatorsLength(), "operator")):
            op = sg.Operators(oi)
            idx = op.OpcodeIndex()
            _check(0 <= idx < len(opcodes), f"operator {oi} uses opcode {idx} of {len(opcodes)}", label)
            ins = [int(x) for x in op.InputsAsNumpy()] if op.InputsLength() else []
            outs = [int(x) for x in op.OutputsAsNumpy()] if op.OutputsLength() else []
            for x in ins + outs:
                _check(-1 <= x < n_tensors, f"operator {oi} refers to tensor {x} of {n_tensors}", label)
            ops.append(OpInfo(oi, opcodes[idx], ins, outs))
        sg_in = [int(x) for x in sg.InputsAsNumpy()] if sg.InputsLength() else []
        sg_out = [int(x) for x in sg.OutputsAsNumpy()] if sg.OutputsLength() else []
        name = (sg.Name() or b"").decode("utf-8", "replace")
        subgraphs.append(SubgraphInfo(si, name, tensors, ops, sg_in, sg_out))

    signatures: list[SignatureInfo] = []
    for i in range(length(model.SignatureDefsLength(), "signature")):
        sd = model.SignatureDefs(i)
        sgi = sd.SubgraphIndex()
        _check(0 <= sgi < len(subgraphs), f"signature {i} points at subgraph {sgi}", label)

        def tmap(n: int, get: Any) -> dict[str, int]:
            out = {}
            for j in range(length(n, "signature tensor")):
                tm = get(j)
                out[(tm.Name() or b"").decode("utf-8", "replace")] = int(tm.TensorIndex())
            return out

        signatures.append(
            SignatureInfo(
                key=(sd.SignatureKey() or b"").decode("utf-8", "replace"),
                subgraph=sgi,
                inputs=tmap(sd.InputsLength(), sd.Inputs),
                outputs=tmap(sd.OutputsLength(), sd.Outputs),
            )
        )
    desc = (model.Description() or b"").decode("utf-8", "replace")
    return TFLiteFile(src, version, buffers, subgraphs, signatures, desc)


def _quantization(t: Any, label: str) -> Quantization | None:
    q = t.Quantization()
    if q is None or q.ScaleLength() == 0:
        return None
    scale = np.array(q.ScaleAsNumpy(), dtype=np.float32)
    zp = np.array(q.ZeroPointAsNumpy(), dtype=np.int64) if q.ZeroPointLength() else np.zeros(1, np.int64)
    if zp.size not in (1, scale.size):
        raise InvalidInputError(f"tensor has {scale.size} scales but {zp.size} zero points", label)
    axis = int(q.QuantizedDimension()) if scale.size > 1 else None
    return Quantization(scale, zp, axis)
