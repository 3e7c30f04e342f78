"""`--plot PNG`: a bar chart of the bytes of each stored weight, duplicates marked."""

from __future__ import annotations

from typing import Any


def plot_weights(report: dict[str, Any], path: str, title: str) -> str:
    """Horizontal bars for the largest stored weights; members of a duplicate group in red."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # the light install has no matplotlib
        from edgeshare.errors import InvalidInputError

        raise InvalidInputError("--plot needs matplotlib: pip install 'edgeshare[export]'") from exc
    rows = list(report.get("largest") or [])
    dup_names = {t["name"] for g in report.get("groups", []) for t in g["tensors"][1:]}
    names = [r["name"] if len(r["name"]) <= 48 else "..." + r["name"][-45:] for r in rows][::-1]
    sizes = [r["bytes"] / 1024 for r in rows][::-1]
    colors = ["#d62728" if r["name"] in dup_names else ("#ff9896" if r["group"] is not None else "#1f77b4")
              for r in rows][::-1]
    fig, ax = plt.subplots(figsize=(10, 0.45 * max(4, len(rows)) + 1.5))
    ax.barh(range(len(rows)), sizes, color=colors)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(names, fontsize=8)
    ax.set_xlabel("KiB stored")
    wb, db = report["weight_bytes"], report["duplicate_bytes"]
    ax.set_title(f"{title}\nweights {wb / 1024:.1f} KiB, duplicates {db / 1024:.1f} KiB "
                 f"({wb / max(1, wb - db):.2f}x the floor)", fontsize=10)
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color="#1f77b4", label="stored once"),
                       Patch(color="#ff9896", label="kept copy of a duplicated weight"),
                       Patch(color="#d62728", label="duplicate copy (wasted)")], loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
