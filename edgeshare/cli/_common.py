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


# Arguments that name a file a command writes; checked before any work starts (cli.main).
OUTPUT_ARGS = ("output", "json", "plot", "model_explorer")


def check_writable(path: str, what: str) -> None:
    """Raise InvalidInputError (exit 2) unless `path` can be written: its folder exists and is writable,
    and it is not a folder itself."""
    import os

    from edgeshare.errors import InvalidInputError

    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise InvalidInputError(f"{what} is a folder; expected a file to write", path)
    if not os.path.isdir(folder):
        raise InvalidInputError(f"cannot write {what}: its folder {folder} does not exist", path)
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise InvalidInputError(f"cannot write {what}: permission denied", path)


def check_outputs(args: argparse.Namespace) -> None:
    """Every output path of a command is writable, before the command loads anything heavy."""
    for name in OUTPUT_ARGS:
        value = getattr(args, name, None)
        if isinstance(value, str) and value != "-":
            check_writable(value, f"--{name.replace('_', '-')}" if name != "output" else "the output")


def check_readable(path: str, what: str) -> None:
    """Raise InvalidInputError (exit 2) unless `path` is an existing, non-empty file."""
    import os

    from edgeshare.errors import InvalidInputError

    if not os.path.exists(path):
        raise InvalidInputError(f"no such file ({what})", path)
    if os.path.isdir(path):
        raise InvalidInputError(f"is a folder, expected a file ({what})", path)
    if os.path.getsize(path) == 0:
        raise InvalidInputError(f"the file is empty (0 bytes) ({what})", path)


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
