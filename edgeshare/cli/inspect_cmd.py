"""edgeshare inspect MODEL.keras [--json [PATH]]"""

from __future__ import annotations

import argparse
from typing import Any

from edgeshare.cli._common import add_json_flag, emit_json, fmt_bytes, human, out, progress_bar
from edgeshare.cli.export_cmd import add_custom_objects_flag, load_prelude


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "inspect",
        help="count parameters per use and per unique variable in a Keras model",
        description="Sharing accounting: parameters counted per use (each call of a shared layer counts "
        "again), unique parameters, the shared variables and bytes at f32/f16/int8.",
    )
    p.add_argument("model", help="a .keras file")
    add_custom_objects_flag(p)
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.table import Table

    from edgeshare.accounting import inspect

    load_prelude(args.model, args.custom_objects)
    with progress_bar(f"loading and tracing {args.model}"):
        rep = inspect(args.model)
    if human(args):
        out.print(
            f"[bold]{rep.name}[/]: {rep.params_per_use:,} parameters per use, {rep.unique_params:,} unique "
            f"(sharing factor {rep.sharing_factor:.2f}x)"
        )
        t = Table(title="weight bytes", title_justify="left")
        for c in ("", "f32", "f16", "int8"):
            t.add_column(c, justify="right")
        for label, b in (("unique (stored once)", rep.bytes_unique), ("per use (unshared)", rep.bytes_per_use)):
            t.add_row(label, fmt_bytes(b["f32"]), fmt_bytes(b["f16"]), fmt_bytes(b["int8"]))
        out.print(t)
        if rep.shared:
            t = Table(title="shared variables", title_justify="left")
            for c in ("variable", "shape", "params", "uses"):
                t.add_column(c)
            for s in rep.shared:
                t.add_row(s.path, "x".join(map(str, s.shape)), f"{s.params:,}", str(s.uses))
            out.print(t)
        else:
            out.print("no variable is used more than once")
        if rep.unused:
            out.print(f"[yellow]unused variables:[/] {', '.join(rep.unused)}")
    emit_json(args.json, rep.to_dict())
    return 0
