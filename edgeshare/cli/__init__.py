"""The `edgeshare` command line. Thin: it parses arguments, calls the library and prints with rich.

Exit codes: 0 success, 1 a check failed (duplicates found, numerics off), 2 bad input (a one-line
error naming the file), 3 an internal error (set EDGESHARE_DEBUG=1 for the traceback).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from typing import Any

# Subcommand -> module. Modules import only argparse-level things at the top, so building the parser
# stays light; each command's run() imports what it needs.
COMMANDS = {
    "inspect": "edgeshare.cli.inspect_cmd",
    "export": "edgeshare.cli.export_cmd",
    "verify": "edgeshare.cli.verify_cmd",
    "repair": "edgeshare.cli.repair_cmd",
    "bench": "edgeshare.cli.bench_cmd",
    "compare": "edgeshare.cli.compare_cmd",
    "export-reference": "edgeshare.cli.reference_cmd",
}


def build_parser() -> argparse.ArgumentParser:
    from edgeshare import __version__

    ap = argparse.ArgumentParser(
        prog="edgeshare",
        description="Layer and parameter sharing that survives export: inspect, export, verify, bench.",
    )
    ap.add_argument("--version", action="version", version=f"edgeshare {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for mod in COMMANDS.values():
        importlib.import_module(mod).add_parser(sub)
    return ap


def _one_line_warning(message: Any, category: Any, filename: str, lineno: int, line: Any = None) -> str:
    return f"edgeshare: warning: {message}\n"


def main(argv: list[str] | None = None) -> int:
    from edgeshare.errors import InvalidInputError, VerificationError

    warnings.formatwarning = _one_line_warning
    args = build_parser().parse_args(argv)
    try:
        from edgeshare.cli._common import check_outputs

        check_outputs(args)
        code: int = args.func(args)
        return code
    except InvalidInputError as exc:
        sys.stderr.write(f"edgeshare {args.command}: error: {exc}\n")
        return 2
    except VerificationError as exc:
        sys.stderr.write(f"edgeshare {args.command}: check failed: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write(f"edgeshare {args.command}: interrupted\n")
        return 130
    except Exception as exc:
        if os.environ.get("EDGESHARE_DEBUG"):
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        sys.stderr.write(
            f"edgeshare {args.command}: internal error: {type(exc).__name__}: {first} "
            "(set EDGESHARE_DEBUG=1 for the traceback)\n"
        )
        return 3
