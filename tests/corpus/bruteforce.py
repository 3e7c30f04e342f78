"""An independent brute-force duplicate finder, written for the corpus tests.

It shares no code with edgeshare's reader or matcher: TFLite files are read with the flatbuffer schema that
ships in `ai_edge_litert.schema_py_generated`, ONNX files with `onnx` and `onnx.numpy_helper`. Every
constant weight is dequantized to float64, beside the step of its stored precision at each element:

- TFLite: per-tensor and per-channel scales and zero points (int8, uint8, int16, int32 biases), float16,
  bfloat16, float32; sparse tensors are densified from their `sparsity` metadata; data past the flatbuffer
  (buffer offsets) is read. Variable tensors, strings and packed int4/int2/float8 are skipped, listed.
- ONNX: initializers and Constant nodes of every graph and subgraph; integer weights take their scale
  and zero point from the DequantizeLinear that reads them (directly or through Gather, Reshape,
  Transpose, Squeeze, Unsqueeze, Flatten, Identity) or from the scale inputs of QLinearConv,
  QLinearMatMul, QGemm, MatMulIntegerToFloat and DynamicQuantizeMatMul. MatMulInteger and ConvInteger
  weights keep their zero point but their scale is applied downstream, so they are compared up to one
  fitted positive factor. External data is loaded from beside the file, else skipped, listed.

Every pair with the same element count is compared in C order (which covers reshapes and squeezed size-1
axes) and, when both are 2-D after squeezing, also with one of them transposed. Two tensors hold the same
weight when

- their cosine similarity is at least COSINE (0.999), and
- at least WITHIN (99%) of the elements agree within the two copies' combined step (the sum of each
  copy's quantization step at that element; for floats the unit in the last place).

The cosine alone would call two near-constant vectors (folded batch-norm biases) one weight; the
per-element test alone would call two coarsely quantized tensors one weight. Together they survive a few
values saturated at the int8 limits (each costs at most one element of the 1% budget) and mixed precision
(a float copy and an int8 copy agree within the int8 step). Tensors under MIN_ELEMENTS (16) elements and
constant-valued tensors (all elements within one step of each other) carry no evidence and are ignored.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

COSINE = 0.999
WITHIN = 0.99
MIN_ELEMENTS = 16

# Relative step (unit in the last place at |x| = 1) and the smallest absolute step of each float type.
_FLOAT_STEP = {
    "float64": (2.0**-52, 2.0**-1074),
    "float32": (2.0**-23, 2.0**-149),
    "float16": (2.0**-10, 2.0**-24),
    "bfloat16": (2.0**-7, 2.0**-133),
}


@dataclass
class Weight:
    """One stored constant, dequantized."""

    key: str  # TFLite: "buffer N"; ONNX: the tensor's name
    name: str
    shape: tuple[int, ...]
    dtype: str  # as stored
    values: np.ndarray  # float64, shape `shape`
    step: np.ndarray  # float64, broadcastable to `values`
    scale_known: bool = True  # False: integer units whose scale is applied downstream

    @property
    def size(self) -> int:
        return int(self.values.size)

    @property
    def constant(self) -> bool:
        """All elements within one step of each other: no evidence of identity."""
        v = self.values.reshape(-1)
        if v.size == 0:
            return True
        return bool(np.ptp(v) <= float(np.max(np.broadcast_to(self.step, self.values.shape))))


@dataclass
class Skipped:
    key: str
    name: str
    reason: str


@dataclass
class Scan:
    """What the finder read from one file."""

    path: str
    format: str
    weights: list[Weight]
    skipped: list[Skipped] = field(default_factory=list)

    def by_key(self) -> dict[str, Weight]:
        return {w.key: w for w in self.weights}


@dataclass
class Match:
    a: str
    b: str
    relation: str  # "same order" or "transposed"
    cosine: float
    within: float  # fraction of elements within the combined step
    outside: int  # elements outside it (saturated or clipped values, typically)


def _float_step(values: np.ndarray, dtype: str) -> np.ndarray:
    rel, tiny = _FLOAT_STEP[dtype]
    return np.abs(values) * rel + tiny


def _dequantize(
    raw: np.ndarray, scale: np.ndarray, zero_point: np.ndarray, axis: int | None
) -> tuple[np.ndarray, np.ndarray]:
    scale = np.asarray(scale, np.float64).reshape(-1)
    zp = np.asarray(zero_point, np.float64).reshape(-1)
    if zp.size == 0:
        zp = np.zeros(1)
    if scale.size > 1 and axis is not None and raw.ndim > 0:
        bshape = [1] * raw.ndim
        bshape[axis] = scale.size
        scale = scale.reshape(bshape)
        zp = zp.reshape(bshape) if zp.size > 1 else zp.reshape([1] * raw.ndim)
    elif scale.size == 1:
        scale, zp = scale[0], zp[0] if zp.size == 1 else zp
    values = (raw.astype(np.float64) - zp) * scale
    return values, np.broadcast_to(np.abs(np.asarray(scale, np.float64)), values.shape)


# ---------------------------------------------------------------------------------------------- TFLite


def _densify(values: np.ndarray, sparsity: object, shape: tuple[int, ...]) -> np.ndarray:
    """TFLite's sparse format (traversal order, block map, dense / CSR levels) back to a dense array."""
    order = [int(i) for i in sparsity.traversalOrder]  # type: ignore[attr-defined]
    block_map = [int(i) for i in (sparsity.blockMap if sparsity.blockMap is not None else [])]  # type: ignore[attr-defined]
    levels = sparsity.dimMetadata  # type: ignore[attr-defined]
    coords = np.zeros((1, len(order)), np.int64)
    prev = np.zeros(1, np.int64)
    for lvl, dm in enumerate(levels):
        if dm.format == 0:  # DENSE
            k = int(dm.denseSize)
            n = prev.size
            prev = np.repeat(prev, k) * k + np.tile(np.arange(k), n)
            coords = np.repeat(coords, k, axis=0)
            coords[:, lvl] = np.tile(np.arange(k), n)
        else:  # SPARSE_CSR
            seg = np.asarray(dm.arraySegments.values, np.int64)
            idx = np.asarray(dm.arrayIndices.values, np.int64)
            starts, counts = seg[prev], seg[prev + 1] - seg[prev]
            owner = np.repeat(np.arange(prev.size), counts)
            first = np.repeat(np.cumsum(counts) - counts, counts)
            pos = starts[owner] + (np.arange(owner.size) - first)
            coords = coords[owner]
            coords[:, lvl] = idx[pos]
            prev = pos
    if coords.shape[0] != values.size:
        raise ValueError(f"sparsity metadata lists {coords.shape[0]} values, the buffer holds {values.size}")
    expanded = np.zeros_like(coords)
    expanded[:, order] = coords
    rank = len(shape)
    dense = expanded[:, :rank].copy()
    for k, d in enumerate(block_map):
        bsize = int(levels[order.index(rank + k)].denseSize)
        dense[:, d] = dense[:, d] * bsize + expanded[:, rank + k]
    out = np.zeros(shape, values.dtype)
    out[tuple(dense.T)] = values
    return out


