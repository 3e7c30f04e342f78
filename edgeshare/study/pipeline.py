"""The study's pipeline: train, export (edgeshare and stock), evaluate float and int8, bench.

Training runs on the chosen Keras backend. With `tensorflow` everything runs in this process. With `jax`
the models are trained (and their float metric measured) in a child process that runs Keras on JAX and
saves each model as `.keras`; this process then loads them on TensorFlow, since the TFLite converter
needs TensorFlow, and exports and evaluates them exactly as on the TensorFlow path. So on JAX only the
training, its random streams and the float metric differ; the files, the int8 metric and the bench do not.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from edgeshare.study import digits_techniques as dt
from edgeshare.study import text_techniques as tt
from edgeshare.study.config import StudyConfig
from edgeshare.study.metrics import accuracy, bits_per_byte
from edgeshare.study.tflite_eval import match_outputs, run_tflite
from edgeshare.study.training import (
    DigitsData,
    TextData,
    digits_accuracies,
    digits_outputs,
    text_bpb,
    train_digits,
    train_text,
)

SCRIPT = "python -m edgeshare.study"
T = TypeVar("T")


@dataclass
class Trained:
    """One trained technique and seed: its model(s) by key, or their .keras paths (from the JAX worker)."""

    task: str
    technique: str
    seed: int
    models: dict[str, Any]
    metric: float
    task_metrics: dict[str, float]
    train_seconds: float
    backend: str


@dataclass
class Row:
    technique: str
    task: str
    seed: int
    backend: str
    metric_name: str
    metric: float
    int8_metric: float
    tflite_f32_metric: float
    # text only: the int8 file exported with Keras' own masked softmax (`export_tflite(int8_softmax=False)`)
    int8_keras_mask_metric: float
    # repeat_loop only: the same weights exported unrolled (per-use activation ranges)
    int8_unrolled_metric: float
    unique_params: int
    params_per_use: int
    tflite_f32_bytes: int
    tflite_int8_bytes: int
    stock_tflite_f32_bytes: int
    stock_tflite_int8_bytes: int
    stock_seed: int  # the seed whose model the stock converter ran on (its sizes depend on shapes only)
    p50_ms: float = float("nan")  # float32 edgeshare file, host, XNNPACK
    ram_mb: float = float("nan")
    int8_p50_ms: float = float("nan")
    int8_ram_mb: float = float("nan")
    ram_source: str = ""
    duplicate_bytes: int = 0  # left in edgeshare's files (0 when the repair stored every weight once)
    int8_cosine: float = float("nan")  # export numerics of the int8 file against Keras (worst model)
    train_seconds: float = 0.0
    task_metrics: dict[str, float] = field(default_factory=dict)
    int8_task_metrics: dict[str, float] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # "<key>_<mode>" -> path (benched)
    keras_mask_files: dict[str, str] = field(default_factory=dict)  # key -> int8 file with Keras' masked softmax


def row_from_json(d: dict[str, Any]) -> Row:
    """A Row from its JSON form, where a missing number (NaN) was written as null."""
    floats = {f.name for f in fields(Row) if f.type in ("float", float)}
    values: dict[str, Any] = {k: float("nan") if v is None and k in floats else v for k, v in d.items()}
    return Row(**values)


def metric_name(task: str) -> str:
    return "accuracy" if task == "digits" else "bits_per_byte"


def load_text_data(config: StudyConfig, corpus: bytes) -> TextData:
    from edgeshare.study.corpus import split, spread_windows

    parts = split(corpus)
    return TextData(train=parts.train, eval_windows=spread_windows(parts.test, config.text.seq_len,
                                                                   config.text.eval_windows))


def train_one(config: StudyConfig, task: str, technique: str, seed: int, digits: DigitsData | None,
              text: TextData | None) -> Trained:
    """Build and train one technique with one seed on the current backend; measure its float metric."""
    import keras

    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    if task == "digits":
        d = need(digits, task)
        split = keras.backend.backend() == "tensorflow"  # TF's grouped-conv gradient is slow on CPU
        models = dt.build(technique, config.digits, split_groups=split)
        seconds = train_digits(models, config.digits, d)
        models = dt.to_native(models, technique, config.digits) if split else models
        accs = digits_accuracies(digits_outputs(models, d.x_test), d.y_test)
        return Trained(task, technique, seed, models, accs["digit"], accs, seconds, keras.backend.backend())
    t = need(text, task)
    model = tt.build(technique, config.text)
    seconds = train_text(model, config.text, t, seed)
    bpb = text_bpb(model, t.eval_windows)
    return Trained(task, technique, seed, {"lm": model}, bpb, {}, seconds, keras.backend.backend())


def need(data: T | None, task: str) -> T:
    """`data`, which must have been loaded for `task`."""
    if data is None:
        raise ValueError(f"the {task} data must be loaded before its models run. Received: task={task!r}")
    return data


def calibration_for(config: StudyConfig, task: str, digits: DigitsData | None, text: TextData | None
                    ) -> list[np.ndarray]:
    """Training samples for int8 calibration: the first training images, or seeded training windows."""
    from edgeshare.study.corpus import random_windows

    if task == "digits":
        return [need(digits, task).x_train[: config.digits.calibration]]
    return [random_windows(need(text, task).train, config.text.seq_len, config.text.calibration, seed=7)[:, :-1]]


def _evaluate_file(path: str, task: str, trained: Trained, digits: DigitsData | None, text: TextData | None,
                   key: str, mapping: dict[str, int] | None) -> tuple[dict[str, float], dict[str, int] | None]:
    """Task metric(s) of one exported file; returns the metrics and the output-to-task mapping."""
    if task == "text":
        w = need(text, task).eval_windows
        (logits,) = run_tflite(path, {"tokens": w[:, :-1]})
        return {"lm": bits_per_byte(logits, w[:, 1:])}, None
    d = need(digits, task)
    outs = run_tflite(path, {"image": d.x_test})
    want = dt.labels(d.y_test)
    if key != "tasks":
        return {key: accuracy(outs[0], want[key])}, None
    if mapping is None:  # from the float file, against Keras
        ref = digits_outputs({key: trained.models[key]}, d.x_test)
        mapping = match_outputs(ref, outs)
    return {t: accuracy(outs[i], want[t]) for t, i in mapping.items()}, mapping


def export_and_evaluate(config: StudyConfig, trained: Trained, out_dir: Path, digits: DigitsData | None,
                        text: TextData | None, with_stock: bool) -> tuple[Row, dict[str, int]]:
    """Export every model of `trained` with edgeshare (float32, int8) and, if `with_stock`, with the stock
    converter; evaluate the edgeshare files. Returns the row (without bench numbers) and the stock bytes."""
    from edgeshare.converters import export_tflite
    from edgeshare.study.stock import stock_tflite

    task, technique = trained.task, trained.technique
    cal = calibration_for(config, task, digits, text)
    folder = out_dir / "files" / task / technique / f"seed{trained.seed}"
    folder.mkdir(parents=True, exist_ok=True)
    options = dt.export_options(technique) if task == "digits" else {}
    sizes = {"none": 0, "int8": 0}
    stock = {"none": 0, "int8": 0}
    unique = per_use = duplicates = 0
    cosine = 1.0
    files: dict[str, str] = {}
    metrics: dict[str, dict[str, float]] = {"none": {}, "int8": {}, "int8_keras_mask": {}, "int8_unrolled": {}}
    keras_mask_files: dict[str, str] = {}
    for key, model in trained.models.items():
        mapping: dict[str, int] | None = None
        for mode in ("none", "int8"):
            path = str(folder / f"{key}_{mode}.tflite")
            rep = export_tflite(model, path, mode, calibration=cal, **options)
            sizes[mode] += rep.file_bytes
            duplicates += rep.duplicate_bytes
            if mode == "none":
                unique += rep.unique_params
                per_use += rep.params_per_use
            elif rep.numerics is not None:
                cosine = min(cosine, float(rep.numerics.cosine_similarity))
            files[f"{key}_{mode}"] = path
            got, mapping = _evaluate_file(path, task, trained, digits, text, key, mapping)
            metrics[mode].update(got)
            if with_stock:
                stock[mode] += len(stock_tflite(model, mode, cal))
        if task == "text":
            path = str(folder / f"{key}_int8_keras_mask.tflite")
            export_tflite(model, path, "int8", calibration=cal, int8_softmax=False)
            metrics["int8_keras_mask"] = _evaluate_file(path, task, trained, digits, text, key, None)[0]
            keras_mask_files[key] = path
        if technique == "repeat_loop":
            path = str(folder / f"{key}_int8_unrolled.tflite")
            export_tflite(unrolled_twin(model, config), path, "int8", calibration=cal)
            metrics["int8_unrolled"] = _evaluate_file(path, task, trained, digits, text, key, None)[0]
    main = "lm" if task == "text" else "digit"
    row = Row(
        technique=technique, task=task, seed=trained.seed, backend=trained.backend, metric_name=metric_name(task),
        metric=trained.metric, int8_metric=metrics["int8"][main], tflite_f32_metric=metrics["none"][main],
        int8_keras_mask_metric=metrics["int8_keras_mask"].get(main, float("nan")),
        int8_unrolled_metric=metrics["int8_unrolled"].get(main, float("nan")),
        unique_params=unique, params_per_use=per_use, tflite_f32_bytes=sizes["none"],
        tflite_int8_bytes=sizes["int8"], stock_tflite_f32_bytes=stock["none"], stock_tflite_int8_bytes=stock["int8"],
        stock_seed=trained.seed, duplicate_bytes=duplicates, int8_cosine=cosine,
        train_seconds=round(trained.train_seconds, 2),
        task_metrics=trained.task_metrics if task == "digits" else {},
        int8_task_metrics=metrics["int8"] if task == "digits" else {}, files=files, keras_mask_files=keras_mask_files,
    )
    return row, stock


def unrolled_twin(model: Any, config: StudyConfig) -> Any:
    """The repeat_loop model with its Repeat unrolled (`mode="unrolled"`) and the same weights: each use of
    the block then has its own activation tensors, so int8 calibrates a range per use instead of one range
    for every pass of the loop."""
    from edgeshare.layers import Repeat, TransformerBlock

    size = config.text
    block = TransformerBlock(num_heads=size.heads, key_dim=size.dim // size.heads, ffn_dim=size.ffn, causal=True,
                             name="block")
    twin = tt.build("repeat_loop", size, stack=Repeat(block, size.depth, mode="unrolled", name="stack"))
    twin.set_weights(model.get_weights())
    return twin


def add_bench(config: StudyConfig, rows: list[Row]) -> int:
    """Fill p50_ms and ram_mb (float32 file) and int8_p50_ms, int8_ram_mb from one `edgeshare bench` call, for
    the rows that have none yet (a resumed row keeps the numbers it was benched with).
    A technique made of several models (separate_tasks) adds their latencies and RAM: all run per input."""
    from edgeshare.study.bench import bench_files

    todo = [r for r in rows if not (math.isfinite(r.p50_ms) and math.isfinite(r.int8_p50_ms))]
    paths = [p for r in todo for p in r.files.values()]
    bench = bench_files(paths, runs=config.bench_runs)
    for r in todo:
        for mode, p50_attr, ram_attr in (("none", "p50_ms", "ram_mb"), ("int8", "int8_p50_ms", "int8_ram_mb")):
            got = [bench[os.path.realpath(p)] for k, p in r.files.items() if k.endswith("_" + mode)]
            setattr(r, p50_attr, round(sum(b.p50_ms for b in got), 4))
            setattr(r, ram_attr, round(sum(b.ram_mb for b in got), 2))
            r.ram_source = got[0].ram_source
    return len(paths)


def train_in_worker(config: StudyConfig, backend: str, jobs: list[tuple[str, str, int]], out_dir: Path,
                    corpus_path: str | None) -> list[Trained]:
    """Train `jobs` in a child process on `backend`; each model comes back as a .keras file."""
    spec = out_dir / "worker_jobs.json"
    result = out_dir / "worker_result.json"
    spec.write_text(json.dumps({"quick": config.quick, "jobs": jobs, "out_dir": str(out_dir),
                                "corpus": corpus_path, "config": asdict(config)}))
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    cmd = [sys.executable, "-m", "edgeshare.study.worker", str(spec), str(result)]
    proc = subprocess.run(cmd, env=env, timeout=4 * 3600)
    if proc.returncode != 0 or not result.exists():
        raise RuntimeError(f"the {backend} training worker failed. Received: returncode={proc.returncode}")
    out = []
    for d in json.loads(result.read_text()):
        out.append(Trained(d["task"], d["technique"], d["seed"], d["models"], d["metric"], d["task_metrics"],
                           d["train_seconds"], d["backend"]))
    return out


def load_trained(trained: Trained) -> Trained:
    """Replace .keras paths by models loaded on this process's backend (TensorFlow)."""
    from edgeshare.accounting import load_keras_model

    models = {k: load_keras_model(v) if isinstance(v, str) else v for k, v in trained.models.items()}
    return Trained(trained.task, trained.technique, trained.seed, models, trained.metric, trained.task_metrics,
                   trained.train_seconds, trained.backend)


