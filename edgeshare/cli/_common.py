"""Shared pieces of the CLI: consoles, JSON output, progress bars, byte formatting."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from edgeshare.converters.jsonsafe import finite

out = Console(highlight=False, soft_wrap=False, width=140 if not sys.stdout.isatty() else None)
err = Console(stderr=True, highlight=False)


def add_json_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--json",
        nargs="?",
        const="-",
        default=None,
        metavar="PATH",
        help="write machine-readable JSON: to stdout (alone) or to PATH (the table still prints)",
    )


def emit_json(target: str | None, payload: Any) -> None:
    """Write JSON to stdout ("-") or to a file."""
    if target is None:
        return
    text = json.dumps(finite(payload), indent=2)
    if target == "-":
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    else:
        with open(target, "w") as fh:
            fh.write(text + "\n")


def human(args: argparse.Namespace) -> bool:
    """Print tables unless JSON goes to stdout."""
    return getattr(args, "json", None) != "-"


def fmt_bytes(n: float | int | None) -> str:
    if n is None:
        return "-"
    n = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def fmt_ms(x: float | None) -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.3f}"


@contextmanager
def progress_bar(description: str, total: float | None = None) -> Iterator[Any]:
    """A progress bar on stderr, shown only on a terminal. Yields (progress, task)."""
    prog = Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f}" if total else ""),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    with prog:
        task = prog.add_task(description, total=total)
        yield prog, task
