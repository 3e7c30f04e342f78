"""An exact copy (same bytes, dtype and quantization): its readers read the kept initializer, through a
Reshape when the copy has another shape."""

from __future__ import annotations

import numpy as np

from ...plan import Copy
from ..graph import Graph


class ExactInitializer:
    name = "exact_initializer"
    identical = True  # the readers see the very same values: outputs unchanged by construction

    def applies(self, copy: Copy, graph: Graph) -> bool:
        return copy.relation == "exact"

    def obstacle(self, copy: Copy, graph: Graph) -> str | None:
        return None

    def apply(self, copy: Copy, graph: Graph) -> list[str]:
        from onnx import helper, numpy_helper

        m, kname, wname = graph, str(copy.kept.ref), str(copy.member.ref)
        src, note = kname, f"readers of {wname} read {kname}"
        kshape, wshape = list(m.shape.get(kname) or []), list(m.shape.get(wname) or [])
        if kshape != wshape:  # the same bytes in another shape: read them through a Reshape
            g0 = m.inits[wname][0]
            shape_name = m.fresh(wname + "_shape")
            g0.initializer.append(numpy_helper.from_array(np.array(wshape, np.int64), shape_name))
            src = m.fresh(kname + "_reshaped")
            g0.node.insert(0, helper.make_node("Reshape", [kname, shape_name], [src], name=m.fresh("Reshape")))
            note = f"readers of {wname} read Reshape({kname}, {wshape})"
        for _, node, slot in m.uses(wname):
            node.input[slot] = src
        m.remove_initializer(wname)
        return [note]
