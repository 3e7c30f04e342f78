"""A transposed integer copy read through DequantizeLinear (onnxruntime's static QDQ quantization writes
one for the MatMul of a tied head: the table [V, D] for Gather and its transpose [D, V] for MatMul, each
with its own DequantizeLinear): each such DequantizeLinear now dequantizes the kept copy with the kept
copy's own parameters, and its readers read that in the kept layout (MatMul becomes `Gemm(transB=1)`,
Gemm flips transA/transB, any other reader gets a Transpose node). The kept copy is the one that needs
the fewest run-time Transposes (`cost`)."""

from __future__ import annotations

from typing import Any

from onnx import helper

from ...plan import Copy
from ..graph import Graph, drop_unused, qparams, set_attr
from .transposed_readers import rewrite_transposed_readers, runtime_transposes


def _dequantizers(graph: Graph, name: str) -> list[tuple[Any, Any]]:
    """(graph, node) of every DequantizeLinear that reads `name` as its data input."""
    return [(g, n) for g, n, slot in graph.uses(name) if n.op_type == "DequantizeLinear" and slot == 0]


class TransposedDequantized:
    name = "transposed_dequantized"

    def applies(self, copy: Copy, graph: Graph) -> bool:
        uses = graph.uses(str(copy.member.ref))
        return (copy.relation == "requantized" and copy.perm is not None and copy.member.quant is not None
                and copy.kept.quant is not None and bool(uses)
                and all(n.op_type == "DequantizeLinear" and slot == 0 for _, n, slot in uses))

    def obstacle(self, copy: Copy, graph: Graph) -> str | None:
        if tuple(copy.perm or ()) != (1, 0):
            return "a copy with more than two axes transposed"
        kname = str(copy.kept.ref)
        if qparams(graph, kname) is None:
            return "the kept integer copy's scale is not an initializer next to it"
        if any(d == 1 for d in graph.shape.get(kname) or []):
            return "the kept copy has size-1 axes"
        if not copy.kept.scale_known:
            return "the kept integer copy's scale is applied downstream (MatMulInteger)"
        return None

    def cost(self, copy: Copy, graph: Graph) -> int:
        perm = tuple(copy.perm or ())
        return sum(runtime_transposes(graph, n.output[0], perm) for _, n in _dequantizers(graph, str(copy.member.ref)))

    def apply(self, copy: Copy, graph: Graph) -> list[str]:
        m, kname, wname = graph, str(copy.kept.ref), str(copy.member.ref)
        kq, ks, kz, kaxis = qparams(m, kname)  # type: ignore[misc]
        notes = []
        for g, dq in _dequantizers(m, wname):
            out = m.fresh(kname + "_dequantized")
            new = helper.make_node("DequantizeLinear", [kq, ks, kz or ""] if kz else [kq, ks], [out],
                                   name=m.fresh("DequantizeLinear"))
            if kaxis is not None:
                set_attr(new, "axis", kaxis)
            nodes = list(g.node)
            g.node.insert(nodes.index(dq), new)
            m.shape[out] = list(m.shape.get(kname) or [])
            m.rank[out] = len(m.shape[out])
            notes += rewrite_transposed_readers(m, out, dq.output[0], (1, 0))
            g.node.remove(dq)
            notes.append(f"{dq.name or 'DequantizeLinear'} of {wname} now dequantizes {kname}")
        drop_unused(m, wname)
        return notes
