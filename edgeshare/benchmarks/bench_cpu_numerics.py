"""How close is each exported file to the float model on each CPU, and which onnxruntime dynamic
quantization setting stays close everywhere? (issue 14, item 2)

onnxruntime's dynamic quantization (U8S8: uint8 activations, int8 weights) runs on different integer
kernels per CPU: VNNI on recent x86, a saturating AVX2 path (vpmaddubsw) on x86 without VNNI, and NEON
(dot product) on aarch64. This script quantizes each reference model's float ONNX export
(build/<model>/<model>.onnx, from `make export`) with several settings, adds the exported files
themselves, and runs every file on the same seeded inputs (the first --samples of the model's
calibration.npz) on each CPU:

- native: this machine;
- haswell: this x86 program under `qemu-x86_64-static -cpu Haswell` (AVX2 and FMA, no AVX-512, no VNNI);
- aarch64: inside the emulated arm64 root of `make test-arm` (tests/arm/run_in_root.sh), needs root.

It prints the worst per-sample cosine against the float reference (the f32 ONNX export run natively;
its own cosine against Keras is in its report.json), per setting, file and CPU, with the file size and
the native p50 latency (one thread). Emulated CPUs give numerics only: their latency means nothing.

    python -m edgeshare.benchmarks.bench_cpu_numerics [--build build] [--models tied_lm,albert_tiny]
        [--cpus native,haswell,aarch64] [--samples 8] [--work build/cpu_numerics]

`--run-here WORK LABEL` is the child mode each CPU runs: it needs only numpy, ai-edge-litert and
onnxruntime, so it runs on a board as is.
"""

from __future__ import annotations

import argparse
import functools
import glob
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

# onnxruntime.quantization.quantize_dynamic settings compared (keyword arguments); "weight_only" and
# "static_qdq_*" (quantize_static, calibrated on 32 samples) are built differently (see _quantize).
SETTINGS: dict[str, dict[str, Any]] = {
    "u8s8": {"weight_type": "QInt8"},  # the exporter's current setting
    "u8s8_reduce_range": {"weight_type": "QInt8", "reduce_range": True},
    "u8s8_per_channel": {"weight_type": "QInt8", "per_channel": True},
    "u8s8_per_channel_reduce_range": {"weight_type": "QInt8", "per_channel": True, "reduce_range": True},
    "u8u8": {"weight_type": "QUInt8"},
    "u8u8_per_channel": {"weight_type": "QUInt8", "per_channel": True},
    "weight_only": {},  # int8 weights + DequantizeLinear, float compute (same bytes as dynamic)
    "static_qdq_s8s8": {},  # calibrated static quantization, QDQ, int8 activations and weights
    "static_qdq_s8s8_reduce_range": {"reduce_range": True},  # the same with 7-bit weights
}


# ---- running a file on this CPU (the light runtime only) -----------------------------------------------

def _quantize_input(x: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    scale, zero = detail["quantization"]
    dtype = detail["dtype"]
    if scale == 0 or np.issubdtype(x.dtype, np.integer):
        return x.astype(dtype)
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zero), info.min, info.max).astype(dtype)


