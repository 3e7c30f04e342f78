"""An integer copy with other quantization parameters than the kept one (the stock converter's int8
per-tensor GATHER table beside an int8 per-channel FULLY_CONNECTED weight): its tensors take the kept
copy's buffer and quantization, which every reader must accept. A GATHER's output takes the new scale;
the int32 bias of a full-integer op is requantized to input scale x the kept weight scale (a new tensor,
so other readers keep the old one)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...plan import Copy
from ..graph import (
    BIAS_SLOT,
    INPUT_SLOT,
    WEIGHT_AXIS,
    Graph,
    gather_output_takes,
    qaxis,
    qtext,
    quant_for_shape,
    requantized_layout_obstacle,
    scales,
    tensor_name,
)


def _use_obstacle(g: Graph, op: Any, slot: int, kt: Any) -> str | None:
    """Why the kept copy's quantization cannot serve this read, or None when it can."""
    name = g.opname(op)
    k_axis = qaxis(kt)
    if name == "DEQUANTIZE":
        return None
    if name == "GATHER" and slot == 0:
        return None if k_axis is None else "GATHER copies rows, so it needs a per-tensor scale"
    if (name, slot) in WEIGHT_AXIS:
        want = WEIGHT_AXIS[(name, slot)]
        if k_axis is None or k_axis == want:
            return None
        return f"{name} reads per-channel scales along axis {want}, the kept copy has axis {k_axis}"
    if k_axis is None:
        return None
    return f"{name} input {slot} takes per-tensor quantization only"


class RequantizedInteger:
    name = "requantized_integer"

    def applies(self, copy: Copy, graph: Graph) -> bool:
        return copy.relation == "requantized" and not copy.member.is_float

    def obstacle(self, copy: Copy, graph: Graph) -> str | None:
        why = requantized_layout_obstacle(graph, copy)
        if why:
            return why
        kt = graph.kept_tensor(copy)
        if graph.is_float(kt):
            return "an integer copy cannot be replaced by a float one in place"
        t_type, k_type = copy.member.dtype.upper(), graph.type_name(kt)
        if t_type == "INT32":
            return "int32 biases of int8 ops are tied to each call's input scale"
        if t_type != k_type:
            return f"{t_type} and {k_type} copies"
        for sg, _, oi, slot in graph.member_uses(copy):
            why = _use_obstacle(graph, sg.operators[oi], slot, kt)
            if why:
                return why
        return None

    def apply(self, copy: Copy, graph: Graph) -> list[str]:
        return retype_to_kept(copy, graph)


def retype_to_kept(copy: Copy, graph: Graph) -> list[str]:
    """Point the copy's tensors at the kept buffer with the kept type and quantization, then fix what
    depends on the weight's scale: GATHER output scales and full-integer biases."""
    kt = graph.kept_tensor(copy)
    notes: list[str] = []
    uses = graph.member_uses(copy)
    for si, ti in graph.tensors_of(copy.member):
        t = graph.model.subgraphs[si].tensors[ti]
        t.type, t.buffer = kt.type, kt.buffer
        t.quantization = quant_for_shape(kt, list(t.shape))
        notes.append(f"{tensor_name(t)}: reads the kept copy with its quantization ({qtext(kt)})")
    for sg, _, oi, slot in uses:
        op = sg.operators[oi]
        name = graph.opname(op)
        if gather_output_takes(graph, sg, op, slot, kt.quantization):
            notes.append(f"GATHER#{oi}: output takes the kept scale")
        bslot = BIAS_SLOT.get(name)
        if (bslot is not None and slot == 1 and len(op.inputs) > bslot and op.inputs[bslot] >= 0
                and _requantize_bias(graph, sg, op, bslot, kt)):
            notes.append(f"{name}#{oi}: int32 bias requantized for the kept weight scale")
    return notes


def _requantize_bias(g: Graph, sg: Any, op: Any, bslot: int, kt: Any) -> bool:
    """Full-integer ops need bias scale = input scale x weight scale: rewrite the int32 bias for the kept
    weight's scales (as a new tensor, so other readers of the old bias are unaffected)."""
    bias = sg.tensors[op.inputs[bslot]]
    b_scales, k_scales = scales(bias), scales(kt)
    if g.type_name(bias) != "INT32" or b_scales is None or k_scales is None:
        return False  # a float bias (hybrid op): nothing depends on the weight scale
    s_in = scales(sg.tensors[op.inputs[INPUT_SLOT.get(g.opname(op), 0)]])
    raw = g.data_of(bias.buffer)
    if s_in is None or s_in.size != 1 or raw is None:
        return False
    real = np.frombuffer(memoryview(raw).cast("B"), np.int32).astype(np.float64) * b_scales
    new_scale = float(s_in[0]) * k_scales  # per-tensor or per-channel, as the kept weight
    q_new = np.clip(np.round(real / new_scale), -(2**31), 2**31 - 1).astype(np.int32)
    scale = [float(x) for x in np.atleast_1d(new_scale)]
    op.inputs[bslot] = g.add_tensor(sg, tensor_name(bias) + "/requantized", list(bias.shape), bias.type,
                                    g.new_buffer(q_new.tobytes()), g.quantization(scale, [0] * len(scale)))
    return True
