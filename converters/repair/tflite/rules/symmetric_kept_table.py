"""A kept table that int8 weight readers cannot take fast: re-stored as symmetric per-tensor int8.

In a full-integer model the GATHER table takes the activation's asymmetric parameters (a non-zero zero
point). When some op also reads the kept copy as a weight (FULLY_CONNECTED of a tied LM head), XNNPACK
would not delegate it (it takes symmetric int8 weights only) and the model would run on the slower
builtin kernel. So the group's most precise copy is requantized to symmetric per-tensor int8 in a new
buffer that every reader of the kept copy reads; GATHER outputs take the new scale.
"""

from __future__ import annotations

import numpy as np

from ....formats.weights import StoredWeight
from ....verify.matching import Group, dequantize, prepare
from ..graph import WEIGHT_AXIS, Graph, copy_quant, gather_output_takes, scales, zero_point


class SymmetricKeptTable:
    name = "symmetric_kept_table"

    def applies(self, kept: StoredWeight, group: Group, graph: Graph) -> bool:
        kt = graph.first_tensor(kept)
        sc = None if kt is None else scales(kt)
        if sc is None or sc.size != 1 or zero_point(kt) == 0:
            return False
        for m in group.members:
            for si, ti in graph.tensors_of(m.weight):
                sg = graph.model.subgraphs[si]
                if any((graph.opname(sg.operators[oi]), slot) in WEIGHT_AXIS for oi, slot in graph.uses(sg, ti)):
                    return True
        return False

    def apply(self, kept: StoredWeight, group: Group, graph: Graph) -> list[str]:
        kt = graph.first_tensor(kept)
        if kt is None:
            return []
        members = [m.weight for m in group.members]
        src = max(members, key=lambda w: (w.is_float, w.quant is not None and w.quant.scale.size > 1, w.nbytes))
        p = prepare(src, 0)
        real = dequantize(p.raw, p.scale, p.zero).reshape(tuple(kt.shape))
        scale = float(np.max(np.abs(real))) / 127.0 or 1.0
        q = np.clip(np.round(real / scale), -127, 127).astype(np.int8)
        nb = graph.new_buffer(q.tobytes())
        qp = graph.quantization([scale], [0])
        old = graph.buffer_of(kept)
        for si, ti in graph.tensors_of_buffer(old):
            sg = graph.model.subgraphs[si]
            t = sg.tensors[ti]
            t.buffer, t.quantization = nb, copy_quant(qp)
            for oi, slot in graph.uses(sg, ti):
                gather_output_takes(graph, sg, sg.operators[oi], slot, qp)
        graph.moved[int(kept.ref)] = nb  # type: ignore[arg-type]
        return [f"kept copy {kept.name} requantized to symmetric per-tensor int8 (scale {scale:.3g}, zero point 0) "
                "from the most precise copy, so that int8 weight readers (XNNPACK) take it"]

