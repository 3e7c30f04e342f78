"""Repair a .tflite so that every shared weight is stored once.

For each duplicate group the verifier finds, one copy is kept and every other copy's tensors are
rewritten to read it:

* exact copies: the tensor points at the kept buffer;
* requantized copies (the stock converter's int8 per-tensor GATHER copy next to an int8 per-channel
  FULLY_CONNECTED copy, an f32 copy next to an int8 one, ...): the tensor takes the kept copy's
  quantization, which every consumer must support; integer biases of full-integer ops are requantized
  to the new input x weight scale; a float consumer of an integer copy reads it through a DEQUANTIZE;
* transposed copies read by BATCH_MATMUL: the op's adj flag flips and it reads the kept layout.

A copy no rewrite can serve (FULLY_CONNECTED needs the [units, in] layout; int8 biases are tied to
each call's input scale) is left in place and reported with the reason.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import InvalidInputError
from .matching import Group, _prepare, find_groups, relate
from .source import Source, open_source
from .tflite_file import TFLiteFile, read_tflite
from .tflite_writer import write_tflite


def _schema() -> Any:
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


@dataclass
class MergedCopy:
    group: int
    kind: str
    kept: str
    merged: str
    bytes_saved: int
    rewrites: list[str]


@dataclass
class SkippedCopy:
    group: int
    tensor: str
    bytes: int
    reason: str


@dataclass
class TFLitePlan:
    merged: list[MergedCopy] = field(default_factory=list)
    skipped: list[SkippedCopy] = field(default_factory=list)

    @property
    def requantized(self) -> bool:
        return any(m.kind == "requantized" for m in self.merged)

    @property
    def unified_biases(self) -> bool:
        return bool(self.bias_groups)

    @property
    def bias_groups(self) -> set[int]:
        """The groups whose int32 biases were shared as one int8 bias."""
        return {m.group for m in self.merged for n in m.rewrites if "share one int8 bias" in n}


# Weight input slots, and the per-channel axis each op accepts there (None: per-tensor only).
_WEIGHT_AXIS = {
    ("FULLY_CONNECTED", 1): 0,
    ("CONV_2D", 1): 0,
    ("DEPTHWISE_CONV_2D", 1): 3,
    ("TRANSPOSE_CONV", 1): 0,
    ("CONV_3D", 1): 4,
}
_BIAS_SLOT = {"FULLY_CONNECTED": 2, "CONV_2D": 2, "DEPTHWISE_CONV_2D": 2, "TRANSPOSE_CONV": 3, "CONV_3D": 2}
_INPUT_SLOT = {"TRANSPOSE_CONV": 2}  # the activation input of each op in _BIAS_SLOT (0 unless listed)


class _Graph:
    """The object-API model plus the lookups the rewrites need."""

    def __init__(self, data: Any) -> None:
        s = _schema()
        self.s = s
        self.model = s.ModelT.InitFromPackedBuf(data, 0)
        names = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_") and isinstance(v, int)}
        self.opnames = [names.get(max(c.builtinCode, c.deprecatedBuiltinCode), "?") for c in self.model.operatorCodes]
        self.type_names = {v: k for k, v in vars(s.TensorType).items() if not k.startswith("_") and isinstance(v, int)}
        # The object API keeps index vectors as numpy arrays; plain lists are simpler to edit.
        for sg in self.model.subgraphs or []:
            sg.inputs, sg.outputs = _ints(sg.inputs), _ints(sg.outputs)
            sg.tensors = sg.tensors or []
            sg.operators = sg.operators or []
            for op in sg.operators:
                op.inputs, op.outputs = _ints(op.inputs), _ints(op.outputs)
                if op.intermediates is not None:
                    op.intermediates = _ints(op.intermediates)
            for t in sg.tensors:
                t.shape = _ints(t.shape)
                if t.shapeSignature is not None:
                    t.shapeSignature = _ints(t.shapeSignature)
                q = t.quantization
                if q is not None:
                    q.scale = [float(x) for x in q.scale] if q.scale is not None else None
                    q.zeroPoint = _ints(q.zeroPoint) if q.zeroPoint is not None else None

    def uses(self, sg: Any, ti: int) -> list[tuple[int, int]]:
        return [(oi, k) for oi, op in enumerate(sg.operators or []) for k, x in enumerate(op.inputs or []) if x == ti]

    def opname(self, op: Any) -> str:
        return str(self.opnames[op.opcodeIndex])

    def tensors_of_buffer(self, b: int) -> list[tuple[int, int]]:
        return [(si, ti) for si, sg in enumerate(self.model.subgraphs) for ti, t in enumerate(sg.tensors or [])
                if t.buffer == b]

    def opcode(self, name: str, version: int) -> int:
        code = getattr(self.s.BuiltinOperator, name)
        for i, c in enumerate(self.model.operatorCodes):
            if max(c.builtinCode, c.deprecatedBuiltinCode) == code:
                c.version = max(c.version, version)
                return i
        c = self.s.OperatorCodeT()
        c.builtinCode = code
        c.deprecatedBuiltinCode = min(code, 127)
        c.version = version
        self.model.operatorCodes.append(c)
        self.opnames.append(name)
        return len(self.model.operatorCodes) - 1

    def new_buffer(self) -> int:
        self.model.buffers.append(self.s.BufferT())
        return len(self.model.buffers) - 1


def _ints(x: Any) -> list[int]:
    return [] if x is None else [int(v) for v in x]


def _scales(t: Any) -> np.ndarray | None:
    q = t.quantization
    if q is None or q.scale is None or len(q.scale) == 0:
        return None
    return np.asarray(q.scale, np.float64)


def _qaxis(t: Any) -> int | None:
    sc = _scales(t)
    return None if sc is None or sc.size == 1 else int(t.quantization.quantizedDimension)


def _is_float(g: _Graph, t: Any) -> bool:
    return g.type_names.get(t.type) in ("FLOAT32", "FLOAT16", "BFLOAT16", "FLOAT64")


def _check_requant_use(g: _Graph, sg: Any, oi: int, slot: int, k: Any) -> str | None:
    """Why K's quantization cannot serve this use, or None when it can."""
    op = sg.operators[oi]
    name = g.opname(op)
    k_axis = _qaxis(k)
    if name == "DEQUANTIZE":
        return None
    if name == "GATHER" and slot == 0:
        return None if k_axis is None else "GATHER copies rows, so it needs a per-tensor scale"
    if (name, slot) in _WEIGHT_AXIS:
        want = _WEIGHT_AXIS[(name, slot)]
        if k_axis is None or k_axis == want:
            return None
        return f"{name} reads per-channel scales along axis {want}, the kept copy has axis {k_axis}"
    if k_axis is None:
        return None
    return f"{name} input {slot} takes per-tensor quantization only"


