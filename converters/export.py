"""Export a Keras model to TFLite or ONNX, then verify the file and check its numerics.

Every export writes `<artifact>.report.json` beside the artifact with the sizes, the floor (each unique
weight once at its exported precision), the duplicate groups and the numerics against Keras.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InvalidInputError
from .numerics import Numerics, compare, run_samples
from .verify import GroupReport, VerifyReport, WeightRow, verify

TFLITE_MODES = ("none", "fp16", "dynamic", "int8")
ONNX_MODES = ("none", "dynamic", "int8")
NUMERICS_SAMPLES = 16

Progress = Callable[[str], None]


@dataclass
class ExportReport:
    artifact: str
    format: str
    quantize: str
    model: str
    file_bytes: int
    weight_bytes: int
    floor_bytes: int
    duplicate_bytes: int
    groups: list[GroupReport]
    largest: list[WeightRow]
    variables: list[Any] | None
    numerics: Numerics | None
    params_per_use: int
    unique_params: int
    inputs: list[dict[str, Any]]
    outputs: list[str]
    calibration: str
    route: str
    seconds: float
    versions: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    repair: dict[str, Any] | None = None  # what the repair pass merged, skipped and cost; None with --no-repair
    # Issue 5 hooks: per-delegate op support (TFLite) and the signatures of a multi-task export.
    delegates: dict[str, Any] | None = None
    signatures: list[dict[str, Any]] | None = None

    @property
    def ok(self) -> bool:
        return self.duplicate_bytes == 0 and (self.numerics is None or self.numerics.passed)

    @property
    def ratio(self) -> float:
        return self.weight_bytes / self.floor_bytes if self.floor_bytes else 1.0

    def problems(self) -> list[str]:
        out = []
        if self.duplicate_bytes:
            out.append(f"{len(self.groups)} duplicate group(s) waste {self.duplicate_bytes} bytes")
        if self.numerics is not None and not self.numerics.passed:
            out.append(
                f"numerics off: max_abs_error={self.numerics.max_abs_error:.3g}, "
                f"cosine={self.numerics.cosine_similarity:.5f}, needs {self.numerics.criterion}"
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        d["weight_to_floor"] = round(self.ratio, 4)
        d["problems"] = self.problems()
        return d

    def write_json(self, path: str | os.PathLike | None = None) -> str:
        out = os.fspath(path) if path is not None else self.artifact + ".report.json"
        from .jsonsafe import finite

        with open(out, "w") as fh:
            json.dump(finite(self.to_dict()), fh, indent=2)
        return out


def _resolve_model(model: Any) -> Any:
    from edgeshare.accounting import load_keras_model, quiet_tensorflow

    quiet_tensorflow()
    if hasattr(model, "weights") and hasattr(model, "inputs"):
        return model
    if isinstance(model, (bytes, bytearray)):
        with tempfile.NamedTemporaryFile(suffix=".keras", delete=False) as fh:
            fh.write(model)
            tmp = fh.name
        try:
            return load_keras_model(tmp)
        finally:
            os.unlink(tmp)
    return load_keras_model(model)


def _signature_name(name: str, i: int, taken: set[str]) -> str:
    clean = re.sub(r"[^0-9A-Za-z_]", "_", name) or f"input_{i}"
    if clean[0].isdigit():
        clean = "x" + clean
    base, k = clean, 1
    while clean in taken:
        clean = f"{base}_{k}"
        k += 1
    taken.add(clean)
    return clean


@dataclass
class _Prepared:
    model: Any
    specs: list[tuple[str, tuple[int, ...], str]]
    names: list[str]  # signature input names, in model input order
    calibration: list[np.ndarray]
    calibration_source: str
    samples: list[np.ndarray]
    reference: list[np.ndarray]
    warnings: list[str]


def _prepare(
    model: Any, calibration: Any, sample_inputs: Any, batch_size: int, need_calibration: bool
) -> _Prepared:
    from edgeshare.accounting import call_model, input_specs

    from .data import as_input_list, load_npz, random_inputs

    m = _resolve_model(model)
    specs = input_specs(m, batch_size)
    taken: set[str] = set()
    names = [_signature_name(n, i, taken) for i, (n, _, _) in enumerate(specs)]
    notes: list[str] = []
    if calibration is None:
        cal, source = None, "none"
    elif isinstance(calibration, (str, os.PathLike)):
        cal, source = load_npz(calibration, specs), os.fspath(calibration)
    else:
        cal, source = as_input_list(calibration, specs, "calibration"), "given arrays"
    if sample_inputs is not None:
        samples = as_input_list(sample_inputs, specs, "sample_inputs")
    elif cal is not None:
        samples = cal
    else:
        samples = random_inputs(m, specs, NUMERICS_SAMPLES)
        notes.append("no sample inputs: numerics were checked on random inputs")
    if cal is None and need_calibration:
        cal = random_inputs(m, specs, 64, seed=1)
        source = "random"
        notes.append(
            "int8 calibrated on RANDOM inputs: pass --calibration FILE.npz (or calibration=...) "
            "with real samples, or the quantization ranges will not fit real data"
        )
        warnings.warn(notes[-1], stacklevel=3)
    samples = [x[:NUMERICS_SAMPLES] for x in samples]
    ref = call_model(m, samples)
    ref_list = [np.asarray(y) for y in (ref if isinstance(ref, (list, tuple)) else
                                       (list(ref.values()) if isinstance(ref, dict) else [ref]))]
    return _Prepared(m, specs, names, cal or [], source, samples, ref_list, notes)


def _check_int8_convertible(model: Any) -> None:
    """TF 2.21's int8 converter crashes the process (SIGSEGV) on a Keras 3 RNN that runs as a loop:
    refuse it with a clear message instead (measured; pinned in tests/models/test_shared_rnn_digits.py)."""
    import keras

    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.RNN) and not getattr(layer, "unroll", False):
            raise InvalidInputError(
                f"full-integer (int8) TFLite conversion of a rolled RNN crashes TensorFlow 2.21's converter; "
                f"build the RNN with unroll=True (or export dynamic / fp16). Received: layer={layer.name}",
                getattr(model, "name", None),
            )


def _tflite_bytes(p: _Prepared, quantize: str) -> bytes:
    """Convert with TFLiteConverter from a concrete function with static batch-1 input specs."""
    import keras
    import tensorflow as tf

    from edgeshare.accounting import call_model

    from ._quiet import quiet_fds

    tf_specs = [tf.TensorSpec(shape, dtype, name=n) for (_, shape, dtype), n in zip(p.specs, p.names)]

    def serve(*xs: Any) -> dict[str, Any]:
        y = call_model(p.model, list(xs))
        ys = list(y.values()) if isinstance(y, dict) else (list(y) if isinstance(y, (list, tuple)) else [y])
        return {f"output_{i}": t for i, t in enumerate(ys)}

    with quiet_fds(), tempfile.TemporaryDirectory() as saved:
        # Through a SavedModel, as TFLiteConverter.from_keras_model does: from_concrete_functions
        # would keep Keras 3 variables as READ_VARIABLE ops instead of freezing them into buffers.
        archive = keras.export.ExportArchive()
        archive.track(p.model)
        archive.add_endpoint("serving_default", serve, input_signature=tf_specs)
        archive.write_out(saved, verbose=False)
        conv = tf.lite.TFLiteConverter.from_saved_model(saved, signature_keys=["serving_default"])
        return convert(conv, p, quantize, ["serving_default"])


def convert(conv: Any, p: _Prepared, quantize: str, signature_keys: list[str]) -> bytes:
    """Set `conv` (a TFLiteConverter) up for `quantize` and convert. int8 is full integer, calibrated on
    `p.calibration` for every signature, with int8 I/O for float inputs and outputs."""
    import tensorflow as tf

    if quantize == "int8":
        _check_int8_convertible(p.model)
    if quantize != "none":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "fp16":
        conv.target_spec.supported_types = [tf.float16]
    if quantize == "int8":
        cal = p.calibration
        several = len(signature_keys) > 1

        def representative() -> Any:
            # One signature: input dicts; several: (signature key, inputs) pairs.
            for key in signature_keys:
                for i in range(cal[0].shape[0]):
                    sample = {n: x[i : i + 1] for n, x in zip(p.names, cal)}
                    yield (key, sample) if several else sample

        conv.representative_dataset = representative
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if any(np.issubdtype(np.dtype(d), np.floating) for _, _, d in p.specs):
            conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    try:
        return bytes(conv.convert())
    except Exception as exc:
        msg = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
        raise InvalidInputError(f"TFLite conversion ({quantize}) failed: {msg[:300]}", p.model.name) from exc


def _versions() -> dict[str, str]:
    out = {}
    for mod in ("tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "ai_edge_litert"):
        try:
            from importlib.metadata import version

            out[mod] = version(mod.replace("_", "-"))
        except Exception:
            continue
    return out


def _finish(
    p: _Prepared,
    path: str,
    fmt: str,
    quantize: str,
    route: str,
    started: float,
    run: Callable[..., list[np.ndarray]],
    outputs: list[str],
    report_vr: VerifyReport,
    repair_info: dict[str, Any] | None,
) -> ExportReport:
    actual = run_samples(run, p.samples)
    numerics = compare(p.reference, actual, quantize)
    rep = build_report(p, path, fmt, quantize, route, started, outputs, report_vr, numerics, repair_info)
    rep.write_json()
    return rep


def build_report(
    p: _Prepared,
    path: str,
    fmt: str,
    quantize: str,
    route: str,
    started: float,
    outputs: list[str],
    report_vr: VerifyReport,
    numerics: Numerics | None,
    repair_info: dict[str, Any] | None,
) -> ExportReport:
    """The ExportReport of a written, verified artifact (export_tflite/onnx and multi-signature exports)."""
    from edgeshare.accounting import inspect

    sharing = inspect(p.model)
    return ExportReport(
        artifact=path,
        format=fmt,
        quantize=quantize,
        model=p.model.name,
        file_bytes=report_vr.file_bytes,
        weight_bytes=report_vr.weight_bytes,
        floor_bytes=report_vr.floor_bytes,
        duplicate_bytes=report_vr.duplicate_bytes,
        groups=report_vr.groups,
        largest=report_vr.largest,
        variables=report_vr.variables,
        numerics=numerics,
        params_per_use=sharing.params_per_use,
        unique_params=sharing.unique_params,
        inputs=[{"name": n, "keras_name": s[0], "shape": list(s[1]), "dtype": s[2]} for n, s in zip(p.names, p.specs)],
        outputs=outputs,
        calibration=p.calibration_source,
        route=route,
        seconds=round(time.perf_counter() - started, 3),
        versions=_versions(),
        warnings=p.warnings,
        repair=repair_info,
    )


def _repair_summary(r: Any) -> dict[str, Any]:
    d = r.to_dict()
    return {
        "bytes_saved": d["bytes_saved"],
        "duplicate_bytes_before": d["duplicate_bytes_before"],
        "merged": d["merged"],
        "skipped": d["skipped"],
        "numerics_vs_unrepaired": d["numerics"],
    }


def _check_mode(quantize: str, allowed: tuple[str, ...], fmt: str) -> None:
    if quantize not in allowed:
        raise InvalidInputError(
            f"`quantize` must be one of {', '.join(allowed)} for {fmt}. Received: quantize={quantize!r}"
        )


def export_tflite(
    model: Any,
    path: str | os.PathLike,
    quantize: str = "none",
    *,
    calibration: Any = None,
    sample_inputs: Any = None,
    batch_size: int = 1,
    repair: bool = True,
    progress: Progress | None = None,
    bank_export: str = "materialize",
    lower_grouped_conv: bool = False,
    signatures: Any = None,
) -> ExportReport:
    """Convert a Keras model to .tflite, repair shared weights, verify it and compare it with Keras.

    Args:
        model: a Keras model, a path to a .keras file, or its bytes.
        path: where to write the .tflite file.
        quantize: "none" (float32), "fp16", "dynamic" (int8 weights, float activations) or "int8"
            (full integer, int8 input and output for float tensors, calibrated on `calibration`).
        calibration: representative inputs for int8: an .npz path, arrays or a dict by input name.
            Without it int8 calibrates on random data and warns.
        sample_inputs: inputs for the numerics check (defaults to the calibration data).
        batch_size: the static batch dimension of the exported signature.
        repair: merge the copies of shared weights the converter wrote (see `edgeshare.converters.repair`).
        bank_export: how soft BankConv2D layers are stored: "materialize", "runtime" or
            "runtime_kernel" (see converters/bank_export.py).
        lower_grouped_conv: trace grouped Conv2D as split / conv / concat (see converters/grouped_conv.py).
        signatures: "tasks" (or a dict of name to output names) for one signature per output of a
            multi-task model plus "all" (see converters/multisignature.py).

    Returns:
        An ExportReport, also written to `<path>.report.json`, with the per-delegate op support.
    """
    _check_mode(quantize, TFLITE_MODES, "tflite")
    if signatures is not None:  # issue 5 hook: multi-signature export
        from .multisignature import export_tflite_signatures

        return export_tflite_signatures(
            model, path, quantize, signatures=signatures, calibration=calibration, sample_inputs=sample_inputs,
            batch_size=batch_size, progress=progress, bank_export=bank_export, lower_grouped_conv=lower_grouped_conv,
            repair=repair,
        )
    say = progress or (lambda _m: None)
    started = time.perf_counter()
    say("preparing")
    p = _prepare(model, calibration, sample_inputs, batch_size, need_calibration=quantize == "int8")
    say(f"converting to TFLite ({quantize})")
    from .bank_export import convert_with_layer_forms  # issue 5 hook

    data = convert_with_layer_forms(p, quantize, _tflite_bytes, bank_export, lower_grouped_conv)
    repair_info = None
    if repair:
        say("repairing shared weights")
        from .repair import repair as run_repair

        rr = run_repair(data)
        if rr.data is None:
            raise InvalidInputError("the repair pass returned no model", p.model.name)
        data = rr.data
        repair_info = _repair_summary(rr)
    out = os.fspath(path)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as fh:
        fh.write(data)
    say("verifying")
    vr = verify(out, model=p.model)
    say("checking numerics")
    from .runtime import TFLiteRunner

    runner = TFLiteRunner(out)
    outputs = _numeric_order(runner.output_names)
    run = _in_model_order(runner, p.names, outputs)

    route = "Keras ExportArchive -> TFLiteConverter" + (" -> edgeshare repair" if repair else "")
    rep = _finish(p, out, "tflite", quantize, route, started, run, outputs, vr, repair_info)
    from .delegates import delegate_support  # issue 5 hook

    rep.delegates = delegate_support(out).to_dict()
    rep.write_json()
    return rep


def _in_model_order(runner: Any, inputs: list[str], outputs: list[str]) -> Callable[..., list[np.ndarray]]:
    """Call `runner` with inputs given in the Keras model's order; outputs come back in `outputs` order."""
    order = [runner.input_names.index(n) for n in inputs]
    out_index = [runner.output_names.index(n) for n in outputs]

    def run(*xs: np.ndarray) -> list[np.ndarray]:
        feeds: list[Any] = [None] * len(xs)
        for i, j in enumerate(order):
            feeds[j] = xs[i]
        ys = runner(*feeds)
        return [ys[k] for k in out_index]

    return run


