"""Read the weights of an .onnx model (initializers and Constant nodes, external data included)
without TensorFlow. Quantization parameters are recovered from the ops that consume an integer
weight (DequantizeLinear, QLinearConv, QLinearMatMul, and the com.microsoft quantized MatMuls)."""

from __future__ import annotations

import contextlib
import mmap
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgeshare.errors import InvalidInputError

from .source import OpenedSource
from .weights import Quantization, StoredWeight

# op_type -> (weight input, scale input or None, zero-point input or None, default axis)
_QUANT_ROLES: dict[str, tuple[int, int | None, int | None, int | None]] = {
    "DequantizeLinear": (0, 1, 2, 1),
    "QLinearConv": (3, 4, 5, 0),
    "QLinearMatMul": (3, 4, 5, -1),
    "QGemm": (3, 4, 5, -1),
    "MatMulIntegerToFloat": (1, 3, 5, -1),
    "DynamicQuantizeMatMul": (1, 2, 3, -1),
    "MatMulInteger": (1, None, 3, -1),
    "ConvInteger": (1, None, 3, 0),
}


@dataclass
class NodeRef:
    label: str  # "MatMul#12" (graph path prefix for subgraphs)
    node: Any
    graph: Any


@dataclass
class OnnxFile:
    source: OpenedSource
    model: Any  # onnx.ModelProto, loaded without external data
    base_dir: str | None
    nodes: list[NodeRef] = field(default_factory=list)
    _maps: dict[str, mmap.mmap] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.source.label

    def iter_graphs(self) -> Iterator[tuple[str, Any]]:
        def walk(prefix: str, g: Any) -> Iterator[tuple[str, Any]]:
            yield prefix, g
            for i, n in enumerate(g.node):
                for a in n.attribute:
                    if a.type == a.GRAPH:
                        yield from walk(f"{prefix}{n.op_type}#{i}/{a.name}/", a.g)
                    elif a.type == a.GRAPHS:
                        for k, sub in enumerate(a.graphs):
                            yield from walk(f"{prefix}{n.op_type}#{i}/{a.name}{k}/", sub)

        yield from walk("", self.model.graph)

    def tensor_array(self, t: Any) -> np.ndarray:
        """The values of a TensorProto; external data is memory-mapped, not read into memory."""
        from onnx import external_data_helper, numpy_helper

        if external_data_helper.uses_external_data(t):
            info = external_data_helper.ExternalDataInfo(t)
            if self.base_dir is None:
                raise InvalidInputError(
                    f"initializer {t.name!r} uses external data; pass the model as a path, not bytes", self.label
                )
            loc = os.path.normpath(os.path.join(self.base_dir, info.location))
            if not os.path.isfile(loc):
                raise InvalidInputError(f"external data file {info.location!r} is missing", self.label)
            mm = self._maps.get(loc)
            if mm is None:
                with open(loc, "rb") as fh:
                    mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
                self._maps[loc] = mm
            dt = np.dtype(_np_dtype(t.data_type))
            numel = int(np.prod(t.dims)) if len(t.dims) else 1
            offset = int(info.offset or 0)
            if offset + numel * dt.itemsize > len(mm):
                raise InvalidInputError(f"external data of {t.name!r} runs past the end of {info.location}", self.label)
            return np.frombuffer(mm, dt, numel, offset).reshape(tuple(t.dims))
        if t.raw_data:
            dt = np.dtype(_np_dtype(t.data_type))
            shape = tuple(int(d) for d in t.dims)
            numel = int(np.prod(shape)) if shape else 1
            if len(t.raw_data) != numel * dt.itemsize:
                raise InvalidInputError(
                    f"initializer {t.name!r} has {len(t.raw_data)} bytes for shape {list(shape)}", self.label
                )
            return np.frombuffer(t.raw_data, dt).reshape(shape)
        return numpy_helper.to_array(t)

    def stored_weights(self) -> list[StoredWeight]:
        import onnx

        consumers: dict[str, list[NodeRef]] = {}
        self.nodes = []
        for prefix, g in self.iter_graphs():
            for i, n in enumerate(g.node):
                ref = NodeRef(f"{prefix}{n.op_type}#{i}", n, g)
                self.nodes.append(ref)
                for name in n.input:
                    if name:
                        consumers.setdefault(name, []).append(ref)

        protos: dict[str, Any] = {}
        # ONNX names are unique across nested graphs (outer names are visible inside), so raw names key.
        for _, g in self.iter_graphs():
            for t in g.initializer:
                protos[t.name] = t
            for n in g.node:
                if n.op_type == "Constant" and n.output:
                    for a in n.attribute:
                        if a.name == "value" and a.type == a.TENSOR:
                            protos[n.output[0]] = a.t

        self._consumers = consumers
        self._producer = {o: ref for ref in self.nodes for o in ref.node.output if o}
        out: list[StoredWeight] = []
        for name, t in protos.items():
            if t.data_type in (onnx.TensorProto.STRING, onnx.TensorProto.UNDEFINED):
                continue
            try:
                dtype = np.dtype(_np_dtype(t.data_type)).name
            except (KeyError, TypeError, ValueError):
                continue  # packed int4 and float8 are not compared
            shape = tuple(int(d) for d in t.dims)
            numel = int(np.prod(shape)) if shape else 1
            nbytes = numel * np.dtype(_np_dtype(t.data_type)).itemsize
            readers = consumers.get(name, [])
            quant, scale_known = self._quant_for(name, shape, readers, protos)
            labels = []
            for r in readers:
                if r.node.op_type == "DequantizeLinear" and r.node.output:
                    after = consumers.get(r.node.output[0], [])
                    labels.append(r.label + "→" + "/".join(a.node.op_type for a in after) if after else r.label)
                else:
                    labels.append(r.label)
            w = StoredWeight(
                key=f"initializer {name!r}",
                name=name,
                shape=shape,
                dtype=dtype,
                nbytes=nbytes,
                load=_loader(self, t),
                quant=quant,
                tensors=[name],
                consumers=labels,
                scale_known=scale_known,
                ref=name,
            )
            out.append(w)
        return out

    def _quant_for(
        self, name: str, shape: tuple[int, ...], readers: list[NodeRef], protos: dict[str, Any]
    ) -> tuple[Quantization | None, bool]:
        """The quantization an integer weight is read with, from the first op that dequantizes it."""
        for r in readers:
            if r.node.op_type == "Gather" and r.node.input and r.node.input[0] == name and r.node.output:
                # An integer table gathered first and dequantized after (onnxruntime's Gather quantization).
                for after in self._consumers.get(r.node.output[0], []):
                    if after.node.op_type == "DequantizeLinear" and after.node.input[0] == r.node.output[0]:
                        return self._dq_params(after.node, protos, shape, axis_ok=False)
                continue
            role = _QUANT_ROLES.get(r.node.op_type)
            if role is None:
                continue
            w_in, s_in, z_in, default_axis = role
            if len(r.node.input) <= w_in or r.node.input[w_in] != name:
                continue
            zp = np.zeros(1, np.int64)
            if z_in is not None and len(r.node.input) > z_in and r.node.input[z_in] in protos:
                zp = self.tensor_array(protos[r.node.input[z_in]]).astype(np.int64).reshape(-1)
            if s_in is None or len(r.node.input) <= s_in or r.node.input[s_in] not in protos:
                traced = self._downstream_scale(r, protos)
                if traced is not None:
                    return Quantization(traced, zp, None if traced.size == 1 else len(shape) - 1), True
                # The scale is applied somewhere we cannot trace: compare up to a fitted scale.
                return Quantization(np.ones(1, np.float32), zp, None), False
            scale = self.tensor_array(protos[r.node.input[s_in]]).astype(np.float32).reshape(-1)
            axis = default_axis
            for a in r.node.attribute:
                if a.name == "axis":
                    axis = int(a.i)
            if scale.size > 1:
                if not shape:
                    return None, True
                ax = (axis if axis is not None else -1) % len(shape)
                if shape[ax] != scale.size:
                    raise InvalidInputError(
                        f"{name!r} has {scale.size} scales along axis {ax} of shape {list(shape)}", self.label
                    )
                return Quantization(scale, zp, ax), True
            return Quantization(scale, zp, None), True
        return None, True

    def _dq_params(self, node: Any, protos: dict[str, Any], shape: tuple[int, ...],
                   axis_ok: bool = True) -> tuple[Quantization | None, bool]:
        if len(node.input) < 2 or node.input[1] not in protos:
            return None, True
        scale = self.tensor_array(protos[node.input[1]]).astype(np.float32).reshape(-1)
        zp = np.zeros(1, np.int64)
        if len(node.input) > 2 and node.input[2] in protos:
            zp = self.tensor_array(protos[node.input[2]]).astype(np.int64).reshape(-1)
        if scale.size > 1 and not axis_ok:
            return None, True
        return Quantization(scale, zp, None), True

    def _downstream_scale(self, ref: NodeRef, protos: dict[str, Any]) -> np.ndarray | None:
        """MatMulInteger(A, B) -> Cast -> Mul(_, Mul(a_scale, b_scale)), as onnxruntime's dynamic
        quantization writes it: return b_scale (the initializer operand of the inner Mul)."""
        if not ref.node.output:
            return None
        nxt = self._consumers.get(ref.node.output[0], [])
        if len(nxt) != 1 or nxt[0].node.op_type != "Cast":
            return None
        muls = self._consumers.get(nxt[0].node.output[0], [])
        if len(muls) != 1 or muls[0].node.op_type != "Mul":
            return None
        other = [x for x in muls[0].node.input if x != nxt[0].node.output[0]]
        if len(other) != 1:
            return None
        prod = self._producer.get(other[0])
        if prod is None or prod.node.op_type != "Mul":
            return None
        inits = [x for x in prod.node.input if x in protos]
        if len(inits) == 2:
            # Both scales are static (A is itself a quantized constant path): onnxruntime's quantizer
            # writes Mul(a_scale, b_scale), so B's is the second operand.
            inits = [prod.node.input[1]]
        if len(inits) != 1:
            return None
        return np.asarray(self.tensor_array(protos[inits[0]]), np.float32).reshape(-1)

    def close(self) -> None:
        for mm in self._maps.values():
            with contextlib.suppress(BufferError):
                mm.close()
        self._maps.clear()