def _plan_member(g: _Graph, kt: Any, m_tensors: list[tuple[int, int]], relation: str, perm: Any) -> str | None:
    """None if every tensor of member M can be rewritten to read K (tensor kt); else why not."""
    for si, ti in m_tensors:
        sg = g.model.subgraphs[si]
        t = sg.tensors[ti]
        uses = g.uses(sg, ti)
        if relation == "exact":
            continue
        if relation == "transposed":
            if perm is None or list(t.shape) != [*kt.shape[:-2], kt.shape[-1], kt.shape[-2]]:
                return "the copy is not the kept one with its last two axes swapped"
            for oi, slot in uses:
                name = g.opname(sg.operators[oi])
                if name != "BATCH_MATMUL" or slot not in (0, 1):
                    if name == "FULLY_CONNECTED":
                        return "FULLY_CONNECTED needs the [units, in] layout"
                    return f"{name} cannot read it transposed"
            if _scales(t) is not None and (_qaxis(t) is not None or _qaxis(kt) is not None):
                return "per-channel scales would move with the transpose"
            continue
        # requantized
        if perm is not None:
            return "transposed and requantized at once"
        if not _same_values_layout(kt, list(t.shape)):
            return f"shapes differ ({list(t.shape)} vs {list(kt.shape)})"
        t_type, k_type = g.type_names.get(t.type), g.type_names.get(kt.type)
        if t_type == "INT32":
            return "int32 biases of int8 ops are tied to each call's input scale"
        if _is_float(g, t) and t_type == "FLOAT32":
            continue  # reads K through a DEQUANTIZE
        if t_type == "FLOAT16":
            if k_type in ("INT8",) and all(g.opname(sg.operators[oi]) == "DEQUANTIZE" for oi, _ in uses):
                continue
            return "a float16 copy is read by ops other than DEQUANTIZE"
        if _is_float(g, kt):
            return "an integer copy cannot be replaced by a float one in place"
        if t_type != k_type:
            return f"{t_type} and {k_type} copies"
        for oi, slot in uses:
            why = _check_requant_use(g, sg, oi, slot, kt)
            if why:
                return why
    return None


