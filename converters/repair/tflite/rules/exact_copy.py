"""A byte-identical copy (same dtype and quantization): its tensors point at the kept buffer."""

from __future__ import annotations

from ...plan import Copy
from ..graph import Graph, tensor_name


class ExactCopy:
    name = "exact_copy"
    identical = True  # the readers see the very same bytes: outputs unchanged by construction

    def applies(self, copy: Copy, graph: Graph) -> bool:
        return copy.relation == "exact"

    def obstacle(self, copy: Copy, graph: Graph) -> str | None:
        return None

    def apply(self, copy: Copy, graph: Graph) -> list[str]:
        kb = int(graph.kept_tensor(copy).buffer)
        notes = []
        for si, ti in graph.tensors_of(copy.member):
            t = graph.model.subgraphs[si].tensors[ti]
            t.buffer = kb
            notes.append(f"{tensor_name(t)}: reads the kept buffer")
        return notes
