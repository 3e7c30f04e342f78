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


def pareto_figure(summaries: list[Summary], task: str, path: Path, title: str) -> Path:
    """Two panels (float32 file, int8 file): the metric (mean ± std over seeds) against the edgeshare file
    size in KB, a grey marker at the stock converter's size joined to each point, and the Pareto front."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [s for s in summaries if s.task == task and math.isfinite(s.metric.mean)]
    if not rows:
        raise ValueError(f"no rows to plot for the task. Received: task={task!r}")
    name = rows[0].metric_name
    higher = HIGHER_IS_BETTER[name]
    fig, axes = plt.subplots(1, 2, figsize=(14, 6.2), sharey=True)
    colors = plt.get_cmap("tab20")(np.linspace(0, 1, 20))
    for ax, mode in zip(axes, ("float32", "int8")):
        pts = []
        for k, s in enumerate(rows):
            size = (s.tflite_f32_bytes.mean if mode == "float32" else s.tflite_int8_bytes.mean) / 1024
            stock = (s.stock_f32_bytes if mode == "float32" else s.stock_int8_bytes) / 1024
            m = s.metric if mode == "float32" else s.int8_metric
            c = colors[k % 20]
            if stock > 0 and abs(stock - size) / max(size, 1e-9) > 0.01:
                ax.plot([size, stock], [m.mean, m.mean], color=c, lw=1, alpha=0.6, zorder=1)
                ax.scatter([stock], [m.mean], marker="x", color="0.45", s=30, zorder=2)
            ax.errorbar([size], [m.mean], yerr=[m.std], fmt="o", color=c, ms=7, capsize=3, zorder=3,
                        label=s.technique)
            pts.append((size, m.mean))
        front = pareto(pts, higher)
        ax.plot([pts[i][0] for i in front], [pts[i][1] for i in front], "--", color="k", lw=1, zorder=0,
                label="Pareto front (edgeshare)")
        ax.set_xscale("log")
        ax.set_xlabel(f"{mode} .tflite size, KB (log scale); grey x = stock converter's file")
        ax.set_title(f"{mode} file")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel(LABELS[name] + (" (higher is better)" if higher else " (lower is better)"))
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center right", fontsize=9, frameon=True)
    fig.suptitle(title, fontsize=12)
    fig.tight_layout(rect=(0, 0, 0.84, 0.95))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def growth_figure(curves: dict[str, list[float]], path: Path, title: str) -> Path:
    """The int8 file's relative error against the float file, after each use of a block, per technique."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not curves:
        raise ValueError("no error curves to plot. Received: curves={}")
    fig, ax = plt.subplots(figsize=(9, 5.5))
    for name, ys in curves.items():
        ax.plot(range(1, len(ys) + 1), ys, marker="o", label=name)
    ax.set_yscale("log")
    ax.set_xlabel("depth: output of the k-th block application")
    ax.set_ylabel("relative error of int8 vs float32 file (log scale)")
    ax.set_title(title, fontsize=11)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
