"""The one export pipeline: prepare -> convert -> repair -> write -> verify -> numerics -> report.

`export_tflite` and `export_onnx` (single- or multi-signature) run the same stages; only the conversion
differs. Every export writes `<artifact>.report.json` beside the artifact with the sizes, the floor (each
unique weight once at its exported precision), the duplicate groups and the numerics against Keras.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgeshare.errors import InvalidInputError

from ..repair.driver import IDENTICAL_RULES
from ..repair.driver import repair as run_repair
from ..repair.outlook import outlook
from ..runtime.base import Runner
from ..runtime.delegates import delegate_support
from ..runtime.litert import LiteRTRunner
from ..runtime.onnxrt import OnnxRunner
from ..verify.numerics import Numerics, combined, compare, run_samples
from ..verify.report import VerifyReport
from ..verify.verifier import verify_file
from .bank_export import check_bank_export, tflite_with_layer_forms
from .keras_variables import keras_variables
from .prepare import Prepared, prepare
from .report import ExportReport, build_report, repair_summary
from .signatures import ALL, resolve_signatures
from .to_onnx import onnx_from_tflite, ort_quantize, prune_onnx
from .to_tflite import SERVING

TFLITE_MODES = ("none", "fp16", "dynamic", "int8")
ONNX_MODES = ("none", "dynamic", "int8")

Progress = Callable[[str], None]
Signatures = str | Mapping[str, Sequence[str]] | None


def _check_mode(quantize: str, allowed: tuple[str, ...], fmt: str) -> None:
    if quantize not in allowed:
        raise InvalidInputError(
            f"`quantize` must be one of {', '.join(allowed)} for {fmt}. Received: quantize={quantize!r}"
        )


# A file's numerics against Keras: (the Numerics of the whole file, per-signature rows).
Judge = Callable[[str], tuple[Numerics, list[dict[str, Any]]]]


# Worst-sample cosines closer than this are the same accuracy: int8 files of one model and calibration differ
# by this much from rounding alone (a keras-hub Gemma built from config: repaired 0.9710, unrepaired 0.9740).
NEAR = 0.005


def _repair_judged(stage: str, fixed: str, judge: Judge, earlier: dict[str, Any] | None = None
                   ) -> tuple[str, Numerics, list[dict[str, Any]], dict[str, Any]]:
    """Repair `stage` into `fixed` and keep what passes the export's gate against Keras.

    The repair alone can only compare its result with the unrepaired file (cosine >= 0.999). An export has
    the Keras model, so each candidate is judged against it, in this order, and the first that passes the
    gate is kept: the repair; the repair with each rule that rewrote values passed over for the next rule
    that applies (another rewrite of the same copies, such as a requantized kept table instead of a lookup
    of the per-channel copy); the unrepaired file. When none passes (the quantization itself misses the gate,
    as the unrepaired file shows), the first candidate within `NEAR` of the best worst-sample cosine is kept:
    a repair that costs nothing measurable keeps its sharing. The report's `against_keras` lists what was
    tried."""
    rr = run_repair(stage, fixed, force=True)
    info = repair_summary(rr, earlier)
    first = fixed if os.path.exists(fixed) else stage
    num, rows = judge(first)
    if num.passed:  # the export's gate against Keras decides, whatever the repair's relative check said
        info["rejected"] = False
        return first, num, rows, info
    # (label, file, numerics, per-signature rows, repair summary), in the order of preference
    candidates = [("repair", first, num, rows, info)]
    value_rules = sorted({m.rule for m in rr.merged} - IDENTICAL_RULES)
    for k, rule in enumerate(value_rules):
        alt = f"{fixed}.avoid{k}"
        alt_rr = run_repair(stage, alt, force=True, avoid=[rule])
        if not os.path.exists(alt):
            continue
        alt_num, alt_rows = judge(alt)
        candidates.append((f"repair without {rule}", alt, alt_num, alt_rows, repair_summary(alt_rr, earlier)))
        if alt_num.passed:
            break
    if not candidates[-1][2].passed:
        raw_num, raw_rows = judge(stage)
        candidates.append(("unrepaired", stage, raw_num, raw_rows, {**info, "bytes_saved": 0, "merged": []}))
    tried = [{"candidate": c[0], "worst_sample_cosine": c[2].cosine_similarity, "passed": c[2].passed}
             for c in candidates]
    passing = [c for c in candidates if c[2].passed]
    if passing:
        _, chosen, num, rows, info = passing[0]
    else:
        top = max(c[2].cosine_similarity for c in candidates)
        _, chosen, num, rows, info = next(c for c in candidates if c[2].cosine_similarity >= top - NEAR)
    info["against_keras"] = tried
    info["rejected"] = chosen == stage and bool(rr.merged)
    return chosen, num, rows, info


def _write(path: str | os.PathLike[str], data: bytes) -> str:
    out = os.fspath(path)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as fh:
        fh.write(data)
    return out


def _verify(out: str, p: Prepared, say: Progress) -> VerifyReport:
    say("verifying")
    return verify_file(out, keras_variables(p.model), outlook=outlook)


def _numerics(runner: Runner, p: Prepared, outputs: Sequence[str], quantize: str) -> Numerics:
    """The artifact against Keras on the prepared samples, every input fed by its name in the file."""

    def run(feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return dict(zip(runner.output_names, runner.run(p.file_feeds(feeds))))

    actual = run_samples(run, p.samples)
    return compare({o: p.reference[o] for o in outputs}, actual, quantize, p.class_outputs)


def export_tflite(
    model: Any,
    path: str | os.PathLike[str],
    quantize: str = "none",
    *,
    calibration: Any = None,
    sample_inputs: Any = None,
    batch_size: int = 1,
    repair: bool = True,
    progress: Progress | None = None,
    bank_export: str = "materialize",
    lower_grouped_conv: bool = False,
    signatures: Signatures = None,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    int8_softmax: bool | None = None,
) -> ExportReport:
    """Convert a Keras model to .tflite, repair shared weights, verify it and compare it with Keras.

    Args:
        model: a Keras model, a path to a .keras file, or its bytes.
        path: where to write the .tflite file.
        quantize: "none" (float32), "fp16", "dynamic" (int8 weights, float activations) or "int8"
            (full integer, int8 input and output for float tensors, calibrated on `calibration`).
        calibration: representative inputs for int8: an .npz path or a dict by input name (an array for a
            one-input model). Without it int8 calibrates on random data and warns.
        sample_inputs: inputs for the numerics check (defaults to the calibration data).
        batch_size: the static batch dimension of the exported signature.
        repair: merge the copies of shared weights the converter wrote (see `edgeshare.converters.repair`).
        bank_export: how soft BankConv2D layers are stored: "materialize", "runtime" or
            "runtime_kernel" (see export/bank_export.py).
        lower_grouped_conv: trace grouped Conv2D as split / conv / concat (see export/grouped_conv.py).
        signatures: "tasks" (or a dict of name to output names) for one signature per output of a
            multi-task model plus "all" (see export/signatures.py).
        input_shapes: full shapes (batch first) by input name for inputs with unknown dimensions, such as
            a keras-hub model's token ids: `{"token_ids": (1, 128), "padding_mask": (1, 128)}`.
        int8_softmax: trace Keras' masked softmax in the form full int8 keeps (export/masked_softmax.py);
            default: for `quantize="int8"` only. False keeps Keras' own form, whose int8 attention collapses.

    Returns:
        An ExportReport, also written to `<path>.report.json`, with the per-delegate op support.
    """
    _check_mode(quantize, TFLITE_MODES, "tflite")
    check_bank_export(bank_export, quantize, signatures)
    say = progress or (lambda _m: None)
    started = time.perf_counter()
    say("preparing")
    p = prepare(model, calibration, sample_inputs, batch_size, need_calibration=quantize == "int8",
                input_shapes=input_shapes)
    sigs = resolve_signatures(p.output_names, signatures) if signatures is not None else None
    say(f"converting to TFLite ({quantize})" + (f" with signatures {', '.join(sigs)}" if sigs else ""))
    data = tflite_with_layer_forms(p, quantize, sigs, bank_export, lower_grouped_conv, int8_softmax)
    out = os.fspath(path)

    def judge(file: str) -> tuple[Numerics, list[dict[str, Any]]]:
        parts, rows = [], []
        for key, outputs in (sigs or {SERVING: p.output_names}).items():
            num = _numerics(LiteRTRunner(file, signature=key if sigs else None), p, outputs, quantize)
            parts.append(num)
            rows.append({"key": key, "outputs": list(outputs), "numerics": num.to_dict()})
        return (parts[0] if len(parts) == 1 else combined(parts)), rows

    repair_info = None
    with tempfile.TemporaryDirectory() as tmp:
        if repair:  # the pass reads every subgraph
            say("repairing shared weights")
            raw = _write(os.path.join(tmp, "unrepaired.tflite"), data)
            say("checking numerics")
            chosen, numerics, per_signature, repair_info = _repair_judged(raw, os.path.join(tmp, "repaired.tflite"),
                                                                         judge)
            shutil.copyfile(chosen, _write(out, b""))
        else:
            _write(out, data)
            say("checking numerics")
            numerics, per_signature = judge(out)
    vr = _verify(out, p, say)
    route = ("Keras ExportArchive" + (", one endpoint per signature" if sigs else "") + " -> TFLiteConverter"
             + (" -> edgeshare repair" if repair else ""))
    rep = build_report(p, out, "tflite", quantize, route, started, vr, numerics, repair_info)
    rep.signatures = per_signature if sigs else None
    rep.delegates = delegate_support(out).to_dict()
    rep.write_json()
    return rep


def export_onnx(
    model: Any,
    path: str | os.PathLike[str],
    quantize: str = "none",
    *,
    opset: int = 17,
    calibration: Any = None,
    sample_inputs: Any = None,
    batch_size: int = 1,
    repair: bool = True,
    progress: Progress | None = None,
    bank_export: str = "materialize",
    lower_grouped_conv: bool = False,
    signatures: Signatures = None,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
) -> ExportReport:
    """Convert a Keras model to .onnx through its float TFLite form, repair, verify, compare with Keras.

    The route is Keras -> TFLite (float32) -> tf2onnx.convert.from_tflite (see export/to_onnx.py).
    `quantize="dynamic"` runs onnxruntime's `quantize_dynamic` (int8 weights) and `"int8"` its
    `quantize_static` (QDQ, int8 weights and activations, calibrated on `calibration`), each on the
    repaired float model; the repair pass then runs again on the quantized file, because the quantizer
    writes a second, transposed copy of a tied embedding for MatMulInteger.

    `input_shapes` fixes unknown input dimensions as in `export_tflite`. With `signatures` ("tasks" or a
    dict), `path` holds every output and each signature other than
    "all" gets `<stem>.<signature>.onnx` with the other outputs' dead branches pruned (ONNX has no
    signatures); the report's `signatures` lists every file.
    """
    _check_mode(quantize, ONNX_MODES, "onnx")
    say = progress or (lambda _m: None)
    started = time.perf_counter()
    say("preparing")
    p = prepare(model, calibration, sample_inputs, batch_size, need_calibration=quantize == "int8",
                input_shapes=input_shapes)
    sigs = resolve_signatures(p.output_names, signatures) if signatures is not None else None
    say("converting to TFLite (float32)")
    tfl = tflite_with_layer_forms(p, "none", None, bank_export, lower_grouped_conv, int8_softmax=quantize == "int8")
    say(f"converting to ONNX (opset {opset})")
    proto = onnx_from_tflite(tfl, opset, p.model.name)
    out = os.fspath(path)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    repair_info: dict[str, Any] | None = None

    def judge(file: str) -> tuple[Numerics, list[dict[str, Any]]]:
        return _numerics(OnnxRunner(file), p, p.output_names, quantize), []

    def repaired(stage: str, fixed: str, earlier: dict[str, Any] | None, last: bool) -> tuple[str, dict[str, Any]]:
        """The repair of `stage`: judged against Keras on the file that is exported (the last stage,
        `_repair_judged`); in the float stage before quantization, the repair's own check decides."""
        if last:
            chosen, _, _, info = _repair_judged(stage, fixed, judge, earlier)
            return chosen, info
        info = repair_summary(run_repair(stage, fixed), earlier)
        return (fixed if os.path.exists(fixed) else stage), info

    with tempfile.TemporaryDirectory() as tmp:
        import onnx

        stage = os.path.join(tmp, "float.onnx")
        onnx.save(proto, stage)
        if repair:
            say("repairing shared weights")
            stage, repair_info = repaired(stage, os.path.join(tmp, "float_repaired.onnx"), None, quantize == "none")
        if quantize != "none":
            say(f"quantizing ({quantize}) with onnxruntime.quantization")
            qpath = os.path.join(tmp, "quantized.onnx")
            ort_quantize(stage, qpath, quantize, p)
            stage = qpath
            if repair:
                stage, repair_info = repaired(stage, os.path.join(tmp, "quantized_repaired.onnx"), repair_info, True)
        shutil.copyfile(stage, out)
    vr = _verify(out, p, say)
    say("checking numerics")
    num = _numerics(OnnxRunner(out), p, p.output_names, quantize)
    route = f"Keras -> TFLite f32 -> tf2onnx.from_tflite (opset {opset})"
    if quantize != "none":
        route += f" -> onnxruntime.quantization ({quantize})"
    if repair:
        route += " -> edgeshare repair"
    rep = build_report(p, out, "onnx", quantize, route, started, vr, num, repair_info)
    if sigs:
        rep.signatures = _per_task_onnx(out, p, sigs, quantize)
    rep.write_json()
    return rep


def _per_task_onnx(out: str, p: Prepared, sigs: dict[str, list[str]], quantize: str) -> list[dict[str, Any]]:
    """Write `<stem>.<signature>.onnx` for each signature that is not every output, pruned to its outputs;
    verify each and check its numerics."""
    import onnx

    proto = onnx.load(out)
    stem = out[: -len(".onnx")] if out.endswith(".onnx") else out
    rows = []
    for key, outputs in sigs.items():
        target = out if (key == ALL or list(outputs) == p.output_names) else f"{stem}.{key}.onnx"
        if target != out:
            onnx.save(prune_onnx(proto, outputs), target)
        vr = verify_file(target, outlook=outlook)
        num = _numerics(OnnxRunner(target), p, outputs, quantize)
        rows.append({
            "key": key, "outputs": list(outputs), "artifact": target, "file_bytes": vr.file_bytes,
            "weight_bytes": vr.weight_bytes, "nodes": len(onnx.load(target).graph.node), "numerics": num.to_dict(),
        })
    return rows
