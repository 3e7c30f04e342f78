"""Benchmark one .tflite or .onnx file in this process and print the result as JSON.

This is what runs on the target (the host, or a board over SSH, with only the light runtime
installed): `python -m edgeshare.bench.runner MODEL [--threads N] [--warmup N] [--runs N]
[--delegate cpu|xnnpack] [--out RESULT.json]`. It imports LiteRT or onnxruntime and numpy, never
TensorFlow. `--delegate xnnpack` (the default for .tflite) is LiteRT's default CPU path; `cpu` is its
built-in kernels without the default XNNPACK delegate. .onnx runs on onnxruntime's CPUExecutionProvider
(`cpu`). The timed loop is a bare `invoke()` (or `session.run`) between two `perf_counter_ns` calls,
with the inputs set once before.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from typing import Any

import numpy as np

from edgeshare.bench.stats import summarize


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return float("nan")


def _peak_rss_mb() -> float:
    """Peak RSS of this process. Linux keeps ru_maxrss across fork and exec, so a runner started by
    a large parent (one that imported TensorFlow) would report the parent's size; VmHWM belongs to
    this process's own address space."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024.0 if sys.platform != "darwin" else peak / 2**20


def _fill(shape: Any, dtype: Any, rng: np.random.Generator) -> np.ndarray:
    shape = [int(d) if int(d) > 0 else 1 for d in shape]
    dt = np.dtype(dtype)
    if np.issubdtype(dt, np.integer):
        # Zeros: any index is valid for an embedding lookup, and int8 zero is mid-range.
        return np.zeros(shape, dt)
    if dt == np.bool_:
        return np.zeros(shape, dt)
    return rng.standard_normal(shape).astype(dt)


def _progress(done: int, total: int) -> None:
    if os.environ.get("EDGESHARE_PROGRESS"):
        sys.stderr.write(f"edgeshare-progress {done} {total}\n")
        sys.stderr.flush()


RUNNER_DELEGATES = {"tflite": ("xnnpack", "cpu"), "onnx": ("cpu",)}


def bench_tflite(path: str, threads: int | None, warmup: int, runs: int, delegate: str = "xnnpack",
                 signature: str | None = None) -> dict[str, Any]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    rng = np.random.default_rng(0)
    base = _rss_mb()
    kwargs: dict[str, Any] = {"model_path": path}
    if threads:
        kwargs["num_threads"] = threads
    if delegate == "cpu":
        kwargs["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    t0 = time.perf_counter_ns()
    interp = Interpreter(**kwargs)
    interp.allocate_tensors()
    init_ms = (time.perf_counter_ns() - t0) / 1e6
    key = pick_signature(interp.get_signature_list() or {}, signature)
    if key is None:
        for d in interp.get_input_details():
            interp.set_tensor(d["index"], _fill(d["shape"], d["dtype"], rng))
        invoke = interp.invoke
    else:
        # A multi-signature file (one signature per task, plus "all"): time the chosen signature's
        # subgraph. The first call sets its inputs; the loop then invokes that subgraph alone, as
        # interp.invoke() does for the primary one.
        sig = interp.get_signature_runner(key)
        sig(**{n: _fill(d["shape"], d["dtype"], rng) for n, d in sig.get_input_details().items()})
        wrapper, index = sig._interpreter_wrapper, sig._subgraph_index

        def invoke() -> None:
            wrapper.Invoke(index)

    t0 = time.perf_counter_ns()
    invoke()
    first_ms = (time.perf_counter_ns() - t0) / 1e6
    detail = "LiteRT built-in kernels" if delegate == "cpu" else "XNNPACK (LiteRT default CPU)"
    res = _loop(invoke, warmup, runs, init_ms, first_ms, base, "litert", delegate, detail)
    res["signature"] = key
    return res


def pick_signature(signatures: dict[str, Any], wanted: str | None = None) -> str | None:
    """The signature to time: `wanted`, else "all" (the multi-task signature), else the only one; None
    means the primary subgraph (what interp.invoke() runs)."""
    if wanted is not None:
        if wanted not in signatures:
            raise ValueError(f"no signature {wanted!r}; the model has {sorted(signatures)}. "
                             f"Received: signature={wanted}")
        return wanted
    if len(signatures) > 1 and "all" in signatures:
        return "all"
    return None


def bench_onnx(path: str, threads: int | None, warmup: int, runs: int) -> dict[str, Any]:
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    base = _rss_mb()
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = threads
    t0 = time.perf_counter_ns()
    sess = ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
    init_ms = (time.perf_counter_ns() - t0) / 1e6
    types = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(int32)": np.int32,
             "tensor(int64)": np.int64, "tensor(int8)": np.int8, "tensor(uint8)": np.uint8,
             "tensor(double)": np.float64, "tensor(bool)": np.bool_}
    feeds = {i.name: _fill([d if isinstance(d, int) else 1 for d in i.shape], types.get(i.type, np.float32), rng)
             for i in sess.get_inputs()}
    run = sess.run

    def invoke() -> None:
        run(None, feeds)

    t0 = time.perf_counter_ns()
    invoke()
    first_ms = (time.perf_counter_ns() - t0) / 1e6
    return _loop(invoke, warmup, runs, init_ms, first_ms, base, "onnxruntime", "cpu", "CPUExecutionProvider")


