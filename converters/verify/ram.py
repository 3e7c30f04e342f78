"""Predict the RAM a file costs at run time, per runtime, from the file alone (light: no runtime is loaded).

A weight stored once can still be held many times in RAM:

* **LiteRT with XNNPACK** (the default CPU path of the Interpreter and of the CompiledModel API) packs a
  copy of a constant weight for every op that reads it (FULLY_CONNECTED, CONV_2D, DEPTHWISE_CONV_2D,
  TRANSPOSE_CONV, BATCH_MATMUL with a constant operand; a weight behind a DEQUANTIZE is packed as float32).
  The packed copies are anonymous memory, and the file pages packing read stay resident too.
* **With XNNPACK's weight cache** (CompiledModel + `CpuOptions(xnnpack_weight_cache_path=FILE)`, or
  benchmark_model's `--xnnpack_weight_cache_file_path`) each distinct (weight buffer, bias buffer, op kind)
  is packed once, into the cache file, which later launches map; the model's own weight pages are then not
  read at all. The cache is keyed by buffer identity, so two byte-identical buffers still pack twice: the
  file must hold each shared weight as one buffer (what edgeshare's export writes).
* **onnxruntime** prepacks a constant MatMul/Gemm/Conv operand per node that reads it; the original
  initializer stays unless every reader prepacked it. `session.disable_prepacking` keeps one copy. A
  Transpose of an initializer is folded into a new constant at load: counted as one more copy, a lower
  bound (edgeshare/benchmarks/bench_onnx_forms.py measured about two for that form).

Constants read in place by other ops (a GATHER table reads only the rows it looks up; an ADD's constant is
read whole) stay in the file pages. Activations are estimated as the bytes of every non-constant tensor of
the subgraph that runs (an upper bound on the arena, which reuses memory) plus about 1 MiB of runtime;
`ram_to_weight` is the predicted total over the weights stored in the file.
How close this comes is measured by tests/bench/test_ram_prediction.py against `edgeshare bench`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..formats.onnx_file import OnnxFile
from ..formats.source import Source
from ..formats.tflite_file import TFLiteFile, numpy_dtype
from ..jsonsafe import finite
from ..runtime.base import choose_signature
from .verifier import is_weight, load_weights

# op -> index of the constant operand XNNPACK packs (and of the bias packed with it, or None).
XNNPACK_PACKS: dict[str, tuple[int, int | None]] = {
    "FULLY_CONNECTED": (1, 2),
    "CONV_2D": (1, 2),
    "DEPTHWISE_CONV_2D": (1, 2),
    "TRANSPOSE_CONV": (1, 3),
    "BATCH_MATMUL": (1, None),
}
# Ops that read a table by index: only the rows they look up are touched.
ROW_READERS = ("GATHER", "EMBEDDING_LOOKUP", "GATHER_ND")
# onnxruntime CPU kernels that prepack a constant operand: op -> operand index.
ORT_PREPACKS: dict[str, int] = {
    "MatMul": 1, "Gemm": 1, "Conv": 1, "FusedMatMul": 1, "MatMulInteger": 1, "DynamicQuantizeMatMul": 1,
    "MatMulIntegerToFloat": 1, "QLinearMatMul": 3, "QLinearConv": 3, "QGemm": 3, "ConvInteger": 1,
}
ORT_ROW_READERS = ("Gather", "GatherElements", "GatherND")
# What a loaded model costs beyond its tensors (XNNPACK runtime, buffers): about 1 MiB measured with
# ai-edge-litert 2.3 on x86-64 (edgeshare/benchmarks/bench_ram.py, the dense and tied-LM rows).
RUNTIME_BYTES = 2**20


@dataclass
class PackedWeight:
    """A stored weight that a runtime packs: how many packed copies it holds with and without a cache."""

    storage: str  # "buffer 12", "initializer 'W'"
    name: str
    bytes: int  # as stored in the file
    packed_bytes: int  # one packed copy
    readers: list[str]  # the ops that pack it
    copies: int  # packed copies without the weight cache (one per reader)
    copies_with_cache: int  # with the cache: one per distinct (buffer, bias, op kind)


@dataclass
class RuntimeRam:
    """The predicted RAM of one runtime configuration."""

    runtime: str
    packed: list[PackedWeight]
    packed_bytes: int  # every packed copy held in this configuration
    unpacked_bytes: int  # weights held as stored: LiteRT's resident file pages, onnxruntime's initializers
    activation_bytes: int
    total_bytes: int
    ram_to_weight: float
    notes: list[str] = field(default_factory=list)


@dataclass
class RamPrediction:
    path: str
    format: str
    weight_bytes: int
    runtimes: list[RuntimeRam]
    notes: list[str] = field(default_factory=list)

    def runtime(self, name: str) -> RuntimeRam:
        for r in self.runtimes:
            if r.runtime == name:
                return r
        raise KeyError(f"no prediction for runtime {name!r}; predicted: {[r.runtime for r in self.runtimes]}")

    def to_dict(self) -> dict[str, Any]:
        return finite(asdict(self))

    def summary(self, rows: int = 12) -> dict[str, Any]:
        """The compact form an export report carries: per runtime its packed copies and predicted ratio, and
        the `rows` weights that cost the most packed copies."""
        packed = self.runtimes[0].packed if self.runtimes else []
        return finite({
            "weight_bytes": self.weight_bytes,
            "runtimes": [{
                "runtime": r.runtime,
                "label": RUNTIME_LABELS.get(r.runtime, r.runtime),
                "packed_weights": len(r.packed),
                "packed_copies": sum(p.copies_with_cache if r.runtime == LITERT_CACHE else p.copies for p in r.packed),
                "packed_bytes": r.packed_bytes,
                "total_bytes": r.total_bytes,
                "ram_to_weight": round(r.ram_to_weight, 3),
            } for r in self.runtimes],
            "packed": [asdict(p) for p in packed[:rows]],
            "notes": self.notes,
        })


LITERT_NO_CACHE = "litert-xnnpack"
LITERT_CACHE = "litert-xnnpack-cache"
ORT_PREPACK = "onnxruntime-prepack"
ORT_NO_PREPACK = "onnxruntime-no-prepack"
RUNTIME_LABELS = {
    LITERT_NO_CACHE: "LiteRT XNNPACK, no weight cache (Interpreter default)",
    LITERT_CACHE: "LiteRT XNNPACK with the weight cache (CompiledModel)",
    ORT_PREPACK: "onnxruntime CPU, prepacking on (default)",
    ORT_NO_PREPACK: "onnxruntime CPU, prepacking off",
}


def predict_ram(source: Source, signature: str | None = None) -> RamPrediction:
    """Predict, per runtime, which weights are packed, how many copies, and the RAM over the weight.

    Args:
        source: a .tflite or .onnx path, or its bytes.
        signature: the .tflite signature that runs (default: "all" in a multi-task file, else the only one).
    """
    fmt, _size, weights, handle = load_weights(source)
    try:
        weight_bytes = sum(w.nbytes for w in weights if is_weight(w))
        if isinstance(handle, TFLiteFile):
            runtimes, notes = _tflite(handle, weight_bytes, signature)
        else:
            runtimes, notes = _onnx(handle, weight_bytes)
        return RamPrediction(handle.label, fmt, weight_bytes, runtimes, notes)
    finally:
        handle.source.close()


def _ratio(total: int, weight_bytes: int) -> float:
    return total / weight_bytes if weight_bytes else float("nan")


def _tensor_bytes(shape: tuple[int, ...], dtype: str) -> int:
    try:
        item = 1 if dtype == "int4" else numpy_dtype(dtype).itemsize
    except Exception:  # strings and other types with no fixed width count as nothing
        return 0
    return int(np.prod([max(d, 1) for d in shape])) * item if shape else item


def _tflite(tfl: TFLiteFile, weight_bytes: int, signature: str | None) -> tuple[list[RuntimeRam], list[str]]:
    sigs = {s.key: s for s in tfl.signatures}
    key = choose_signature(sigs, signature, tfl.label)
    sub = sigs[key].subgraph if key is not None else 0
    sg = tfl.subgraphs[sub]
    producer = {o: op for op in sg.operators for o in op.outputs}

    def const_buffer(ti: int) -> int | None:
        if ti < 0:
            return None
        t = sg.tensors[ti]
        if 0 < t.buffer < len(tfl.buffers) and tfl.buffers[t.buffer].length:
            return t.buffer
        return None

    packs: dict[int, dict[str, Any]] = {}  # buffer -> {"readers", "keys", "packed"}
    in_place: dict[int, bool] = {}  # buffer read by a non-packing op -> whole (True) or rows only (False)
    used_via_dequantize: set[int] = set()
    for op in sg.operators:
        roles = XNNPACK_PACKS.get(op.opcode)
        packed_input = None
        if roles is not None and len(op.inputs) > roles[0] and op.inputs[roles[0]] >= 0:
            wi = op.inputs[roles[0]]
            buf = const_buffer(wi)
            source_t = sg.tensors[wi]
            as_float = False
            if buf is None and wi in producer and producer[wi].opcode == "DEQUANTIZE":
                dq_in = producer[wi].inputs[0]
                buf = const_buffer(dq_in)
                if buf is not None:
                    used_via_dequantize.add(producer[wi].index)
                    source_t, as_float = sg.tensors[dq_in], True
            if buf is not None:
                packed_input = wi
                numel = int(np.prod(source_t.shape)) if source_t.shape else 1
                item = 4 if (as_float or source_t.dtype in ("float32", "float16")) else 1
                out_ch = int(source_t.shape[0]) if source_t.shape else 1
                if op.opcode == "DEPTHWISE_CONV_2D" and source_t.shape:
                    out_ch = int(source_t.shape[-1])
                # XNNPACK packs the bias (int32 or float32) beside the weight; an int8 weight also gets
                # a per-channel scale or sum (4 bytes a channel).
                extra = out_ch * 4 if item == 4 else out_ch * 8
                bias_i = op.inputs[roles[1]] if roles[1] is not None and len(op.inputs) > roles[1] else -1
                bias = const_buffer(bias_i)
                entry = packs.setdefault(buf, {"readers": [], "keys": set(), "packed": numel * item + extra,
                                               "tensor": source_t})
                entry["readers"].append(op.label(sub))
                entry["keys"].add((bias, op.opcode, item))
        for pos, ti in enumerate(op.inputs):
            if ti < 0 or ti == packed_input:
                continue
            buf = const_buffer(ti)
            if buf is None or (op.opcode == "DEQUANTIZE" and op.index in used_via_dequantize):
                continue
            if roles is not None and roles[1] is not None and pos == roles[1]:
                continue  # a bias packed with its weight
            whole = not (op.opcode in ROW_READERS and pos == (1 if op.opcode == "EMBEDDING_LOOKUP" else 0))
            in_place[buf] = in_place.get(buf, False) or whole
    # DEQUANTIZE ops whose output XNNPACK did not pack still read their input whole.
    for op in sg.operators:
        if op.opcode == "DEQUANTIZE" and op.index not in used_via_dequantize:
            buf = const_buffer(op.inputs[0]) if op.inputs else None
            if buf is not None:
                in_place[buf] = True

    packed_list = [
        PackedWeight(f"buffer {b}", e["tensor"].name, tfl.buffers[b].length, e["packed"], e["readers"],
                     len(e["readers"]), len(e["keys"]))
        for b, e in sorted(packs.items(), key=lambda kv: -kv[1]["packed"] * len(kv[1]["readers"]))
    ]
    whole_in_place = sum(tfl.buffers[b].length for b, whole in in_place.items() if whole)
    packed_read = sum(tfl.buffers[b].length for b in packs if not in_place.get(b))
    consts = {t.index for t in sg.tensors if const_buffer(t.index) is not None}
    act = RUNTIME_BYTES + sum(_tensor_bytes(t.shape, t.dtype) for t in sg.tensors if t.index not in consts)
    no_cache_packed = sum(p.packed_bytes * p.copies for p in packed_list)
    cache_packed = sum(p.packed_bytes * p.copies_with_cache for p in packed_list)
    notes = []
    if any(p.copies > 1 for p in packed_list):
        shared = [p for p in packed_list if p.copies > 1]
        notes.append(f"{len(shared)} weight(s) read by several packing ops: without the weight cache XNNPACK "
                     f"packs {sum(p.copies for p in shared)} copies of them, with it "
                     f"{sum(p.copies_with_cache for p in shared)}")
    no_cache_total = no_cache_packed + whole_in_place + packed_read + act
    cache_total = cache_packed + whole_in_place + act
    runtimes = [
        RuntimeRam(LITERT_NO_CACHE, packed_list, no_cache_packed, whole_in_place + packed_read, act, no_cache_total,
                   _ratio(no_cache_total, weight_bytes),
                   ["packed copies are anonymous memory; the weight pages packing read stay resident"]),
        RuntimeRam(LITERT_CACHE, packed_list, cache_packed, whole_in_place, act, cache_total,
                   _ratio(cache_total, weight_bytes),
                   ["packed copies live in the mapped cache file; the model's packed weights are not read"]),
    ]
    if key is not None:
        notes.append(f"signature {key!r} (subgraph {sub})")
    return runtimes, notes


def _onnx(onx: OnnxFile, weight_bytes: int) -> tuple[list[RuntimeRam], list[str]]:
    protos: dict[str, Any] = {}
    for _, g in onx.iter_graphs():
        for t in g.initializer:
            protos[t.name] = t
    consumers: dict[str, list[Any]] = getattr(onx, "_consumers", {})
    producer: dict[str, Any] = getattr(onx, "_producer", {})
    sizes = {name: _proto_bytes(t) for name, t in protos.items()}
    packs: dict[str, list[str]] = {}
    folded = 0  # bytes of constants onnxruntime folds at load (a Transpose of an initializer is a new copy)
    for ref in onx.nodes:
        idx = ORT_PREPACKS.get(ref.node.op_type)
        if idx is None or len(ref.node.input) <= idx:
            continue
        name = ref.node.input[idx]
        if name not in protos and name in producer and producer[name].node.op_type in ("DequantizeLinear",
                                                                                       "Transpose"):
            via = producer[name].node
            name = via.input[0]
            if via.op_type == "Transpose" and name in protos:
                folded += sizes[name]
        if name in protos:
            packs.setdefault(name, []).append(ref.label)
    packed_list = [PackedWeight(f"initializer {n!r}", n, sizes[n], sizes[n], readers, len(readers), len(readers))
                   for n, readers in sorted(packs.items(), key=lambda kv: -sizes[kv[0]] * len(kv[1]))]
    prepacked = sum(p.packed_bytes * p.copies for p in packed_list)
    # The initializer is freed when every node that reads it prepacked it.
    freed = sum(sizes[n] for n, readers in packs.items() if len(readers) == len(consumers.get(n, [])))
    held = sum(sizes[n] for n in protos) + folded
    outputs = {o.name for _, g in onx.iter_graphs() for o in g.output}
    act = _onnx_activation_bytes(onx, outputs)
    on_total = held - freed + prepacked + act
    off_total = held + act
    notes = []
    for p in packed_list:
        readers = consumers.get(p.name, [])
        if len(readers) < 2:
            continue
        kept = len(packs[p.name]) < len(readers)
        extra = p.packed_bytes * p.copies - (0 if kept else p.bytes)
        packing = {r.split("#")[0].rsplit("/", 1)[-1] for r in packs[p.name]}
        others = sorted({r.node.op_type for r in readers} - packing - {"Transpose", "DequantizeLinear"})
        notes.append(f"weight {p.name!r} ({p.bytes / 2**20:.1f} MiB) is read by {len(readers)} ops: prepacking holds "
                     f"{p.copies} packed cop{'y' if p.copies == 1 else 'ies'}"
                     + (f" beside the original, which {', '.join(others) or 'another op'} still reads" if kept else "")
                     + f": {extra / 2**20:+.1f} MiB against --ort-prepack off")
    runtimes = [
        RuntimeRam(ORT_PREPACK, packed_list, prepacked, held - freed, act, on_total, _ratio(on_total, weight_bytes),
                   ["a prepacked copy per reading node; the initializer is freed when all its readers prepacked it"]),
        RuntimeRam(ORT_NO_PREPACK, [], 0, held, act, off_total, _ratio(off_total, weight_bytes),
                   ["session.disable_prepacking: each initializer held once, unpacked (GEMMs pack per call)"]),
    ]
    return runtimes, notes


def _proto_bytes(t: Any) -> int:
    from ..formats.onnx_file import _np_dtype

    try:
        item = np.dtype(_np_dtype(t.data_type)).itemsize
    except (KeyError, TypeError, ValueError):
        return 0
    return int(np.prod([int(d) for d in t.dims])) * item if len(t.dims) else item


def _onnx_activation_bytes(onx: OnnxFile, outputs: set[str]) -> int:
    """Graph outputs and value_info with static shapes (ONNX files rarely list every intermediate)."""
    from ..formats.onnx_file import _np_dtype

    total = 0
    for _, g in onx.iter_graphs():
        for vi in [*g.output, *g.value_info]:
            tt = vi.type.tensor_type
            dims = [d.dim_value if d.HasField("dim_value") else 1 for d in tt.shape.dim]
            try:
                item = np.dtype(_np_dtype(tt.elem_type)).itemsize
            except (KeyError, TypeError, ValueError):
                continue
            n = int(np.prod(dims)) * item if dims else item
            total += n * (2 if vi.name in outputs else 1)
    return total


def describe(pred: RamPrediction) -> list[str]:
    """One line per runtime, for reports and the CLI."""
    lines = []
    for r in pred.runtimes:
        copies = sum(p.copies_with_cache if r.runtime == LITERT_CACHE else p.copies for p in r.packed)
        lines.append(f"{RUNTIME_LABELS.get(r.runtime, r.runtime)}: {copies} packed copies of {len(r.packed)} "
                     f"weight(s), predicted {r.total_bytes / 2**20:.1f} MiB = {r.ram_to_weight:.2f}x the weights")
    return lines


__all__ = ["PackedWeight", "RamPrediction", "RuntimeRam", "describe", "predict_ram"]