def _copy_quant(q: Any) -> Any:
    return copy.deepcopy(q)


def _same_values_layout(kt: Any, shape: list[int]) -> bool:
    """A tensor of `shape` can view K's buffer: equal once size-1 axes are dropped ([1, E, H] vs [E, H])."""
    return [d for d in kt.shape if d != 1] == [d for d in shape if d != 1]


def _quant_for_shape(kt: Any, shape: list[int]) -> Any:
    """K's quantization for a tensor of `shape` (see _same_values_layout): the per-channel axis moves
    with the size-1 axes."""
    k_shape = list(kt.shape)
    q = _copy_quant(kt.quantization)
    if q is None or _qaxis(kt) is None or k_shape == shape:
        return q
    k_axis = int(kt.quantization.quantizedDimension)
    nth = sum(1 for d in k_shape[:k_axis] if d != 1)  # which non-1 axis carries the channels
    big = [i for i, d in enumerate(shape) if d != 1]
    q.quantizedDimension = big[nth]
    return q


def _apply_member(
    g: _Graph, kb: int, kt: Any, m_tensors: list[tuple[int, int]], relation: str, data_of: Any
) -> list[str]:
    """Rewrite member M's tensors to read buffer kb. Returns a description of each rewrite."""
    s = g.s
    notes: list[str] = []
    for si, ti in m_tensors:
        sg = g.model.subgraphs[si]
        t = sg.tensors[ti]
        tname = t.name.decode() if isinstance(t.name, bytes) else str(t.name)
        uses = g.uses(sg, ti)
        if relation == "exact":
            t.buffer = kb
            notes.append(f"{tname}: reads the kept buffer")
            continue
        if relation == "transposed":
            t.buffer = kb
            t.shape = list(kt.shape)
            for oi, slot in uses:
                op = sg.operators[oi]
                opt = op.builtinOptions or s.BatchMatMulOptionsT()
                if slot == 1:
                    opt.adjY = not opt.adjY
                else:
                    opt.adjX = not opt.adjX
                op.builtinOptions = opt
                op.builtinOptionsType = s.BuiltinOptions.BatchMatMulOptions
                notes.append(f"BATCH_MATMUL#{oi}: adj_{'y' if slot == 1 else 'x'} flipped to read the kept layout")
            continue
        t_type = g.type_names.get(t.type)
        if t_type == "FLOAT32":
            # The float consumers now read the shared integer copy through a DEQUANTIZE.
            q = s.TensorT()
            q.name = (tname + "/shared").encode()
            q.shape = list(t.shape)  # DEQUANTIZE keeps the shape; the buffer is shapeless
            q.type = kt.type
            q.buffer = kb
            q.quantization = _quant_for_shape(kt, list(t.shape))
            sg.tensors.append(q)
            qi = len(sg.tensors) - 1
            t.buffer = g.new_buffer()
            dq = s.OperatorT()
            dq.opcodeIndex = g.opcode("DEQUANTIZE", _dequantize_version(g, kt))
            dq.inputs = [qi]
            dq.outputs = [ti]
            first = min(oi for oi, _ in uses) if uses else len(sg.operators)
            sg.operators.insert(first, dq)
            notes.append(f"{tname}: now DEQUANTIZE of the kept {g.type_names.get(kt.type)} copy")
            continue
        t.type = kt.type
        t.buffer = kb
        t.quantization = _quant_for_shape(kt, list(t.shape))
        notes.append(f"{tname}: reads the kept copy with its quantization ({_qtext(kt)})")
        for oi, slot in uses:
            op = sg.operators[oi]
            name = g.opname(op)
            if name == "GATHER" and slot == 0 and op.outputs:
                out = sg.tensors[op.outputs[0]]
                if _scales(out) is not None:
                    out.quantization = _copy_quant(kt.quantization)
                    notes.append(f"GATHER#{oi}: output takes the kept scale")
            bslot = _BIAS_SLOT.get(name)
            if bslot is not None and slot == 1 and len(op.inputs) > bslot and op.inputs[bslot] >= 0:
                note = _requantize_bias(g, sg, op, bslot, kt, data_of)
                if note:
                    notes.append(f"{name}#{oi}: {note}")
    return notes


