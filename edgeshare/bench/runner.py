"""Benchmark one .tflite or .onnx file in this process and print the result as JSON.

This is what runs on the target (the host, or a board over SSH, with only the light runtime installed):

    python -m edgeshare.bench.runner MODEL [--runtime interpreter|compiled] [--weight-cache FILE
        [--cache-run build|measure]] [--ort-prepack on|off] [--delegate cpu|xnnpack] [--threads N]
        [--warmup N] [--runs N] [--input-shape NAME=1x16] [--first-launch] [--baseline] [--out RESULT.json]

It runs the model through `edgeshare.converters.runtime` (LiteRT or onnxruntime and numpy, never TensorFlow):
- .tflite on LiteRT: `--runtime compiled` is the CompiledModel API (with `--weight-cache FILE`, XNNPACK's
  weight cache: each buffer packed once), `interpreter` the Interpreter (a packed copy per op). `--delegate
  xnnpack` is LiteRT's default CPU path; `cpu` its built-in kernels without XNNPACK.
- .onnx on onnxruntime's CPUExecutionProvider; `--ort-prepack off` sets session.disable_prepacking.

The inputs are seeded random values (ids inside their tables), set once; the timed loop is a bare
`invoke()` between two `perf_counter_ns` calls. An input with dynamic dimensions needs `--input-shape`.

RAM: the process records its memory (`edgeshare.bench.memory.snapshot`) before the load, after the load
and the first inference (with the resident pages of the model file and of the weight cache) and after
the timed runs. `--baseline` loads no model: it sets the same runtime up and records its memory, which
the harness subtracts. `--first-launch` stops after the first inference (the launch that builds a weight
cache). `--cache-run build` requires the cache to be written by this launch, `measure` requires it to be
there before the load: a missing or empty cache is an error, never a quiet run without it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from edgeshare.bench.memory import snapshot
from edgeshare.bench.names import LITERT_APIS, RUNNER_DELEGATES
from edgeshare.bench.options import parse_input_shape
from edgeshare.bench.stats import summarize
from edgeshare.converters.runtime.base import Runner
from edgeshare.converters.runtime.inputs import random_feeds

DETAILS = {
    ("interpreter", "xnnpack"): "Interpreter, XNNPACK (LiteRT default CPU; a packed copy per op)",
    ("interpreter", "cpu"): "Interpreter, LiteRT built-in kernels",
    ("compiled", "xnnpack"): "CompiledModel, XNNPACK",
    ("compiled", "cpu"): "CompiledModel, LiteRT built-in kernels",
}


def _progress(done: int, total: int) -> None:
    if os.environ.get("EDGESHARE_PROGRESS"):
        sys.stderr.write(f"edgeshare-progress {done} {total}\n")
        sys.stderr.flush()


def _feed(runner: Runner, shapes: Mapping[str, Sequence[int]] | None) -> dict[str, list[int]]:
    """Bind seeded random inputs (ids inside their tables) at the given or static shapes; returns the shapes."""
    feeds = random_feeds(runner.inputs, 1, seed=0, shapes=shapes)[0]
    runner.set_inputs({s.name: s.to_stored(feeds[s.name]) for s in runner.inputs})
    return {k: [int(d) for d in v.shape] for k, v in feeds.items()}


def model_format(path: str) -> str:
    with open(path, "rb") as fh:
        head = fh.read(8)
    return "tflite" if head[4:8] == b"TFL3" else "onnx"


def _cache_bytes(path: str | None) -> int | None:
    return os.path.getsize(path) if path and os.path.isfile(path) else None


def open_model(path: str, fmt: str, api: str, delegate: str, threads: int | None, signature: str | None,
               weight_cache: str | None, ort_prepack: bool, environment: Any = None) -> Runner:
    """The runner for one configuration (what the measured launch times and the baseline sets up)."""
    if fmt == "onnx":
        from edgeshare.converters.runtime.onnxrt import OnnxRunner

        return OnnxRunner(path, num_threads=threads, prepack=ort_prepack)
    if api == "compiled":
        from edgeshare.converters.runtime.compiled import CompiledModelRunner

        return CompiledModelRunner(path, signature=signature, num_threads=threads, weight_cache=weight_cache,
                                   builtin_kernels=delegate == "cpu", environment=environment)
    from edgeshare.converters.runtime.litert import LiteRTRunner

    # A multi-signature file (one signature per task, plus "all"): the runner picks "all".
    return LiteRTRunner(path, signature=signature, num_threads=threads, delegate=delegate)


def baseline(fmt: str, api: str) -> dict[str, Any]:
    """The memory of a process that sets the same runtime up and loads no model."""
    from edgeshare.converters.formats import tflite_file

    tflite_file._schema()  # the measured launch parses the file with LiteRT's schema module
    if fmt == "onnx":
        import onnx  # noqa: F401
        import onnxruntime

        onnxruntime.SessionOptions()
    elif api == "compiled":
        from edgeshare.converters.runtime.compiled import default_environment

        _env = default_environment()  # what CompiledModel.from_file creates first (accelerators registered)
        return {"memory": {"steady": snapshot()}, "baseline": True, "api": api, "format": fmt}
    else:
        import ai_edge_litert.interpreter  # noqa: F401
    return {"memory": {"steady": snapshot()}, "baseline": True, "api": api, "format": fmt}


def _check_cache(path: str | None, cache_run: str | None, when: str) -> None:
    if not path or not cache_run:
        return
    size = _cache_bytes(path)
    if not size:
        state = "missing" if size is None else "empty"
        if when == "before" and cache_run == "measure":
            raise RuntimeError(f"the XNNPACK weight cache {path} is {state} before the measured launch; the first "
                               "launch should have written it")
        if when == "after" and cache_run == "build":
            raise RuntimeError(f"the XNNPACK weight cache {path} is {state} after the first launch: LiteRT could not "
                               "write it there and ran without it")


def run(path: str, threads: int | None = None, warmup: int = 10, runs: int = 100, delegate: str | None = None,
        signature: str | None = None, shapes: Mapping[str, Sequence[int]] | None = None, runtime: str | None = None,
        weight_cache: str | None = None, cache_run: str | None = None, ort_prepack: bool = True,
        first_launch: bool = False) -> dict[str, Any]:
    fmt = model_format(path)
    delegate = delegate or RUNNER_DELEGATES[fmt][0]
    if delegate not in RUNNER_DELEGATES[fmt]:
        raise ValueError(f"the {fmt} runner offers delegate(s) {', '.join(RUNNER_DELEGATES[fmt])}. "
                         f"Received: delegate={delegate}")
    api = "onnxruntime" if fmt == "onnx" else (runtime or ("compiled" if weight_cache else "interpreter"))
    if fmt == "tflite" and api not in LITERT_APIS:
        raise ValueError(f"the LiteRT runtime is one of {', '.join(LITERT_APIS)}. Received: runtime={api}")
    if weight_cache and api != "compiled":
        raise ValueError(f"the XNNPACK weight cache needs the CompiledModel API. Received: runtime={api}")
    _check_cache(weight_cache, cache_run, "before")
    files = [path, *([weight_cache] if weight_cache else [])]
    env, setup_ms = None, None
    if api == "compiled":
        from edgeshare.converters.runtime.compiled import default_environment

        # The LiteRT environment (accelerator registry) is made once per app, not per model: timed apart.
        t0 = time.perf_counter_ns()
        env = default_environment()
        setup_ms = (time.perf_counter_ns() - t0) / 1e6
    before = snapshot()
    t0 = time.perf_counter_ns()
    runner = open_model(path, fmt, api, delegate, threads, signature, weight_cache, ort_prepack, env)
    init_ms = (time.perf_counter_ns() - t0) / 1e6
    input_shapes = _feed(runner, shapes)
    t0 = time.perf_counter_ns()
    runner.invoke()
    first_ms = (time.perf_counter_ns() - t0) / 1e6
    steady = snapshot(files)
    _check_cache(weight_cache, cache_run, "after")
    res: dict[str, Any] = {
        "runtime": runner.runtime,
        "api": api,
        "delegate": delegate,
        "delegate_detail": "CPUExecutionProvider" + ("" if ort_prepack else ", prepacking off") if fmt == "onnx"
        else DETAILS[(api, delegate)] + (", weight cache" if weight_cache else ""),
        "init_ms": init_ms,
        "runtime_setup_ms": setup_ms,
        "first_ms": first_ms,
        "input_shapes": input_shapes,
        "weight_cache": weight_cache,
        "cache_run": cache_run,
        "cache_bytes": _cache_bytes(weight_cache),
        "ort_prepack": ort_prepack if fmt == "onnx" else None,
        "first_launch": first_launch,
    }
    if getattr(runner, "signature", None) is not None or fmt == "tflite":
        res["signature"] = getattr(runner, "signature", None)
    if not first_launch:
        res.update(_loop(runner.invoke, warmup, runs))
    res["memory"] = {"before_load": before, "steady": steady, "after_runs": snapshot()}
    peak = float(res["memory"]["after_runs"].get("hwm", float("nan")))
    res.update({"peak_rss_mb": peak, "peak_mem_mb": peak, "mem_source": "peak RSS of the benchmark process",
                "model_rss_mb": max(0.0, peak - float(before.get("rss", 0.0)))})
    return res


def _loop(invoke: Any, warmup: int, runs: int) -> dict[str, Any]:
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
    return {"warmup": warmup, "runs": runs, **summarize(lat_ms), "latencies_ms": lat_ms}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m edgeshare.bench.runner")
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--delegate", default=None, help="xnnpack or cpu for .tflite; cpu for .onnx")
    ap.add_argument("--runtime", default=None, choices=LITERT_APIS,
                    help="the LiteRT API for .tflite (default: compiled with --weight-cache, else interpreter)")
    ap.add_argument("--weight-cache", default=None, metavar="FILE", help="XNNPACK weight cache file (CompiledModel)")
    ap.add_argument("--cache-run", default=None, choices=("build", "measure"),
                    help="build: this launch must write the cache; measure: it must exist before the load")
    ap.add_argument("--ort-prepack", default="on", choices=("on", "off"), help="onnxruntime weight prepacking")
    ap.add_argument("--first-launch", action="store_true", help="load and run once, no timed loop")
    ap.add_argument("--baseline", action="store_true", help="set the runtime up, load no model, report memory")
    ap.add_argument("--signature", default=None,
                    help="the .tflite signature to time (default: 'all' in a multi-task file, else the primary one)")
    ap.add_argument("--input-shape", action="append", default=[], metavar="NAME=1x16",
                    help="the shape of an input with dynamic dimensions (repeat per input)")
    ap.add_argument("--out", default=None, help="also write the JSON result to this file")
    a = ap.parse_args(argv)
    code = 0
    try:
        if a.baseline:
            fmt = model_format(a.model)
            res = baseline(fmt, "onnxruntime" if fmt == "onnx" else (a.runtime or
                                                                     ("compiled" if a.weight_cache else "interpreter")))
        else:
            shapes = dict(parse_input_shape(t) for t in a.input_shape)
            res = run(a.model, a.threads, a.warmup, a.runs, a.delegate, a.signature, shapes, a.runtime,
                      a.weight_cache, a.cache_run, a.ort_prepack == "on", a.first_launch)
        res.update({"artifact": a.model, "format": model_format(a.model), "threads": a.threads,
                    "machine": platform.machine(), "host": platform.node(), "python": platform.python_version()})
    except Exception as exc:  # reported to the parent as one JSON line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        res, code = {"error": f"{type(exc).__name__}: {first}"}, 2
    text = json.dumps(res)
    if a.out:
        with open(a.out, "w") as fh:
            fh.write(text + "\n")
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    status = main()
    # LiteRT logs its teardown on stderr at exit; the result is written, so leave without the destructors.
    sys.stderr.flush()
    os._exit(status)