def _same_sizes(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether a journaled row was made with the same model and training sizes (the technique lists and
    the other options may differ: a row of a text-only run serves a run of both tasks)."""
    keys = ("digits", "text", "quick")
    # JSON wrote the tuples (seeds, Tucker ranks) as lists: compare through one JSON round trip.
    return all(json.loads(json.dumps(a.get(k))) == json.loads(json.dumps(b.get(k))) for k in keys)


def jobs_of(config: StudyConfig) -> list[tuple[str, str, int]]:
    return ([("digits", t, s) for t in config.digits_techniques for s in config.seeds]
            + [("text", t, s) for t in config.text_techniques for s in config.seeds])


def run(config: StudyConfig, out_dir: Path, backend: str = "tensorflow", corpus_path: str | None = None,
        log: Any = print, resume: bool = False) -> list[Row]:
    """Every row of the study: train, export, evaluate; then bench every file.

    Each finished row is appended to OUT_DIR/rows.jsonl; with `resume`, the rows found there for this
    configuration are kept and only the missing ones run."""
    from edgeshare.study.corpus import corpus_bytes

    out_dir.mkdir(parents=True, exist_ok=True)
    digits = DigitsData.load() if config.digits_techniques else None
    text = load_text_data(config, corpus_bytes(corpus_path)) if config.text_techniques else None
    jobs = jobs_of(config)
    journal = out_dir / "rows.jsonl"
    done: dict[tuple[str, str, int], Row] = {}
    if resume and journal.exists():
        for line in journal.read_text().splitlines():
            d = json.loads(line)
            # a row of another configuration, backend or row layout (an older study) is run again
            if (_same_sizes(d.pop("config"), asdict(config)) and d["backend_requested"] == backend
                    and set(d) - {"backend_requested"} <= {f.name for f in fields(Row)}):
                d.pop("backend_requested")
                done[(d["task"], d["technique"], d["seed"])] = row_from_json(d)
        log(f"resuming: {len(done)} row(s) from {journal}")
    elif journal.exists():
        journal.unlink()
    jobs_left = [j for j in jobs if j not in done]
    pretrained: dict[tuple[str, str, int], Trained] = {}
    if backend != "tensorflow" and jobs_left:
        started = time.perf_counter()
        for t in train_in_worker(config, backend, jobs_left, out_dir, corpus_path):
            pretrained[(t.task, t.technique, t.seed)] = t
        log(f"trained {len(pretrained)} models on {backend} in {time.perf_counter() - started:.0f} s")
    rows: list[Row] = []
    stock_of: dict[tuple[str, str], tuple[int, dict[str, int]]] = {}
    for task, technique, seed in jobs:
        if (task, technique, seed) in done:
            row = done[(task, technique, seed)]
            stock_of.setdefault((task, technique), (row.stock_seed, {"none": row.stock_tflite_f32_bytes,
                                                                      "int8": row.stock_tflite_int8_bytes}))
            rows.append(row)
            continue
        started = time.perf_counter()
        if (task, technique, seed) in pretrained:
            trained = load_trained(pretrained[(task, technique, seed)])
        else:
            trained = train_one(config, task, technique, seed, digits, text)
        first = (task, technique) not in stock_of
        row, stock = export_and_evaluate(config, trained, out_dir, digits, text, with_stock=first)
        if first:
            stock_of[(task, technique)] = (seed, stock)
        row.stock_seed, stock = stock_of[(task, technique)]
        row.stock_tflite_f32_bytes, row.stock_tflite_int8_bytes = stock["none"], stock["int8"]
        rows.append(row)
        with journal.open("a") as fh:
            fh.write(json.dumps({**asdict(row), "config": asdict(config), "backend_requested": backend}) + "\n")
        log(f"{task:6s} {technique:16s} seed {seed}: {row.metric_name} {row.metric:.4f} float, "
            f"{row.int8_metric:.4f} int8; {row.tflite_f32_bytes:,} / {row.tflite_int8_bytes:,} bytes "
            f"(stock {row.stock_tflite_f32_bytes:,} / {row.stock_tflite_int8_bytes:,}); "
            f"train {row.train_seconds:.0f} s, all {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    benched = add_bench(config, rows)
    log(f"benched {benched} files in {time.perf_counter() - started:.0f} s")
    return rows


def rows_to_json(rows: list[Row]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]
