"""LiteRT's `benchmark_litert_model` (litert/tools/benchmark_litert_model.cc): the CompiledModel API on a phone.

It shares benchmark_model's flags for runs, threads and profiling and its log format (both build on TFLite's
BenchmarkModel), so the parser and the two-launch weight-cache flow are `BenchmarkModelEngine`'s. It picks
accelerators with `--use_cpu`, `--use_gpu` and `--use_npu` (+ `--dispatch_library_path`); its CPU path is
XNNPACK. The LiteRT sources read for this (up to 2025) register no XNNPACK weight-cache flag in this tool:
a build that does not take `--xnnpack_weight_cache_file_path` says so ("Unconsumed cmdline flags"), and
the harness then fails the run rather than report a run without the cache (use --weight-cache off).
"""

from __future__ import annotations

from edgeshare.bench.engines.base import BenchmarkRunError, Invocation, ProgressFn, Session
from edgeshare.bench.engines.benchmark_model import BenchmarkModelEngine, benchmark_model_argv

# delegate -> flags; XNNPACK is the CPU accelerator of the CompiledModel API (there is no built-in-kernels
# switch, NNAPI or Hexagon in this tool).
LITERT_DELEGATE_FLAGS: dict[str, list[str]] = {
    "xnnpack": ["--use_cpu=true"],
    "gpu": ["--use_gpu=true"],
    "npu": ["--use_npu=true"],
}


class BenchmarkLitertModelEngine(BenchmarkModelEngine):
    name = "benchmark_litert_model"
    tool = "benchmark_litert_model"
    delegates = tuple(LITERT_DELEGATE_FLAGS)

    def steps(self, session: Session, remote_model: str, delegate: str, progress: ProgressFn | None,
              fmt: str = "tflite") -> list[Invocation]:
        if delegate not in LITERT_DELEGATE_FLAGS:
            raise BenchmarkRunError(f"unknown delegate; expected one of {', '.join(LITERT_DELEGATE_FLAGS)}. "
                                    f"Received: delegate={delegate}", "input")
        return super().steps(session, remote_model, delegate, progress, fmt)

    def argv(self, session: Session, remote_model: str, delegate: str, weight_cache: str | None) -> list[str]:
        o = session.options
        if self.remote_binary is None:
            raise RuntimeError(f"{self.tool} was not pushed: open the session first")
        argv = benchmark_model_argv(self.remote_binary, remote_model, delegate=delegate, threads=o.threads,
                                    warmup=o.warmup, runs=o.runs, peak_memory=o.peak_memory,
                                    weight_cache=weight_cache, flags=LITERT_DELEGATE_FLAGS)
        if o.op_profile:
            argv.append("--use_profiler=true")
        if delegate == "npu" and o.push_libs:
            argv.append(f"--dispatch_library_path={session.workdir}")
        return [*session.prefix(), *argv]