def _qtext(t: Any) -> str:
    sc = _scales(t)
    if sc is None:
        return "float"
    return "per-tensor" if sc.size == 1 else f"per-channel, axis {_qaxis(t)}"


def _dequantize_version(g: _Graph, kt: Any) -> int:
    name = g.type_names.get(kt.type)
    if name == "FLOAT16":
        return 3
    if name == "INT8":
        return 5 if _qaxis(kt) is not None else 2
    return 1


def _requantize_bias(g: _Graph, sg: Any, op: Any, bslot: int, kt: Any, data_of: Any) -> str | None:
    """Full-integer ops need bias scale = input scale x weight scale: rewrite the int32 bias for the
    kept weight's scales (as a new tensor, so other readers of the old bias are unaffected)."""
    bias = sg.tensors[op.inputs[bslot]]
    if g.type_names.get(bias.type) != "INT32" or _scales(bias) is None:
        return None  # float bias (hybrid op): nothing depends on the weight scale
    inp = sg.tensors[op.inputs[_INPUT_SLOT.get(g.opname(op), 0)]]
    s_in = _scales(inp)
    if s_in is None or s_in.size != 1:
        return None
    raw = data_of(bias.buffer)
    if raw is None:
        return None
    b_scales, k_scales = _scales(bias), _scales(kt)
    if b_scales is None or k_scales is None:
        return None
    q_old = np.frombuffer(memoryview(raw).cast("B"), np.int32).astype(np.float64)
    real = q_old * b_scales
    new_scale = float(s_in[0]) * k_scales  # per-tensor or per-channel, as the kept weight
    q_new = np.clip(np.round(real / new_scale), -(2**31), 2**31 - 1).astype(np.int32)
    s = g.s
    nb = s.TensorT()
    nb.name = (bias.name.decode() if isinstance(bias.name, bytes) else str(bias.name)) + "/requantized"
    nb.shape = list(bias.shape)
    nb.type = bias.type
    nb.buffer = g.new_buffer()
    q = s.QuantizationParametersT()
    q.scale = [float(x) for x in np.atleast_1d(new_scale)]
    q.zeroPoint = [0] * len(q.scale)
    q.quantizedDimension = 0
    nb.quantization = q
    sg.tensors.append(nb)
    op.inputs[bslot] = len(sg.tensors) - 1
    g.extra_data[nb.buffer] = q_new.tobytes()  # type: ignore[attr-defined]
    return "int32 bias requantized for the kept weight scale"


