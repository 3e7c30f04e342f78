"""`edgeshare repair` on files the stock tools wrote, measured as a user would run it.

A tied-embedding LM made with plain Keras (`keras.layers.ReversibleEmbedding(tie_weights=True)`,
V=5000, D=128, a ReLU block) is exported with the stock tools: `TFLiteConverter.from_keras_model` in
dynamic-range and full-int8 modes, and `Model.export(format="onnx")`. Each file goes through
`edgeshare verify`, `edgeshare repair` and `edgeshare verify` again (exit codes printed), and
`edgeshare bench` times stock and repaired files in alternating rounds.

    python -m edgeshare.benchmarks.bench_repair_stock [--rounds 11] [--runs 500]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from typing import Any

import numpy as np

from edgeshare.benchmarks._common import machine_line

V, D, T = 5000, 128, 16


def build() -> Any:
    import keras

    keras.utils.set_random_seed(0)
    tokens = keras.Input((T,), dtype="int32", name="tokens")
    emb = keras.layers.ReversibleEmbedding(V, D, tie_weights=True, name="embedding")
    x = keras.layers.Dense(4 * D, activation="relu", name="up")(emb(tokens))
    x = keras.layers.Dense(D, name="down")(x)
    return keras.Model(tokens, emb(x, reverse=True), name="plain_tied_lm")


def stock_files(folder: str) -> dict[str, str]:
    from edgeshare._quiet import quiet_fds
    from edgeshare.accounting import quiet_tensorflow

    tf = quiet_tensorflow()
    model = build()
    model(np.zeros((1, T), np.int32))
    data = np.random.default_rng(0).integers(0, V, size=(32, 1, T)).astype(np.int32)
    out = {}
    with quiet_fds():
        for mode in ("dynamic", "int8"):
            conv = tf.lite.TFLiteConverter.from_keras_model(model)
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            if mode == "int8":
                conv.representative_dataset = lambda: ([x] for x in data)
                conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            path = os.path.join(folder, f"stock_{mode}.tflite")
            with open(path, "wb") as fh:
                fh.write(conv.convert())
            out[f"TFLiteConverter {mode}"] = path
        path = os.path.join(folder, "model_export.onnx")
        model.export(path, format="onnx", verbose=False)
        out["Model.export onnx"] = path
    return out


def cli(*args: str) -> tuple[int, dict]:
    exe = os.path.join(os.path.dirname(sys.executable), "edgeshare")
    with tempfile.NamedTemporaryFile(suffix=".json") as fh:
        proc = subprocess.run([exe, *args, "--json", fh.name], capture_output=True, text=True)
        try:
            with open(fh.name) as result:
                data = json.load(result)
        except json.JSONDecodeError:
            data = {}
    return proc.returncode, data


def main() -> int:
    ap = argparse.ArgumentParser()
    # Sub-millisecond models on a shared VM: 11 x 500 runs settle the median to about 2%.
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--runs", type=int, default=500)
    a = ap.parse_args()
    print(f"bench_repair_stock ({machine_line()}); plain Keras tied LM V={V} D={D}")
    print(f"{'stock file':26s} {'verify':>6s} {'weights':>10s} {'dup':>9s} {'repair':>6s} {'verify':>6s} "
          f"{'weights':>10s} {'p50 stock ms':>12s} {'p50 repaired ms':>15s} {'ratio':>6s}")
    with tempfile.TemporaryDirectory() as tmp:
        for label, path in stock_files(tmp).items():
            v1, before = cli("verify", path)
            fixed = os.path.join(tmp, "repaired_" + os.path.basename(path))
            r, _ = cli("repair", path, "-o", fixed)
            v2, after = cli("verify", fixed)
            p_stock: list[float] = []
            p_fixed: list[float] = []
            for i in range(a.rounds):
                order = (path, fixed) if i % 2 == 0 else (fixed, path)
                for f in order:
                    _, res = cli("bench", f, "--runs", str(a.runs), "--warmup", "20", "--no-history")
                    (p_stock if f == path else p_fixed).append(res["results"][0]["p50_ms"])
            ms, mf = statistics.median(p_stock), statistics.median(p_fixed)
            print(f"{label:26s} {v1:6d} {before['weight_bytes']:10,} {before['duplicate_bytes']:9,} {r:6d} {v2:6d} "
                  f"{after['weight_bytes']:10,} {ms:12.4f} {mf:15.4f} {mf / ms:6.3f}")
    print("verify/repair columns are exit codes (verify: 1 = duplicates found, 0 = clean); ratio = repaired/stock p50,"
          f" median over {a.rounds} alternating rounds of {a.runs} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
