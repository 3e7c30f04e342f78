"""Repair an .onnx so that every shared weight is stored once.

* exact duplicates of any dtype (fp16 and int8 included) become one initializer;
* a transposed copy read by MatMul becomes `Gemm(transB=1)` on the kept initializer when the other
  operand is a matrix, Gemm flips `transA`/`transB`, and any other reader gets an explicit `Transpose`
  node, so that the file stores the weight once;
* a float copy of a quantized weight is read through a DequantizeLinear of the kept copy, and an
  integer copy's DequantizeLinear is dropped when the kept copy is the float weight itself.

Initializers stored as external data are streamed into the output's own data file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import InvalidInputError
from .matching import _prepare, find_groups, relate
from .onnx_file import OnnxFile, read_onnx
from .repair_tflite import MergedCopy, SkippedCopy
from .source import Source, open_source


@dataclass
class OnnxPlan:
    merged: list[MergedCopy] = field(default_factory=list)
    skipped: list[SkippedCopy] = field(default_factory=list)

    @property
    def requantized(self) -> bool:
        return any(m.kind == "requantized" for m in self.merged)


def _all_graphs(g: Any) -> list[Any]:
    out = [g]
    for n in g.node:
        for a in n.attribute:
            if a.type == a.GRAPH:
                out += _all_graphs(a.g)
            elif a.type == a.GRAPHS:
                for sub in a.graphs:
                    out += _all_graphs(sub)
    return out


class _Model:
    def __init__(self, f: OnnxFile) -> None:
        import onnx

        self.f = f
        self.model = f.model
        self.graphs = _all_graphs(self.model.graph)
        self.inits = {t.name: (g, t) for g in self.graphs for t in g.initializer}
        try:
            inferred = onnx.shape_inference.infer_shapes(self.model, strict_mode=False)
            vis = list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)
        except Exception:
            vis = list(self.model.graph.value_info) + list(self.model.graph.input)
        self.rank: dict[str, int] = {}
        self.shape: dict[str, list[int | None]] = {}
        for vi in vis:
            tt = vi.type.tensor_type
            if tt.HasField("shape"):
                self.rank[vi.name] = len(tt.shape.dim)
                self.shape[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        for name, (_, t) in self.inits.items():
            self.rank[name] = len(t.dims)
            self.shape[name] = [int(d) for d in t.dims]
        self.counter = 0

    def uses(self, name: str) -> list[tuple[Any, Any, int]]:
        return [(g, n, k) for g in self.graphs for n in g.node for k, x in enumerate(n.input) if x == name]

    def fresh(self, base: str) -> str:
        self.counter += 1
        return f"{base}__edgeshare{self.counter}"

    def remove_initializer(self, name: str) -> None:
        g, t = self.inits.pop(name)
        g.initializer.remove(t)
        for coll in (g.input, g.value_info):
            for vi in list(coll):
                if vi.name == name:
                    coll.remove(vi)

    def insert_before(self, g: Any, node: Any, new: Any) -> None:
        nodes = list(g.node)
        idx = nodes.index(node)
        g.node.insert(idx, new)


def _attr(node: Any, name: str, default: int = 0) -> int:
    for a in node.attribute:
        if a.name == name:
            return int(a.i)
    return default


def _set_attr(node: Any, name: str, value: int) -> None:
    from onnx import helper

    for a in list(node.attribute):
        if a.name == name:
            node.attribute.remove(a)
    node.attribute.append(helper.make_attribute(name, value))


def _plan_transposed(m: _Model, k: str, mname: str, perm: tuple[int, ...]) -> list[str]:
    """Rewrite every reader of `mname` (== transpose(k, perm)) to read `k`."""
    from onnx import helper

    notes = []
    swap2 = tuple(perm) == (1, 0)
    transpose_out: str | None = None
    matrix: str | None = None  # k as a 2-D tensor (a Reshape view when k has size-1 axes)
    for g, node, slot in m.uses(mname):
        gemm_like = swap2 and ((node.op_type == "Gemm" and slot in (0, 1)) or (node.op_type == "MatMul" and slot == 1))
        if gemm_like and matrix is None:
            matrix = _squeezed_view(m, k)
        if swap2 and node.op_type == "Gemm" and slot in (0, 1):
            key = "transB" if slot == 1 else "transA"
            _set_attr(node, key, 1 - _attr(node, key))
            node.input[slot] = matrix
            notes.append(f"{node.name or 'Gemm'}: {key} flipped to read {k}")
        elif swap2 and node.op_type == "MatMul" and slot == 1 and m.rank.get(node.input[0]) == 2:
            node.op_type = "Gemm"
            node.input[1] = matrix
            _set_attr(node, "transB", 1)
            notes.append(f"{node.name or 'MatMul'}: MatMul -> Gemm(transB=1) reading {k}")
        elif swap2 and node.op_type == "MatMul" and slot == 1 and _static_nd(m, node.input[0]):
            notes.append(_matmul_to_gemm_nd(m, g, node, matrix))  # type: ignore[arg-type]
        else:
            if transpose_out is None:
                # Transpose works on k's squeezed axes; reshape back to the copy's own shape if needed.
                src = _squeezed_view(m, k)
                transpose_out = m.fresh(k + "_transposed")
                # M = transpose(K, perm): M's axis i is K's axis perm[i], which is what Transpose(K, perm) gives.
                nodes = [helper.make_node("Transpose", [src], [transpose_out], perm=list(perm),
                                          name=m.fresh("Transpose"))]
                want = [int(d or 0) for d in m.shape.get(mname) or []]
                if len(want) != len(perm):
                    shaped = m.fresh(k + "_transposed_shaped")
                    shape_name = _int64_initializer(m, g, want)
                    nodes.append(helper.make_node("Reshape", [transpose_out, shape_name], [shaped],
                                                  name=m.fresh("Reshape")))
                    transpose_out = shaped
                for extra in nodes:
                    m.insert_before(g, node, extra)
            node.input[slot] = transpose_out
            notes.append(f"{node.op_type}: reads Transpose({k}) (transposed at run time)")
    return notes


def _int64_initializer(m: _Model, g: Any, values: list[int]) -> str:
    from onnx import numpy_helper

    name = m.fresh("shape")
    g.initializer.append(numpy_helper.from_array(np.array(values, np.int64), name))
    return name


def _squeezed_view(m: _Model, k: str) -> str:
    """k itself when it has no size-1 axes, else a Reshape of it without them (a view)."""
    from onnx import helper

    shape = [int(d or 0) for d in m.shape.get(k) or []]
    squeezed = [d for d in shape if d != 1]
    if squeezed == shape:
        return k
    g0 = m.inits[k][0]
    out = m.fresh(k + "_squeezed")
    g0.node.insert(0, helper.make_node("Reshape", [k, _int64_initializer(m, g0, squeezed)], [out],
                                       name=m.fresh("Reshape")))
    m.shape[out] = list(squeezed)
    m.rank[out] = len(squeezed)
    return out


def _runtime_transposes(m: _Model, mname: str, perm: tuple[int, ...]) -> int:
    """How many readers of `mname` would need a Transpose node if it were replaced by its transpose."""
    swap2 = tuple(perm) == (1, 0)
    n = 0
    for _, node, slot in m.uses(mname):
        if swap2 and node.op_type == "Gemm" and slot in (0, 1):
            continue
        if swap2 and node.op_type == "MatMul" and slot == 1 and (
            m.rank.get(node.input[0]) == 2 or _static_nd(m, node.input[0])
        ):
            continue
        n += 1
    return n


def _static_nd(m: _Model, name: str) -> bool:
    shape = m.shape.get(name)
    return shape is not None and len(shape) > 2 and all(isinstance(d, int) and d > 0 for d in shape)


def _matmul_to_gemm_nd(m: _Model, g: Any, node: Any, k: str) -> str:
    """MatMul(A[..., K], W[K, N]) with W = k^T becomes Reshape -> Gemm(transB=1) -> Reshape. The
    reshapes are views; the weight is read in its stored [N, K] layout with no copy."""
    from onnx import helper, numpy_helper

    a = node.input[0]
    shape = [int(d) for d in m.shape[a]]  # type: ignore[arg-type]
    lead = int(np.prod(shape[:-1]))
    n_out = int((m.shape.get(k) or [0])[0] or 0)
    flat_shape = m.fresh("gemm_in_shape")
    out_shape = m.fresh("gemm_out_shape")
    g.initializer.append(numpy_helper.from_array(np.array([lead, shape[-1]], np.int64), flat_shape))
    g.initializer.append(numpy_helper.from_array(np.array([*shape[:-1], n_out], np.int64), out_shape))
    flat, res = m.fresh(a + "_2d"), m.fresh(node.output[0] + "_2d")
    reshape_in = helper.make_node("Reshape", [a, flat_shape], [flat], name=m.fresh("Reshape"))
    gemm = helper.make_node("Gemm", [flat, k], [res], transB=1, name=m.fresh("Gemm"))
    reshape_out = helper.make_node("Reshape", [res, out_shape], [node.output[0]], name=m.fresh("Reshape"))
    idx = list(g.node).index(node)
    g.node.remove(node)
    for j, new in enumerate((reshape_in, gemm, reshape_out)):
        g.node.insert(idx + j, new)
    return f"{node.name or 'MatMul'}: MatMul -> Reshape, Gemm(transB=1) reading {k}, Reshape"


def _dq_readers(m: _Model, name: str) -> list[Any]:
    return [n for _, n, slot in m.uses(name) if not (n.op_type == "DequantizeLinear" and slot == 0)]


def rewrite_onnx(source: Source, out: str, *, min_elements: int = 16) -> OnnxPlan:

    src = open_source(source)
    try:
        f = read_onnx(src)
        weights = f.stored_weights()
        groups = find_groups(weights, min_elements=min_elements)
        m = _Model(f)
        plan = OnnxPlan()
        for gi, group in enumerate(groups):
            members = [x.weight for x in group.members]
            prepared = {id(w): _prepare(w, i) for i, w in enumerate(members)}
            # Keep the copy that every reader can use with the fewest run-time Transposes (a Gather
            # needs the table's own layout; MatMul and Gemm can read either), then the smallest.
            def cost(cand: Any, members: list[Any] = members, prepared: dict[int, Any] = prepared) -> tuple:
                bad = transposes = 0
                for w in members:
                    if w is cand:
                        continue
                    r = relate(prepared[id(cand)], prepared[id(w)], full=False)
                    if _feasible(m, cand, w, r) is not None:
                        bad += 1
                    elif r is not None and r.relation == "transposed":
                        transposes += _runtime_transposes(m, str(w.ref), tuple(r.perm or ()))
                return (bad, transposes, cand.nbytes, members.index(cand))

            kept = min(members, key=cost)
            for w in members:
                if w is kept:
                    continue
                r = relate(prepared[id(kept)], prepared[id(w)], full=False)
                why = _feasible(m, kept, w, r)
                if why is not None:
                    plan.skipped.append(SkippedCopy(gi, w.name, w.nbytes, why))
                    continue
                notes = _apply(m, kept, w, r)
                plan.merged.append(MergedCopy(gi, r.relation if r else "requantized", kept.name, w.name,
                                              w.nbytes, notes))
        _write(m, f, out)
        return plan
    finally:
        src.close()


def _feasible(m: _Model, k: Any, w: Any, r: Any) -> str | None:
    if r is None:
        return "related to the kept copy only through a third copy"
    if str(k.ref) not in m.inits or str(w.ref) not in m.inits:
        return "stored in a Constant node, not an initializer"
    if r.relation in ("exact", "transposed"):
        return None
    kname, wname = str(k.ref), str(w.ref)
    if r.perm is not None:
        if tuple(r.perm) == (1, 0) and w.quant is not None and k.quant is not None:
            if _qparams(m, kname) is None:
                return "the kept integer copy's scale is not an initializer next to it"
            for _, node, slot in m.uses(wname):
                if node.op_type != "MatMulInteger" or slot != 1 or _qgemm_chain(m, node) is None:
                    return f"{node.op_type} reads the transposed integer copy (only MatMulInteger can become QGemm)"
            return None
        return "transposed and requantized at once"
    if w.quant is not None and k.quant is not None and w.dtype == k.dtype and w.quant.key() == k.quant.key():
        return None  # the same scale and zero point: readers take k's values, applied identically downstream
    if (w.quant is not None and k.quant is not None and w.dtype == k.dtype and w.quant.scale.size == 1
            and k.quant.scale.size == 1 and _integer_reader_scales(m, wname) is not None
            and _integer_reader_scales(m, kname) is not None):
        return None  # integer readers (MatMulInteger, ConvInteger): swap the weight and its downstream scale
    if w.quant is not None and k.quant is not None:
        if _qparams(m, kname) is None:
            return "the kept integer copy's scale is not an initializer next to it"
        if any(not (n.op_type == "DequantizeLinear" and slot == 0) for _, n, slot in m.uses(wname)):
            return "the integer copy is read by ops other than DequantizeLinear"
        return None
    if w.quant is not None and k.quant is None:
        # w is an integer copy: every reader must be a DequantizeLinear whose output k can replace
        if _dq_readers(m, str(w.ref)):
            return "the integer copy is read by ops other than DequantizeLinear"
        return None
    if w.quant is None and k.quant is not None:
        if not k.scale_known:
            return "the kept integer copy's scale is applied downstream (MatMulInteger)"
        return None
    if w.dtype == "float16" and k.dtype == "float32":
        if all(n.op_type == "Cast" for _, n, _ in m.uses(str(w.ref))):
            return None
        return "float16 copy read by non-Cast ops"
    return f"{w.dtype} copy next to a {k.dtype} one"


def _apply(m: _Model, k: Any, w: Any, r: Any) -> list[str]:

    kname, wname = str(k.ref), str(w.ref)
    if r.relation == "exact":
        src = kname
        note = f"readers of {wname} read {kname}"
        kshape, wshape = list(m.shape.get(kname) or []), list(m.shape.get(wname) or [])
        if kshape != wshape:  # the same bytes in another shape: read them through a Reshape
            from onnx import helper, numpy_helper

            g0 = m.inits[wname][0]
            shape_name = m.fresh(wname + "_shape")
            g0.initializer.append(numpy_helper.from_array(np.array(wshape, np.int64), shape_name))
            src = m.fresh(kname + "_reshaped")
            g0.node.insert(0, helper.make_node("Reshape", [kname, shape_name], [src], name=m.fresh("Reshape")))
            note = f"readers of {wname} read Reshape({kname}, {wshape})"
        for _, node, slot in m.uses(wname):
            node.input[slot] = src
        m.remove_initializer(wname)
        return [note]
    if r.relation == "transposed":
        notes = _plan_transposed(m, kname, wname, tuple(r.perm))
        m.remove_initializer(wname)
        return notes
    notes = []
    if r.perm is not None:  # MatMulInteger on the transposed integer copy -> QGemm(transB=1) on k
        if _asymmetric(m, kname) and w.dtype == "int8" and w.scale_known and w.quant is not None \
                and w.quant.scale.size == 1 and not int(w.quant.zero_point.reshape(-1)[0]):
            # onnxruntime's int8 GEMM is fast for symmetric weights only: keep the symmetric int8
            # copy (transposed back) instead of the asymmetric uint8 Gather table.
            old = kname
            kname = _adopt_transposed(m, old, wname, float(w.quant.scale.reshape(-1)[0]))
            notes.append(f"{old} replaced by the symmetric int8 copy of {wname}, stored in {old}'s layout")
            _drop_unused(m, old)
        for g, node, _ in m.uses(wname):
            notes.append(_to_qgemm(m, g, node, kname))
        _drop_unused(m, wname)
        return notes
    if w.quant is not None and k.quant is not None and w.dtype == k.dtype and w.quant.key() == k.quant.key():
        for _, node, slot in m.uses(wname):
            node.input[slot] = kname
        _drop_unused(m, wname)
        return [f"readers of {wname} read {kname} (same scale and zero point)"]
    k_scales = _integer_reader_scales(m, kname) if w.quant is not None and k.quant is not None else None
    w_scales = _integer_reader_scales(m, wname) if k_scales is not None else None
    if k_scales and w_scales is not None:
        k_node, _, k_zp_slot, k_scale = k_scales[0]
        k_zp = k_node.input[k_zp_slot] if k_zp_slot is not None else None
        for node, mul, zp_slot, _ in w_scales:
            node.input[1] = kname
            if zp_slot is not None and k_zp is not None:
                node.input[zp_slot] = k_zp
            scale_in = mul.input[1] if mul.input[1] in m.inits else mul.input[0]
            for i, name in enumerate(mul.input):
                if name == scale_in:
                    mul.input[i] = k_scale
            notes.append(f"{node.op_type}: reads {kname}; its downstream scale is now {kname}'s")
        _drop_unused(m, wname)
        return notes
    if w.quant is not None and k.quant is not None:  # DequantizeLinear readers switch to k's scale
        kq, ks, kz, kaxis = _qparams(m, kname)  # type: ignore[misc]
        for _, node, _ in m.uses(wname):
            node.input[0] = kq
            node.input[1] = ks
            if len(node.input) > 2:
                node.input[2] = kz or ""
            elif kz:
                node.input.append(kz)
            if kaxis is not None:
                _set_attr(node, "axis", kaxis)
            notes.append(f"{node.name or 'DequantizeLinear'}: dequantizes {kname} with its own scale")
        _drop_unused(m, wname)
        return notes
    if w.quant is not None and k.quant is None:  # drop the integer copy's DequantizeLinear
        for g, node, _ in m.uses(wname):
            out = node.output[0]
            for _, reader, slot in m.uses(out):
                reader.input[slot] = kname
            g.node.remove(node)
            notes.append(f"DequantizeLinear of {wname} removed; readers use {kname}")
        _drop_unused(m, wname)
        return notes
    if w.dtype == "float16" and k.dtype == "float32":
        for g, node, _ in m.uses(wname):
            for _, reader, slot in m.uses(node.output[0]):
                reader.input[slot] = kname
            g.node.remove(node)
        _drop_unused(m, wname)
        return [f"Cast of {wname} removed; readers use {kname}"]
    # float copy w, quantized kept copy k: read it through a DequantizeLinear
    dq_src = next((n for _, n, slot in m.uses(kname) if n.op_type == "DequantizeLinear" and slot == 0), None)
    readers = m.uses(wname)
    if dq_src is None:
        # k is read only by integer ops (MatMulInteger): dequantize it for the float readers with the
        # scale and zero point those ops apply.
        from onnx import helper, numpy_helper

        g0 = m.inits[kname][0]
        kdtype = m.f.tensor_array(m.inits[kname][1]).dtype
        s_name, z_name = m.fresh(kname + "_scale"), m.fresh(kname + "_zero_point")
        scale = k.quant.scale.astype(np.float32)
        zero = k.quant.zero_point.astype(kdtype)
        g0.initializer.append(numpy_helper.from_array(scale if scale.size > 1 else scale.reshape(()), s_name))
        g0.initializer.append(numpy_helper.from_array(zero if zero.size > 1 else zero.reshape(()), z_name))
        dq_src = helper.make_node("DequantizeLinear", [kname, s_name, z_name], [m.fresh(kname + "_dequantized")],
                                  name=m.fresh("DequantizeLinear"))
        if scale.size > 1 and k.quant.axis is not None:
            _set_attr(dq_src, "axis", int(k.quant.axis))
        g0.node.insert(0, dq_src)
    # The DequantizeLinear reads only initializers, so it can run first: move it to the top of its
    # graph so that the new readers come after it.
    for g in m.graphs:
        if dq_src in g.node and all(x in m.inits or not x for x in dq_src.input):
            g.node.remove(dq_src)
            g.node.insert(0, dq_src)
            break
    for _, node, slot in readers:
        node.input[slot] = dq_src.output[0]
    m.remove_initializer(wname)
    notes.append(f"readers of {wname} read DequantizeLinear({kname})")
    return notes


def _qparams(m: _Model, name: str) -> tuple[str, str, str | None, int | None] | None:
    """(weight, scale, zero point, axis) initializer names an integer weight is dequantized with:
    by a DequantizeLinear reading it, or by one after a Gather of it."""
    for _, node, slot in m.uses(name):
        dq = None
        if node.op_type == "DequantizeLinear" and slot == 0:
            dq = node
        elif node.op_type == "Gather" and slot == 0:
            dq = next((n for _, n, s2 in m.uses(node.output[0]) if n.op_type == "DequantizeLinear" and s2 == 0), None)
        if dq is not None and len(dq.input) > 1 and dq.input[1] in m.inits:
            zp = dq.input[2] if len(dq.input) > 2 and dq.input[2] in m.inits else None
            axis = None
            if int(np.prod([d or 1 for d in m.shape.get(dq.input[1]) or [1]])) > 1:
                axis = _attr(dq, "axis", 1)
            return name, dq.input[1], zp, axis
    return None


def _integer_reader_scales(m: _Model, name: str) -> list[tuple[Any, Any, int | None, str]] | None:
    """For a weight read only as input 1 of MatMulInteger / ConvInteger, whose scale onnxruntime's
    quantizer applies downstream (-> Cast -> Mul(_, Mul(a_scale, b_scale))): per reader, (the node, the
    Mul holding b_scale, the zero-point input slot, b_scale's initializer name). None otherwise."""
    out = []
    for _, node, slot in m.uses(name):
        if node.op_type not in ("MatMulInteger", "ConvInteger") or slot != 1:
            return None
        readers = m.uses(node.output[0])
        if len(readers) != 1 or readers[0][1].op_type != "Cast":
            return None
        cast = readers[0][1]
        readers = m.uses(cast.output[0])
        if len(readers) != 1 or readers[0][1].op_type != "Mul":
            return None
        other = [x for x in readers[0][1].input if x != cast.output[0]]
        prod = _producer(m, other[0]) if len(other) == 1 else None
        if prod is None or prod[1].op_type != "Mul":
            return None
        mul = prod[1]
        inits = [x for x in mul.input if x in m.inits]
        if len(inits) == 2:
            inits = [mul.input[1]]  # onnxruntime writes Mul(a_scale, b_scale)
        if len(inits) != 1 or len(m.uses(inits[0])) != 1:
            return None  # a scale shared with other readers cannot be swapped for one of them
        zp = node.input[3] if len(node.input) > 3 and node.input[3] else None
        out.append((node, mul, 3 if zp else None, inits[0]))
    if not out:
        return None
    zp_names = {n.input[3] if len(n.input) > 3 and n.input[3] else None for n, _, _, _ in out}
    return out if len(zp_names) == 1 else None


def _asymmetric(m: _Model, name: str) -> bool:
    params = _qparams(m, name)
    if params is None:
        return False
    _, _, zp, _ = params
    t = m.inits[name][1]
    if t.data_type == onnx_uint8():
        return True
    return bool(zp is not None and np.any(m.f.tensor_array(m.inits[zp][1]) != 0))


def onnx_uint8() -> int:
    import onnx

    return int(onnx.TensorProto.UINT8)


def _adopt_transposed(m: _Model, kname: str, wname: str, w_scale: float) -> str:
    """Store transpose(w) as the table (int8, symmetric, w's scale), rewire k's readers and the
    DequantizeLinear nodes that dequantize them; returns the new initializer's name."""
    from onnx import numpy_helper

    g0, _ = m.inits[kname]
    data = np.ascontiguousarray(m.f.tensor_array(m.inits[wname][1]).T)
    new, s_name, z_name = m.fresh(kname + "_int8"), m.fresh(kname + "_scale"), m.fresh(kname + "_zero_point")
    for arr, name in ((data, new), (np.array(w_scale, np.float32), s_name), (np.array(0, np.int8), z_name)):
        t = numpy_helper.from_array(arr, name)
        g0.initializer.append(t)
        m.inits[name] = (g0, t)
        m.shape[name] = list(arr.shape)
        m.rank[name] = arr.ndim
    for _, node, slot in m.uses(kname):
        node.input[slot] = new
        dq = node if node.op_type == "DequantizeLinear" else next(
            (n for _, n, s2 in m.uses(node.output[0]) if n.op_type == "DequantizeLinear" and s2 == 0), None)
        if dq is not None:
            dq.input[1] = s_name
            if len(dq.input) > 2:
                dq.input[2] = z_name
            else:
                dq.input.append(z_name)
    return new


def _producer(m: _Model, name: str) -> tuple[Any, Any] | None:
    for g in m.graphs:
        for n in g.node:
            if name in n.output:
                return g, n
    return None


def _qgemm_chain(m: _Model, node: Any) -> tuple[Any, Any, Any, Any] | None:
    """MatMulInteger(A_q, B, a_zp, b_zp) -> Cast -> Mul(_, scale product), with A_q from a
    DynamicQuantizeLinear of a matrix: returns (dql, cast, mul, scale_mul) or None."""
    if len(node.input) < 3 or not node.output:
        return None
    prod = _producer(m, node.input[0])
    if prod is None or prod[1].op_type != "DynamicQuantizeLinear":
        return None
    a = prod[1].input[0]
    if m.rank.get(a) != 2 and not _static_nd(m, a):
        return None
    readers = m.uses(node.output[0])
    if len(readers) != 1 or readers[0][1].op_type != "Cast":
        return None
    cast = readers[0][1]
    readers = m.uses(cast.output[0])
    if len(readers) != 1 or readers[0][1].op_type != "Mul":
        return None
    mul = readers[0][1]
    other = [x for x in mul.input if x != cast.output[0]]
    sp = _producer(m, other[0]) if len(other) == 1 else None
    return prod[1], cast, mul, (sp[1] if sp is not None and sp[1].op_type == "Mul" else None)


def _to_qgemm(m: _Model, g: Any, node: Any, kname: str) -> str:
    from onnx import helper

    chain = _qgemm_chain(m, node)
    params = _qparams(m, kname)
    if chain is None or params is None:
        raise InvalidInputError(f"cannot rewrite {node.name or 'MatMulInteger'} to QGemm")
    dql, cast, mul, scale_mul = chain
    _, ks, kz, _ = params
    a_q, out = node.input[0], mul.output[0]
    new_nodes = []
    shape = m.shape.get(dql.input[0]) or []
    if len(shape) > 2:  # QGemm takes matrices: flatten the leading axes around it (views, no copies)
        from onnx import numpy_helper

        lead = int(np.prod([int(d or 1) for d in shape[:-1]]))
        in_shape, out_shape = m.fresh("qgemm_in_shape"), m.fresh("qgemm_out_shape")
        n_out = int((m.shape.get(kname) or [0])[0] or 0)
        g.initializer.append(numpy_helper.from_array(np.array([lead, int(shape[-1] or 0)], np.int64), in_shape))
        g.initializer.append(numpy_helper.from_array(np.array([*[int(d or 1) for d in shape[:-1]], n_out], np.int64),
                                                     out_shape))
        flat, res = m.fresh(a_q + "_2d"), m.fresh(out + "_2d")
        new_nodes.append(helper.make_node("Reshape", [a_q, in_shape], [flat], name=m.fresh("Reshape")))
        a_q, final, out = flat, out, res
    inputs = [a_q, dql.output[1], dql.output[2], kname, ks, kz or ""]
    new_nodes.append(helper.make_node("QGemm", inputs, [out], domain="com.microsoft", transB=1,
                                      name=m.fresh("QGemm")))
    if len(shape) > 2:
        new_nodes.append(helper.make_node("Reshape", [out, out_shape], [final], name=m.fresh("Reshape")))
    idx = list(g.node).index(node)
    for dead in (node, cast, mul):
        g.node.remove(dead)
    for j, n in enumerate(new_nodes):
        g.node.insert(idx + j, n)
    if scale_mul is not None and not m.uses(scale_mul.output[0]):
        g.node.remove(scale_mul)
    if not any(o.domain == "com.microsoft" for o in m.model.opset_import):
        m.model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return f"{node.name or 'MatMulInteger'}: MatMulInteger -> QGemm(transB=1) reading {kname}"


def _drop_unused(m: _Model, name: str) -> None:
    """Remove an initializer and, recursively, scale/zero-point initializers nothing reads any more."""
    if m.uses(name):
        return
    if name in m.inits:
        m.remove_initializer(name)
    used = {x for g in m.graphs for n in g.node for x in n.input}
    for other in list(m.inits):
        if other not in used and not any(o.name == other for o in m.model.graph.output):
            m.remove_initializer(other)


def _write(m: _Model, f: OnnxFile, out: str) -> None:
    """Save, streaming external data into `out`'s own data file."""
    import onnx
    from onnx import external_data_helper as edh

    external = [t for _, t in m.inits.values() if edh.uses_external_data(t)]
    if not external:
        onnx.save(m.model, out)
        return
    data_name = os.path.basename(out) + ".data"
    data_path = os.path.join(os.path.dirname(os.path.abspath(out)), data_name)
    with open(data_path, "wb") as fh:
        for t in external:
            arr = f.tensor_array(t)
            pos = fh.tell()
            pad = (-pos) % 4096
            fh.write(b"\0" * pad)
            pos += pad
            view = np.ascontiguousarray(arr).view(np.uint8).reshape(-1).data
            for i in range(0, view.nbytes, 1 << 24):
                fh.write(view[i : i + (1 << 24)])
            # set_external_data() insists on raw_data being present; write the entries directly.
            del t.external_data[:]
            for key, value in (("location", data_name), ("offset", str(pos)), ("length", str(view.nbytes))):
                entry = t.external_data.add()
                entry.key, entry.value = key, value
            t.data_location = onnx.TensorProto.EXTERNAL
    onnx.save(m.model, out)


def onnx_outputs(path: str, n: int, feeds: list[list[np.ndarray]] | None = None) -> tuple[dict[str, list[Any]],
                                                                                         list[list[np.ndarray]]]:
    """Outputs for n random inputs (ids kept inside Gather tables), or for `feeds` from an earlier call."""
    import onnx

    from .runtime import OnnxRunner

    runner = OnnxRunner(path)
    model = onnx.load(path, load_external_data=False)
    bound: dict[str, int] = {}
    inits = {t.name: list(t.dims) for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Gather" and len(node.input) > 1 and node.input[0] in inits:
            axis = _attr(node, "axis", 0)
            bound[node.input[1]] = int(inits[node.input[0]][axis])
    rng = np.random.default_rng(0)
    results = []
    used = []
    for i in range(n):
        if feeds is not None:
            feed = feeds[i]
        else:
            feed = []
            for meta in runner.inputs:
                shape = [d if isinstance(d, int) and d > 0 else 1 for d in meta.shape]
                if "int" in meta.type:
                    feed.append(rng.integers(0, bound.get(meta.name, 2), size=shape))
                else:
                    feed.append(rng.standard_normal(shape).astype(np.float32))
        used.append(feed)
        results.append(runner(*feed))
    return {"main": results}, used
