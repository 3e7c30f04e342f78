"""Latency statistics, the same for every target."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default) of already sorted values."""
    if not sorted_values:
        return math.nan
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summarize(latencies_ms: Sequence[float]) -> dict[str, float]:
    """mean, std, min, max, p50, p90, p99 of a list of latencies in milliseconds."""
    v = sorted(latencies_ms)
    n = len(v)
    if n == 0:
        return {k: math.nan for k in ("mean_ms", "std_ms", "min_ms", "max_ms", "p50_ms", "p90_ms", "p99_ms")}
    mean = sum(v) / n
    std = math.sqrt(sum((x - mean) ** 2 for x in v) / n)
    return {
        "mean_ms": mean,
        "std_ms": std,
        "min_ms": v[0],
        "max_ms": v[-1],
        "p50_ms": percentile(v, 50),
        "p90_ms": percentile(v, 90),
        "p99_ms": percentile(v, 99),
    }