def _unify_bias_group(g: _Graph, members: list[Any], data_of: Any) -> tuple[list[str], str | None]:
    """One bias for every call of a shared int8 layer.

    Full-integer kernels need bias scale = input scale x weight scale, and each call of a shared layer
    has its own input scale, so the converter writes one int32 bias per call. Here each call drops its
    bias and adds one shared int8 bias after the op (an ADD, which rescales its inputs): the op's output
    range widens by the bias's range so that nothing clips, and the ADD writes the original output
    tensor with its original scale. Ops with a fused activation are left alone: the activation needs
    the bias before it.

    int8 members of the group (bias constants the converter already adds with an ADD, as in unrolled
    LSTM cells) become the shared bias themselves; every ADD rescales, so they may take its scale."""
    s = g.s
    added = [w for w in members if w.dtype == "int8"]
    for w in added:
        for si, ti in g.tensors_of_buffer(int(w.ref)):
            sg = g.model.subgraphs[si]
            if _qaxis(sg.tensors[ti]) is not None or _scales(sg.tensors[ti]) is None:
                return [], "an int8 copy is not per-tensor quantized"
            if any(g.opname(sg.operators[oi]) != "ADD" for oi, _ in g.uses(sg, ti)):
                return [], "an int8 copy is read by ops other than ADD"
    members = [w for w in members if w.dtype == "int32"]
    calls: list[tuple[int, Any]] = []
    for w in members:
        for si, ti in g.tensors_of_buffer(int(w.ref)):
            sg = g.model.subgraphs[si]
            for oi, slot in g.uses(sg, ti):
                op = sg.operators[oi]
                name = g.opname(op)
                if _BIAS_SLOT.get(name) != slot:
                    return [], f"{name} input {slot} reads an int32 copy (only biases can be shared this way)"
                calls.append((si, op))
    if len(calls) < 2:
        return [], "the int32 copies are not the biases of several calls"
    for si, op in calls:
        sg = g.model.subgraphs[si]
        opt = op.builtinOptions
        if opt is not None and getattr(opt, "fusedActivationFunction", None):
            return [], f"{g.opname(op)} has a fused activation, which needs the bias before it"
        y = sg.tensors[op.outputs[0]]
        ys = _scales(y)
        if ys is None or ys.size != 1 or g.type_names.get(y.type) != "INT8":
            return [], "an output is not per-tensor int8"
    best = None
    for si, op in calls:
        bias = g.model.subgraphs[si].tensors[op.inputs[_BIAS_SLOT[g.opname(op)]]]
        bs = _scales(bias)
        raw = data_of(bias.buffer)
        if bs is None or raw is None:
            return [], "a bias has no data or no scale"
        if best is None or float(np.max(bs)) < float(np.max(best[0])):
            best = (bs, np.frombuffer(memoryview(raw).cast("B"), np.int32).astype(np.float64))
    if best is None:
        return [], "no bias found"
    real = best[1] * best[0]
    if added:  # an int8 copy the graph already adds: it is the shared bias
        si0, ti0 = g.tensors_of_buffer(int(added[0].ref))[0]
        t0 = g.model.subgraphs[si0].tensors[ti0]
        buf, b_scale = int(t0.buffer), float(t0.quantization.scale[0])
        b_zero = _zero_point(t0)
        for w in added[1:]:
            for si, ti in g.tensors_of_buffer(int(w.ref)):
                t = g.model.subgraphs[si].tensors[ti]
                t.buffer, t.quantization = buf, _copy_quant(t0.quantization)
    else:
        b_scale = float(np.max(np.abs(real))) / 127.0 or 1.0
        b_zero = 0
        q = np.clip(np.round(real / b_scale), -127, 127).astype(np.int8)
        buf = g.new_buffer()
        g.extra_data[buf] = q.tobytes()  # type: ignore[attr-defined]
    add_code = g.opcode("ADD", 2)
    bias_tensor: dict[int, int] = {}
    b_lo, b_hi = float(min(0.0, real.min())), float(max(0.0, real.max()))
    for si, op in calls:
        sg = g.model.subgraphs[si]
        name = g.opname(op)
        if si not in bias_tensor:
            nb = s.TensorT()
            nb.name = "shared_bias_int8"
            nb.shape, nb.type, nb.buffer = [int(real.size)], s.TensorType.INT8, buf
            qp = s.QuantizationParametersT()
            qp.scale, qp.zeroPoint = [b_scale], [b_zero]
            nb.quantization = qp
            sg.tensors.append(nb)
            bias_tensor[si] = len(sg.tensors) - 1
        y_index = op.outputs[0]
        y = sg.tensors[y_index]
        y_scale = float(y.quantization.scale[0])
        yz = int(y.quantization.zeroPoint[0]) if y.quantization.zeroPoint else 0
        lo, hi = (-128 - yz) * y_scale - b_hi, (127 - yz) * y_scale - b_lo  # the range of y - bias
        s2 = (hi - lo) / 255.0
        z2 = int(np.clip(np.round(-128 - lo / s2), -128, 127))
        pre = s.TensorT()
        pre.name = (y.name.decode() if isinstance(y.name, bytes) else str(y.name)) + "/before_bias"
        pre.shape, pre.type, pre.buffer = list(y.shape), y.type, g.new_buffer()
        qp = s.QuantizationParametersT()
        qp.scale, qp.zeroPoint = [s2], [z2]
        pre.quantization = qp
        sg.tensors.append(pre)
        op.outputs[0] = len(sg.tensors) - 1
        op.inputs[_BIAS_SLOT[name]] = -1
        add = s.OperatorT()
        add.opcodeIndex = add_code
        add.inputs, add.outputs = [len(sg.tensors) - 1, bias_tensor[si]], [y_index]
        add.builtinOptionsType = s.BuiltinOptions.AddOptions
        add.builtinOptions = s.AddOptionsT()
        sg.operators.insert(sg.operators.index(op) + 1, add)
    notes = [f"{len(calls)} calls share one int8 bias, added after each {g.opname(calls[0][1])} by an ADD"]
    return notes, None


