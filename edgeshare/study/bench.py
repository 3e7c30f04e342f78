"""Host latency and RAM of the exported files, from `edgeshare bench --json` (the CLI, as a user runs it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Any

# The `edgeshare` console script's entry point, run with this interpreter (edgeshare.cli has no __main__).
CLI = "import sys; from edgeshare.cli import main; sys.exit(main(sys.argv[1:]))"


@dataclass(frozen=True)
class BenchRow:
    p50_ms: float
    ram_mb: float
    ram_source: str  # which field of the bench result ram_mb came from
    peak_rss_mb: float | None


def ram_of(result: dict[str, Any]) -> tuple[float, str]:
    """The model's RAM from one bench result: `ram_mb` when the harness reports it, else `model_rss_mb`
    (the benchmark process's peak RSS above its RSS before the model loaded), else `peak_rss_mb`."""
    for key in ("ram_mb", "model_rss_mb", "peak_rss_mb"):
        value = result.get(key)
        if isinstance(value, (int, float)):
            return float(value), key
    raise ValueError(
        f"the bench result has no memory field: expected ram_mb, model_rss_mb or peak_rss_mb. "
        f"Received: keys={sorted(result)}"
    )


def bench_files(paths: list[str], runs: int, warmup: int = 5) -> dict[str, BenchRow]:
    """p50 and RAM of every file on this machine (XNNPACK), one `edgeshare bench` call for all of them."""
    if not paths:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "bench.json")
        cmd = [sys.executable, "-c", CLI, "bench", *paths, "--runs", str(runs), "--warmup", str(warmup),
               "--no-history", "--json", out]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60 * 60)
        if not os.path.exists(out):
            raise RuntimeError(
                f"edgeshare bench wrote no JSON. Received: returncode={proc.returncode}, stderr={proc.stderr[-2000:]!r}"
            )
        with open(out) as fh:
            doc = json.load(fh)
    rows: dict[str, BenchRow] = {}
    for r in doc.get("results", []):
        if "p50_ms" not in r:
            continue
        ram, source = ram_of(r)
        peak = r.get("peak_rss_mb")
        rows[os.path.realpath(r["artifact"])] = BenchRow(float(r["p50_ms"]), ram, source,
                                                          float(peak) if peak is not None else None)
    missing = [p for p in paths if os.path.realpath(p) not in rows]
    if missing:
        errors = doc.get("errors", [])
        raise RuntimeError(f"edgeshare bench measured no latency for some files. Received: missing={missing}, "
                           f"errors={str(errors)[:2000]}")
    return rows