def read_tflite(path: str | Path) -> Scan:
    from ai_edge_litert import schema_py_generated as schema

    data = Path(path).read_bytes()
    model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    tt = schema.TensorType
    np_types = {
        tt.FLOAT32: "float32", tt.FLOAT16: "float16", tt.FLOAT64: "float64", tt.INT8: "int8",
        tt.UINT8: "uint8", tt.INT16: "int16", tt.UINT16: "uint16", tt.INT32: "int32", tt.UINT32: "uint32",
        tt.INT64: "int64", tt.UINT64: "uint64",
    }  # fmt: skip
    type_names = {v: k for k, v in vars(tt).items() if not k.startswith("_")}
    scan = Scan(str(path), "tflite", [])
    seen: set[int] = set()
    for sg in model.subgraphs or []:
        for t in sg.tensors or []:
            b = int(t.buffer or 0)
            if b <= 0 or b >= len(model.buffers) or b in seen:
                continue
            buf = model.buffers[b]
            if buf.data is not None and len(buf.data):
                raw_bytes = np.asarray(buf.data, np.uint8).tobytes()
            elif (buf.offset or 0) > 1 and (buf.size or 0) > 0:
                raw_bytes = data[buf.offset : buf.offset + buf.size]
            else:
                continue  # no data: not a constant
            seen.add(b)
            key, name = f"buffer {b}", (t.name or b"").decode("utf-8", "replace")
            shape = tuple(int(d) for d in (t.shape if t.shape is not None else []))
            if t.isVariable:
                scan.skipped.append(Skipped(key, name, "variable tensor (state, not a weight)"))
                continue
            if t.type == tt.BFLOAT16:
                raw = np.frombuffer(raw_bytes, np.uint16).astype(np.uint32) << 16
                arr = raw.view(np.float32)
                dtype = "bfloat16"
            elif t.type in np_types:
                dtype = np_types[t.type]
                arr = np.frombuffer(raw_bytes, dtype)
            else:
                scan.skipped.append(Skipped(key, name, f"type {type_names.get(t.type, t.type)} not compared"))
                continue
            try:
                if t.sparsity is not None:
                    arr = _densify(arr, t.sparsity, shape)
                elif arr.size == int(np.prod(shape)):
                    arr = arr.reshape(shape)
                else:
                    raise ValueError(f"{arr.size} values for shape {list(shape)}")
            except ValueError as e:
                scan.skipped.append(Skipped(key, name, f"unreadable: {e}"))
                continue
            q = t.quantization
            scale = np.asarray(q.scale if q is not None and q.scale is not None else [], np.float64)
            if dtype in _FLOAT_STEP:
                values = arr.astype(np.float64)
                scan.weights.append(Weight(key, name, shape, dtype, values, _float_step(values, dtype)))
            elif scale.size:
                zp = np.asarray(q.zeroPoint if q.zeroPoint is not None else [0], np.float64)
                values, step = _dequantize(arr, scale, zp, int(q.quantizedDimension or 0))
                scan.weights.append(Weight(key, name, shape, dtype, values, step))
            # integers without quantization are shapes, indices or lookup tables: not weights
    return scan


