"""Copies stored sparse (`Tensor.sparsity`; LiteRT expands them with DENSIFY before use).

- A sparse copy of a weight kept dense: each DENSIFY that expands it goes, and its output tensor becomes
  a constant view of the kept buffer (same dtype, quantization and values), so its readers are unchanged.
- Two sparse copies with the same sparsity metadata and the same stored bytes: the copy's tensors point
  at the kept buffer.
- Anything else (a kept copy stored sparse beside a dense one, sparse copies with other metadata or other
  quantization) stays in the file, with the reason.

Listed before every other copy rule, so that no rule that assumes a dense layout touches a sparse copy.
"""

from __future__ import annotations

import numpy as np

from ....formats.sparsity import Sparsity
from ...plan import Copy
from ..graph import Graph, quant_for_shape, same_values_layout, tensor_name


def _same_sparsity(a: Sparsity | None, b: Sparsity | None) -> bool:
    if a is None or b is None:
        return a is b
    if a.traversal_order != b.traversal_order or a.block_map != b.block_map or len(a.levels) != len(b.levels):
        return False
    for x, y in zip(a.levels, b.levels):
        if (x.format, x.dense_size) != (y.format, y.dense_size):
            return False
        for u, v in ((x.segments, y.segments), (x.indices, y.indices)):
            if u is None or v is None:
                if u is not v:
                    return False
            elif not np.array_equal(u, v):
                return False
    return True


def _sparsity_of(graph: Graph, buffer: int) -> Sparsity | None:
    for sg in graph.tfl.subgraphs:
        for t in sg.tensors:
            if t.buffer == buffer:
                return t.sparsity
    return None


class SparseCopy:
    name = "sparse_copy"

    def applies(self, copy: Copy, graph: Graph) -> bool:
        return copy.member.layout is not None or copy.kept.layout is not None

    def obstacle(self, copy: Copy, graph: Graph) -> str | None:
        if copy.relation != "exact":
            return f"a {copy.relation} copy stored sparse (only copies with the same stored values merge)"
        if copy.kept.layout is not None:
            if copy.member.layout is None:
                return "the kept copy is stored sparse, the other copy's readers need it dense"
            same = _same_sparsity(_sparsity_of(graph, graph.buffer_of(copy.kept)),
                                  _sparsity_of(graph, graph.buffer_of(copy.member)))
            kd, md = graph.data_of(graph.buffer_of(copy.kept)), graph.data_of(graph.buffer_of(copy.member))
            if not same or kd is None or md is None or bytes(kd) != bytes(md):
                return "sparse copies with different sparsity metadata"
            return None
        kt = graph.kept_tensor(copy)
        for sg, _, oi, slot in graph.member_uses(copy):
            op = sg.operators[oi]
            if graph.opname(op) != "DENSIFY" or slot != 0 or not op.outputs:
                return f"{graph.opname(op)} reads the sparse copy directly (only DENSIFY can take the dense copy)"
            y = sg.tensors[op.outputs[0]]
            if op.outputs[0] in sg.outputs or y.type != kt.type or not same_values_layout(kt, list(y.shape)):
                return "a DENSIFY output of the sparse copy is a graph output or has another type or shape"
        return None

    def apply(self, copy: Copy, graph: Graph) -> list[str]:
        kt = graph.kept_tensor(copy)
        kb = int(kt.buffer)
        notes = []
        if copy.member.layout is not None and copy.kept.layout is not None:
            for si, ti in graph.tensors_of(copy.member):
                t = graph.model.subgraphs[si].tensors[ti]
                t.buffer = kb
                notes.append(f"{tensor_name(t)}: reads the kept buffer (same sparsity and values)")
            return notes
        for sg, _, oi, _ in sorted(graph.member_uses(copy), key=lambda u: -u[2]):
            op = sg.operators[oi]
            y = sg.tensors[op.outputs[0]]
            y.buffer, y.quantization = kb, quant_for_shape(kt, list(y.shape))
            del sg.operators[oi]
            notes.append(f"DENSIFY#{oi} removed: {tensor_name(y)} is now a view of the kept dense copy")
        return notes
