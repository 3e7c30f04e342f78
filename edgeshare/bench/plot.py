"""`--plot PNG`: latency distributions and size against latency, with matplotlib (imported here only)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from edgeshare.bench.compare import typical_ms


def _label(row: dict[str, Any], with_when: bool) -> str:
    when = f" {str(row['when'])[:10]}" if with_when and row.get("when") else ""
    return f"{row['variant']}\n{row['device']} · {row['delegate']}{when}"


def plot_compare(rows: Sequence[dict[str, Any]], path: str, title: str = "edgeshare bench") -> str:
    """Draw two panels into `path` (PNG) and return it.

    Left: one horizontal box per (variant, device, delegate) from the per-run latencies (whiskers at
    p5/p95); results without per-run latencies (benchmark_model) show min-mean-max. Right: file size
    against p50 latency, one marker per row, coloured by device and delegate.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in rows if typical_ms(r) is not None]
    if not rows:
        raise ValueError("nothing to plot: no result has a latency")
    keys = [(r["variant"], r["device"], r["delegate"]) for r in rows]
    with_when = len(set(keys)) < len(keys)
    n = len(rows)
    fig, (ax_d, ax_s) = plt.subplots(1, 2, figsize=(15, max(4.5, 0.62 * n + 2.0)),
                                     gridspec_kw={"width_ratios": [1.35, 1]})
    groups = sorted({(r["device"], r["delegate"]) for r in rows})
    cmap = plt.get_cmap("tab10")
    color = {g: cmap(i % 10) for i, g in enumerate(groups)}

    ys = list(range(n))[::-1]  # first row at the top
    all_vals: list[float] = []
    for y, r in zip(ys, rows):
        c = color[(r["device"], r["delegate"])]
        lat = [v for v in (r.get("latencies_ms") or []) if v is not None and v > 0]
        if len(lat) >= 5:
            bp = ax_d.boxplot([lat], positions=[y], vert=False, widths=0.55, whis=(5, 95), showfliers=False,
                              patch_artist=True, medianprops={"color": "black", "linewidth": 1.6})
            for patch in bp["boxes"]:
                patch.set_facecolor(c)
                patch.set_alpha(0.55)
            all_vals += [min(lat), max(lat)]
        else:
            mean = typical_ms(r) or 0.0
            lo, hi = r.get("min_ms") or mean, r.get("max_ms") or mean
            ax_d.errorbar([mean], [y], xerr=[[mean - lo], [hi - mean]], fmt="D", color=c, capsize=4, markersize=7)
            all_vals += [lo, hi]
    ax_d.set_yticks(ys)
    ax_d.set_yticklabels([_label(r, with_when) for r in rows], fontsize=8.5)
    ax_d.set_ylim(-0.7, n - 0.3)
    positive = [v for v in all_vals if v and v > 0]
    if positive and max(positive) / min(positive) > 30:
        ax_d.set_xscale("log")
    ax_d.set_xlabel("latency per inference (ms)")
    ax_d.set_title("Latency distribution (box: p25-p75, line: p50, whiskers: p5-p95;\n"
                   "diamond: mean with min-max where only summary stats exist)", fontsize=10)
    ax_d.grid(axis="x", alpha=0.3)

    for r in rows:
        size = r.get("size_bytes")
        if not size:
            continue
        g = (r["device"], r["delegate"])
        ax_s.scatter([size / 1024.0], [typical_ms(r)], s=60, color=color[g], edgecolor="black", linewidth=0.5,
                     zorder=3)
        ax_s.annotate(r["variant"], (size / 1024.0, typical_ms(r) or 0.0), textcoords="offset points",
                      xytext=(6, 4), fontsize=8)
    sizes = [r["size_bytes"] / 1024.0 for r in rows if r.get("size_bytes")]
    if sizes and max(sizes) / max(min(sizes), 1e-9) > 30:
        ax_s.set_xscale("log")
    lats = [typical_ms(r) or 0.0 for r in rows if r.get("size_bytes")]
    if lats and min(lats) > 0 and max(lats) / min(lats) > 30:
        ax_s.set_yscale("log")
    ax_s.set_xlabel("file size (KiB)")
    ax_s.set_ylabel("p50 latency (ms)")
    ax_s.set_title("Size against latency (lower left is better)", fontsize=10)
    ax_s.grid(alpha=0.3)
    handles = [plt.Line2D([], [], marker="o", linestyle="", color=color[g], markeredgecolor="black",
                          label=f"{g[0]} · {g[1]}") for g in groups]
    ax_s.legend(handles=handles, fontsize=8, loc="best", title="device · delegate", title_fontsize=8)
    fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