def _zero_point(t: Any) -> int:
    q = t.quantization
    return int(q.zeroPoint[0]) if q is not None and q.zeroPoint else 0


def _wants_symmetric(g: _Graph, kt: Any, members: list[Any]) -> bool:
    """A per-tensor kept copy with a non-zero zero point (a GATHER table in a full-integer model takes
    the activation's asymmetric parameters) that some op reads as a weight: XNNPACK delegates int8
    weights only when they are symmetric, so such a copy would run on the slower builtin kernel."""
    sc = _scales(kt)
    if sc is None or sc.size != 1 or _zero_point(kt) == 0:
        return False
    for w in members:
        for si, ti in g.tensors_of_buffer(int(w.ref)):
            sg = g.model.subgraphs[si]
            if any((g.opname(sg.operators[oi]), slot) in _WEIGHT_AXIS for oi, slot in g.uses(sg, ti)):
                return True
    return False


def _symmetric_copy(g: _Graph, kb: int, kt: Any, members: list[Any], prepared: dict[int, Any]) -> tuple[int, str]:
    """Requantize the group's most precise copy to symmetric per-tensor int8 (zero point 0) in a new
    buffer, and make every tensor of the kept buffer read it; GATHER outputs take the new scale."""
    from .matching import _deq

    src = max(members, key=lambda w: (w.is_float, w.quant is not None and w.quant.scale.size > 1, w.nbytes))
    p = prepared[id(src)]
    real = _deq(p.raw, p.scale, p.zero).reshape(tuple(kt.shape))
    scale = float(np.max(np.abs(real))) / 127.0 or 1.0
    q = np.clip(np.round(real / scale), -127, 127).astype(np.int8)
    nb = g.new_buffer()
    g.extra_data[nb] = q.tobytes()  # type: ignore[attr-defined]
    qp = g.s.QuantizationParametersT()
    qp.scale, qp.zeroPoint, qp.quantizedDimension = [scale], [0], 0
    for si, ti in g.tensors_of_buffer(kb):
        sg = g.model.subgraphs[si]
        t = sg.tensors[ti]
        t.buffer, t.quantization = nb, _copy_quant(qp)
        for oi, slot in g.uses(sg, ti):
            op = sg.operators[oi]
            if g.opname(op) == "GATHER" and slot == 0 and op.outputs:
                out = sg.tensors[op.outputs[0]]
                if _scales(out) is not None:
                    out.quantization = _copy_quant(qp)
    kt.buffer, kt.quantization = nb, _copy_quant(qp)
    return nb, (f"kept copy requantized to symmetric per-tensor int8 (scale {scale:.3g}, zero point 0) "
                "from the most precise copy, so that int8 weight readers (XNNPACK) take it")


