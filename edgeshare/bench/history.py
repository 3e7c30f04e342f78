"""Benchmark results on disk: the JSON Lines history that accumulates runs, and `--json` files.

Every `edgeshare bench` appends one line per result to the history (default
build/bench_history.jsonl), so runs from different days, devices and builds compare with
`edgeshare compare`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from typing import Any

from edgeshare.bench.names import DEFAULT_HISTORY
from edgeshare.converters.jsonsafe import finite
from edgeshare.errors import InvalidInputError

__all__ = ["DEFAULT_HISTORY", "append_history", "load_results"]


def append_history(path: str, results: Iterable[dict[str, Any]]) -> int:
    """Append one JSON line per result; returns how many lines were written."""
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    n = 0
    with open(path, "a") as fh:
        for r in results:
            fh.write(json.dumps(finite(r), separators=(",", ":")) + "\n")
            n += 1
    return n


def _rows(obj: Any, path: str) -> list[dict[str, Any]]:
    if isinstance(obj, dict) and isinstance(obj.get("results"), list):
        return [r for r in [*obj["results"], *obj.get("errors", [])] if isinstance(r, dict)]
    if isinstance(obj, list):
        return [r for r in obj if isinstance(r, dict)]
    if isinstance(obj, dict) and ("p50_ms" in obj or "error" in obj):
        return [obj]
    raise InvalidInputError("not a benchmark result file: expected the JSON of `edgeshare bench --json` or a "
                            "JSON Lines history", path)


def load_results(paths: Sequence[str]) -> list[dict[str, Any]]:
    """Results from `edgeshare bench --json` files and JSON Lines histories, in order."""
    rows: list[dict[str, Any]] = []
    for path in paths:
        if not os.path.isfile(path):
            raise InvalidInputError("no such results file (run `edgeshare bench` first)", path)
        with open(path) as fh:
            text = fh.read()
        if not text.strip():
            continue
        try:
            rows += _rows(json.loads(text), path)
            continue
        except json.JSONDecodeError:
            pass
        for i, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows += _rows(json.loads(line), path)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(f"line {i} is not JSON ({exc.msg}). Received: line={line[:80]!r}",
                                        path) from exc
    return rows
