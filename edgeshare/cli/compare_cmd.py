"""edgeshare compare [RESULTS...] [--latest] [--plot PNG] [--json [PATH]]

One table of variants x devices x delegates x runtime setups from `edgeshare bench --json` files and JSON
Lines histories (default: build/bench_history.jsonl): p50, p90, init, RAM (steady, over the weight, first
launch peak) and the file size, then what one setup costs against another (weight cache on and off,
onnxruntime prepacking on and off) where both were measured.
"""

from __future__ import annotations

import argparse
from typing import Any

from edgeshare.bench.names import DEFAULT_HISTORY, history_path
from edgeshare.cli._common import add_json_flag, emit_json, fmt_bytes, fmt_ms, human, out


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "compare",
        help="one table (and chart) of variants x devices x delegates from benchmark results",
        description="Reads `edgeshare bench --json` files and JSON Lines histories and prints p50, p90, init "
        "time, RAM (ram_mb, ram_to_weight, the first launch's peak) and file size (from <artifact>.report.json "
        "when present) per variant, device, delegate and runtime setup, then the RAM and latency trade-off "
        "between setups measured on the same file.",
    )
    p.add_argument("results", nargs="*", metavar="RESULTS",
                   help=f"result files (.json from bench --json, or .jsonl histories; default {DEFAULT_HISTORY})")
    p.add_argument("--latest", action="store_true", help="keep only the newest run of each variant/device/delegate")
    p.add_argument("--plot", default=None, metavar="PNG",
                   help="draw latency distributions and size against latency (matplotlib)")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edgeshare.bench.compare import compare_rows
    from edgeshare.bench.history import load_results
    from edgeshare.errors import InvalidInputError

    default = history_path()
    if not args.results and default is None:
        raise InvalidInputError("no results given and $EDGESHARE_HISTORY is empty; name the result files. "
                                "Received: results=[]")
    paths = args.results or [default or DEFAULT_HISTORY]
    results = load_results(paths)
    rows = compare_rows(results, latest=args.latest)
    failed = sum(1 for r in results if "error" in r)
    if not rows:
        raise InvalidInputError(f"no successful benchmark results in {', '.join(paths)} "
                                f"({failed} failed run(s)); run `edgeshare bench` first")
    if human(args):
        print_compare_table(rows, f"comparison of {len(rows)} result(s) from {', '.join(paths)}")
        print_tradeoffs(rows)
        if failed:
            out.print(f"{failed} failed run(s) not shown (see their \"error\" in the files)")
    if args.plot:
        from edgeshare.bench.plot import plot_compare

        plot_compare(rows, args.plot)
        if human(args):
            out.print(f"wrote {args.plot}", markup=False)
    emit_json(args.json, {"rows": [{k: v for k, v in r.items() if k != "latencies_ms"} for r in rows]})
    return 0


def fmt_mb(x: float | None) -> str:
    """A RAM gain in MiB; at or below zero it is under the noise of a two-process comparison: "~0"."""
    if x is None:
        return "-"
    return "~0" if x <= 0 else f"{x:.1f}"


def fmt_ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}x"


def print_tradeoffs(rows: list[dict[str, Any]]) -> None:
    from edgeshare.bench.compare import tradeoffs

    for line in tradeoffs(rows):
        out.print(line, markup=False)


def print_compare_table(rows: list[dict[str, Any]], title: str) -> None:
    from rich.markup import escape as esc
    from rich.table import Table

    show_when = len({(r["variant"], r["device"], r["delegate"], r.get("setup")) for r in rows}) < len(rows)
    cols = ["variant", "device", "delegate", "runtime", *(["when"] if show_when else []), "p50 ms", "p90 ms",
            "init ms", "RAM MiB", "x weight", "peak MiB", "size", "duplicates"]
    table_rows = []
    for r in rows:
        p50 = fmt_ms(r["p50_ms"]) if r["p50_ms"] is not None else (
            f"~{fmt_ms(r['mean_ms'])} (mean)" if r["mean_ms"] is not None else "-")
        dup = r.get("duplicate_bytes")
        when = [str(r["when"] or "-")[:16]] if show_when else []
        # Older results carry only the process's peak RSS; it stands in for the RAM, marked with "~".
        ram = fmt_mb(r.get("ram_mb")) if r.get("ram_mb") is not None else (
            "-" if r["memory_mb"] is None else f"~{r['memory_mb']:.1f} (peak RSS)")
        table_rows.append([esc(r["variant"]), esc(r["device"]), r["delegate"], esc(str(r.get("setup") or "-")), *when,
                           p50, fmt_ms(r["p90_ms"]), fmt_ms(r["init_ms"]), ram, fmt_ratio(r.get("ram_to_weight")),
                           fmt_mb(r.get("peak_ram_mb")), fmt_bytes(r["size_bytes"]),
                           "-" if dup is None else fmt_bytes(dup)])
    # Columns no row fills (results from before RAM was measured, or without a runtime setup) are left out.
    keep = [i for i, c in enumerate(cols) if c in ("variant", "device", "delegate", "p50 ms")
            or any(row[i] != "-" for row in table_rows)]
    t = Table(title=esc(title), title_justify="left")
    for i in keep:
        c = cols[i]
        t.add_column(c, justify="left" if c in ("variant", "device", "delegate", "runtime", "when") else "right",
                     overflow="fold")
    for row in table_rows:
        t.add_row(*[row[i] for i in keep])
    out.print(t)