def _compact(g: _Graph) -> dict[int, int]:
    """Drop tensors nothing reads or writes and buffers no tensor uses; returns old->new buffer ids."""
    m = g.model
    for sg in m.subgraphs:
        used = set(sg.inputs or []) | set(sg.outputs or [])
        for op in sg.operators or []:
            used |= {x for x in (op.inputs or []) if x >= 0}
            used |= {x for x in (op.outputs or []) if x >= 0}
            used |= {x for x in (op.intermediates or []) if x >= 0}
        si = m.subgraphs.index(sg)
        for sd in m.signatureDefs or []:
            if sd.subgraphIndex == si:
                used |= {tm.tensorIndex for tm in (sd.inputs or []) + (sd.outputs or [])}
        keep = sorted(used)
        remap = {old: new for new, old in enumerate(keep)}
        sg.tensors = [sg.tensors[i] for i in keep]
        sg.inputs = [remap[x] for x in (sg.inputs or [])]
        sg.outputs = [remap[x] for x in (sg.outputs or [])]
        for op in sg.operators or []:
            op.inputs = [remap[x] if x >= 0 else x for x in (op.inputs or [])]
            op.outputs = [remap[x] if x >= 0 else x for x in (op.outputs or [])]
            if op.intermediates is not None:
                op.intermediates = [remap[x] if x >= 0 else x for x in op.intermediates]
        for sd in m.signatureDefs or []:
            if sd.subgraphIndex == si:
                for tm in (sd.inputs or []) + (sd.outputs or []):
                    tm.tensorIndex = remap[tm.tensorIndex]
    used_b = {0} | {t.buffer for sg in m.subgraphs for t in (sg.tensors or [])}
    used_b |= {md.buffer for md in (m.metadata or [])}
    used_b |= set(m.metadataBuffer or [])
    keep_b = sorted(b for b in used_b if b < len(m.buffers))
    bmap = {old: new for new, old in enumerate(keep_b)}
    for sg in m.subgraphs:
        for t in sg.tensors or []:
            t.buffer = bmap[t.buffer]
    for md in m.metadata or []:
        md.buffer = bmap[md.buffer]
    if m.metadataBuffer is not None:
        m.metadataBuffer = [bmap[b] for b in m.metadataBuffer]
    m.buffers = [m.buffers[b] for b in keep_b]
    return bmap


