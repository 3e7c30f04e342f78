"""One table of variants x devices x delegates from benchmark results (`edgeshare compare`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any


def size_bytes(result: dict[str, Any]) -> int | None:
    """The artifact's size: from its export report (file_bytes), else as measured at bench time."""
    rep = result.get("report") or {}
    if rep.get("file_bytes"):
        return int(rep["file_bytes"])
    if result.get("size_bytes"):
        return int(result["size_bytes"])
    art = result.get("artifact")
    if art:
        from edgeshare.bench.flow import load_report

        rep = load_report(art) or {}
        if rep.get("file_bytes"):
            return int(rep["file_bytes"])
        if os.path.isfile(art):
            return os.path.getsize(art)
    return None


def device_name(result: dict[str, Any]) -> str:
    info = result.get("device_info") or {}
    model = info.get("model")
    return f"{result.get('device', '?')} ({model})" if model and result.get("target") != "host" else \
        str(result.get("device", "?"))


def compare_rows(results: Sequence[dict[str, Any]], latest: bool = False) -> list[dict[str, Any]]:
    """Successful results as table rows, sorted by variant, device, delegate, then time.

    With `latest`, only the newest result of each (variant, device, delegate) is kept.
    """
    rows = []
    for r in results:
        if "error" in r:
            continue
        rep = r.get("report") or {}
        rows.append({
            "variant": r.get("variant") or os.path.basename(str(r.get("artifact", "?"))),
            "model": rep.get("model"),
            "quantize": rep.get("quantize") or rep.get("mode"),
            "device": device_name(r),
            "delegate": r.get("delegate") or "-",
            "when": r.get("timestamp"),
            "p50_ms": r.get("p50_ms"),
            "p90_ms": r.get("p90_ms"),
            "mean_ms": r.get("mean_ms"),
            "init_ms": r.get("init_ms"),
            "memory_mb": r.get("peak_mem_mb", r.get("peak_rss_mb")),
            "size_bytes": size_bytes(r),
            "duplicate_bytes": rep.get("duplicate_bytes"),
            "runs": r.get("measured_runs") or r.get("runs"),
            "engine": r.get("engine"),
            "latencies_ms": r.get("latencies_ms"),
            "min_ms": r.get("min_ms"),
            "max_ms": r.get("max_ms"),
        })
    if latest:
        newest: dict[tuple[str, str, str], dict[str, Any]] = {}
        for row in rows:
            key = (str(row["variant"]), str(row["device"]), str(row["delegate"]))
            if key not in newest or str(row["when"] or "") >= str(newest[key]["when"] or ""):
                newest[key] = row
        rows = list(newest.values())
    rows.sort(key=lambda x: (x["variant"], x["device"], x["delegate"], x["when"] or ""))
    return rows


def typical_ms(row: dict[str, Any]) -> float | None:
    """p50 when the engine reports it, else the mean (benchmark_model builds without percentiles)."""
    v = row.get("p50_ms")
    return v if v is not None else row.get("mean_ms")
