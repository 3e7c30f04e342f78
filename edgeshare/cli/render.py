"""Rich tables for verify and export reports: duplicate groups and where the bytes go."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from edgeshare.cli._common import fmt_bytes, out


def print_verify(rep: Any, title: str | None = None) -> None:
    d = rep if isinstance(rep, dict) else rep.to_dict()
    out.print(
        f"[bold]{title or d.get('path', d.get('artifact'))}[/]  {d['format']}  "
        f"weights {fmt_bytes(d['weight_bytes'])}  floor {fmt_bytes(d['floor_bytes'])}  "
        f"duplicates {fmt_bytes(d['duplicate_bytes'])}  ({d['weight_to_floor']:.2f}x the floor)"
    )
    reaches = d.get("repair_reaches_bytes")
    if d["groups"] and reaches is not None:
        leaves = d.get("repair_leaves") or []
        if not leaves:
            out.print(f"edgeshare repair reaches the floor ({fmt_bytes(reaches)}): each group keeps the copy it keeps")
        else:
            out.print(f"edgeshare repair reaches {fmt_bytes(reaches)}: it would leave {len(leaves)} copy(ies)")
        for c in leaves:
            out.print(f"  [yellow]repair would leave[/] {c['tensor']} ({fmt_bytes(c['bytes'])}, group {c['group']}): "
                      f"{c['reason']}")
    groups = d["groups"]
    if groups:
        t = Table(title=f"{len(groups)} duplicate group(s)", title_justify="left")
        for c in ("#", "kind", "tensor", "shape", "dtype", "bytes", "relation", "consumed by", "keras variable"):
            t.add_column(c, overflow="fold")
        for i, g in enumerate(groups):
            for j, e in enumerate(g["tensors"]):
                rel = e["relation"] + (f" perm={e['perm']}" if e.get("perm") else "")
                if e.get("quantization"):
                    rel += f"\n{e['quantization']}"
                if e.get("saturated"):
                    rel += f"\n{e['saturated']} values clipped at the {e['dtype']} limits"
                if e.get("layout"):
                    rel += f"\nstored {e['layout']}"
                t.add_row(
                    str(i) if j == 0 else "",
                    f"{g['kind']}\nwastes {fmt_bytes(g['wasted_bytes'])}" if j == 0 else "",
                    e["name"],
                    "x".join(map(str, e["shape"])),
                    e["dtype"],
                    fmt_bytes(e["bytes"]),
                    rel,
                    ", ".join(e["consumers"][:4]) + (" ..." if len(e["consumers"]) > 4 else ""),
                    e.get("keras_variable") or "",
                )
        out.print(t)
    else:
        out.print("[green]no duplicates: every weight is stored once[/]")
    if d.get("largest"):
        t = Table(title="where the bytes go (largest stored weights; all of them in --json)", title_justify="left")
        for c in ("tensor", "shape", "dtype", "bytes", "share", "group", "consumed by", "keras variable"):
            t.add_column(c, overflow="fold")
        total = max(1, d["weight_bytes"])
        for w in d["largest"][:8]:
            t.add_row(
                w["name"],
                "x".join(map(str, w["shape"])),
                w["dtype"],
                fmt_bytes(w["bytes"]),
                f"{100 * w['bytes'] / total:.1f}%",
                "" if w["group"] is None else f"dup #{w['group']}",
                ", ".join(w["consumers"][:3]) + (" ..." if len(w["consumers"]) > 3 else ""),
                w.get("keras_variable") or "",
            )
        out.print(t)
    variables = d.get("variables")
    shown = [v for v in variables or [] if v["uses"] > 1 or v["flagged"]]
    if variables and not shown:
        out.print(f"{len(variables)} Keras variables, none used more than once, none stored more than once")
    if shown:
        t = Table(title="shared Keras variables and the stored weights that carry them (every variable in --json)",
                  title_justify="left")
        for c in ("variable", "shape", "uses", "carried by", "flag"):
            t.add_column(c, overflow="fold")
        for v in shown:
            carriers = ", ".join(f"{c} ({r})" for c, r in zip(v["carriers"], v["relations"])) or v["note"]
            flag = "[red]stored more than once[/]" if v["flagged"] else ""
            t.add_row(v["path"], "x".join(map(str, v["shape"])), str(v["uses"]), carriers, flag)
        out.print(t)
    for n in d.get("notes", []):
        out.print(f"[yellow]note:[/] {n}")