def plan_and_rewrite(tfl: TFLiteFile, groups: list[Group], unify_biases: bool | set[int] = True
                     ) -> tuple[_Graph, TFLitePlan, Any]:
    """`unify_biases`: share the int32 biases of a shared int8 layer (True), of the listed groups only
    (a set of group indices), or of none (False)."""
    """Choose a kept copy per group, rewrite the model, and return it with a data lookup."""
    g = _Graph(tfl.source.data)
    g.extra_data = {}  # type: ignore[attr-defined]
    plan = TFLitePlan()

    def data_of(b: int) -> Any:
        if b in g.extra_data:  # type: ignore[attr-defined]
            return g.extra_data[b]  # type: ignore[attr-defined]
        if b < len(tfl.buffers) and tfl.buffers[b].length:
            return tfl.buffer_bytes(b)
        return None

    # Weights first, int32 biases last: a bias group can merge only once its ops share one weight.
    order = sorted(range(len(groups)), key=lambda i: groups[i].kept.dtype == "int32")
    for gi in order:
        group = groups[gi]
        members = [m.weight for m in group.members]
        if all(w.dtype in ("int32", "int8") for w in members) and any(w.dtype == "int32" for w in members):
            if unify_biases is True or (isinstance(unify_biases, set) and gi in unify_biases):
                notes, why = _unify_bias_group(g, members, data_of)
            else:
                notes, why = [], "int32 biases of a shared int8 layer: sharing them cost more accuracy than allowed"
            if why is not None:
                plan.skipped += [SkippedCopy(gi, w.name, w.nbytes, why) for w in members[1:]]
            else:
                plan.merged += [MergedCopy(gi, "requantized", members[0].name, w.name, w.nbytes, notes)
                                for w in members[1:]]
            continue
        prepared = {id(w): _prepare(w, i) for i, w in enumerate(members)}
        best: tuple[Any, ...] | None = None
        for k in members:
            k_tensors = g.tensors_of_buffer(int(k.ref))  # type: ignore[arg-type]
            if not k_tensors:
                continue
            ksi, kti = k_tensors[0]
            kt = g.model.subgraphs[ksi].tensors[kti]
            outcome = []
            saved = 0
            for m in members:
                if m is k:
                    continue
                r = relate(prepared[id(k)], prepared[id(m)], full=False)
                rel, perm = (r.relation, r.perm) if r else ("requantized", None)
                why = _plan_member(g, kt, g.tensors_of_buffer(int(m.ref)), rel, perm)  # type: ignore[arg-type]
                outcome.append((m, rel, perm, why))
                saved += m.nbytes if why is None else 0
            per_channel = _qaxis(kt) is not None
            key = (saved, -k.nbytes, per_channel, -members.index(k))
            if best is None or key > best[0]:
                best = (key, k, kt, outcome)
        if best is None:
            continue
        _, k, kt, outcome = best
        kb = int(k.ref)
        if _wants_symmetric(g, kt, members):
            kb, note = _symmetric_copy(g, kb, kt, members, prepared)
            plan.merged.append(MergedCopy(gi, "requantized", k.name, f"{k.name} (requantized in place)", 0, [note]))
        for m, rel, _perm, why in outcome:
            if why is not None:
                plan.skipped.append(SkippedCopy(gi, m.name, m.nbytes, why))
                continue
            notes = _apply_member(g, kb, kt, g.tensors_of_buffer(int(m.ref)), rel, data_of)
            plan.merged.append(MergedCopy(gi, rel, k.name, m.name, m.nbytes, notes))
    return g, plan, data_of


def rewrite_tflite(
    source: Source, out: str | None = None, *, layout: str = "auto", min_elements: int = 16,
    groups: list[Group] | None = None, parsed: TFLiteFile | None = None, unify_biases: bool | set[int] = True,
) -> tuple[bytes | None, TFLitePlan]:
    """Merge duplicate weights of a .tflite. Returns (bytes or None when written to `out`, the plan).

    `groups` and `parsed` may come from an earlier `verify` of the same source, so that the file is
    matched and mapped once."""
    src = parsed.source if parsed is not None else open_source(source)
    try:
        tfl = parsed if parsed is not None else read_tflite(src)
        if groups is None:
            groups = find_groups(tfl.stored_weights(), min_elements=min_elements)
        g, plan, data_of = plan_and_rewrite(tfl, groups, unify_biases)
        bmap = _compact(g)
        inverse = {new: old for old, new in bmap.items()}

        def new_data(i: int) -> Any:
            return data_of(inverse[i])

        try:
            data = write_tflite(g.model, new_data, out, layout=layout)
        except Exception as exc:
            raise InvalidInputError(f"cannot write the repaired model: {exc}", src.label) from exc
        return data, plan
    finally:
        if parsed is None:  # a source handed in belongs to the caller, who may rewrite it again
            src.close()