# ------------------------------------------------------------------------------------------------ ONNX

_MOVES = {"Gather", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Identity"}
# op type -> (weight input, scale input, zero-point input, per-channel axis of the weight)
_QUANT_READERS = {
    "QLinearConv": (3, 4, 5, 0),
    "QLinearMatMul": (3, 4, 5, -1),
    "QGemm": (3, 4, 5, 0),
    "MatMulIntegerToFloat": (1, 3, 5, -1),
    "DynamicQuantizeMatMul": (1, 2, 4, -1),
}
_UNSCALED_READERS = {"MatMulInteger": (1, 3), "ConvInteger": (1, 3)}  # weight input, zero-point input


def _iter_graphs(graph: object) -> Iterable[object]:
    yield graph
    for n in graph.node:  # type: ignore[attr-defined]
        for a in n.attribute:
            if a.type == a.GRAPH:
                yield from _iter_graphs(a.g)
            elif a.type == a.GRAPHS:
                for g in a.graphs:
                    yield from _iter_graphs(g)


def read_onnx(path: str | Path) -> Scan:
    import onnx
    from onnx import external_data_helper, numpy_helper

    model = onnx.load(str(path), load_external_data=False)
    base = str(Path(path).parent)
    protos: dict[str, object] = {}
    consumers: dict[str, list[tuple[object, int]]] = {}
    for g in _iter_graphs(model.graph):
        for t in g.initializer:
            protos[t.name] = t
        for n in g.node:
            for i, name in enumerate(n.input):
                if name:
                    consumers.setdefault(name, []).append((n, i))
            if n.op_type == "Constant" and n.output:
                for a in n.attribute:
                    if a.name == "value" and a.type == a.TENSOR:
                        protos[n.output[0]] = a.t

    cache: dict[str, np.ndarray | None] = {}

    def array(name: str) -> np.ndarray | None:
        if name not in cache:
            t = protos.get(name)
            if t is None:
                cache[name] = None
            else:
                if external_data_helper.uses_external_data(t):
                    external_data_helper.load_external_data_for_tensor(t, base)
                    t.data_location = onnx.TensorProto.DEFAULT
                cache[name] = numpy_helper.to_array(t)
        return cache[name]

    def attr(node: object, name: str, default: int) -> int:
        for a in node.attribute:  # type: ignore[attr-defined]
            if a.name == name:
                return int(a.i)
        return default

    def quant_of(name: str, ndim: int, moved: bool = False) -> tuple[str, np.ndarray, np.ndarray, int | None] | None:
        """(kind, scale, zero point, axis) for an integer tensor, from the ops that read it."""
        for node, i in consumers.get(name, []):
            op = node.op_type  # type: ignore[attr-defined]
            ins = list(node.input)  # type: ignore[attr-defined]
            if op == "DequantizeLinear" and i == 0:
                if attr(node, "block_size", 0):
                    return ("blockwise", np.empty(0), np.empty(0), None)
                scale = array(ins[1])
                zp = array(ins[2]) if len(ins) > 2 and ins[2] else np.zeros(1)
                if scale is None or zp is None or (moved and scale.size > 1):
                    continue
                axis = attr(node, "axis", 1)
                return ("scaled", scale, zp, axis % ndim if ndim else None)
            if op in _QUANT_READERS and i == _QUANT_READERS[op][0]:
                _, si, zi, axis = _QUANT_READERS[op]
                scale = array(ins[si]) if len(ins) > si and ins[si] else None
                zp = array(ins[zi]) if len(ins) > zi and ins[zi] else np.zeros(1)
                if scale is not None and zp is not None and not (moved and scale.size > 1):
                    return ("scaled", scale, zp, axis % ndim if ndim else None)
            if op in _UNSCALED_READERS and i == _UNSCALED_READERS[op][0]:
                zi = _UNSCALED_READERS[op][1]
                zp = array(ins[zi]) if len(ins) > zi and ins[zi] else np.zeros(1)
                if zp is not None and zp.size == 1:
                    return ("unscaled", np.ones(1), zp, None)
            if op in _MOVES and i == 0:
                for out in node.output:  # type: ignore[attr-defined]
                    found = quant_of(out, 0, moved=True)
                    if found is not None:
                        return found
        return None

    scan = Scan(str(path), "onnx", [])
    for name, t in protos.items():
        if t.data_type in (onnx.TensorProto.STRING, onnx.TensorProto.UNDEFINED):  # type: ignore[attr-defined]
            continue
        try:
            arr = array(name)
        except (OSError, ValueError, TypeError, onnx.checker.ValidationError) as e:
            scan.skipped.append(Skipped(name, name, f"unreadable ({type(e).__name__}: {e})"))
            continue
        if arr is None:
            continue
        dtype = arr.dtype.name
        if dtype in _FLOAT_STEP:
            values = arr.astype(np.float64)
            scan.weights.append(Weight(name, name, arr.shape, dtype, values, _float_step(values, dtype)))
            continue
        if arr.dtype.kind not in "iu":
            if arr.dtype.kind not in "b":
                scan.skipped.append(Skipped(name, name, f"type {dtype} not compared"))
            continue
        q = quant_of(name, arr.ndim)
        if q is None:
            continue  # shapes, indices, axes: not weights
        kind, scale, zp, axis = q
        if kind == "blockwise":
            scan.skipped.append(Skipped(name, name, "blockwise quantization not compared"))
            continue
        values, step = _dequantize(arr, scale, zp, axis)
        scan.weights.append(Weight(name, name, arr.shape, dtype, values, step, scale_known=kind == "scaled"))
    return scan


def read(path: str | Path) -> Scan:
    with open(path, "rb") as fh:
        head = fh.read(8)
    return read_tflite(path) if head[4:8] == b"TFL3" else read_onnx(path)


# -------------------------------------------------------------------------------------------- matching


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(d for d in shape if d != 1)


def _views(w: Weight) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(relation, values, step) flattened in C order, and transposed when 2-D after squeezing."""
    step = np.broadcast_to(w.step, w.values.shape)
    out = [("same order", w.values.reshape(-1), step.reshape(-1))]
    sq = _squeezed(w.shape)
    if len(sq) == 2:
        v, s = w.values.reshape(sq), step.reshape(sq)
        out.append(("transposed", v.T.reshape(-1), s.T.reshape(-1)))
    return out


def _judge(x: np.ndarray, sx: np.ndarray, y: np.ndarray, sy: np.ndarray, fit: str) -> tuple[float, float, int]:
    """(cosine, fraction within the combined step, count outside) for two flat views."""
    nx, ny = float(np.linalg.norm(x)), float(np.linalg.norm(y))
    if nx == 0.0 or ny == 0.0:
        return 0.0, 0.0, int(x.size)
    cos = float(np.dot(x, y) / (nx * ny))
    if fit == "y":  # y's scale is applied downstream: the least-squares positive factor onto x
        alpha = float(np.dot(x, y) / (ny * ny))
        y, sy = y * alpha, sy * abs(alpha)
    elif fit == "x":
        alpha = float(np.dot(x, y) / (nx * nx))
        x, sx = x * alpha, sx * abs(alpha)
    ok = np.abs(x - y) <= (sx + sy) * (1 + 1e-9)
    inside = int(np.count_nonzero(ok))
    return cos, inside / x.size, int(x.size - inside)


def compare(a: Weight, b: Weight) -> Match | None:
    """The best view under which `a` and `b` hold the same weight, or None."""
    if a.size != b.size:
        return None
    fit = "" if a.scale_known == b.scale_known else ("y" if a.scale_known else "x")
    if not a.scale_known and not b.scale_known:
        fit = "y"
    best: Match | None = None
    base = _views(a)[0]
    for relation, y, sy in _views(b):
        if relation == "transposed" and len(_squeezed(a.shape)) != 2:
            continue
        cos, within, outside = _judge(base[1], base[2], y, sy, fit)
        if cos >= COSINE and within >= WITHIN and (best is None or within > best.within):
            best = Match(a.key, b.key, relation, cos, within, outside)
    return best


def find_pairs(scan: Scan, min_elements: int = MIN_ELEMENTS) -> list[Match]:
    """Every pair of stored weights that hold the same weight (constant-valued and tiny ones ignored)."""
    cands = [w for w in scan.weights if w.size >= min_elements and not w.constant]
    buckets: dict[int, list[Weight]] = {}
    for w in cands:
        buckets.setdefault(w.size, []).append(w)
    out: list[Match] = []
    for ws in buckets.values():
        if len(ws) < 2:
            continue
        # A cosine prefilter over all views at once (float32 is ample for a 0.999 threshold).
        rows, owner = [], []
        for i, w in enumerate(ws):
            for rel, v, _ in _views(w):
                n = np.linalg.norm(v)
                rows.append((v / n if n else v).astype(np.float32))
                owner.append((i, rel))
        mat = np.stack(rows)
        sims = mat @ mat.T
        seen: set[tuple[int, int]] = set()
        for r, c in zip(*np.nonzero(sims >= COSINE - 1e-4)):
            (i, _), (j, _) = owner[r], owner[c]
            if i >= j or (i, j) in seen:
                continue
            seen.add((i, j))
            m = compare(ws[i], ws[j])
            if m is not None:
                out.append(m)
    return out


def groups(pairs: Iterable[Match]) -> list[set[str]]:
    """Connected components of the pairs."""
    parent: dict[str, str] = {}

    def root(k: str) -> str:
        parent.setdefault(k, k)
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for m in pairs:
        parent[root(m.a)] = root(m.b)
    comps: dict[str, set[str]] = {}
    for k in list(parent):
        comps.setdefault(root(k), set()).add(k)
    return [c for c in comps.values() if len(c) > 1]


def storage_key(storage: str) -> str:
    """verify's `storage` field ("buffer 12", "initializer 'name'") as a key of this finder's scan."""
    m = re.fullmatch(r"initializer (.+)", storage)
    if m:
        return str(ast.literal_eval(m.group(1)))
    return storage
