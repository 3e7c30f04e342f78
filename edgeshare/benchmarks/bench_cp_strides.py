"""CPConv2D with strides: the exported TFLite graph and its host latency, old form against the current one.

Until issue 9, `CPConv2D` applied its strides inside the two separable depthwise convolutions, as
`(sh, 1)` and `(1, sw)`. TensorFlow's CPU depthwise kernel without oneDNN accepts equal strides only, so
the layer failed there for any stride above 1. The current form keeps every depthwise stride equal (see
`CPConv2D.call`). This script builds one model per stride and padding, a single CPConv2D, in both forms
(the old one as a subclass that restores the old `call`), exports each to TFLite (float and int8) with
`edgeshare.converters.export_tflite`, counts the ops of each file (LiteRT's op list) and times each file
with `edgeshare bench` (host, LiteRT with XNNPACK, one thread; median over rounds that alternate the
order). The old form exports only where TensorFlow runs it (with oneDNN); without oneDNN its rows say so.

    python -m edgeshare.benchmarks.bench_cp_strides [--size 64] [--channels 32] [--rank 16] [--rounds 3]
        [--runs 200] [--out build/bench_cp_strides]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
from typing import Any

import numpy as np

from edgeshare.benchmarks._common import machine_line

# (kernel, strides, padding): each path of CPConv2D.call, and the strides issue 9 names.
CASES = (
    (3, (1, 1), "same"),
    (3, (2, 2), "same"),
    (3, (2, 2), "valid"),
    (5, (2, 2), "same"),
    (7, (2, 2), "same"),
    (3, (2, 1), "same"),
    (3, (1, 2), "valid"),
)
MODES = ("none", "int8")


def legacy_class() -> Any:
    """CPConv2D with the `call` it had before issue 9: the strides inside the two depthwise convolutions."""
    from keras import ops

    from edgeshare.layers import CPConv2D

    class LegacyCPConv2D(CPConv2D):
        def call(self, inputs: Any) -> Any:
            kh, kw = self.kernel_size
            sh, sw = self.strides
            x = self.channel_factors(inputs)  # (b, h, w, rank)
            x = ops.depthwise_conv(x, ops.reshape(self.height_factor, (kh, 1, self.rank, 1)), (sh, 1), self.padding)
            x = ops.depthwise_conv(x, ops.reshape(self.width_factor, (1, kw, self.rank, 1)), (1, sw), self.padding)
            y = ops.conv(x, ops.reshape(self.channel_factors.output_factor, (1, 1, self.rank, self.filters)))
            if self.use_bias:
                y = y + self.bias
            return self.activation(y)

    return LegacyCPConv2D


def build(
    layer_class: Any, size: int, channels: int, rank: int, kernel: int, strides: tuple[int, int], padding: str
) -> Any:
    import keras

    keras.utils.set_random_seed(0)
    image = keras.Input((size, size, channels), name="image")
    y = layer_class(channels, kernel, rank, strides=strides, padding=padding, bias_initializer="random_normal",
                    name="cp")(image)
    return keras.Model(image, y, name="cp_strides")


def op_counts(path: str) -> collections.Counter[str]:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path)
    return collections.Counter(op["op_name"] for op in interpreter._get_ops_details())


def bench(paths: list[str], runs: int) -> dict[str, float]:
    """Host p50 (ms) per file from `edgeshare bench --json` (one thread, no history)."""
    cli = os.path.join(os.path.dirname(sys.executable), "edgeshare")  # the console script beside this Python
    cmd = [cli if os.path.exists(cli) else "edgeshare", "bench", *paths, "--threads", "1", "--runs", str(runs),
           "--no-history", "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return {row["artifact"]: float(row["p50_ms"]) for row in json.loads(out)["results"]}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--out", default=os.path.join("build", "bench_cp_strides"))
    a = ap.parse_args()

    from edgeshare.accounting import quiet_tensorflow

    quiet_tensorflow()
    from edgeshare.converters import export_tflite
    from edgeshare.layers import CPConv2D

    os.makedirs(a.out, exist_ok=True)
    data = np.random.default_rng(0).standard_normal((16, a.size, a.size, a.channels)).astype("float32")
    rows: list[dict[str, Any]] = []
    for kernel, strides, padding in CASES:
        for form, cls in (("old", legacy_class()), ("current", CPConv2D)):
            for mode in MODES:
                row: dict[str, Any] = {"kernel": kernel, "strides": strides, "padding": padding, "form": form,
                                       "mode": mode, "path": None, "ops": "", "p50": [], "note": ""}
                path = os.path.join(a.out, f"{form}_k{kernel}_s{strides[0]}{strides[1]}_{padding}_{mode}.tflite")
                try:
                    model = build(cls, a.size, a.channels, a.rank, kernel, strides, padding)
                    report = export_tflite(model, path, mode, calibration=data)
                except Exception as exc:  # the old form on TensorFlow without oneDNN
                    row["note"] = "fails: " + str(exc).strip().splitlines()[0][:90]
                    rows.append(row)
                    continue
                counts = op_counts(path)
                row.update(path=path, ops=" ".join(f"{k}x{v}" for k, v in sorted(counts.items())),
                           n_ops=sum(counts.values()),
                           note=f"cosine {report.numerics.cosine_similarity:.5f}, passed={report.numerics.passed}")
                rows.append(row)
    paths = [r["path"] for r in rows if r["path"]]
    for k in range(a.rounds):
        p50 = bench(paths if k % 2 == 0 else list(reversed(paths)), a.runs)
        for r in rows:
            if r["path"]:
                r["p50"].append(p50[r["path"]])

    print(f"bench_cp_strides: one CPConv2D(filters={a.channels}, rank {a.rank}) on "
          f"{a.size}x{a.size}x{a.channels}; TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'unset')}")
    print(f"host: {machine_line()}; edgeshare bench, 1 thread; p50 = median over {a.rounds} rounds of {a.runs} "
          "runs, alternating order")
    print()
    print("| kernel | strides | padding | mode | form | ops | TFLite ops | host p50 ms | numerics / notes |")
    print("|---|---|---|---|---|---:|---|---:|---|")
    for r in rows:
        p50_text = f"{statistics.median(r['p50']):.3f}" if r["p50"] else "-"
        print(f"| {r['kernel']} | {r['strides']} | {r['padding']} | {r['mode']} | {r['form']} | {r.get('n_ops', '-')} "
              f"| {r['ops']} "
              f"| {p50_text} | {r['note']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
