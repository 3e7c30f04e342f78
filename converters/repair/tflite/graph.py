"""The object-API view of a .tflite that the repair rules edit, with the lookups they share."""

from __future__ import annotations

import copy as _copy
from typing import Any

import numpy as np

from ...formats.tflite_file import TFLiteFile
from ...formats.tflite_writer import load_model
from ...formats.weights import StoredWeight
from ..plan import Copy


def schema() -> Any:
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


# Weight input slots, and the per-channel axis each op accepts there (None: per-tensor only).
WEIGHT_AXIS = {
    ("FULLY_CONNECTED", 1): 0,
    ("CONV_2D", 1): 0,
    ("DEPTHWISE_CONV_2D", 1): 3,
    ("TRANSPOSE_CONV", 1): 0,
    ("CONV_3D", 1): 4,
}
BIAS_SLOT = {"FULLY_CONNECTED": 2, "CONV_2D": 2, "DEPTHWISE_CONV_2D": 2, "TRANSPOSE_CONV": 3, "CONV_3D": 2}
INPUT_SLOT = {"TRANSPOSE_CONV": 2}  # the activation input of each op in BIAS_SLOT (0 unless listed)


class Graph:
    """The model (schema object API) plus the lookups the rewrites need. Buffer data comes from the
    parsed source file, or from `extra_data` for buffers a rule creates."""

    def __init__(self, tfl: TFLiteFile) -> None:
        s = schema()
        self.s = s
        self.tfl = tfl
        self.model = load_model(tfl)
        names = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_") and isinstance(v, int)}
        self.opnames = [names.get(max(c.builtinCode, c.deprecatedBuiltinCode), "?") for c in self.model.operatorCodes]
        self.type_names = {v: k for k, v in vars(s.TensorType).items() if not k.startswith("_") and isinstance(v, int)}
        self.extra_data: dict[int, bytes] = {}
        self.moved: dict[int, int] = {}  # a kept copy re-stored in a new buffer: old -> new
        # The object API keeps index vectors as numpy arrays; plain lists are simpler to edit.
        for sg in self.model.subgraphs or []:
            sg.inputs, sg.outputs = ints(sg.inputs), ints(sg.outputs)
            sg.tensors = sg.tensors or []
            sg.operators = sg.operators or []
            for op in sg.operators:
                op.inputs, op.outputs = ints(op.inputs), ints(op.outputs)
                if op.intermediates is not None:
                    op.intermediates = ints(op.intermediates)
            for t in sg.tensors:
                t.shape = ints(t.shape)
                if t.shapeSignature is not None:
                    t.shapeSignature = ints(t.shapeSignature)
                q = t.quantization
                if q is not None:
                    q.scale = [float(x) for x in q.scale] if q.scale is not None else None
                    q.zeroPoint = ints(q.zeroPoint) if q.zeroPoint is not None else None

    def data_of(self, b: int) -> Any:
        """The bytes of buffer `b` (a view into the source file where possible), or None when empty."""
        if b in self.extra_data:
            return self.extra_data[b]
        if b < len(self.tfl.buffers) and self.tfl.buffers[b].length:
            return self.tfl.buffer_bytes(b)
        return None

    def uses(self, sg: Any, ti: int) -> list[tuple[int, int]]:
        """(operator index, input slot) of every op of `sg` that reads tensor `ti`."""
        return [(oi, k) for oi, op in enumerate(sg.operators or []) for k, x in enumerate(op.inputs or []) if x == ti]

    def opname(self, op: Any) -> str:
        return str(self.opnames[op.opcodeIndex])

    def type_name(self, t: Any) -> str | None:
        return self.type_names.get(t.type)

    def is_float(self, t: Any) -> bool:
        return self.type_name(t) in ("FLOAT32", "FLOAT16", "BFLOAT16", "FLOAT64")

    def tensors_of_buffer(self, b: int) -> list[tuple[int, int]]:
        return [(si, ti) for si, sg in enumerate(self.model.subgraphs) for ti, t in enumerate(sg.tensors or [])
                if t.buffer == b]

    def buffer_of(self, w: StoredWeight) -> int:
        b = int(w.ref)  # type: ignore[arg-type]
        return self.moved.get(b, b)

    def tensors_of(self, w: StoredWeight) -> list[tuple[int, int]]:
        return self.tensors_of_buffer(self.buffer_of(w))

    def first_tensor(self, w: StoredWeight) -> Any | None:
        found = self.tensors_of(w)
        if not found:
            return None
        si, ti = found[0]
        return self.model.subgraphs[si].tensors[ti]

    def kept_tensor(self, c: Copy) -> Any:
        t = self.first_tensor(c.kept)
        if t is None:
            raise ValueError(f"no tensor reads the kept buffer {c.kept.ref}")
        return t

    def member_uses(self, c: Copy) -> list[tuple[Any, Any, int, int]]:
        """(subgraph, tensor, operator index, slot) for every read of the copy's tensors."""
        out = []
        for si, ti in self.tensors_of(c.member):
            sg = self.model.subgraphs[si]
            out += [(sg, sg.tensors[ti], oi, slot) for oi, slot in self.uses(sg, ti)]
        return out

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

    def new_buffer(self, data: bytes | None = None) -> int:
        self.model.buffers.append(self.s.BufferT())
        b = len(self.model.buffers) - 1
        if data is not None:
            self.extra_data[b] = data
        return b

    def add_tensor(self, sg: Any, name: str, shape: list[int], type_: int, buffer: int, quant: Any) -> int:
        t = self.s.TensorT()
        t.name, t.shape, t.type, t.buffer, t.quantization = name.encode(), list(shape), type_, buffer, quant
        sg.tensors.append(t)
        return len(sg.tensors) - 1

    def quantization(self, scale: list[float], zero_point: list[int], axis: int = 0) -> Any:
        q = self.s.QuantizationParametersT()
        q.scale, q.zeroPoint, q.quantizedDimension = list(scale), list(zero_point), axis
        return q


