"""Rich tables for the RAM prediction (`edgeshare verify --ram`, and the export report's `ram` field)."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from edgeshare.cli._common import fmt_bytes, out


def print_ram(summary: dict[str, Any]) -> None:
    """Per runtime: packed copies and the predicted RAM over the weights; then the weights packed more than once."""
    t = Table(title=f"predicted RAM per runtime (weights {fmt_bytes(summary['weight_bytes'])})", title_justify="left")
    for c in ("runtime", "packed weights", "packed copies", "packed bytes", "predicted RAM", "x weight"):
        t.add_column(c, justify="left" if c == "runtime" else "right", overflow="fold")
    for r in summary["runtimes"]:
        ratio = r["ram_to_weight"]
        t.add_row(escape(r["label"]), str(r["packed_weights"]), str(r["packed_copies"]), fmt_bytes(r["packed_bytes"]),
                  fmt_bytes(r["total_bytes"]), "-" if ratio is None else f"{ratio:.2f}x")
    out.print(t)
    packed = [p for p in summary["packed"] if p["copies"] > 1 or p["copies_with_cache"] != p["copies"]]
    if packed:
        pt = Table(title="weights packed more than once", title_justify="left")
        for c in ("weight", "storage", "bytes", "read by", "copies", "copies with cache"):
            pt.add_column(c, justify="right" if c in ("bytes", "copies", "copies with cache") else "left",
                          overflow="fold")
        for p in packed:
            readers = ", ".join(p["readers"][:4]) + (" ..." if len(p["readers"]) > 4 else "")
            pt.add_row(escape(p["name"]), p["storage"], fmt_bytes(p["bytes"]), escape(readers), str(p["copies"]),
                       str(p["copies_with_cache"]))
        out.print(pt)
    for note in summary.get("notes") or []:
        out.print(escape(note))
    out.print("Prediction from the file alone (converters/verify/ram.py); measure with `edgeshare bench FILE`.",
              markup=False)
