"""A transposed integer copy read by MatMulInteger (onnxruntime's dynamic quantization writes one for the
MatMul of a tied head, beside the uint8 Gather table): the MatMulInteger -> Cast -> Mul chain becomes
`QGemm(transB=1)` (com.microsoft) on the kept copy. When the kept table is asymmetric (uint8) and the copy
symmetric int8, the symmetric copy is kept instead, stored transposed back in the table's layout:
onnxruntime's int8 GEMM is fast for symmetric weights only."""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeshare.errors import InvalidInputError

from ...plan import Copy
from ..graph import TRANSPOSED_AND_REQUANTIZED, Graph, asymmetric, drop_unused, qgemm_chain, qparams


class QGemmTransposedInteger:
    name = "qgemm_transposed_integer"

    def applies(self, copy: Copy, graph: Graph) -> bool:
        return copy.relation == "requantized" and copy.perm is not None

    def obstacle(self, copy: Copy, graph: Graph) -> str | None:
        k, w = copy.kept, copy.member
        if tuple(copy.perm or ()) != (1, 0) or w.quant is None or k.quant is None:
            return TRANSPOSED_AND_REQUANTIZED
        if qparams(graph, str(k.ref)) is None:
            return "the kept integer copy's scale is not an initializer next to it"
        for _, node, slot in graph.uses(str(w.ref)):
            if node.op_type != "MatMulInteger" or slot != 1 or qgemm_chain(graph, node) is None:
                return f"{node.op_type} reads the transposed integer copy (only MatMulInteger can become QGemm)"
        return None

    def apply(self, copy: Copy, graph: Graph) -> list[str]:
        m, w = graph, copy.member
        kname, wname = str(copy.kept.ref), str(w.ref)
        notes = []
        if asymmetric(m, kname) and w.dtype == "int8" and w.scale_known and w.quant is not None \
                and w.quant.scale.size == 1 and not int(w.quant.zero_point.reshape(-1)[0]):
            old = kname
            kname = _adopt_transposed(m, old, wname, float(w.quant.scale.reshape(-1)[0]))
            notes.append(f"{old} replaced by the symmetric int8 copy of {wname}, stored in {old}'s layout")
            drop_unused(m, old)
        for g, node, _ in m.uses(wname):
            notes.append(_to_qgemm(m, g, node, kname))
        drop_unused(m, wname)
        return notes


def _adopt_transposed(m: Graph, kname: str, wname: str, w_scale: float) -> str:
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


def _to_qgemm(m: Graph, g: Any, node: Any, kname: str) -> str:
    from onnx import helper

    chain = qgemm_chain(m, node)
    params = qparams(m, kname)
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
