"""edgeshare.bench: the latency harness. Light: it never imports TensorFlow or Keras.

One flow for every target (`edgeshare.bench.flow`): push, run, parse, pull, clean up. Targets differ only
by transport: this machine (`LocalTransport`), an ARM Linux board over SSH (`SshTransport`), an Android
phone over adb (`AdbTransport`). Names load on first use, so importing the package costs nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "bench_host": "edgeshare.bench.host",
    "check_artifact": "edgeshare.bench.host",
    "summarize": "edgeshare.bench.stats",
    "BenchOptions": "edgeshare.bench.bench_options",
    "BenchSession": "edgeshare.bench.flow",
    "bench_target": "edgeshare.bench.flow",
    "LocalTransport": "edgeshare.bench.local_transport",
    "SshTransport": "edgeshare.bench.ssh_transport",
    "AdbTransport": "edgeshare.bench.adb_transport",
    "TargetError": "edgeshare.bench.transport",
    "parse_benchmark_output": "edgeshare.bench.benchmark_model",
    "BenchmarkRunError": "edgeshare.bench.benchmark_model",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'edgeshare.bench' has no attribute {name!r}")
