"""The CNN, RNN and multi-task reference models: params, bytes per mode, host p50 latency and test
accuracy after their short training run on digits, in one run.

For each model: train with its own `train()` (scikit-learn's bundled digits, fixed split), export
TFLite none / fp16 / dynamic / int8 and ONNX none / dynamic with its `export_options`, verify each file
and time it on the host (LiteRT with XNNPACK, onnxruntime CPU; one thread; a fresh process per file;
median p50 over rounds that alternate the order). Extra rows compare the alternatives each model is
about: shufflenet_tiny_digits with grouped convs lowered, bank_cnn_digits with its soft bank
materialized, multitask_digits against one file per task.

    python -m edgeshare.benchmarks.bench_cnn_models [--models a,b] [--rounds 3] [--runs 200]
        [--out build/bench_cnn_models]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from typing import Any

from edgeshare.benchmarks._common import machine_line

MODELS = ("bank_cnn_digits", "shufflenet_tiny_digits", "cp_cnn_digits", "shared_rnn_digits", "multitask_digits")
TFLITE = ("none", "fp16", "dynamic", "int8")
ONNX = ("none", "dynamic")
VARIANTS: dict[str, list[tuple[str, dict[str, Any], tuple[str, ...]]]] = {
    "bank_cnn_digits": [("soft bank materialized", {"bank_export": "materialize"}, ("none", "int8"))],
    "shufflenet_tiny_digits": [("grouped convs lowered", {"lower_grouped_conv": True}, ("none", "int8"))],
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--out", default=os.path.join("build", "bench_cnn_models"))
    a = ap.parse_args()

    from edgeshare.accounting import quiet_tensorflow

    quiet_tensorflow()
    import keras

    from edgeshare.bench.host import bench_host
    from edgeshare.converters import export_onnx, export_tflite
    from edgeshare.converters.export.signatures import per_task_tflite_bytes
    from edgeshare.models import get

    rows: list[dict[str, Any]] = []
    summaries: dict[str, dict[str, Any]] = {}
    for name in [m.strip() for m in a.models.split(",") if m.strip()]:
        ref = get(name)
        keras.utils.set_random_seed(0)
        model = ref.build()
        metrics = ref.train(model) if ref.train else {}
        data = ref.sample_data(128)
        folder = os.path.join(a.out, name)
        os.makedirs(folder, exist_ok=True)
        jobs: list[tuple[str, str, str, dict[str, Any]]] = [("", "tflite", m, {}) for m in TFLITE]
        jobs += [("", "onnx", m, {}) for m in ONNX]
        for label, options, modes in VARIANTS.get(name, []):
            jobs += [(label, "tflite", m, options) for m in modes]
        first = None
        for label, fmt, mode, options in jobs:
            suffix = f"_{label.replace(' ', '_')}" if label else ""
            path = os.path.join(folder, f"{name}{suffix}_{mode}.{fmt}")
            opts = {**ref.export_options, **options}
            if fmt == "tflite":
                rep = export_tflite(model, path, mode, calibration=data, **opts)
            else:
                rep = export_onnx(model, path, mode, calibration=data, **opts)
            first = first or rep
            rows.append({"model": name, "variant": label or "as exported", "format": fmt, "mode": mode, "path": path,
                         "weight_bytes": rep.weight_bytes, "file_bytes": rep.file_bytes, "ratio": rep.ratio,
                         "numerics": rep.numerics.passed if rep.numerics else None, "p50": []})
        summary: dict[str, Any] = {"metrics": metrics, "unique": first.unique_params if first else 0,
                                   "per_use": first.params_per_use if first else 0,
                                   "options": ref.export_options}
        if ref.export_options.get("signatures"):
            summary["per_task"] = {m: per_task_tflite_bytes(model, m, calibration=data) for m in TFLITE}
        summaries[name] = summary
    for k in range(a.rounds):
        for r in rows if k % 2 == 0 else list(reversed(rows)):
            r["p50"].append(bench_host(r["path"], threads=1, warmup=20, runs=a.runs)["p50_ms"])

    print(f"bench_cnn_models ({machine_line()}); 1 thread; p50 = median over {a.rounds} rounds of {a.runs} "
          "runs, fresh process per file, alternating order")
    for name, s in summaries.items():
        acc = ", ".join(f"{k} {v:.3f}" for k, v in s["metrics"].items())
        options_text = ", ".join(f"{k}={v!r}" for k, v in s["options"].items()) or "defaults"
        print(f"\n### {name}\n\nparams: {s['unique']:,} unique, {s['per_use']:,} per use; test accuracy after "
              f"its training run: {acc}; export options: {options_text}\n")
        print("| variant | format | mode | weight bytes | file bytes | weights / floor | numerics | host p50 ms |")
        print("|---|---|---|---:|---:|---:|---|---:|")
        for r in (r for r in rows if r["model"] == name):
            print(f"| {r['variant']} | {r['format']} | {r['mode']} | {r['weight_bytes']:,} | {r['file_bytes']:,} "
                  f"| {r['ratio']:.3f} | {'ok' if r['numerics'] else 'OFF'} | {statistics.median(r['p50']):.3f} |")
        if "per_task" in s:
            print("\nOne multi-signature .tflite against one .tflite per task (the same conversion, one signature "
                  "each):\n")
            print("| mode | multi-signature file bytes | per-task files | sum | ratio |")
            print("|---|---:|---|---:|---:|")
            for mode, sep in s["per_task"].items():
                multi = next(r for r in rows if r["model"] == name and r["format"] == "tflite" and r["mode"] == mode
                             and r["variant"] == "as exported")
                total = sum(sep.values())
                print(f"| {mode} | {multi['file_bytes']:,} | {', '.join(f'{k} {v:,}' for k, v in sep.items())} "
                      f"| {total:,} | {multi['file_bytes'] / total:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
