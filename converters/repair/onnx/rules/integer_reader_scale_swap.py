"""Per-tensor integer copies read only by integer ops (MatMulInteger, ConvInteger) whose scale
onnxruntime's quantizer applies downstream (-> Cast -> Mul(_, Mul(a_scale, b_scale))): each reader takes
the kept weight, its zero point and its downstream scale."""

from __future__ import annotations

from ...plan import Copy
from ..graph import TRANSPOSED_AND_REQUANTIZED, Graph, drop_unused, integer_reader_scales


class IntegerReaderScaleSwap:
    name = "integer_reader_scale_swap"

    def applies(self, copy: Copy, graph: Graph) -> bool:
        k, w = copy.kept, copy.member
        return (copy.relation == "requantized" and w.quant is not None and k.quant is not None
                and w.dtype == k.dtype and w.quant.scale.size == 1 and k.quant.scale.size == 1
                and integer_reader_scales(graph, str(w.ref)) is not None
                and integer_reader_scales(graph, str(k.ref)) is not None)

    def obstacle(self, copy: Copy, graph: Graph) -> str | None:
        return TRANSPOSED_AND_REQUANTIZED if copy.perm is not None else None

    def apply(self, copy: Copy, graph: Graph) -> list[str]:
        m, kname, wname = graph, str(copy.kept.ref), str(copy.member.ref)
        k_node, _, k_zp_slot, k_scale = integer_reader_scales(m, kname)[0]  # type: ignore[index]
        k_zp = k_node.input[k_zp_slot] if k_zp_slot is not None else None
        notes = []
        for node, mul, zp_slot, _ in integer_reader_scales(m, wname) or []:
            node.input[1] = kname
            if zp_slot is not None and k_zp is not None:
                node.input[zp_slot] = k_zp
            scale_in = mul.input[1] if mul.input[1] in m.inits else mul.input[0]
            for i, name in enumerate(mul.input):
                if name == scale_in:
                    mul.input[i] = k_scale
            notes.append(f"{node.op_type}: reads {kname}; its downstream scale is now {kname}'s")
        drop_unused(m, wname)
        return notes
