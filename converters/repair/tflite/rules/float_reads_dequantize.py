"""A float32 copy of a weight kept in a quantized form: its float readers read the kept copy through a
DEQUANTIZE (as the converter writes fp16 and dynamic-range weights)."""

from __future__ import annotations

from ...plan import Copy
from ..graph import Graph, dequantize_version, quant_for_shape, requantized_layout_obstacle, tensor_name


class FloatReadsDequantize:
    name = "float_reads_dequantize"

    def applies(self, copy: Copy, graph: Graph) -> bool:
        return copy.relation == "requantized" and copy.member.dtype == "float32"

    def obstacle(self, copy: Copy, graph: Graph) -> str | None:
        return requantized_layout_obstacle(graph, copy)

    def apply(self, copy: Copy, graph: Graph) -> list[str]:
        kt = graph.kept_tensor(copy)
        kb = int(kt.buffer)
        notes = []
        for si, ti in graph.tensors_of(copy.member):
            sg = graph.model.subgraphs[si]
            t = sg.tensors[ti]
            uses = graph.uses(sg, ti)
            # DEQUANTIZE keeps the shape; the buffer is shapeless, so the new tensor takes the copy's.
            qi = graph.add_tensor(sg, tensor_name(t) + "/shared", list(t.shape), kt.type, kb,
                                  quant_for_shape(kt, list(t.shape)))
            t.buffer = graph.new_buffer()
            dq = graph.s.OperatorT()
            dq.opcodeIndex = graph.opcode("DEQUANTIZE", dequantize_version(graph, kt))
            dq.inputs, dq.outputs = [qi], [ti]
            first = min(oi for oi, _ in uses) if uses else len(sg.operators)
            sg.operators.insert(first, dq)
            notes.append(f"{tensor_name(t)}: now DEQUANTIZE of the kept {graph.type_name(kt)} copy")
        return notes