def run_tflite(path: str, inputs: dict[str, np.ndarray],
               threads: int = 1) -> tuple[dict[str, tuple[np.ndarray, float, int]], Callable[[], Any]]:
    """Every signature of a .tflite on the LiteRT Interpreter (default XNNPACK delegate), one sample at a
    time, inputs by name. Returns {"signature/output": (raw outputs stacked, scale, zero point)} and a
    callable that runs the first signature once on the first sample (for timing)."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=path, num_threads=threads)
    results: dict[str, tuple[np.ndarray, float, int]] = {}
    calls: list[Callable[[], Any]] = []
    for sig, spec in it.get_signature_list().items():
        runner = it.get_signature_runner(sig)
        ins, outs = runner.get_input_details(), runner.get_output_details()
        missing = [n for n in spec["inputs"] if n not in inputs]
        if missing:
            raise KeyError(f"signature {sig!r} takes inputs {missing} that the inputs do not hold. "
                           f"Received: inputs={sorted(inputs)}")
        stacked: dict[str, list[np.ndarray]] = {n: [] for n in spec["outputs"]}
        for i in range(len(next(iter(inputs.values())))):
            got = runner(**{n: _quantize_input(inputs[n][i:i + 1], ins[n]) for n in spec["inputs"]})
            for n in spec["outputs"]:
                stacked[n].append(np.asarray(got[n]).copy())
        for n in spec["outputs"]:
            scale, zero = outs[n]["quantization"]
            results[f"{sig}/{n}"] = (np.concatenate(stacked[n]), float(scale), int(zero))
        first = {n: _quantize_input(inputs[n][:1], ins[n]) for n in spec["inputs"]}
        calls.append(functools.partial(runner, **first))
    return results, calls[0]


def run_onnx(path: str, inputs: dict[str, np.ndarray],
             threads: int = 1) -> tuple[dict[str, tuple[np.ndarray, float, int]], Callable[[], Any]]:
    """An .onnx on onnxruntime's CPU provider, one sample at a time, inputs by name (see run_tflite)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    sess = ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
    types = {"tensor(float)": np.float32, "tensor(int32)": np.int32, "tensor(int64)": np.int64,
             "tensor(int8)": np.int8, "tensor(uint8)": np.uint8}
    names = [o.name for o in sess.get_outputs()]
    stacked: dict[str, list[np.ndarray]] = {n: [] for n in names}

    def feeds(i: int) -> dict[str, np.ndarray]:
        return {m.name: inputs[m.name][i:i + 1].astype(types.get(m.type, inputs[m.name].dtype))
                for m in sess.get_inputs()}

    for i in range(len(next(iter(inputs.values())))):
        for n, y in zip(names, sess.run(None, feeds(i))):
            stacked[n].append(np.asarray(y))
    first = feeds(0)
    return {n: (np.concatenate(v), 0.0, 0) for n, v in stacked.items()}, lambda: sess.run(None, first)


def run_file(path: str, inputs: dict[str, np.ndarray],
             threads: int = 1) -> tuple[dict[str, tuple[np.ndarray, float, int]], Callable[[], Any]]:
    return (run_tflite if path.endswith(".tflite") else run_onnx)(path, inputs, threads)


def p50_ms(call: Callable[[], Any], warmup: int = 3, runs: int = 20) -> float:
    for _ in range(warmup):
        call()
    lat = []
    for _ in range(runs):
        t0 = time.perf_counter()
        call()
        lat.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(lat))


def dequantized(y: np.ndarray, scale: float, zero: int) -> np.ndarray:
    if scale > 0 and np.issubdtype(y.dtype, np.integer):
        return (y.astype(np.float32) - zero) * scale
    return y.astype(np.float32)


