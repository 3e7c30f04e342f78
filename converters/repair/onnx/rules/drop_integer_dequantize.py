"""An integer copy of a weight kept in float: its DequantizeLinear nodes go, their readers read the float
weight itself."""

from __future__ import annotations

from ...plan import Copy
from ..graph import TRANSPOSED_AND_REQUANTIZED, Graph, drop_unused, non_dq_readers


class DropIntegerDequantize:
    name = "drop_integer_dequantize"

    def applies(self, copy: Copy, graph: Graph) -> bool:
        return copy.relation == "requantized" and copy.member.quant is not None and copy.kept.quant is None

    def obstacle(self, copy: Copy, graph: Graph) -> str | None:
        if copy.perm is not None:
            return TRANSPOSED_AND_REQUANTIZED
        if non_dq_readers(graph, str(copy.member.ref)):
            return "the integer copy is read by ops other than DequantizeLinear"
        return None

    def apply(self, copy: Copy, graph: Graph) -> list[str]:
        kname, wname = str(copy.kept.ref), str(copy.member.ref)
        notes = []
        for g, node, _ in graph.uses(wname):
            for _, reader, slot in graph.uses(node.output[0]):
                reader.input[slot] = kname
            g.node.remove(node)
            notes.append(f"DequantizeLinear of {wname} removed; readers use {kname}")
        drop_unused(graph, wname)
        return notes
