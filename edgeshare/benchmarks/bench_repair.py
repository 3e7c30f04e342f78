"""Stock exports against edgeshare exports, for every reference model and mode.

For each model: train briefly, then export with the stock converters (TFLiteConverter; Keras'
`Model.export(format="onnx")` for stock ONNX) and with edgeshare (same conversion + repair). Prints
weight bytes, duplicate bytes, weight/floor, host p50 latency before and after repair, and for ONNX the
onnxruntime session RSS (a fresh process each: VmRSS after InferenceSession minus before).

    python -m edgeshare.benchmarks.bench_repair [--models a,b] [--runs 100] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from typing import Any

from edgeshare.benchmarks._common import machine_line

SESSION_RSS = r"""
import sys, numpy as np
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
import onnxruntime as ort
base = rss()
o = ort.SessionOptions(); o.log_severity_level = 3
s = ort.InferenceSession(sys.argv[1], o, providers=["CPUExecutionProvider"])
print(rss() - base)
"""


def session_rss(path: str) -> float:
    out = subprocess.run([sys.executable, "-c", SESSION_RSS, path], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def stock_onnx(model: Any, path: str) -> tuple[str | None, str]:
    """Keras' own ONNX export: (path, "") or (None, why it cannot be used)."""
    from edgeshare._quiet import quiet_fds
    from edgeshare.converters.runtime import OnnxRunner

    try:
        with quiet_fds():
            model.export(path, format="onnx", verbose=False)
    except Exception as exc:
        return None, f"export raises {type(exc).__name__}"
    try:
        OnnxRunner(path)
    except Exception as exc:
        text = str(exc)
        for op in ("StatefulPartitionedCall", "Erfc"):
            if op in text:
                return None, f"onnxruntime rejects it ({op})"
        return None, "onnxruntime rejects it"
    return path, ""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=None)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    a = ap.parse_args()

    from edgeshare.accounting import quiet_tensorflow

    quiet_tensorflow()
    from edgeshare.bench.host import bench_host
    from edgeshare.converters import export as ex
    from edgeshare.converters import verify
    from edgeshare.models import reference_models

    refs = reference_models()
    if a.models:
        refs = {k: v for k, v in refs.items() if k in a.models.split(",")}
    rows: list[dict[str, Any]] = []
    onnx_rows: list[dict[str, Any]] = []
    tmp = tempfile.mkdtemp(prefix="edgeshare_bench_repair_")
    for name, ref in refs.items():
        model = ref.build()
        if ref.train:
            ref.train(model)
        data = ref.sample_data(64)
        opts = dict(ref.export_options)
        jobs = [("tflite", m) for m in ("none", "fp16", "dynamic", "int8")] + [("onnx", m) for m in ("none", "dynamic")]
        for fmt, mode in jobs:
            base = os.path.join(tmp, f"{name}_{fmt}_{mode}")
            exporter = ex.export_tflite if fmt == "tflite" else ex.export_onnx
            stock = exporter(model, base + f"_stock.{fmt}", mode, calibration=data, repair=False, **opts)
            ours = exporter(model, base + f".{fmt}", mode, calibration=data, **opts)
            p50_stock = bench_host(stock.artifact, runs=a.runs, warmup=10)["p50_ms"]
            p50_ours = bench_host(ours.artifact, runs=a.runs, warmup=10)["p50_ms"]
            rows.append({
                "model": name, "format": fmt, "mode": mode,
                "stock_weight_bytes": stock.weight_bytes, "stock_duplicate_bytes": stock.duplicate_bytes,
                "weight_bytes": ours.weight_bytes, "floor_bytes": ours.floor_bytes,
                "ratio": ours.weight_bytes / max(1, ours.floor_bytes),
                "stock_ratio": stock.weight_bytes / max(1, stock.weight_bytes - stock.duplicate_bytes),
                "p50_stock_ms": p50_stock, "p50_ms": p50_ours,
                "numerics_ok": bool(ours.numerics and ours.numerics.passed),
            })
            print(json.dumps(rows[-1]), file=sys.stderr)
        # ONNX f32: Keras' Model.export, tf2onnx's output before repair, edgeshare's; weight bytes and
        # onnxruntime's session memory for each.
        keras_onnx, why = stock_onnx(model, os.path.join(tmp, f"{name}_model_export.onnx"))
        ours_path = os.path.join(tmp, f"{name}_onnx_none.onnx")
        raw_path = os.path.join(tmp, f"{name}_onnx_none_stock.onnx")
        row: dict[str, Any] = {
            "model": name,
            "edgeshare_weight_bytes": verify(ours_path).weight_bytes,
            "edgeshare_session_rss_mb": session_rss(ours_path),
            "tf2onnx_weight_bytes": verify(raw_path).weight_bytes,
            "tf2onnx_session_rss_mb": session_rss(raw_path),
            "model_export": why,
        }
        if keras_onnx:
            kv = verify(keras_onnx)
            row.update({"model_export_weight_bytes": kv.weight_bytes,
                        "model_export_session_rss_mb": session_rss(keras_onnx)})
        onnx_rows.append(row)
    print(f"bench_repair ({machine_line()}); p50 over {a.runs} runs on the host")
    md = a.markdown
    head = ["model", "format", "mode", "stock weights", "stock dup", "stock x floor", "edgeshare weights",
            "edgeshare x floor", "p50 stock ms", "p50 edgeshare ms", "numerics"]
    print(("| " + " | ".join(head) + " |\n|" + "---|" * len(head)) if md else "  ".join(head))
    for r in rows:
        cells = [r["model"], r["format"], r["mode"], f"{r['stock_weight_bytes']:,}", f"{r['stock_duplicate_bytes']:,}",
                 f"{r['stock_ratio']:.2f}", f"{r['weight_bytes']:,}", f"{r['ratio']:.3f}", f"{r['p50_stock_ms']:.3f}",
                 f"{r['p50_ms']:.3f}", "ok" if r["numerics_ok"] else "OFF"]
        print(("| " + " | ".join(cells) + " |") if md else "  ".join(cells))
    print()
    head = ["model", "Model.export weights", "Model.export session MB", "tf2onnx (unrepaired) weights",
            "tf2onnx session MB", "edgeshare weights", "edgeshare session MB"]
    print(("| " + " | ".join(head) + " |\n|" + "---|" * len(head)) if md else "  ".join(head))
    for r in onnx_rows:
        if "model_export_weight_bytes" in r:
            cells = [r["model"], f"{r['model_export_weight_bytes']:,}", f"{r['model_export_session_rss_mb']:.1f}"]
        else:
            cells = [r["model"], r["model_export"], "-"]
        cells += [f"{r['tf2onnx_weight_bytes']:,}", f"{r['tf2onnx_session_rss_mb']:.1f}",
                  f"{r['edgeshare_weight_bytes']:,}", f"{r['edgeshare_session_rss_mb']:.1f}"]
        print(("| " + " | ".join(cells) + " |") if md else "  ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
