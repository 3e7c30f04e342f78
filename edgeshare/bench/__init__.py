"""edgeshare.bench: the latency harness. Light: it never imports TensorFlow or Keras.

One flow for every target (`edgeshare.bench.flow`): push, run, parse, pull, clean up. Targets differ only
by transport (`transports/`: this machine, an ARM Linux board over SSH, an Android phone over adb) and by
the engine that measures there (`engines/`: the Python runner, `benchmark_model`). A new target or engine
is one module plus one registration. Names load on first use, so importing the package costs nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "bench_host": "edgeshare.bench.host",
    "artifact_format": "edgeshare.bench.artifacts",
    "summarize": "edgeshare.bench.stats",
    "BenchOptions": "edgeshare.bench.options",
    "BenchSession": "edgeshare.bench.flow",
    "bench_target": "edgeshare.bench.flow",
    "LocalTransport": "edgeshare.bench.transports.local",
    "SshTransport": "edgeshare.bench.transports.ssh",
    "AdbTransport": "edgeshare.bench.transports.adb",
    "TargetError": "edgeshare.bench.transports.base",
    "parse_benchmark_output": "edgeshare.bench.engines.benchmark_model",
    "BenchmarkRunError": "edgeshare.bench.engines.base",
    "Engine": "edgeshare.bench.engines.base",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'edgeshare.bench' has no attribute {name!r}")