def ints(x: Any) -> list[int]:
    return [] if x is None else [int(v) for v in x]


def tensor_name(t: Any) -> str:
    return t.name.decode() if isinstance(t.name, bytes) else str(t.name)


def scales(t: Any) -> np.ndarray | None:
    q = t.quantization
    if q is None or q.scale is None or len(q.scale) == 0:
        return None
    return np.asarray(q.scale, np.float64)


def qaxis(t: Any) -> int | None:
    sc = scales(t)
    return None if sc is None or sc.size == 1 else int(t.quantization.quantizedDimension)


def zero_point(t: Any) -> int:
    q = t.quantization
    return int(q.zeroPoint[0]) if q is not None and q.zeroPoint else 0


def copy_quant(q: Any) -> Any:
    return _copy.deepcopy(q)


def qtext(t: Any) -> str:
    sc = scales(t)
    if sc is None:
        return "float"
    return "per-tensor" if sc.size == 1 else f"per-channel, axis {qaxis(t)}"


def same_values_layout(kt: Any, shape: list[int]) -> bool:
    """A tensor of `shape` can view K's buffer: equal once size-1 axes are dropped ([1, E, H] vs [E, H])."""
    return [d for d in kt.shape if d != 1] == [d for d in shape if d != 1]


def quant_for_shape(kt: Any, shape: list[int]) -> Any:
    """K's quantization for a tensor of `shape` (see same_values_layout): the per-channel axis moves with
    the size-1 axes."""
    k_shape = list(kt.shape)
    q = copy_quant(kt.quantization)
    if q is None or qaxis(kt) is None or k_shape == shape:
        return q
    k_axis = int(kt.quantization.quantizedDimension)
    nth = sum(1 for d in k_shape[:k_axis] if d != 1)  # which non-1 axis carries the channels
    big = [i for i, d in enumerate(shape) if d != 1]
    q.quantizedDimension = big[nth]
    return q


def dequantize_version(g: Graph, kt: Any) -> int:
    name = g.type_name(kt)
    if name == "FLOAT16":
        return 3
    if name == "INT8":
        return 5 if qaxis(kt) is not None else 2
    return 1


def gather_output_takes(g: Graph, sg: Any, op: Any, slot: int, quant: Any) -> bool:
    """A GATHER that copies rows of a re-quantized table: its quantized output takes the table's scale."""
    if g.opname(op) != "GATHER" or slot != 0 or not op.outputs:
        return False
    out = sg.tensors[op.outputs[0]]
    if scales(out) is None:
        return False
    out.quantization = copy_quant(quant)
    return True


def requantized_layout_obstacle(g: Graph, c: Copy) -> str | None:
    """What every requantized rewrite needs: the same layout once size-1 axes are dropped, no transpose."""
    if c.perm is not None:
        return "transposed and requantized at once"
    kt = g.kept_tensor(c)
    for si, ti in g.tensors_of(c.member):
        t = g.model.subgraphs[si].tensors[ti]
        if not same_values_layout(kt, list(t.shape)):
            return f"shapes differ ({list(t.shape)} vs {list(kt.shape)})"
    return None
