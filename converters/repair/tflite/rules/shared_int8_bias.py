"""One bias for every call of a shared int8 layer (a group of int32 biases, claimed as a whole).

Full-integer kernels need bias scale = input scale x weight scale, and each call of a shared layer has
its own input scale, so the converter writes one int32 bias per call. Here each call drops its bias and
adds one shared int8 bias after the op (an ADD, which rescales its inputs): the op's output range widens
by the bias's range so that nothing clips, and the ADD writes the original output tensor with its
original scale. Ops with a fused activation are left alone: the activation needs the bias before it.

int8 members of the group (bias constants the converter already adds with an ADD, as in unrolled LSTM
cells) become the shared bias themselves; every ADD rescales, so they may take its scale.

This changes the arithmetic, so the repair driver keeps it only where the outputs stay within tolerance
(`guarded`), group by group.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ....verify.matching import Group
from ..graph import BIAS_SLOT, Graph, copy_quant, qaxis, scales, tensor_name, zero_point


class SharedInt8Bias:
    name = "shared_int8_bias"
    guarded = True

    def applies(self, group: Group, graph: Graph) -> bool:
        dtypes = {m.weight.dtype for m in group.members}
        return dtypes <= {"int32", "int8"} and "int32" in dtypes

    def apply(self, group: Group, graph: Graph) -> tuple[list[str], str | None]:
        """(notes, None) when merged, ([], why) when the group cannot be shared this way."""
        g = graph
        members = [m.weight for m in group.members]
        added = [w for w in members if w.dtype == "int8"]
        for w in added:
            for si, ti in g.tensors_of(w):
                sg = g.model.subgraphs[si]
                if qaxis(sg.tensors[ti]) is not None or scales(sg.tensors[ti]) is None:
                    return [], "an int8 copy is not per-tensor quantized"
                if any(g.opname(sg.operators[oi]) != "ADD" for oi, _ in g.uses(sg, ti)):
                    return [], "an int8 copy is read by ops other than ADD"
        calls: list[tuple[int, Any]] = []
        for w in members:
            if w.dtype != "int32":
                continue
            for si, ti in g.tensors_of(w):
                sg = g.model.subgraphs[si]
                for oi, slot in g.uses(sg, ti):
                    op = sg.operators[oi]
                    name = g.opname(op)
                    if BIAS_SLOT.get(name) != slot:
                        return [], f"{name} input {slot} reads an int32 copy (only biases can be shared this way)"
                    calls.append((si, op))
        if len(calls) < 2:
            return [], "the int32 copies are not the biases of several calls"
        for si, op in calls:
            opt = op.builtinOptions
            if opt is not None and getattr(opt, "fusedActivationFunction", None):
                return [], f"{g.opname(op)} has a fused activation, which needs the bias before it"
            y = g.model.subgraphs[si].tensors[op.outputs[0]]
            ys = scales(y)
            if ys is None or ys.size != 1 or g.type_name(y) != "INT8":
                return [], "an output is not per-tensor int8"
        real = self._finest_bias(g, calls)
        if real is None:
            return [], "a bias has no data or no scale"
        buf, b_scale, b_zero = self._shared_buffer(g, added, real)
        for si, op in calls:
            self._add_after(g, si, op, buf, b_scale, b_zero, real)
        return [f"{len(calls)} calls share one int8 bias, added after each {g.opname(calls[0][1])} by an ADD"], None

    @staticmethod
    def _finest_bias(g: Graph, calls: list[tuple[int, Any]]) -> np.ndarray | None:
        """The real values of the bias stored with the finest scale."""
        best: tuple[np.ndarray, np.ndarray] | None = None
        for si, op in calls:
            bias = g.model.subgraphs[si].tensors[op.inputs[BIAS_SLOT[g.opname(op)]]]
            bs, raw = scales(bias), g.data_of(bias.buffer)
            if bs is None or raw is None:
                return None
            if best is None or float(np.max(bs)) < float(np.max(best[0])):
                best = (bs, np.frombuffer(memoryview(raw).cast("B"), np.int32).astype(np.float64))
        return None if best is None else best[1] * best[0]

    @staticmethod
    def _shared_buffer(g: Graph, added: list[Any], real: np.ndarray) -> tuple[int, float, int]:
        """(buffer, scale, zero point) of the shared int8 bias: an int8 copy already added, else a new one."""
        if added:
            si0, ti0 = g.tensors_of(added[0])[0]
            t0 = g.model.subgraphs[si0].tensors[ti0]
            for w in added[1:]:
                for si, ti in g.tensors_of(w):
                    t = g.model.subgraphs[si].tensors[ti]
                    t.buffer, t.quantization = t0.buffer, copy_quant(t0.quantization)
            return int(t0.buffer), float(t0.quantization.scale[0]), zero_point(t0)
        b_scale = float(np.max(np.abs(real))) / 127.0 or 1.0
        q = np.clip(np.round(real / b_scale), -127, 127).astype(np.int8)
        return g.new_buffer(q.tobytes()), b_scale, 0

    @staticmethod
    def _add_after(g: Graph, si: int, op: Any, buf: int, b_scale: float, b_zero: int, real: np.ndarray) -> None:
        """Drop the op's bias and ADD the shared one after it, into the op's original output tensor."""
        s = g.s
        sg = g.model.subgraphs[si]
        bias_name = "shared_bias_int8"
        bias_index = next((i for i, t in enumerate(sg.tensors) if tensor_name(t) == bias_name and t.buffer == buf),
                          None)
        if bias_index is None:
            bias_index = g.add_tensor(sg, bias_name, [int(real.size)], s.TensorType.INT8, buf,
                                      g.quantization([b_scale], [b_zero]))
        b_lo, b_hi = float(min(0.0, real.min())), float(max(0.0, real.max()))
        y_index = op.outputs[0]
        y = sg.tensors[y_index]
        y_scale, yz = float(y.quantization.scale[0]), zero_point(y)
        lo, hi = (-128 - yz) * y_scale - b_hi, (127 - yz) * y_scale - b_lo  # the range of y - bias
        s2 = (hi - lo) / 255.0
        z2 = int(np.clip(np.round(-128 - lo / s2), -128, 127))
        op.outputs[0] = g.add_tensor(sg, tensor_name(y) + "/before_bias", list(y.shape), y.type, g.new_buffer(),
                                     g.quantization([s2], [z2]))
        op.inputs[BIAS_SLOT[g.opname(op)]] = -1
        add = s.OperatorT()
        add.opcodeIndex = g.opcode("ADD", 2)
        add.inputs, add.outputs = [op.outputs[0], bias_index], [y_index]
        add.builtinOptionsType = s.BuiltinOptions.AddOptions
        add.builtinOptions = s.AddOptionsT()
        sg.operators.insert(sg.operators.index(op) + 1, add)
