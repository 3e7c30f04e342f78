"""Integer copies with other quantization parameters, read by DequantizeLinear: those nodes dequantize
the kept copy with the kept copy's own scale, zero point and axis."""

from __future__ import annotations

from ...plan import Copy
from ..graph import TRANSPOSED_AND_REQUANTIZED, Graph, drop_unused, qparams, set_attr


class DequantizeKeptParams:
    name = "dequantize_kept_params"

    def applies(self, copy: Copy, graph: Graph) -> bool:
        return copy.relation == "requantized" and copy.member.quant is not None and copy.kept.quant is not None

    def obstacle(self, copy: Copy, graph: Graph) -> str | None:
        if copy.perm is not None:
            return TRANSPOSED_AND_REQUANTIZED
        if qparams(graph, str(copy.kept.ref)) is None:
            return "the kept integer copy's scale is not an initializer next to it"
        if any(not (n.op_type == "DequantizeLinear" and slot == 0) for _, n, slot in graph.uses(str(copy.member.ref))):
            return "the integer copy is read by ops other than DequantizeLinear"
        return None

    def apply(self, copy: Copy, graph: Graph) -> list[str]:
        kname, wname = str(copy.kept.ref), str(copy.member.ref)
        kq, ks, kz, kaxis = qparams(graph, kname)  # type: ignore[misc]
        notes = []
        for _, node, _ in graph.uses(wname):
            node.input[0], node.input[1] = kq, ks
            if len(node.input) > 2:
                node.input[2] = kz or ""
            elif kz:
                node.input.append(kz)
            if kaxis is not None:
                set_attr(node, "axis", kaxis)
            notes.append(f"{node.name or 'DequantizeLinear'}: dequantizes {kname} with its own scale")
        drop_unused(graph, wname)
        return notes
