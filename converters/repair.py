"""`repair`: make an existing .tflite or .onnx store each shared weight once, and prove that the
outputs did not change beyond the stated tolerance.

Works on files from any exporter (the stock TFLite converter, `Model.export`, tf2onnx, ...). Never
imports TensorFlow.
"""

from __future__ import annotations

import gc
import os
import tempfile
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .errors import InvalidInputError
from .jsonsafe import finite
from .numerics import cosine
from .source import Source, open_source, sniff_format
from .verify import VerifyReport, verify

# A repair that only re-points tensors must leave outputs (nearly) bitwise equal; XNNPACK may pack
# a re-pointed weight differently, hence 1e-6 rather than 0.
EXACT_ATOL = 1e-6
# Where a copy was requantized (e.g. FULLY_CONNECTED moved from per-channel to the GATHER's
# per-tensor int8 scale), outputs must stay this close to the unrepaired model's.
REQUANT_COSINE = 0.999


@dataclass
class RepairNumerics:
    samples: int
    bitwise: bool
    max_abs_diff: float
    cosine_similarity: float
    criterion: str
    passed: bool


@dataclass
class RepairReport:
    source: str
    output: str | None
    format: str
    weight_bytes_before: int
    weight_bytes_after: int
    duplicate_bytes_before: int
    duplicate_bytes_after: int
    floor_bytes_after: int
    merged: list[Any]
    skipped: list[Any]
    numerics: RepairNumerics | None
    after: VerifyReport | None = None
    notes: list[str] = field(default_factory=list)
    data: bytes | None = field(default=None, repr=False)  # the repaired model when no `out` was given

    @property
    def ok(self) -> bool:
        return self.duplicate_bytes_after == 0 and (self.numerics is None or self.numerics.passed)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("data", None)
        d["ok"] = self.ok
        d["bytes_saved"] = self.weight_bytes_before - self.weight_bytes_after
        return dict(finite(d))


def _random_feed(details: dict[str, Any], gather_bound: dict[int, int], rng: np.random.Generator) -> np.ndarray:
    shape = [int(d) if int(d) > 0 else 1 for d in details["shape"]]
    dt = np.dtype(details["dtype"])
    if np.issubdtype(dt, np.integer):
        scale = details.get("quantization", (0.0, 0))[0]
        if scale:  # a quantized float input: any value in range
            info = np.iinfo(dt)
            return rng.integers(info.min, info.max + 1, size=shape).astype(dt)
        high = gather_bound.get(details["index"], 2)
        return rng.integers(0, high, size=shape).astype(dt)
    if dt == np.bool_:
        return rng.integers(0, 2, size=shape).astype(bool)
    return rng.standard_normal(shape).astype(dt)


Feeds = dict[str, list[dict[str, np.ndarray]]]


def _tflite_outputs(data: bytes | str, inputs: Feeds | None, n: int) -> tuple[dict[str, list[Any]], Feeds]:
    """Outputs per signature (int8 outputs dequantized) for n random (or given) inputs."""
    from ai_edge_litert.interpreter import Interpreter

    from ._quiet import quiet_fds

    with quiet_fds():
        it = Interpreter(model_content=data) if isinstance(data, bytes) else Interpreter(model_path=data)
        return _run_signatures(it, data, inputs, n)


def _run_signatures(it: Any, data: bytes | str, inputs: Feeds | None,
                    n: int) -> tuple[dict[str, list[Any]], Feeds]:
    from .source import open_source as _open
    from .tflite_file import read_tflite

    # Integer inputs that index a GATHER get ids inside the table.
    src = _open(data)
    try:
        tfl = read_tflite(src)
        bounds: dict[tuple[int, int], int] = {}
        for sg in tfl.subgraphs:
            for op in sg.operators:
                if op.opcode in ("GATHER", "EMBEDDING_LOOKUP") and len(op.inputs) >= 2:
                    params, idx = op.inputs[0], op.inputs[1]
                    if op.opcode == "EMBEDDING_LOOKUP":
                        params, idx = idx, params
                    dim = sg.tensors[params].shape[0] if sg.tensors[params].shape else 2
                    bounds[(sg.index, idx)] = int(dim)
        sig_sub = {sd.key: sd.subgraph for sd in tfl.signatures}
    finally:
        src.close()
    out: dict[str, list[Any]] = {}
    used: Feeds = {}
    sigs = it.get_signature_list() or {}
    rng = np.random.default_rng(0)
    for key in sigs:
        runner = it.get_signature_runner(key)
        ins = runner.get_input_details()
        sgi = sig_sub.get(key, 0)
        gb = {d["index"]: bounds.get((sgi, d["index"]), 2) for d in ins.values()}
        results = []
        used[key] = []
        for i in range(n):
            if inputs is not None and key in inputs:
                feed = inputs[key][i]  # the very inputs the other model saw
            else:
                feed = {name: _random_feed(d, gb, rng) for name, d in ins.items()}
            used[key].append(feed)
            res = runner(**feed)
            outs = runner.get_output_details()
            results.append([_real(np.array(res[k]), outs[k]) for k in sorted(res)])
        out[key] = results
    return out, used


