"""Benchmark one .tflite or .onnx file in this process and print the result as JSON.

This is what runs on the target (the host, or a board over SSH, with only the light runtime
installed): `python -m edgeshare.bench.runner MODEL [--threads N] [--warmup N] [--runs N]
[--delegate cpu|xnnpack] [--input-shape NAME=1x16] [--out RESULT.json]`. It runs the model through
`edgeshare.converters.runtime` (LiteRT or onnxruntime and numpy, never TensorFlow). `--delegate xnnpack`
(the default for .tflite) is LiteRT's default CPU path; `cpu` is its built-in kernels without the default
XNNPACK delegate. .onnx runs on onnxruntime's CPUExecutionProvider (`cpu`). The inputs are seeded random
values (ids inside their tables), set once; the timed loop is a bare `invoke()` between two
`perf_counter_ns` calls. An input with dynamic dimensions needs `--input-shape`; the result records the
shapes it ran with.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from edgeshare.bench.names import RUNNER_DELEGATES
from edgeshare.bench.options import parse_input_shape
from edgeshare.bench.stats import summarize
from edgeshare.converters.runtime.base import Runner
from edgeshare.converters.runtime.inputs import random_feeds
from edgeshare.converters.runtime.litert import LiteRTRunner
from edgeshare.converters.runtime.onnxrt import OnnxRunner


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


def _progress(done: int, total: int) -> None:
    if os.environ.get("EDGESHARE_PROGRESS"):
        sys.stderr.write(f"edgeshare-progress {done} {total}\n")
        sys.stderr.flush()


def _feed(runner: Runner, shapes: Mapping[str, Sequence[int]] | None) -> dict[str, list[int]]:
    """Bind seeded random inputs (ids inside their tables) at the given or static shapes; returns the shapes."""
    feeds = random_feeds(runner.inputs, 1, seed=0, shapes=shapes)[0]
    runner.set_inputs({s.name: s.to_stored(feeds[s.name]) for s in runner.inputs})
    return {k: [int(d) for d in v.shape] for k, v in feeds.items()}


def bench_runner(runner: Runner, warmup: int, runs: int, init_ms: float, base_rss: float,
                 shapes: Mapping[str, Sequence[int]] | None, detail: str) -> dict[str, Any]:
    """Time `runner.invoke()` on bound inputs: the first call, then a bare loop."""
    input_shapes = _feed(runner, shapes)
    t0 = time.perf_counter_ns()
    runner.invoke()
    first_ms = (time.perf_counter_ns() - t0) / 1e6
    res = _loop(runner.invoke, warmup, runs, init_ms, first_ms, base_rss, runner.runtime, detail)
    res["input_shapes"] = input_shapes
    return res


def bench_tflite(path: str, threads: int | None, warmup: int, runs: int, delegate: str = "xnnpack",
                 signature: str | None = None, shapes: Mapping[str, Sequence[int]] | None = None) -> dict[str, Any]:
    base = _rss_mb()
    t0 = time.perf_counter_ns()
    # A multi-signature file (one signature per task, plus "all"): the runner picks "all".
    runner = LiteRTRunner(path, signature=signature, num_threads=threads, delegate=delegate)
    init_ms = (time.perf_counter_ns() - t0) / 1e6
    detail = "LiteRT built-in kernels" if delegate == "cpu" else "XNNPACK (LiteRT default CPU)"
    res = bench_runner(runner, warmup, runs, init_ms, base, shapes, detail)
    res["delegate"] = delegate
    res["signature"] = runner.signature
    return res


def bench_onnx(path: str, threads: int | None, warmup: int, runs: int,
               shapes: Mapping[str, Sequence[int]] | None = None) -> dict[str, Any]:
    base = _rss_mb()
    t0 = time.perf_counter_ns()
    runner = OnnxRunner(path, num_threads=threads)
    init_ms = (time.perf_counter_ns() - t0) / 1e6
    res = bench_runner(runner, warmup, runs, init_ms, base, shapes, "CPUExecutionProvider")
    res["delegate"] = "cpu"
    return res


def _loop(invoke: Any, warmup: int, runs: int, init_ms: float, first_ms: float, base_rss: float,
          runtime: str, detail: str) -> dict[str, Any]:
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
        signature: str | None = None, shapes: Mapping[str, Sequence[int]] | None = None) -> dict[str, Any]:
    with open(path, "rb") as fh:
        head = fh.read(8)
    fmt = "tflite" if head[4:8] == b"TFL3" else "onnx"
    delegate = delegate or RUNNER_DELEGATES[fmt][0]
    if delegate not in RUNNER_DELEGATES[fmt]:
        raise ValueError(f"the {fmt} runner offers delegate(s) {', '.join(RUNNER_DELEGATES[fmt])}. "
                         f"Received: delegate={delegate}")
    if fmt == "tflite":
        res = bench_tflite(path, threads, warmup, runs, delegate, signature, shapes)
    else:
        res = bench_onnx(path, threads, warmup, runs, shapes)
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
    ap.add_argument("--input-shape", action="append", default=[], metavar="NAME=1x16",
                    help="the shape of an input with dynamic dimensions (repeat per input)")
    ap.add_argument("--out", default=None, help="also write the JSON result to this file")
    a = ap.parse_args(argv)
    code = 0
    try:
        shapes = dict(parse_input_shape(t) for t in a.input_shape)
        res = run(a.model, a.threads, a.warmup, a.runs, a.delegate, a.signature, shapes)
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
