"""Grouped convolutions: native against lowered (split / conv / concat), side by side in one run.

A stack of ShuffleUnits (grouped 1x1 convs, channel shuffle, depthwise 3x3) at a mobile-sized
resolution is exported twice, natively (`lower_grouped_conv=False`, the default: one TFLite CONV_2D
with a grouped filter, one ONNX Conv with `group`) and lowered (`lower_grouped_conv=True`), in float32
and int8 TFLite and in float ONNX. The script prints weight bytes, host p50 latency (one thread, a fresh
process per file, rounds alternating the order) and the lowered/native ratio.

    python -m edgeshare.benchmarks.bench_grouped_conv [--channels 240] [--groups 3] [--units 4]
        [--size 28] [--rounds 5] [--runs 100] [--out build/bench_grouped_conv]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from typing import Any

import numpy as np

from edgeshare.benchmarks._common import machine_line


def build(channels: int, groups: int, units: int, size: int) -> Any:
    import keras

    from edgeshare.layers import ShuffleUnit

    keras.utils.set_random_seed(0)
    image = keras.Input((size, size, channels), name="image")
    x = image
    for i in range(units):
        x = ShuffleUnit(channels, groups=groups, name=f"unit{i}")(x)
    return keras.Model(image, x, name="shuffle_stack")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--channels", type=int, default=240)
    ap.add_argument("--groups", type=int, default=3)
    ap.add_argument("--units", type=int, default=4)
    ap.add_argument("--size", type=int, default=28)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--out", default=os.path.join("build", "bench_grouped_conv"))
    a = ap.parse_args()

    from edgeshare.accounting import quiet_tensorflow

    quiet_tensorflow()
    from edgeshare.bench.host import bench_host
    from edgeshare.converters import export_onnx, export_tflite

    os.makedirs(a.out, exist_ok=True)
    model = build(a.channels, a.groups, a.units, a.size)
    data = np.random.default_rng(0).standard_normal((16, a.size, a.size, a.channels)).astype("float32")
    rows: list[dict[str, Any]] = []
    for mode in ("none", "int8", "onnx"):
        for lowered in (False, True):
            stem = f"{'lowered' if lowered else 'native'}_{mode}"
            path = os.path.join(a.out, stem + (".onnx" if mode == "onnx" else ".tflite"))
            if mode == "onnx":
                rep = export_onnx(model, path, calibration=data, lower_grouped_conv=lowered)
            else:
                rep = export_tflite(model, path, mode, calibration=data, lower_grouped_conv=lowered)
            rows.append({"mode": mode, "lowered": lowered, "path": path, "weight_bytes": rep.weight_bytes,
                         "ok": rep.numerics.passed if rep.numerics else None, "p50": []})
    for k in range(a.rounds):
        for r in rows if k % 2 == 0 else list(reversed(rows)):
            r["p50"].append(bench_host(r["path"], threads=1, warmup=10, runs=a.runs)["p50_ms"])
    print(f"bench_grouped_conv: {a.units} ShuffleUnits, {a.channels} channels, groups={a.groups}, input "
          f"{a.size}x{a.size}x{a.channels} ({model.count_params():,} parameters)")
    print(f"host: {machine_line()}; 1 thread; p50 = median over {a.rounds} rounds of {a.runs} runs, fresh "
          "process per file, alternating order\n")
    print("| format / mode | grouped convs | weight bytes | numerics | host p50 ms | lowered / native |")
    print("|---|---|---:|---|---:|---:|")
    for r in rows:
        native = next(x for x in rows if x["mode"] == r["mode"] and not x["lowered"])
        p50, base = statistics.median(r["p50"]), statistics.median(native["p50"])
        fmt = "onnx" if r["mode"] == "onnx" else f"tflite {r['mode']}"
        print(f"| {fmt} | {'lowered' if r['lowered'] else 'native'} | {r['weight_bytes']:,} "
              f"| {'ok' if r['ok'] else 'OFF'} | {p50:.3f} | {p50 / base:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
