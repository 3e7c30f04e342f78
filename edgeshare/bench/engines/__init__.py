"""The engines that measure on a target (see `base.Engine`). A new engine is one module and one line below."""

from __future__ import annotations

import os

from edgeshare.bench.engines.base import BenchmarkRunError, Engine, Invocation
from edgeshare.bench.engines.benchmark_litert_model import BenchmarkLitertModelEngine
from edgeshare.bench.engines.benchmark_model import BenchmarkModelEngine
from edgeshare.bench.engines.runner import RunnerEngine
from edgeshare.bench.options import BenchOptions

ENGINES: dict[str, type[Engine]] = {
    "runner": RunnerEngine,
    "benchmark_model": BenchmarkModelEngine,
    "benchmark_litert_model": BenchmarkLitertModelEngine,
}
# The engine each kind of target uses by default.
DEFAULT_ENGINE = {"host": "runner", "ssh": "runner", "adb": "benchmark_model"}


def adb_engine(options: BenchOptions | None) -> str:
    """Android's engine: `--runtime compiled` is benchmark_litert_model, `interpreter` benchmark_model;
    otherwise the binary the user gives decides by its name (benchmark_model when none is named)."""
    if options is not None and options.runtime:
        return "benchmark_litert_model" if options.runtime == "compiled" else "benchmark_model"
    binary = (options.benchmark_binary if options else None) or os.environ.get("EDGESHARE_BENCHMARK_BINARY") or ""
    names = [os.path.basename(binary)]
    if os.path.isdir(binary):  # a folder of binaries (one per ABI): what it holds
        names = [n for _, _, files in os.walk(binary) for n in files]
    litert = any("benchmark_litert_model" in n for n in names)
    stock = any("benchmark_model" in n and "benchmark_litert_model" not in n for n in names)
    return "benchmark_litert_model" if litert and not stock else "benchmark_model"


def engine_for(kind: str, name: str | None = None, options: BenchOptions | None = None) -> Engine:
    """A new engine for a target of `kind` (`name` overrides the default)."""
    if name is None and kind == "adb":
        name = adb_engine(options)
    return ENGINES[name or DEFAULT_ENGINE[kind]]()


__all__ = ["DEFAULT_ENGINE", "ENGINES", "BenchmarkRunError", "Engine", "Invocation", "engine_for"]
