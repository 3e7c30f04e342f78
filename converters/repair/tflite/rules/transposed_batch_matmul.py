"""A copy stored with its last two axes swapped, read by BATCH_MATMUL: the op's adj flag flips and it
reads the kept layout (FULLY_CONNECTED has no such flag: it needs the [units, in] layout)."""

from __future__ import annotations

from ...plan import Copy
from ..graph import Graph, qaxis, scales


class TransposedBatchMatmul:
    name = "transposed_batch_matmul"

    def applies(self, copy: Copy, graph: Graph) -> bool:
        return copy.relation == "transposed"

    def obstacle(self, copy: Copy, graph: Graph) -> str | None:
        kt = graph.kept_tensor(copy)
        for si, ti in graph.tensors_of(copy.member):
            t = graph.model.subgraphs[si].tensors[ti]
            if copy.perm is None or list(t.shape) != [*kt.shape[:-2], kt.shape[-1], kt.shape[-2]]:
                return "the copy is not the kept one with its last two axes swapped"
            if scales(t) is not None and (qaxis(t) is not None or qaxis(kt) is not None):
                return "per-channel scales would move with the transpose"
        for sg, _, oi, slot in graph.member_uses(copy):
            name = graph.opname(sg.operators[oi])
            if name != "BATCH_MATMUL" or slot not in (0, 1):
                if name == "FULLY_CONNECTED":
                    return "FULLY_CONNECTED needs the [units, in] layout"
                return f"{name} cannot read it transposed"
        return None

    def apply(self, copy: Copy, graph: Graph) -> list[str]:
        s = graph.s
        kt = graph.kept_tensor(copy)
        notes = []
        for sg, _, oi, slot in graph.member_uses(copy):
            op = sg.operators[oi]
            opt = op.builtinOptions or s.BatchMatMulOptionsT()
            if slot == 1:
                opt.adjY = not opt.adjY
            else:
                opt.adjX = not opt.adjX
            op.builtinOptions = opt
            op.builtinOptionsType = s.BuiltinOptions.BatchMatMulOptions
            notes.append(f"BATCH_MATMUL#{oi}: adj_{'y' if slot == 1 else 'x'} flipped to read the kept layout")
        for si, ti in graph.tensors_of(copy.member):
            t = graph.model.subgraphs[si].tensors[ti]
            t.buffer, t.shape = kt.buffer, list(kt.shape)
        return notes