def per_sample_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine of each sample (axis 0), each flattened; 1 where both are zero."""
    a2 = a.reshape(len(a), -1).astype(np.float64)
    b2 = b.reshape(len(b), -1).astype(np.float64)
    den = np.linalg.norm(a2, axis=1) * np.linalg.norm(b2, axis=1)
    same = np.abs(a2 - b2).max(axis=1) == 0
    return np.where(den > 0, (a2 * b2).sum(axis=1) / np.where(den > 0, den, 1.0), np.where(same, 1.0, 0.0))


def run_here(work: str, label: str, timing: bool) -> int:
    """Child mode: run every file under WORK on this CPU; write WORK/out/LABEL.npz."""
    arrays: dict[str, np.ndarray] = {}
    index: dict[str, Any] = {}
    for folder in sorted(glob.glob(os.path.join(work, "files", "*"))):
        with np.load(os.path.join(folder, "inputs.npz")) as f:
            inputs = {k: f[k] for k in f.files}
        for path in sorted(glob.glob(os.path.join(folder, "*.onnx")) + glob.glob(os.path.join(folder, "*.tflite"))):
            rel = os.path.relpath(path, os.path.join(work, "files"))
            entry: dict[str, Any] = {}
            try:
                outs, call = run_file(path, inputs)
                if timing:
                    entry["p50_ms"] = p50_ms(call)
            except Exception as exc:  # reported in the table
                entry["error"] = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:200]}"
            else:
                # Every output by its own name (a multi-signature .tflite names the same output in several
                # signatures with the same value: the first is kept).
                names = []
                for key, (y, scale, zero) in outs.items():
                    name = key.split("/", 1)[-1]
                    if name not in names:
                        names.append(name)
                        arrays[f"{rel}::{name}"] = dequantized(y, scale, zero)
                entry["outputs"] = names
            index[rel] = entry
    meta = {"label": label, "machine": platform.machine(), "files": index}
    arrays["__index__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    os.makedirs(os.path.join(work, "out"), exist_ok=True)
    np.savez(os.path.join(work, "out", f"{label}.npz"), **arrays)  # type: ignore[arg-type]  # numpy's stub reads a key as allow_pickle
    return 0


# ---- preparing the files (host, needs onnxruntime.quantization) ----------------------------------------

def _weight_only(src: str, dst: str) -> None:
    """Every float initializer with >= 2 dims read by MatMul/Gemm/Gather/Conv stored as int8 (symmetric,
    per tensor) behind a DequantizeLinear: dynamic-range bytes, float arithmetic."""
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.load(src)
    g = m.graph
    readers = {"MatMul", "Gemm", "Gather", "Conv"}
    wanted = {i for n in g.node if n.op_type in readers for i in n.input}
    keep = []
    nodes = []
    for init in g.initializer:
        w = numpy_helper.to_array(init)
        if init.name not in wanted or w.dtype != np.float32 or w.ndim < 2:
            keep.append(init)
            continue
        scale = np.float32(max(float(np.abs(w).max()), 1e-12) / 127.0)
        q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
        keep += [numpy_helper.from_array(q, init.name + "_q"),
                 numpy_helper.from_array(np.array(scale), init.name + "_s"),
                 numpy_helper.from_array(np.array(0, np.int8), init.name + "_z")]
        nodes.append(helper.make_node("DequantizeLinear", [init.name + "_q", init.name + "_s", init.name + "_z"],
                                      [init.name], name=init.name + "_dq"))
    del g.initializer[:]
    g.initializer.extend(keep)
    old = list(g.node)
    del g.node[:]
    g.node.extend(nodes + old)
    onnx.save(m, dst)


def _quantize(src: str, dst: str, setting: str, cal: dict[str, np.ndarray]) -> None:
    import logging

    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    logging.getLogger().setLevel(logging.ERROR)
    if setting == "weight_only":
        _weight_only(src, dst)
        return
    if setting.startswith("static_qdq_s8s8"):
        n = len(next(iter(cal.values())))

        class Reader(CalibrationDataReader):
            def __init__(self) -> None:
                self.items = iter([{k: v[i:i + 1] for k, v in cal.items()} for i in range(n)])

            def get_next(self) -> dict[str, np.ndarray] | None:
                return next(self.items, None)

        quantize_static(src, dst, Reader(), quant_format=QuantFormat.QDQ, weight_type=QuantType.QInt8,
                        activation_type=QuantType.QInt8, per_channel=False, **SETTINGS[setting])
        return
    kw = dict(SETTINGS[setting])
    kw["weight_type"] = getattr(QuantType, kw["weight_type"])
    quantize_dynamic(src, dst, **kw)


def prepare(build: str, models: list[str] | None, samples: int, work: str, settings: list[str]) -> list[str]:
    found = sorted(os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(build, "*", "calibration.npz")))
    if models:
        unknown = [m for m in models if m not in found]
        if unknown:
            raise SystemExit(f"no export of {unknown} in {build}/ (run make export). Received: models={models}")
        found = models
    if not found:
        raise SystemExit(f"no reference exports in {build}/; run make export first. Received: build={build}")
    shutil.rmtree(os.path.join(work, "files"), ignore_errors=True)
    shutil.rmtree(os.path.join(work, "out"), ignore_errors=True)
    for name in found:
        src_dir = os.path.join(build, name)
        dst = os.path.join(work, "files", name)
        os.makedirs(dst)
        with np.load(os.path.join(src_dir, "calibration.npz")) as f:
            cal = {k: f[k] for k in f.files}
        np.savez(os.path.join(dst, "inputs.npz"), **{k: v[:samples] for k, v in cal.items()})
        for f in glob.glob(os.path.join(src_dir, "*.tflite")) + glob.glob(os.path.join(src_dir, "*.onnx")):
            shutil.copyfile(f, os.path.join(dst, "export__" + os.path.basename(f)))
        float_onnx = os.path.join(src_dir, f"{name}.onnx")
        if os.path.exists(float_onnx):
            for s in settings:
                _quantize(float_onnx, os.path.join(dst, f"ort__{s}.onnx"), s, {k: v[:32] for k, v in cal.items()})
    return found


# ---- the CPUs -----------------------------------------------------------------------------------------

def cpu_command(label: str, work: str, repo: str) -> list[str] | str:
    """argv that runs the child mode on CPU `label`, or why it cannot run here."""
    me = ["-m", "edgeshare.benchmarks.bench_cpu_numerics", "--run-here", work, label]
    if label == "native":
        return [sys.executable, *me, "--timing"]
    if label == "haswell":
        qemu = shutil.which("qemu-x86_64-static") or shutil.which("qemu-x86_64")
        if platform.machine() != "x86_64" or not qemu:
            return "needs an x86_64 host with qemu-x86_64-static (Debian: qemu-user-static)"
        return [qemu, "-cpu", "Haswell", sys.executable, *me]
    if label == "aarch64":
        script = os.path.join(repo, "tests", "arm", "run_in_root.sh")
        if not os.path.exists(script):
            return f"needs the checkout's {script}"
        return ["bash", script, "--bind", work, "python3", *me]
    return f"unknown CPU {label!r}; expected native, haswell or aarch64"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m edgeshare.benchmarks.bench_cpu_numerics",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--models", default=None, help="comma-separated (default: every exported model)")
    ap.add_argument("--cpus", default="native,haswell,aarch64")
    ap.add_argument("--settings", default=",".join(SETTINGS))
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--work", default=None, help="default BUILD/cpu_numerics")
    ap.add_argument("--run-here", nargs=2, metavar=("WORK", "LABEL"), help=argparse.SUPPRESS)
    ap.add_argument("--timing", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.run_here:
        return run_here(a.run_here[0], a.run_here[1], a.timing)
    settings = [s for s in a.settings.split(",") if s]
    bad = [s for s in settings if s not in SETTINGS]
    if bad:
        raise SystemExit(f"unknown setting(s) {bad}; expected some of {', '.join(SETTINGS)}. Received: settings={bad}")
    work = os.path.abspath(a.work or os.path.join(a.build, "cpu_numerics"))
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from edgeshare.benchmarks._common import machine_line

    print(f"bench_cpu_numerics | {machine_line()}")
    t0 = time.monotonic()
    models = prepare(a.build, a.models.split(",") if a.models else None, a.samples, work, settings)
    print(f"prepared {len(models)} models x {len(settings)} settings + the exports in {work} "
          f"({time.monotonic() - t0:.0f} s)")
    cpus = [c for c in a.cpus.split(",") if c]
    if "native" not in cpus:
        cpus.insert(0, "native")  # the reference and the latency come from it
    ran = []
    for label in cpus:
        cmd = cpu_command(label, work, repo)
        if isinstance(cmd, str):
            print(f"{label}: not run: {cmd}")
            continue
        t = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not os.path.exists(os.path.join(work, "out", f"{label}.npz")):
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
            print(f"{label}: failed (exit {proc.returncode}): " + " | ".join(tail))
            continue
        print(f"{label}: ran in {time.monotonic() - t:.0f} s")
        ran.append(label)
    report(work, models, ran, a.build)
    return 0


def report(work: str, models: list[str], cpus: list[str], build: str) -> None:
    outs = {c: np.load(os.path.join(work, "out", f"{c}.npz")) for c in cpus}
    idx = {c: json.loads(bytes(outs[c]["__index__"]).decode()) for c in cpus}
    head = "".join(f" {c + ' (' + idx[c]['machine'] + ')':>20}" for c in cpus)
    print("\nworst per-sample cosine (over samples and outputs, matched by name) against the float reference: "
          "the f32 ONNX export run natively; size; native p50 (1 thread)")
    print(f"{'model':24} {'file':40} {'KiB':>7} {'p50 ms':>7}{head}")
    summary: dict[str, dict[str, Any]] = {}
    for name in models:
        ref_rel = f"{name}/export__{name}.onnx"
        ref_entry = idx["native"]["files"].get(ref_rel, {})
        if "outputs" not in ref_entry:
            print(f"{name:24} no float ONNX export that ran: no reference")
            continue
        files = sorted(idx["native"]["files"])
        for rel in [f for f in files if f.startswith(name + "/")]:
            entry = idx["native"]["files"][rel]
            size = os.path.getsize(os.path.join(work, "files", rel)) / 1024
            p50 = f"{entry['p50_ms']:7.3f}" if "p50_ms" in entry else f"{'-':>7}"
            cells, vals = "", []
            for c in cpus:
                e = idx[c]["files"].get(rel, {"error": "not run"})
                cos = [float(per_sample_cosine(outs["native"][f"{ref_rel}::{o}"], outs[c][f"{rel}::{o}"]).min())
                       for o in e.get("outputs", []) if o in ref_entry["outputs"]
                       and outs[c][f"{rel}::{o}"].shape == outs["native"][f"{ref_rel}::{o}"].shape]
                cells += f" {min(cos):20.6f}" if cos else f" {'error' if 'error' in e else 'no output matches':>20}"
                vals.append(min(cos) if cos else float("nan"))
            print(f"{name:24} {rel.split('/', 1)[1]:40} {size:7.0f} {p50}{cells}")
            setting = rel.split("/", 1)[1].removeprefix("ort__").removesuffix(".onnx")
            if rel.split("/", 1)[1].startswith("ort__"):
                s = summary.setdefault(setting, {"cos": {c: [] for c in cpus}, "p50_ratio": []})
                for c, v in zip(cpus, vals):
                    s["cos"][c].append(v)
                base = idx["native"]["files"].get(f"{name}/ort__u8s8.onnx", {}).get("p50_ms")
                if base and "p50_ms" in entry:
                    s["p50_ratio"].append(entry["p50_ms"] / base)
    print("\nper setting: worst cosine over the models on each CPU (nan: a model failed to run), "
          "and the native p50 relative to u8s8 (geometric mean over the models)")
    print(f"{'setting':32}" + "".join(f" {c:>10}" for c in cpus) + f" {'p50/u8s8':>9}")
    for setting, s in summary.items():
        worst = "".join(f" {min(v) if not any(np.isnan(v)) else float('nan'):10.6f}" for v in s["cos"].values())
        ratio = float(np.exp(np.mean(np.log(s["p50_ratio"])))) if s["p50_ratio"] else float("nan")
        print(f"{setting:32}{worst} {ratio:9.2f}")
    for c in cpus:
        errs = {k: v["error"] for k, v in idx[c]["files"].items() if "error" in v}
        for k, v in errs.items():
            print(f"{c}: {k}: {v}")


if __name__ == "__main__":
    sys.exit(main())
