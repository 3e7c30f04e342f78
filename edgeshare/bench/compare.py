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

    With `latest`, only the newest result of each (variant, device, delegate, runtime setup) is kept.
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
            "setup": r.get("setup") or "-",
            "when": r.get("timestamp"),
            "p50_ms": r.get("p50_ms"),
            "p90_ms": r.get("p90_ms"),
            "mean_ms": r.get("mean_ms"),
            "init_ms": r.get("init_ms"),
            "memory_mb": r.get("peak_mem_mb", r.get("peak_rss_mb")),
            "ram_mb": r.get("ram_mb"),
            # no ratio to a gain at or below zero (memory.py), also for results recorded before that rule
            "ram_to_weight": r.get("ram_to_weight") if (r.get("ram_mb") or 0) > 0 else None,
            "peak_ram_mb": r.get("peak_ram_mb"),
            "weight_bytes": r.get("weight_bytes"),
            "first_launch_init_ms": (r.get("first_launch") or {}).get("init_ms"),
            "size_bytes": size_bytes(r),
            "duplicate_bytes": rep.get("duplicate_bytes"),
            "runs": r.get("measured_runs") or r.get("runs"),
            "engine": r.get("engine"),
            "latencies_ms": r.get("latencies_ms"),
            "min_ms": r.get("min_ms"),
            "max_ms": r.get("max_ms"),
        })
    if latest:
        newest: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        for row in rows:
            key = (str(row["variant"]), str(row["device"]), str(row["delegate"]), str(row["setup"]))
            if key not in newest or str(row["when"] or "") >= str(newest[key]["when"] or ""):
                newest[key] = row
        rows = list(newest.values())
    rows.sort(key=lambda x: (x["variant"], x["device"], x["delegate"], x["setup"], x["when"] or ""))
    return rows


def tradeoffs(rows: Sequence[dict[str, Any]]) -> list[str]:
    """One line per file and device measured in two runtime setups (weight cache on and off, onnxruntime
    prepacking on and off): what the second setup costs in RAM and latency against the first."""
    latest: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}
    for r in rows:
        if r.get("setup") in (None, "-"):
            continue
        by_setup = latest.setdefault((str(r["variant"]), str(r["device"]), str(r["delegate"])), {})
        old = by_setup.get(r["setup"])
        if old is None or str(r.get("when") or "") >= str(old.get("when") or ""):
            by_setup[r["setup"]] = r
    lines = []
    for (variant, device, delegate), by_setup in sorted(latest.items()):
        if len(by_setup) < 2:
            continue
        # The packed-once setups first: every other one is compared with it.
        ordered = sorted(by_setup.values(), key=lambda r: ("cache" not in r["setup"] and "prepack off" not in
                                                           r["setup"], r["setup"]))
        ref = ordered[0]
        for other in ordered[1:]:
            parts = []
            if ref.get("ram_mb") is not None and other.get("ram_mb") is not None:
                parts.append(f"RAM {other['ram_mb']:.1f} vs {ref['ram_mb']:.1f} MiB "
                             f"({other['ram_mb'] - ref['ram_mb']:+.1f})")
            a, b = typical_ms(ref), typical_ms(other)
            if a and b:
                parts.append(f"p50 {b:.3g} vs {a:.3g} ms (x{b / a:.2f})")
            if parts:
                lines.append(f"{variant} on {device} [{delegate}]: {other['setup']} vs {ref['setup']}: "
                             + ", ".join(parts))
    return lines


def typical_ms(row: dict[str, Any]) -> float | None:
    """p50 when the engine reports it, else the mean (benchmark_model builds without percentiles)."""
    v = row.get("p50_ms")
    return v if v is not None else row.get("mean_ms")
