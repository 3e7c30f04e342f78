"""RAM of a benchmark process, read from /proc (Linux and Android), and the figures the harness reports.

A process's resident pages split into anonymous ones (heap, packed weights) and file-backed ones (the
mapped model file, the mapped XNNPACK weight cache, shared-library code). `snapshot` reads both from
/proc/self/status and, for the files named, their resident pages from /proc/self/smaps.

`ram_figures` turns three snapshots into what a result carries:
- `ram_mb`: the steady RSS a model costs after load and its first inference, over a baseline process of
  the same runtime that loads no model: the anonymous gain (`ram_anon_mb`) plus the resident pages of the
  model file and of the weight cache (`ram_file_mb`). Library code that the first inference pages in
  (`runtime_code_mb`, shared by every process using the runtime, clean, the same for every model) is
  reported beside it, not in it;
- `peak_ram_mb`: the first launch's peak (VmHWM) over the baseline, without that library code;
- `ram_to_weight`: `ram_mb` over the weights stored in the file.
All figures are MiB (2**20 bytes). A model smaller than the allocator's noise between two processes can
show a gain at or below zero (onnxruntime's arena: about -2 MiB for a 12 KB CNN); it is kept as measured,
shown as "~0", and gets no `ram_to_weight`: there is no ratio to a gain the comparison cannot resolve.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

MIB = float(2**20)
_STATUS_KEYS = {"VmRSS": "rss", "VmHWM": "hwm", "RssAnon": "anon", "RssFile": "file", "RssShmem": "shmem"}


def snapshot(files: Sequence[str] = ()) -> dict[str, Any]:
    """This process's RSS split (MiB) and the resident MiB of each file in `files` (by real path).

    Returns {} where /proc is missing (macOS): RAM figures are then left out of the result.
    """
    out: dict[str, Any] = {}
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key in _STATUS_KEYS:
                    out[_STATUS_KEYS[key]] = int(value.split()[0]) / 1024.0
    except (OSError, ValueError, IndexError):
        return {}
    if files:
        out["files"] = mapped_mb(files)
    return out


def mapped_mb(files: Sequence[str]) -> dict[str, float]:
    """Resident MiB of every mapping of each file (0.0 for a file that is not mapped)."""
    wanted = {os.path.realpath(f): f for f in files}
    found = dict.fromkeys(files, 0.0)
    current: str | None = None
    try:
        with open("/proc/self/smaps") as fh:
            for line in fh:
                head = line.split(None, 5)
                if head and "-" in head[0] and not head[0].endswith(":"):
                    # A mapping header: "start-end perms offset dev inode [path]".
                    path = head[5].strip() if len(head) > 5 else ""
                    current = wanted.get(path)
                elif current is not None and head and head[0] == "Rss:":
                    found[current] += int(head[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return found


def _gain(after: Mapping[str, Any], before: Mapping[str, Any], key: str) -> float:
    return float(after.get(key, 0.0)) - float(before.get(key, 0.0))


def ram_figures(baseline: Mapping[str, Any], steady: Mapping[str, Any], first: Mapping[str, Any] | None,
                weight_bytes: int | None) -> dict[str, Any]:
    """The RAM fields of a result from the baseline process, the measured process after its first inference
    (`steady`, with `files` for the model and cache) and the first launch (None: the measured one was it)."""
    if not baseline or not steady:
        return {}
    first = first or steady
    own_files = sum(float(v) for v in (steady.get("files") or {}).values())
    anon = _gain(steady, baseline, "anon")
    code = _gain(steady, baseline, "file") - own_files
    first_code = _gain(first, baseline, "file") - sum(float(v) for v in (first.get("files") or {}).values())
    ram = anon + own_files
    res: dict[str, Any] = {
        "ram_mb": ram,
        "ram_anon_mb": anon,
        "ram_file_mb": own_files,
        "runtime_code_mb": code,
        "peak_ram_mb": float(first.get("hwm", 0.0)) - float(baseline.get("rss", 0.0)) - max(0.0, first_code),
        "baseline_rss_mb": float(baseline.get("rss", 0.0)),
        "ram_source": "RSS gain over a baseline process of the same runtime (/proc/self/status, smaps)",
    }
    res.update(weight_ratio(ram, weight_bytes))
    return res


def weight_ratio(ram_mb: float | None, weight_bytes: int | None) -> dict[str, Any]:
    """`ram_to_weight` when both are known and the RAM gain is above zero (see the module docstring)."""
    if ram_mb is None or not weight_bytes or ram_mb <= 0:
        return {"ram_to_weight": None}
    return {"ram_to_weight": ram_mb * MIB / weight_bytes}
