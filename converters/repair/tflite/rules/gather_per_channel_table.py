"""An integer GATHER table beside a per-channel (per-row) copy of the same weight: each GATHER becomes an
EMBEDDING_LOOKUP of the per-row copy, followed by a QUANTIZE to the GATHER's own output parameters.

A tied LM exported in full int8 stores the embedding twice: a per-tensor table for GATHER, quantized with
the activations' range (a few outliers clipped), and a per-channel copy for the FULLY_CONNECTED head.
GATHER copies rows and needs one scale, so the per-channel copy cannot serve it as it is; re-storing the
table per tensor for both readers coarsens the head's weights (see symmetric_kept_table). LiteRT's
EMBEDDING_LOOKUP reads an int8 table with one scale per row and returns real values, so the per-channel
copy serves both readers unchanged: the head keeps its exact weights and the looked-up rows are
requantized to what the GATHER wrote (the same clipping at the same range, without the table's own
rounding). The ops added run on the looked-up rows only; no float table exists at run time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...plan import Copy
from ..graph import Graph, copy_quant, qaxis, scales, tensor_name


def _gather_obstacle(g: Graph, sg: Any, op: Any, slot: int) -> str | None:
    if g.opname(op) != "GATHER" or slot != 0:
        return f"{g.opname(op)} input {slot} reads the table (only GATHER reads become lookups)"
    opt = op.builtinOptions
    if opt is not None and (int(getattr(opt, "axis", 0)) or int(getattr(opt, "batchDims", 0))):
        return "GATHER along an axis other than 0"
    if len(op.inputs) < 2 or not op.outputs:
        return "GATHER without indices or output"
    ids, y = sg.tensors[op.inputs[1]], sg.tensors[op.outputs[0]]
    if g.type_name(ids) != "INT32":
        return "GATHER indices are not int32 (EMBEDDING_LOOKUP takes int32)"
    if scales(y) is None or qaxis(y) is not None or g.type_name(y) not in ("INT8", "UINT8"):
        return "the GATHER output is not per-tensor quantized"
    signature = list(y.shapeSignature) if y.shapeSignature else list(y.shape)
    if sum(1 for d in signature if d < 0) > 1:
        return "the GATHER output has more than one dynamic dimension"
    return None


class GatherPerChannelTable:
    name = "gather_per_channel_table"
    cost = 1  # adds ops: kept copies that need none are preferred, unless they need a requantized table

    def applies(self, copy: Copy, graph: Graph) -> bool:
        if copy.relation != "requantized" or copy.member.is_float or copy.perm is not None:
            return False
        kt = graph.first_tensor(copy.kept)
        if kt is None or qaxis(kt) != 0 or graph.type_name(kt) not in ("INT8", "UINT8"):
            return False
        return any(graph.opname(sg.operators[oi]) == "GATHER" for sg, _, oi, _ in graph.member_uses(copy))

    def obstacle(self, copy: Copy, graph: Graph) -> str | None:
        kt = graph.kept_tensor(copy)
        q = kt.quantization
        if q.zeroPoint and any(int(z) for z in q.zeroPoint):
            return "the per-row copy has non-zero zero points (EMBEDDING_LOOKUP scales rows only)"
        for si, ti in graph.tensors_of(copy.member):
            t = graph.model.subgraphs[si].tensors[ti]
            if list(t.shape) != list(kt.shape):
                return f"shapes differ ({list(t.shape)} vs {list(kt.shape)})"
        for sg, _, oi, slot in graph.member_uses(copy):
            why = _gather_obstacle(graph, sg, sg.operators[oi], slot)
            if why:
                return why
        return None

    def apply(self, copy: Copy, graph: Graph) -> list[str]:
        kt = graph.kept_tensor(copy)
        notes = []
        uses = sorted(graph.member_uses(copy), key=lambda u: -u[2])  # later ops first: indices stay valid
        for sg, _, oi, _ in uses:
            notes.append(_lookup(graph, sg, oi, kt))
        return notes


def _lookup(g: Graph, sg: Any, oi: int, kt: Any) -> str:
    """GATHER(table, ids) -> y becomes [RESHAPE ids ->] EMBEDDING_LOOKUP(ids, kept) [-> RESHAPE] -> QUANTIZE -> y."""
    s = g.s
    op = sg.operators[oi]
    ids_i, y_i = op.inputs[1], op.outputs[0]
    ids, y = sg.tensors[ids_i], sg.tensors[y_i]
    kb = int(kt.buffer)
    kept_i = next((i for i, t in enumerate(sg.tensors) if t is kt), None)
    if kept_i is None:  # the kept copy lives in another subgraph: view its buffer here
        kept_i = g.add_tensor(sg, tensor_name(kt), list(kt.shape), kt.type, kb, copy_quant(kt.quantization))
    row = [int(d) for d in kt.shape[1:]]
    ids_shape = list(ids.shapeSignature) if ids.shapeSignature else list(ids.shape)
    y_shape = list(y.shapeSignature) if y.shapeSignature else list(y.shape)
    new_ops: list[Any] = []

    def operator(name: str, version: int, inputs: list[int], outputs: list[int], opt_type: int = 0,
                 opt: Any = None) -> None:
        o = s.OperatorT()
        o.opcodeIndex = g.opcode(name, version)
        o.inputs, o.outputs = inputs, outputs
        if opt is not None:
            o.builtinOptionsType, o.builtinOptions = opt_type, opt
        new_ops.append(o)

    def const_shape(values: list[int]) -> int:
        data = np.asarray(values, np.int32)
        return g.add_tensor(sg, tensor_name(y) + "/shape", [len(values)], s.TensorType.INT32,
                            g.new_buffer(data.tobytes()), None)

    def reshape(src: int, shape: list[int], name: str, type_: int) -> int:
        static = [max(1, d) for d in shape]
        dst = g.add_tensor(sg, name, static, type_, g.new_buffer(), None)
        if any(d < 0 for d in shape):
            sg.tensors[dst].shapeSignature = list(shape)
        opt = s.ReshapeOptionsT()
        opt.newShape = list(shape)
        operator("RESHAPE", 1, [src, const_shape(shape)], [dst], s.BuiltinOptions.ReshapeOptions, opt)
        return dst

    flat_ids = ids_i
    if len(ids_shape) != 1:
        flat_ids = reshape(ids_i, [-1], tensor_name(ids) + "/flat", ids.type)
    n = int(np.prod([max(1, d) for d in ids_shape]))
    rows = g.add_tensor(sg, tensor_name(y) + "/rows", [n, *row], s.TensorType.FLOAT32, g.new_buffer(), None)
    if any(d < 0 for d in ids_shape):
        sg.tensors[rows].shapeSignature = [-1, *row]
    operator("EMBEDDING_LOOKUP", 3, [flat_ids, kept_i], [rows])
    real = rows
    if len(ids_shape) != 1:
        real = reshape(rows, y_shape, tensor_name(y) + "/real", s.TensorType.FLOAT32)
    operator("QUANTIZE", 2, [real], [y_i])
    sg.operators[oi : oi + 1] = new_ops
    return (f"GATHER#{oi}: now EMBEDDING_LOOKUP of the per-row copy {tensor_name(kt)}, requantized to the "
            "GATHER's output scale")

