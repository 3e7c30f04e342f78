"""The engines that measure on a target (see `base.Engine`). A new engine is one module and one line below."""

from __future__ import annotations

from edgeshare.bench.engines.base import BenchmarkRunError, Engine, Invocation
from edgeshare.bench.engines.benchmark_model import BenchmarkModelEngine
from edgeshare.bench.engines.runner import RunnerEngine

ENGINES: dict[str, type[Engine]] = {
    "runner": RunnerEngine,
    "benchmark_model": BenchmarkModelEngine,
}
# The engine each kind of target uses by default.
DEFAULT_ENGINE = {"host": "runner", "ssh": "runner", "adb": "benchmark_model"}


def engine_for(kind: str, name: str | None = None) -> Engine:
    """A new engine for a target of `kind` (`name` overrides the default)."""
    return ENGINES[name or DEFAULT_ENGINE[kind]]()


__all__ = ["DEFAULT_ENGINE", "ENGINES", "BenchmarkRunError", "Engine", "Invocation", "engine_for"]
