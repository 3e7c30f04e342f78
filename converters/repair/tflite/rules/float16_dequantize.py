"""An fp16 copy read only by DEQUANTIZE, beside a kept int8 copy: the DEQUANTIZE reads the int8 copy
with its quantization instead."""

from __future__ import annotations

from ...plan import Copy
from ..graph import Graph, requantized_layout_obstacle
from .requantized_integer import retype_to_kept


class Float16Dequantize:
    name = "float16_dequantize"

    def applies(self, copy: Copy, graph: Graph) -> bool:
        return copy.relation == "requantized" and copy.member.dtype == "float16"

    def obstacle(self, copy: Copy, graph: Graph) -> str | None:
        why = requantized_layout_obstacle(graph, copy)
        if why:
            return why
        kt = graph.kept_tensor(copy)
        readers = [graph.opname(sg.operators[oi]) for sg, _, oi, _ in graph.member_uses(copy)]
        if graph.type_name(kt) != "INT8" or any(r != "DEQUANTIZE" for r in readers):
            return "a float16 copy is read by ops other than DEQUANTIZE"
        return None

    def apply(self, copy: Copy, graph: Graph) -> list[str]:
        return retype_to_kept(copy, graph)
