"""The study's figures: per task, the metric against the file size, float and int8, with the Pareto front,
and each technique's stock-converter size beside edgeshare's."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from edgeshare.study.report import HIGHER_IS_BETTER, Summary

LABELS = {"accuracy": "test accuracy", "bits_per_byte": "test bits per byte"}


def pareto(points: list[tuple[float, float]], higher_is_better: bool) -> list[int]:
    """Indices of the points no other point beats: smaller (or equal) size and a better (or equal) metric,
    strictly better in one. Sorted by size."""
    front = []
    for i, (xi, yi) in enumerate(points):
        dominated = False
        for j, (xj, yj) in enumerate(points):
            if i == j:
                continue
            better = yj >= yi if higher_is_better else yj <= yi
            strictly = xj < xi or (yj > yi if higher_is_better else yj < yi)
            if xj <= xi and better and strictly:
                dominated = True
                break
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: points[i][0])


MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p")
MODES = {  # panel title -> (bytes of which file, which metric)
    "float32 file": ("f32", "metric"),
    "int8 file (as exported)": ("int8", "int8_metric"),
    "int8 file, Keras' masked softmax": ("int8", "int8_keras_mask_metric"),
}


def _metric(s: Summary, field: str) -> tuple[float, float]:
    if field == "metric":
        return s.metric.mean, s.metric.std
    if field == "int8_metric":
        return s.int8_metric.mean, s.int8_metric.std
    st = s.extra.get(field)
    return (st.mean, st.std) if st is not None else (float("nan"), float("nan"))


def _plain_log_axis(axis: object) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))  # type: ignore[attr-defined]
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # type: ignore[attr-defined]
    axis.set_minor_formatter(FuncFormatter(lambda v, _: ""))  # type: ignore[attr-defined]


def pareto_figure(summaries: list[Summary], task: str, path: Path, title: str) -> Path:
    """One panel per file kind (float32, int8, and for text int8 with Keras' masked softmax): the metric (mean ±
    std over seeds) against the edgeshare file size in KB, the stock converter's size as a grey x joined to
    each point, the technique named beside its point, and the Pareto front of edgeshare's files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [s for s in summaries if s.task == task and math.isfinite(s.metric.mean)]
    if not rows:
        raise ValueError(f"no rows to plot for the task. Received: task={task!r}")
    name = rows[0].metric_name
    higher = HIGHER_IS_BETTER[name]
    modes = [m for m, (_, f) in MODES.items() if any(math.isfinite(_metric(s, f)[0]) for s in rows)]
    fig, axes = plt.subplots(1, len(modes), figsize=(6.4 * len(modes) + 2.6, 6.6), sharey=True, squeeze=False)
    colors = plt.get_cmap("tab20")(np.linspace(0, 1, 20))
    for ax, mode in zip(axes[0], modes):
        kind, field = MODES[mode]
        pts = []
        for k, s in enumerate(rows):
            size = (s.tflite_f32_bytes.mean if kind == "f32" else s.tflite_int8_bytes.mean) / 1024
            stock = (s.stock_f32_bytes if kind == "f32" else s.stock_int8_bytes) / 1024
            mean, std = _metric(s, field)
            if not math.isfinite(mean):
                continue
            c = colors[(2 * k) % 20 if k < 10 else (2 * k + 1) % 20]
            if stock > 0 and abs(stock - size) / max(size, 1e-9) > 0.01:
                ax.plot([size, stock], [mean, mean], color=c, lw=1, alpha=0.6, zorder=1)
                ax.scatter([stock], [mean], marker="x", color="0.45", s=30, zorder=2)
            ax.errorbar([size], [mean], yerr=[std], fmt=MARKERS[k % len(MARKERS)], color=c, ms=7, capsize=3,
                        zorder=3, label=s.technique)
            ax.annotate(s.technique, (size, mean), textcoords="offset points", xytext=(5, 4), fontsize=7.5,
                        color="0.15")
            pts.append((size, mean))
        front = pareto(pts, higher)
        ax.plot([pts[i][0] for i in front], [pts[i][1] for i in front], "--", color="k", lw=1, zorder=0,
                label="Pareto front (edgeshare files)")
        ax.set_xscale("log")
        _plain_log_axis(ax.xaxis)
        ax.set_xlabel(".tflite size, KB (log scale); grey x: stock converter's file")
        ax.set_title(mode)
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel(LABELS[name] + (" (higher is better)" if higher else " (lower is better)"))
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center right", fontsize=9, frameon=True)
    fig.suptitle(title, fontsize=12)
    fig.tight_layout(rect=(0, 0, 1 - 2.3 / fig.get_figwidth(), 0.93))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def growth_figure(curves: dict[str, list[float]], path: Path, title: str) -> Path:
    """The int8 file's relative error against the float file after each block application, per technique;
    a curve of one point (a loop, whose passes are invisible) is drawn at the full depth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = {k: v for k, v in curves.items() if v}
    if not curves:
        raise ValueError("no non-empty error curve to plot. Received: curves={}")
    depth = max(len(ys) for ys in curves.values())
    fig, ax = plt.subplots(figsize=(11, 6))
    colors = plt.get_cmap("tab20")(np.linspace(0, 1, 20))
    for k, (name, ys) in enumerate(curves.items()):
        xs = list(range(1, len(ys) + 1)) if len(ys) > 1 else [depth]
        label = name if len(ys) > 1 else f"{name} (loop output only)"
        ax.plot(xs, ys, marker=MARKERS[k % len(MARKERS)], color=colors[(2 * k) % 20 if k < 10 else (2 * k + 1) % 20],
                label=label, ms=8 if len(ys) == 1 else 6)
    ax.set_yscale("log")
    _plain_log_axis(ax.yaxis)
    ax.set_xticks(range(1, depth + 1))
    ax.set_xlabel("depth: output of the k-th block application")
    ax.set_ylabel("relative L2 error, int8 file vs float32 file (log scale)")
    ax.set_title(title, fontsize=11)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=9, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