def _numeric_order(names: list[str]) -> list[str]:
    """output_0, output_1, ..., output_10 in index order (signatures list them alphabetically)."""

    def key(n: str) -> tuple[int, str]:
        m = re.search(r"(\d+)$", n)
        return (int(m.group(1)) if m else 1 << 30, n)

    return sorted(names, key=key)


def _rename_onnx_io(model: Any, renames: dict[str, str]) -> None:
    g = model.graph
    for coll in (g.input, g.output):
        for vi in coll:
            if vi.name in renames:
                vi.name = renames[vi.name]
    for node in g.node:
        for i, n in enumerate(node.input):
            if n in renames:
                node.input[i] = renames[n]
        for i, n in enumerate(node.output):
            if n in renames:
                node.output[i] = renames[n]


def export_onnx(
    model: Any,
    path: str | os.PathLike,
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
    signatures: Any = None,
) -> ExportReport:
    """Convert a Keras model to .onnx through its float TFLite form, repair, verify, compare with Keras.

    The route is Keras -> TFLite (float32) -> tf2onnx.convert.from_tflite. Measured with tf2onnx 1.17
    at opsets 15-18, `Model.export(format="onnx")` and `tf2onnx.convert.from_keras` both leave an
    unconverted StatefulPartitionedCall for a Keras 3 `Conv2D(groups=...)`, which onnxruntime rejects;
    the TFLite route converts grouped convolutions to a native `Conv` with `group`.

    `quantize="dynamic"` runs onnxruntime's `quantize_dynamic` (int8 weights) and `"int8"` its
    `quantize_static` (QDQ, int8 weights and activations, calibrated on `calibration`), each on the
    repaired float model; the repair pass then runs again on the quantized file, because the quantizer
    writes a second, transposed copy of a tied embedding for MatMulInteger.
    """
    _check_mode(quantize, ONNX_MODES, "onnx")
    if signatures is not None:  # issue 5 hook: all outputs in `path`, plus one pruned file per task
        from .multisignature import export_onnx_signatures

        return export_onnx_signatures(
            model, path, quantize, signatures=signatures, opset=opset, calibration=calibration,
            sample_inputs=sample_inputs, batch_size=batch_size, progress=progress, bank_export=bank_export,
            lower_grouped_conv=lower_grouped_conv, repair=repair,
        )
    say = progress or (lambda _m: None)
    started = time.perf_counter()
    say("preparing")
    p = _prepare(model, calibration, sample_inputs, batch_size, need_calibration=quantize == "int8")
    say("converting to TFLite (float32)")
    from .bank_export import convert_with_layer_forms  # issue 5 hook

    tfl = convert_with_layer_forms(p, "none", _tflite_bytes, bank_export, lower_grouped_conv)
    say(f"converting to ONNX (opset {opset})")
    import onnx

    from ._quiet import quiet_fds
    from .source import open_source
    from .tflite_file import read_tflite

    out = os.fspath(path)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    repair_info: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory() as tmp:
        tpath = os.path.join(tmp, "model.tflite")
        with open(tpath, "wb") as fh:
            fh.write(tfl)
        src = open_source(tpath)
        try:
            parsed = read_tflite(src)
            sig = parsed.signatures[0]
            sg = parsed.subgraphs[sig.subgraph]
            tensor_names = {k: sg.tensors[v].name for k, v in sig.inputs.items()}
            out_names = {k: sg.tensors[v].name for k, v in sig.outputs.items()}
        finally:
            src.close()
        try:
            import tf2onnx

            from .onnx_handlers import CUSTOM_OP_HANDLERS

            with quiet_fds():
                proto, _ = tf2onnx.convert.from_tflite(tpath, opset=opset, custom_op_handlers=CUSTOM_OP_HANDLERS)
        except Exception as exc:
            msg = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
            raise InvalidInputError(f"ONNX conversion failed: {msg[:300]}", p.model.name) from exc
        renames = {v: k for k, v in tensor_names.items()}
        renames.update({v: k for k, v in out_names.items()})
        _rename_onnx_io(proto, renames)
        stage = os.path.join(tmp, "float.onnx")
        onnx.save(proto, stage)
        if repair:
            say("repairing shared weights")
            from .repair import repair as run_repair

            fixed = os.path.join(tmp, "float_repaired.onnx")
            rr = run_repair(stage, fixed)
            repair_info = _repair_summary(rr)
            stage = fixed
        if quantize != "none":
            say(f"quantizing ({quantize}) with onnxruntime.quantization")
            qpath = os.path.join(tmp, "quantized.onnx")
            _ort_quantize(stage, qpath, quantize, p)
            stage = qpath
            if repair:
                from .repair import repair as run_repair

                rr = run_repair(stage, os.path.join(tmp, "quantized_repaired.onnx"))
                stage = os.path.join(tmp, "quantized_repaired.onnx")
                q = _repair_summary(rr)
                if repair_info is not None:
                    repair_info = {
                        "bytes_saved": repair_info["bytes_saved"] + q["bytes_saved"],
                        "duplicate_bytes_before": q["duplicate_bytes_before"],
                        "merged": repair_info["merged"] + q["merged"],
                        "skipped": repair_info["skipped"] + q["skipped"],
                        "numerics_vs_unrepaired": q["numerics_vs_unrepaired"],
                        "float_stage": repair_info,
                    }
        shutil.copyfile(stage, out)
    say("verifying")
    vr = verify(out, model=p.model)
    say("checking numerics")
    from .runtime import OnnxRunner

    runner = OnnxRunner(out)
    outputs = _numeric_order(list(out_names))
    run = _in_model_order(runner, p.names, outputs)

    route = f"Keras -> TFLite f32 -> tf2onnx.from_tflite (opset {opset})"
    if quantize != "none":
        route += f" -> onnxruntime.quantization ({quantize})"
    if repair:
        route += " -> edgeshare repair"
    return _finish(p, out, "onnx", quantize, route, started, run, outputs, vr, repair_info)


def _ort_quantize(src: str, dst: str, mode: str, p: _Prepared) -> None:
    import logging

    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    from ._quiet import quiet_fds

    logging.getLogger().setLevel(logging.ERROR)  # the quantizer's "consider pre-processing" advice
    with quiet_fds():
        if mode == "dynamic":
            quantize_dynamic(src, dst, weight_type=QuantType.QInt8)
            return
        cal = p.calibration

        class Reader(CalibrationDataReader):
            def __init__(self) -> None:
                self.items = iter(
                    [{n: x[i : i + 1] for n, x in zip(p.names, cal)} for i in range(cal[0].shape[0])]
                )

            def get_next(self) -> dict[str, np.ndarray] | None:
                return next(self.items, None)

        quantize_static(src, dst, Reader(), quant_format=QuantFormat.QDQ, weight_type=QuantType.QInt8,
                        activation_type=QuantType.QInt8, per_channel=False)
