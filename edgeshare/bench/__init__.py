"""edgeshare.bench: the latency harness. Light: it never imports TensorFlow or Keras."""

from __future__ import annotations

from edgeshare.bench.host import bench_host
from edgeshare.bench.stats import summarize

__all__ = ["bench_host", "summarize"]
