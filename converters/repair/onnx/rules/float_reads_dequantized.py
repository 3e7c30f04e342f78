"""A float copy of a weight kept as integers: its readers read a DequantizeLinear of the kept copy (the
one that already dequantizes it, or a new one with the scale and zero point its integer readers apply)."""

from __future__ import annotations

import numpy as np

from ...plan import Copy
from ..graph import TRANSPOSED_AND_REQUANTIZED, Graph, set_attr


class FloatReadsDequantized:
    name = "float_reads_dequantized"

    def applies(self, copy: Copy, graph: Graph) -> bool:
        return copy.relation == "requantized" and copy.member.quant is None and copy.kept.quant is not None

    def obstacle(self, copy: Copy, graph: Graph) -> str | None:
        if copy.perm is not None:
            return TRANSPOSED_AND_REQUANTIZED
        if not copy.kept.scale_known:
            return "the kept integer copy's scale is applied downstream (MatMulInteger)"
        return None

    def apply(self, copy: Copy, graph: Graph) -> list[str]:
        m, k = graph, copy.kept
        kname, wname = str(k.ref), str(copy.member.ref)
        dq_src = next((n for _, n, slot in m.uses(kname) if n.op_type == "DequantizeLinear" and slot == 0), None)
        readers = m.uses(wname)
        if dq_src is None:
            # k is read only by integer ops (MatMulInteger): dequantize it for the float readers with the
            # scale and zero point those ops apply.
            from onnx import helper, numpy_helper

            quant = k.quant
            if quant is None:
                raise ValueError(f"the kept copy {kname} is not quantized")
            g0 = m.inits[kname][0]
            kdtype = m.f.tensor_array(m.inits[kname][1]).dtype
            s_name, z_name = m.fresh(kname + "_scale"), m.fresh(kname + "_zero_point")
            scale, zero = quant.scale.astype(np.float32), quant.zero_point.astype(kdtype)
            g0.initializer.append(numpy_helper.from_array(scale if scale.size > 1 else scale.reshape(()), s_name))
            g0.initializer.append(numpy_helper.from_array(zero if zero.size > 1 else zero.reshape(()), z_name))
            dq_src = helper.make_node("DequantizeLinear", [kname, s_name, z_name], [m.fresh(kname + "_dequantized")],
                                      name=m.fresh("DequantizeLinear"))
            if scale.size > 1 and quant.axis is not None:
                set_attr(dq_src, "axis", int(quant.axis))
            g0.node.insert(0, dq_src)
        # The DequantizeLinear reads only initializers, so it can run first: move it to the top of its
        # graph so that the new readers come after it.
        for g in m.graphs:
            if dq_src in g.node and all(x in m.inits or not x for x in dq_src.input):
                g.node.remove(dq_src)
                g.node.insert(0, dq_src)
                break
        for _, node, slot in readers:
            node.input[slot] = dq_src.output[0]
        m.remove_initializer(wname)
        return [f"readers of {wname} read DequantizeLinear({kname})"]
