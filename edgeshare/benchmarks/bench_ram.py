"""RAM and latency of shared weights at run time: stock file against edgeshare file, each run with LiteRT's
Interpreter default (XNNPACK, a packed copy per op) and with XNNPACK's weight cache (CompiledModel).

One run does everything:

    python -m edgeshare.benchmarks.bench_ram [--out build/bench_ram] [--models ...] [--modes none,int8]
        [--repeats 5] [--runs 50] [--json PATH]

1. Exports (TensorFlow, once; reused when the files exist) every model in every mode twice with
   `edgeshare.converters.export_tflite`: `repair=False` is the stock converter's file, `repair=True` edgeshare's.
   Models: a tied LM with V=50000, D=256 (`edgeshare.models.tied_lm.build(50000, 256)`, 49 MiB of float32
   weights) at the reference sequence length 32 (`tied_lm_50k`) and at one token (`tied_lm_50k_seq1`, a decode
   step: the logits, an activation no sharing removes, shrink from 6.1 MiB to 0.2 MiB), and the reference
   shared models (untrained: training changes values, not RAM or speed). Plus `dense_x8`, written without
   TensorFlow (`edgeshare.benchmarks.synthetic`): one 16 MiB float32 weight read by 8 FULLY_CONNECTED ops, as one
   buffer (edgeshare) or as 8 byte-identical buffers (stock: what a converter that loses sharing writes), float32
   only.
2. Benchmarks each file in both setups with `edgeshare.bench.host.bench_host`, in `--repeats` rounds that
   alternate the setups (each measurement is a baseline process, a first launch that builds the cache, and a
   measured launch: fresh processes).
   ONNX (`--formats`): the tied LMs in float32 with onnxruntime, prepacking on (its default) and off.
3. Prints per file and setup the medians over rounds of RAM (steady RSS over a baseline process; MiB),
   RAM over the model's weight stored once (the edgeshare file's weight bytes), p50 and its spread over rounds,
   and the p50 ratio against the Interpreter default on the same file (per round, then the median); then the
   goals: edgeshare's file with the cache at <= 1.1x the weight in float32 and <= 1.3x in int8, at a p50 no
   higher than the Interpreter default.

Files whose weights are small (the reference models hold 0.1-1 MiB) are dominated by the ~1 MiB a loaded
model costs beyond its tensors and by the activations: their ratios are printed but the goals apply to the
weight-dominated tied LM.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

from edgeshare.benchmarks._common import machine_line

REFERENCE = ("albert_tiny", "universal_transformer_tiny", "mobilellm_tiny", "tied_lm", "shared_cnn")
BIG = ("tied_lm_50k", "tied_lm_50k_seq1")
DENSE = "dense_x8"
# Per format: the setups measured (bench_host options), the first being the default each is compared with.
SETUPS: dict[str, dict[str, dict[str, str]]] = {
    "tflite": {"interpreter": {"weight_cache": "off"}, "compiled+cache": {"weight_cache": "on"}},
    "onnx": {"ort prepack on": {"ort_prepack": "on"}, "ort prepack off": {"ort_prepack": "off"}},
}
GOAL = {"none": 1.1, "int8": 1.3}


def export_all(out: str, models: Sequence[str], modes: Sequence[str], formats: Sequence[str]
               ) -> list[dict[str, Any]]:
    """(model, mode, kind, format, path, weight bytes) for every file, exported where missing. ONNX: the tied
    LMs in float32 only (the prepacking question)."""
    rows = []
    todo = [(m, mode, kind, fmt) for m in models for mode in modes for kind in ("stock", "edgeshare")
            for fmt in formats if (m != DENSE or (mode, fmt) == ("none", "tflite"))
            and (fmt == "tflite" or (m in BIG and mode == "none"))]
    for m, mode, kind, fmt in todo:
        if m == DENSE and not os.path.exists(_path(out, m, mode, kind, fmt)):
            from edgeshare.benchmarks.synthetic import write_shared_dense

            os.makedirs(os.path.join(out, m), exist_ok=True)
            write_shared_dense(_path(out, m, mode, kind, fmt), dim=2048, uses=8, distinct=kind == "stock")
    missing = [t for t in todo if not os.path.exists(_path(out, *t))]
    if missing:
        print(f"exporting {len(missing)} file(s) with TensorFlow into {out}/ ...", file=sys.stderr, flush=True)
        _export(out, missing)
    from edgeshare.bench.artifacts import weight_bytes

    for m, mode, kind, fmt in todo:
        path = _path(out, m, mode, kind, fmt)
        rows.append({"model": m, "mode": mode, "file": kind, "format": fmt, "path": path,
                     "weight_bytes": weight_bytes(path)})
    return rows


def _path(out: str, model: str, mode: str, kind: str, fmt: str = "tflite") -> str:
    return os.path.join(out, model, f"{model}_{mode}_{kind}.{fmt}")


def _export(out: str, jobs: Sequence[tuple[str, str, str, str]]) -> None:
    from edgeshare.accounting import model_inputs, quiet_tensorflow

    quiet_tensorflow()
    from edgeshare.converters import export_onnx, export_tflite
    from edgeshare.models import get
    from edgeshare.models import tied_lm as tl

    built: dict[str, tuple[Any, dict[str, Any]]] = {}
    for model_name, mode, kind, fmt in jobs:
        if model_name not in built:
            if model_name in BIG:
                seq = 1 if model_name.endswith("seq1") else tl.SEQ
                model = tl.build(vocab_size=50000, dim=256, seq_len=seq)
                data = {"tokens": tl.text_windows(50000, seq, 64, seed=0)[:, :seq]}
            else:
                ref = get(model_name)
                model = ref.build()
                data = dict(zip([i.name for i in model_inputs(model)], ref.sample_data(64)))
            built[model_name] = (model, data)
        model, data = built[model_name]
        path = _path(out, model_name, mode, kind, fmt)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        t0 = time.perf_counter()
        export = export_tflite if fmt == "tflite" else export_onnx
        export(model, path, mode, calibration=data, repair=kind == "edgeshare")
        print(f"  {path} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)


def measure(files: list[dict[str, Any]], repeats: int, runs: int) -> list[dict[str, Any]]:
    """Every file in every setup, `repeats` rounds, setups alternating inside a round."""
    from edgeshare.bench.host import bench_host

    samples: list[dict[str, Any]] = []
    for rnd in range(repeats):
        for f in files:
            setups = SETUPS[f["format"]]
            order = list(setups) if rnd % 2 == 0 else list(reversed(setups))
            for setup in order:
                r = bench_host(f["path"], warmup=5, runs=runs, **setups[setup])  # type: ignore[arg-type]
                samples.append({"path": f["path"], "setup": setup, "round": rnd, "p50_ms": r["p50_ms"],
                                                "ram_mb": r["ram_mb"], "ram_anon_mb": r["ram_anon_mb"],
                                "ram_file_mb": r["ram_file_mb"],
                                "peak_ram_mb": r["peak_ram_mb"], "init_ms": r["init_ms"],
                                "first_launch_init_ms": r["first_launch"]["init_ms"],
                                "predicted_ram_mb": (r.get("ram_predicted") or {}).get("ram_mb")})
        print(f"  round {rnd + 1}/{repeats} done ({load()})", file=sys.stderr, flush=True)
    return samples


def load() -> str:
    try:
        return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "load average unknown"


def summarize(files: list[dict[str, Any]], samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    unique = {(f["model"], f["mode"], f["format"]): f["weight_bytes"] for f in files if f["file"] == "edgeshare"}
    rows = []
    for f in files:
        mine = [s for s in samples if s["path"] == f["path"]]
        by_round = {(s["setup"], s["round"]): s for s in mine}
        default = next(iter(SETUPS[f["format"]]))
        for setup in SETUPS[f["format"]]:
            ss = [s for s in mine if s["setup"] == setup]
            ratios = [by_round[(setup, s["round"])]["p50_ms"] / by_round[(default, s["round"])]["p50_ms"]
                      for s in ss if (default, s["round"]) in by_round]
            p50s = [s["p50_ms"] for s in ss]
            ram = statistics.median(s["ram_mb"] for s in ss)
            weight = unique[(f["model"], f["mode"], f["format"])] or f["weight_bytes"]
            rows.append({
                **{k: f[k] for k in ("model", "mode", "file", "format", "path", "weight_bytes")},
                "unique_weight_bytes": weight,
                "setup": setup,
                "ram_mb": ram,
                "ram_mb_range": [min(s["ram_mb"] for s in ss), max(s["ram_mb"] for s in ss)],
                "ram_to_weight": ram * 2**20 / weight,
                "ram_anon_mb": statistics.median(s["ram_anon_mb"] for s in ss),
                "ram_file_mb": statistics.median(s["ram_file_mb"] for s in ss),
                "peak_ram_mb": statistics.median(s["peak_ram_mb"] for s in ss),
                "predicted_ram_mb": ss[0]["predicted_ram_mb"],
                "p50_ms": statistics.median(p50s),
                "p50_range": [min(p50s), max(p50s)],
                "p50_ratio": statistics.median(ratios),
                "p50_ratio_range": [min(ratios), max(ratios)],
                "init_ms": statistics.median(s["init_ms"] for s in ss),
                "first_launch_init_ms": statistics.median(s["first_launch_init_ms"] for s in ss),
            })
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    head = (f"{'model':26} {'mode':4} {'file':17} {'weight MiB':>10} {'setup':15} {'RAM MiB':>8} {'anon':>6} "
            f"{'file':>6} {'predicted':>9} {'RAM/weight':>10} {'peak MiB':>8} {'p50 ms [min-max]':>24} "
            f"{'p50/default [min-max]':>22} {'init ms (first)':>17}")
    print(head)
    print("-" * len(head))
    for r in rows:
        pred = "-" if r["predicted_ram_mb"] is None else f"{r['predicted_ram_mb']:.1f}"
        p50 = f"{r['p50_ms']:.3g} [{r['p50_range'][0]:.3g}-{r['p50_range'][1]:.3g}]"
        ratio = f"{r['p50_ratio']:.2f} [{r['p50_ratio_range'][0]:.2f}-{r['p50_ratio_range'][1]:.2f}]"
        init = f"{r['init_ms']:.0f} ({r['first_launch_init_ms']:.0f})"
        name = f"{r['file']}.{r['format']}"
        print(f"{r['model']:26} {r['mode']:4} {name:17} {r['unique_weight_bytes'] / 2**20:10.2f} {r['setup']:15} "
              f"{r['ram_mb']:8.1f} {r['ram_anon_mb']:6.1f} {r['ram_file_mb']:6.1f} {pred:>9} "
              f"{r['ram_to_weight']:9.2f}x {r['peak_ram_mb']:8.1f} {p50:>24} {ratio:>22} {init:>17}")


def goals(rows: list[dict[str, Any]]) -> list[str]:
    lines = []
    for r in rows:
        if r["model"] not in (*BIG, DENSE) or r["file"] != "edgeshare" or r["setup"] != "compiled+cache" \
                or r["mode"] not in GOAL or r["format"] != "tflite":
            continue
        weights = r["ram_file_mb"] * 2**20 / r["unique_weight_bytes"]
        ram_ok = "met" if r["ram_to_weight"] <= GOAL[r["mode"]] else "NOT met"
        speed_ok = "met" if r["p50_ratio"] <= 1.0 else "NOT met"
        lines.append(f"{r['model']} {r['mode']} edgeshare file + weight cache: RAM {r['ram_to_weight']:.2f}x the "
                     f"weight (goal <= {GOAL[r['mode']]}x: {ram_ok}; the file-backed part, cache and model pages, "
                     f"{weights:.2f}x), p50 {r['p50_ratio']:.2f}x the Interpreter default (goal <= 1: {speed_ok})")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m edgeshare.benchmarks.bench_ram", description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join("build", "bench_ram"), help="where the exported files go")
    ap.add_argument("--models", default=",".join((*BIG, DENSE, *REFERENCE)),
                    help=f"comma-separated, from {', '.join((*BIG, DENSE, *REFERENCE))} (default: all)")
    ap.add_argument("--modes", default="none,int8", help="TFLite modes (default none,int8)")
    ap.add_argument("--formats", default="tflite,onnx",
                    help="tflite, onnx or both (default; ONNX for the tied LMs in float32, prepacking on and off)")
    ap.add_argument("--repeats", type=int, default=5, help="rounds of fresh-process measurements (default 5)")
    ap.add_argument("--runs", type=int, default=50, help="timed runs per measurement (default 50)")
    ap.add_argument("--json", default=None, help="also write every sample and the summary here")
    a = ap.parse_args(argv)
    models = [m for m in a.models.split(",") if m]
    modes = [m for m in a.modes.split(",") if m]
    started = time.perf_counter()
    print(f"bench_ram: {machine_line()} | {load()}")
    files = export_all(a.out, models, modes, [f for f in a.formats.split(",") if f])
    samples = measure(files, a.repeats, a.runs)
    rows = summarize(files, samples)
    print(f"\nMedians of {a.repeats} rounds of fresh processes, {a.runs} timed runs each "
          f"(python -m edgeshare.benchmarks.bench_ram --repeats {a.repeats} --runs {a.runs}). RAM: steady RSS after "
          "load and the first inference over a baseline process of the same runtime; RAM/weight: over the model's "
          "weights stored once (the edgeshare file's); predicted: `edgeshare verify --ram`; p50/default: against the "
          "Interpreter (TFLite) or prepacking on (ONNX) on the same file, per round; init: the measured launch (the "
          "first launch, which builds the cache, in brackets).\n")
    print_table(rows)
    print()
    for line in goals(rows):
        print(line)
    print(f"\n{load()}; {time.perf_counter() - started:.0f} s")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"machine": machine_line(), "rows": rows, "samples": samples}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
