"""An fp16 copy of a float32 weight read through Cast: the Casts go, their readers read the float32
weight."""

from __future__ import annotations

from ...plan import Copy
from ..graph import TRANSPOSED_AND_REQUANTIZED, Graph, drop_unused


class Float16Cast:
    name = "float16_cast"

    def applies(self, copy: Copy, graph: Graph) -> bool:
        return (copy.relation == "requantized" and copy.member.dtype == "float16"
                and copy.kept.dtype == "float32" and copy.member.quant is None)

    def obstacle(self, copy: Copy, graph: Graph) -> str | None:
        if copy.perm is not None:
            return TRANSPOSED_AND_REQUANTIZED
        if all(n.op_type == "Cast" for _, n, _ in graph.uses(str(copy.member.ref))):
            return None
        return "float16 copy read by non-Cast ops"

    def apply(self, copy: Copy, graph: Graph) -> list[str]:
        kname, wname = str(copy.kept.ref), str(copy.member.ref)
        for g, node, _ in graph.uses(wname):
            for _, reader, slot in graph.uses(node.output[0]):
                reader.input[slot] = kname
            g.node.remove(node)
        drop_unused(graph, wname)
        return [f"Cast of {wname} removed; readers use {kname}"]
