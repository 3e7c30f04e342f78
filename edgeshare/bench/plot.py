"""`--plot PNG`: latency distributions, size against latency and RAM over the weight, with matplotlib
(imported here only)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from edgeshare.bench.compare import typical_ms


def _label(row: dict[str, Any], with_when: bool) -> str:
    when = f" {str(row['when'])[:10]}" if with_when and row.get("when") else ""
    setup = f" · {row['setup']}" if row.get("setup") not in (None, "-") else ""
    return f"{row['variant']}\n{row['device']} · {row['delegate']}{setup}{when}"


def plot_compare(rows: Sequence[dict[str, Any]], path: str, title: str = "edgeshare bench") -> str:
    """Draw the panels into `path` (PNG) and return it.

    Left: one horizontal box per (variant, device, delegate) from the per-run latencies (whiskers at
    p5/p95); results without per-run latencies (benchmark_model) show p50 (or the mean) with min-max. Middle:
    file size against p50 latency, one marker per row, coloured by device and delegate. Right, when results carry
    RAM: one bar per row, its steady RAM in multiples of the stored weights (ram_to_weight), with the first
    launch's peak as a tick.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    rows = [r for r in rows if typical_ms(r) is not None]
    if not rows:
        raise ValueError("nothing to plot: no result has a latency")
    keys = [(r["variant"], r["device"], r["delegate"], r.get("setup")) for r in rows]
    with_when = len(set(keys)) < len(keys)
    n = len(rows)
    with_ram = any(r.get("ram_to_weight") is not None for r in rows)
    fig, axes = plt.subplots(1, 3 if with_ram else 2, figsize=(21 if with_ram else 15, max(6.0, 0.62 * n + 2.5)),
                             gridspec_kw={"width_ratios": [1.35, 1, 0.8] if with_ram else [1.35, 1]})
    ax_d, ax_s = axes[0], axes[1]
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
    ax_d.set_yticklabels([f"[{i}] {_label(r, with_when)}" for i, r in enumerate(rows, 1)], fontsize=8.5)
    ax_d.set_ylim(-0.7, n - 0.3)
    positive = [v for v in all_vals if v and v > 0]
    if positive and max(positive) / min(positive) > 30:
        ax_d.set_xscale("log")
    ax_d.set_xlabel("latency per inference (ms)")
    ax_d.set_title("Latency distribution (box: p25-p75, line: p50, whiskers: p5-p95;\n"
                   "diamond: p50, or the mean, with min-max where only summary stats exist)", fontsize=10)
    ax_d.grid(axis="x", alpha=0.3)

    points = [(i, r["size_bytes"] / 1024.0, typical_ms(r) or 0.0, color[(r["device"], r["delegate"])])
              for i, r in enumerate(rows, 1) if r.get("size_bytes")]
    for _, size_kib, latency, c in points:
        ax_s.scatter([size_kib], [latency], s=70, color=c, edgecolor="black", linewidth=0.5, zorder=3)
    if points:
        xs, lats = [p[1] for p in points], [p[2] for p in points]
        if max(xs) / max(min(xs), 1e-9) > 30:
            ax_s.set_xscale("log")
        if min(lats) > 0 and max(lats) / min(lats) > 30:
            ax_s.set_yscale("log")
        ax_s.margins(0.12)
        _label_points(ax_s, points)
    ax_s.set_xlabel("file size (KiB)")
    ax_s.set_ylabel("p50 latency (ms)")
    ax_s.set_title("Size against latency (lower left is better; numbers are the rows on the left)", fontsize=10)
    for axis in (ax_d.xaxis, ax_s.xaxis, ax_s.yaxis):
        axis.set_major_formatter(FuncFormatter(_plain))
        axis.set_minor_formatter(FuncFormatter(lambda v, _pos: ""))
    ax_s.grid(alpha=0.3)
    handles = [plt.Line2D([], [], marker="o", linestyle="", color=color[g], markeredgecolor="black",
                          label=f"{g[0]} · {g[1]}") for g in groups]
    ax_s.legend(handles=handles, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1),
                ncol=min(2, len(handles)), title="device · delegate", title_fontsize=8, frameon=False)
    if with_ram:
        _ram_panel(axes[2], rows, ys, [color[(r["device"], r["delegate"])] for r in rows])
    fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _ram_panel(ax: Any, rows: Sequence[dict[str, Any]], ys: list[int], colors: list[Any]) -> None:
    """Steady RAM over the stored weights per row (the bar, labelled with its MiB), the first launch's peak as a
    tick, and 1x (RAM equal to the weights) as a line."""
    for y, r, c in zip(ys, rows, colors):
        ratio = r.get("ram_to_weight")
        if ratio is None:
            ax.text(0.02, y, "no RAM figure", va="center", fontsize=8, color="grey", transform=ax.get_yaxis_transform())
            continue
        ax.barh([y], [ratio], color=c, alpha=0.6, edgecolor="black", linewidth=0.5, height=0.55)
        label = f"{ratio:.2f}x" + (f" ({r['ram_mb']:.1f} MiB)" if r.get("ram_mb") is not None else "")
        ax.text(ratio, y, " " + label, va="center", fontsize=8)
        weight = r.get("weight_bytes")
        if r.get("peak_ram_mb") is not None and weight:
            ax.plot([r["peak_ram_mb"] * 2**20 / weight] * 2, [y - 0.3, y + 0.3], color="black", linewidth=1.5)
    ax.axvline(1.0, color="black", linestyle=":", linewidth=1)
    ax.set_yticks(ys)
    ax.set_yticklabels([f"[{i}]" for i in range(1, len(rows) + 1)], fontsize=8.5)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.margins(x=0.25)
    ax.set_xlabel("steady RAM / stored weights (ram_to_weight)")
    ax.set_title("RAM over the weights (bar: after load and first inference;\ntick: first launch peak; "
                 "dotted: 1x)", fontsize=10)
    ax.grid(axis="x", alpha=0.3)


def _plain(value: float, _pos: object = None) -> str:
    """Tick labels as plain numbers (0.01, 0.5, 2, 300), never 10^-2 or 6x10^-1."""
    return f"{value:g}"


def _label_points(ax: Any, points: list[tuple[int, float, float, Any]]) -> None:
    """Number each point, moving a label up or down until it no longer covers one already placed."""
    ax.figure.canvas.draw()  # fixes the limits, so data can be turned into pixels
    placed: list[tuple[float, float, float, float]] = []
    for i, x, y, _c in sorted(points, key=lambda p: (p[1], p[2])):
        px, py = ax.transData.transform((x, y))
        text = str(i)
        w, h = 7.0 * len(text) + 2, 11.0
        for dy in (4, -14, 14, -24, 24, -34, 34, -44, 44, -54, 54):
            box = (px + 7, py + dy, px + 7 + w, py + dy + h)
            if all(box[2] < b[0] or box[0] > b[2] or box[3] < b[1] or box[1] > b[3] for b in placed):
                break
        placed.append(box)
        ax.annotate(text, (x, y), textcoords="offset points", xytext=(7 * 72 / ax.figure.dpi, dy * 72 / ax.figure.dpi),
                    fontsize=9, fontweight="bold", va="bottom")