def _real(y: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """Dequantize an int8 output with its own parameters, so outputs compare in real units."""
    scale, zero = detail.get("quantization", (0.0, 0))
    if scale and np.issubdtype(y.dtype, np.integer):
        return (y.astype(np.float64) - zero) * scale
    return y


def _compare(before: dict[str, list[Any]], after: dict[str, list[Any]], requantized: bool, n: int) -> RepairNumerics:
    if set(before) != set(after):
        raise InvalidInputError(f"the repaired model's signatures changed: {sorted(before)} -> {sorted(after)}")
    bitwise = True
    worst = 0.0
    cos = 1.0
    for key in before:
        for xs, ys in zip(before[key], after[key]):
            for x, y in zip(xs, ys):
                bitwise &= bool(np.array_equal(x, y))
                xf, yf = x.astype(np.float64), y.astype(np.float64)
                worst = max(worst, float(np.max(np.abs(xf - yf))) if x.size else 0.0)
                cos = min(cos, cosine(xf, yf))
    if requantized:
        return RepairNumerics(n, bitwise, worst, cos, f"cosine_similarity >= {REQUANT_COSINE} to the unrepaired model",
                             cos >= REQUANT_COSINE)
    return RepairNumerics(n, bitwise, worst, cos, f"bitwise, or max_abs_diff <= {EXACT_ATOL}",
                          bitwise or worst <= EXACT_ATOL)


def repair(
    source: Source,
    out: str | os.PathLike | None = None,
    *,
    layout: str = "auto",
    samples: int = 8,
    check: bool = True,
    min_elements: int = 16,
) -> RepairReport:
    """Rewrite `source` so that each group of duplicate weights is stored once, and write `out`.

    Args:
        source: a .tflite or .onnx path, or its bytes.
        out: where to write the repaired file (required for ONNX and for the offset layout).
        layout: TFLite buffer layout, "auto", "inline" or "offset" (see tflite_writer).
        samples: random inputs used to compare the outputs before and after.
        check: run the before/after numerics comparison.

    Returns:
        A RepairReport: what was merged, what could not be and why, the bytes before and after, and
        the numerics. `report.ok` is False when duplicates remain or the numerics moved too much.
    """
    with open_source(source) as src:
        fmt = sniff_format(src.data, src.path)
        label = src.label
    before = verify(source, min_elements=min_elements)
    target = os.fspath(out) if out is not None else None
    repaired: Any
    if fmt == "tflite":
        repaired, plan = _rewrite_tflite_within_tolerance(source, target, before, layout, min_elements,
                                                          check, samples)
        merged, skipped, requantized = plan.merged, plan.skipped, plan.requantized
    else:
        from .repair_onnx import rewrite_onnx

        if target is None:
            raise InvalidInputError("ONNX repair writes a file: pass `out`", label)
        oplan = rewrite_onnx(source, target, min_elements=min_elements)
        merged, skipped, requantized = oplan.merged, oplan.skipped, oplan.requantized
        repaired = target
    # Unmap the source before mapping the output: peak memory stays one file, not two.
    before._groups = before._handle = None  # type: ignore[attr-defined]
    gc.collect()
    after = verify(repaired, min_elements=min_elements)
    numerics = None
    if check:
        numerics = _numerics(fmt, source, repaired, requantized, samples)
    rep = RepairReport(
        source=label,
        output=target,
        format=fmt,
        weight_bytes_before=before.weight_bytes,
        weight_bytes_after=after.weight_bytes,
        duplicate_bytes_before=before.duplicate_bytes,
        duplicate_bytes_after=after.duplicate_bytes,
        floor_bytes_after=after.floor_bytes,
        merged=merged,
        skipped=skipped,
        numerics=numerics,
        after=after,
        data=repaired if isinstance(repaired, bytes) else None,
    )
    return rep


def _rewrite_tflite_within_tolerance(source: Source, target: str | None, before: VerifyReport, layout: str,
                                     min_elements: int, check: bool, samples: int) -> tuple[Any, Any]:
    """Rewrite a .tflite with the groups `before` found; returns (bytes or the written path, the plan).

    Sharing a shared int8 layer's biases changes its arithmetic, so it is kept only within tolerance:
    all such groups at once if they fit, else the groups that fit one by one (and then together)."""
    from .repair_tflite import rewrite_tflite

    groups, parsed = getattr(before, "_groups", None), getattr(before, "_handle", None)

    def attempt(which: bool | set[int]) -> tuple[Any, Any, bool]:
        d, pl = rewrite_tflite(source, target, layout=layout, min_elements=min_elements,
                               groups=groups, parsed=parsed, unify_biases=which)
        out = d if d is not None else target
        ok = not (check and pl.unified_biases) or _numerics("tflite", source, out, True, samples).passed
        return out, pl, ok

    repaired, plan, ok = attempt(True)
    if not ok:
        fitting = {gi for gi in sorted(plan.bias_groups) if attempt({gi})[2]}
        repaired, plan, ok = attempt(fitting) if fitting else attempt(False)
        if not ok:
            repaired, plan, _ = attempt(False)
    return repaired, plan


def _numerics(fmt: str, source: Source, repaired: Any, requantized: bool, n: int) -> RepairNumerics:
    # Both models see the same inputs, drawn from the original (ids stay inside its Gather tables).
    if fmt == "tflite":
        a, feeds = _tflite_outputs(_as_model(source), None, n)
        b, _ = _tflite_outputs(repaired if isinstance(repaired, (bytes, str)) else str(repaired), feeds, n)
        return _compare(a, b, requantized, n)
    from .repair_onnx import onnx_outputs

    with tempfile.TemporaryDirectory() as tmp:
        src_path = _as_path(source, tmp, ".onnx")
        oa, ofeeds = onnx_outputs(src_path, n)
        ob, _ = onnx_outputs(str(repaired), n, ofeeds)
    return _compare(oa, ob, requantized, n)


def _as_model(source: Source) -> bytes | str:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    return os.fspath(source)


def _as_path(source: Source, tmp: str, suffix: str) -> str:
    if isinstance(source, (bytes, bytearray, memoryview)):
        p = os.path.join(tmp, "model" + suffix)
        with open(p, "wb") as fh:
            fh.write(bytes(source))
        return p
    return os.fspath(source)