def _loop(invoke: Any, warmup: int, runs: int, init_ms: float, first_ms: float, base_rss: float,
          runtime: str, delegate: str, detail: str) -> dict[str, Any]:
    step = max(1, (warmup + runs) // 20)
    for i in range(warmup):
        invoke()
        if i % step == 0:
            _progress(i, warmup + runs)
    lat = []
    clock = time.perf_counter_ns
    for i in range(runs):
        t0 = clock()
        invoke()
        lat.append(clock() - t0)
        if i % step == 0:
            _progress(warmup + i, warmup + runs)
    _progress(warmup + runs, warmup + runs)
    lat_ms = [x / 1e6 for x in lat]
    peak = _peak_rss_mb()
    return {
        "runtime": runtime,
        "delegate": delegate,
        "delegate_detail": detail,
        "init_ms": init_ms,
        "first_ms": first_ms,
        "warmup": warmup,
        "runs": runs,
        **summarize(lat_ms),
        "peak_rss_mb": peak,
        "peak_mem_mb": peak,
        "mem_source": "peak RSS of the benchmark process",
        "model_rss_mb": max(0.0, peak - base_rss),
        "latencies_ms": lat_ms,
    }


def run(path: str, threads: int | None = None, warmup: int = 10, runs: int = 100, delegate: str | None = None,
        signature: str | None = None) -> dict[str, Any]:
    with open(path, "rb") as fh:
        head = fh.read(8)
    fmt = "tflite" if head[4:8] == b"TFL3" else "onnx"
    delegate = delegate or RUNNER_DELEGATES[fmt][0]
    if delegate not in RUNNER_DELEGATES[fmt]:
        raise ValueError(f"the {fmt} runner offers delegate(s) {', '.join(RUNNER_DELEGATES[fmt])}. "
                         f"Received: delegate={delegate}")
    if fmt == "tflite":
        res = bench_tflite(path, threads, warmup, runs, delegate, signature)
    else:
        res = bench_onnx(path, threads, warmup, runs)
    res.update(
        {
            "artifact": path,
            "format": fmt,
            "threads": threads,
            "machine": platform.machine(),
            "host": platform.node(),
            "python": platform.python_version(),
        }
    )
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m edgeshare.bench.runner")
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--delegate", default=None, help="xnnpack or cpu for .tflite; cpu for .onnx")
    ap.add_argument("--signature", default=None,
                    help="the .tflite signature to time (default: 'all' in a multi-task file, else the primary one)")
    ap.add_argument("--out", default=None, help="also write the JSON result to this file")
    a = ap.parse_args(argv)
    code = 0
    try:
        res = run(a.model, a.threads, a.warmup, a.runs, a.delegate, a.signature)
    except Exception as exc:  # reported to the parent as one JSON line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        res, code = {"error": f"{type(exc).__name__}: {first}"}, 2
    text = json.dumps(res)
    if a.out:
        with open(a.out, "w") as fh:
            fh.write(text + "\n")
    sys.stdout.write(text + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
