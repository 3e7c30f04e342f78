"""An integer copy with the very scale and zero point of the kept one (values that differ by rounding
only): readers take the kept values, applied identically downstream."""

from __future__ import annotations

from ...plan import Copy
from ..graph import Graph, drop_unused


class SameQuantization:
    name = "same_quantization"

    def applies(self, copy: Copy, graph: Graph) -> bool:
        k, w = copy.kept, copy.member
        return (copy.relation == "requantized" and w.quant is not None and k.quant is not None
                and w.dtype == k.dtype and w.quant.key() == k.quant.key())

    def obstacle(self, copy: Copy, graph: Graph) -> str | None:
        return None

    def apply(self, copy: Copy, graph: Graph) -> list[str]:
        kname, wname = str(copy.kept.ref), str(copy.member.ref)
        for _, node, slot in graph.uses(wname):
            node.input[slot] = kname
        drop_unused(graph, wname)
        return [f"readers of {wname} read {kname} (same scale and zero point)"]