def _np_dtype(data_type: int) -> Any:
    from onnx import helper

    return helper.tensor_dtype_to_np_dtype(data_type)


def _loader(f: OnnxFile, t: Any) -> Any:
    return lambda: f.tensor_array(t)


def read_onnx(src: OpenedSource, check: bool = True) -> OnnxFile:
    """Parse the protobuf (external data stays on disk) and run onnx's checker on the graph."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.ModelProto()
        model.ParseFromString(bytes(src.data) if src.path is None else src.data)
    except (DecodeError, RuntimeError, ValueError, TypeError, Exception) as exc:
        # protobuf backends raise their own types on garbage, hence the broad catch
        raise InvalidInputError(_not_onnx(src, type(exc).__name__), src.label) from exc
    if not model.HasField("graph") or model.ir_version <= 0:
        raise InvalidInputError(_not_onnx(src, "no graph or no IR version"), src.label)
    base = os.path.dirname(os.path.abspath(src.path)) if src.path else None
    external = _external_locations(model)
    for loc in external:
        if base is None:
            raise InvalidInputError(
                "the model uses external data; pass the model as a path, not bytes, so the data can be found",
                src.label,
            )
        if not os.path.isfile(os.path.join(base, loc)):
            raise InvalidInputError(f"external data file {loc!r} is missing", src.label)
    if check:
        try:
            # With external data the checker resolves locations relative to the model's folder, which it
            # knows only from a path.
            onnx.checker.check_model(src.path if external and src.path else model)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InvalidInputError(f"invalid ONNX model: {first[:200]}", src.label) from exc
    return OnnxFile(src, model, base)


def _not_onnx(src: OpenedSource, why: str) -> str:
    if src.path is not None and src.path.lower().endswith(".onnx"):
        return f"not a valid ONNX model ({why}): truncated or corrupt?"
    return f"not a TFLite flatbuffer or an ONNX model (it does not parse as ONNX: {why})"


def _external_locations(model: Any) -> list[str]:
    from onnx import external_data_helper

    locs: set[str] = set()
    for t in external_data_helper._get_all_tensors(model):
        if external_data_helper.uses_external_data(t):
            locs.add(external_data_helper.ExternalDataInfo(t).location)
    return sorted(locs)
