"""Soft filter banks on the phone: bytes against latency for each way of storing them, in one run.

A stack of soft `BankConv2D` layers over one `FilterBank` (residual, ReLU) is exported with each
`bank_export` form (see converters/bank_export.py):

* `materialize`: the converter folds one kernel per layer;
* `runtime`: the bank stored once; each layer convolves with all templates at once and mixes the
  responses (SPLIT, MUL, ADD);
* `runtime_kernel`: the bank stored once; each kernel mixed at inference, then a computed CONV_2D filter.
  The exporter offers it in float only; the script also builds its dynamic and int8 versions by hand
  (templates as an input, then frozen) to show why: dynamic keeps the bank in float, LiteRT rejects int8.

For each form and precision it prints the stored weight bytes, the file bytes, host p50 latency (one
thread, a fresh process per file, rounds alternating the order), which ops LiteRT's XNNPACK delegate
took, and the numerics against Keras. ONNX files run on onnxruntime's CPU provider.

    python -m edgeshare.benchmarks.bench_bank_export [--channels 64] [--templates 4] [--layers 6]
        [--size 16] [--rounds 5] [--runs 200] [--out build/bench_bank_export]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from typing import Any

import numpy as np

from edgeshare.benchmarks._common import machine_line


def build(channels: int, templates: int, layers: int, size: int) -> Any:
    import keras

    from edgeshare.layers import BankConv2D, FilterBank

    keras.utils.set_random_seed(0)
    bank = FilterBank(templates, 3, channels, name="bank")
    image = keras.Input((size, size, channels), name="image")
    x = image
    for i in range(layers):
        h = BankConv2D(bank, mixing="soft", activation="relu", bias_initializer="random_normal", name=f"soft{i}")(x)
        x = keras.layers.Add(name=f"res{i}")([x, h])
    return keras.Model(image, x, name="bank_stack")


def kernel_mixing_by_hand(model: Any, quantize: str, data: np.ndarray) -> bytes:
    """runtime_kernel in a mode the exporter refuses: templates as an input, converted, then frozen."""
    import tensorflow as tf

    from edgeshare._quiet import quiet_fds
    from edgeshare.converters.export.bank_export import freeze_input

    layers = [layer for layer in model.layers if layer.name.startswith("soft")]
    templates = layers[0].bank.templates.numpy()
    coefs = [tf.constant(layer.coefficients.numpy()) for layer in layers]
    biases = [tf.constant(layer.bias.numpy()) for layer in layers]

    @tf.function(input_signature=[tf.TensorSpec((1, *model.inputs[0].shape[1:]), tf.float32, name="image"),
                                  tf.TensorSpec(templates.shape, tf.float32, name="templates")])
    def forward(x: Any, bank: Any) -> Any:
        for a, b in zip(coefs, biases):
            kernel = tf.tensordot(a, bank, axes=1)  # (T,) . (T, kh, kw, c, c) -> (kh, kw, c, c)
            x = x + tf.nn.relu(tf.nn.conv2d(x, kernel, 1, "SAME") + b)
        return {"output_0": x}

    with quiet_fds():
        conv = tf.lite.TFLiteConverter.from_concrete_functions([forward.get_concrete_function()], forward)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "int8":
            conv.representative_dataset = lambda: ([data[i : i + 1], templates] for i in range(len(data)))
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converted = bytes(conv.convert())
    return freeze_input(converted, "templates", templates)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--channels", type=int, default=64)
    ap.add_argument("--templates", type=int, default=4)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--size", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--out", default=os.path.join("build", "bench_bank_export"))
    a = ap.parse_args()

    from edgeshare.accounting import quiet_tensorflow

    quiet_tensorflow()
    from edgeshare.bench.host import bench_host
    from edgeshare.converters import export_onnx, export_tflite, verify
    from edgeshare.converters.runtime import LiteRTRunner, OnnxRunner
    from edgeshare.converters.runtime.delegates import delegate_support
    from edgeshare.converters.verify.numerics import compare
    from edgeshare.errors import InvalidInputError

    os.makedirs(a.out, exist_ok=True)
    model = build(a.channels, a.templates, a.layers, a.size)
    data = np.random.default_rng(0).standard_normal((32, a.size, a.size, a.channels)).astype("float32")
    want = np.asarray(model(data[:4]))
    bank_params = int(np.prod(model.get_layer("soft0").bank.templates.shape))
    rows: list[dict[str, Any]] = []
    for form in ("materialize", "runtime", "runtime_kernel"):
        for mode in ("none", "dynamic", "int8", "onnx"):
            ext = "onnx" if mode == "onnx" else "tflite"
            path = os.path.join(a.out, f"{form}_{mode}.{ext}")
            note = ""
            if form == "runtime_kernel" and mode in ("dynamic", "int8"):
                note = "built by hand, not an export option; "
                with open(path, "wb") as fh:
                    fh.write(kernel_mixing_by_hand(model, mode, data))
            elif mode == "onnx":
                export_onnx(model, path, calibration=data, bank_export=form)
            else:
                export_tflite(model, path, mode, calibration=data, bank_export=form)
            vr = verify(path)
            row: dict[str, Any] = {"form": form, "mode": mode, "path": path, "weight_bytes": vr.weight_bytes,
                                   "file_bytes": vr.file_bytes, "p50": [], "xnnpack": "-", "note": note}
            try:
                runner: Any = OnnxRunner(path) if mode == "onnx" else LiteRTRunner(path)
                name = runner.input_names[0]  # the model has one input
                got = np.concatenate([runner({name: data[i : i + 1]})[0] for i in range(4)])
                num = compare({"y": want}, {"y": got}, "none" if mode in ("none", "onnx") else mode)
                row["note"] = note + f"max err {num.max_abs_error:.1e}, cosine {num.cosine_similarity:.5f}"
                if mode != "onnx":
                    s = delegate_support(path).summary()["xnnpack"]
                    row["xnnpack"] = (f"all {s['supported']}" if not s["unsupported"] else
                                      f"{s['supported']}/{s['supported'] + s['unsupported']} "
                                      f"(not {', '.join(s['unsupported_ops'])})")
            except (InvalidInputError, RuntimeError, ValueError) as exc:
                row["note"] = note + "LiteRT rejects it: " + str(exc).strip().splitlines()[0][:110]
                row["p50"] = None
            rows.append(row)
    runnable = [r for r in rows if r["p50"] is not None]
    for k in range(a.rounds):
        order = runnable if k % 2 == 0 else list(reversed(runnable))
        for r in order:
            r["p50"].append(bench_host(r["path"], threads=1, warmup=20, runs=a.runs)["p50_ms"])

    base = {(r["mode"]): r for r in rows if r["form"] == "materialize"}
    print(f"bench_bank_export: {a.layers} soft BankConv2D layers, one bank of {a.templates} templates "
          f"3x3x{a.channels}x{a.channels} ({bank_params:,} parameters), input {a.size}x{a.size}x{a.channels}")
    print(f"host: {machine_line()}; 1 thread; p50 = median over {a.rounds} rounds of {a.runs} runs, "
          "fresh process per file, alternating order")
    print()
    print("| form | mode | weight bytes | vs materialize | file bytes | host p50 ms | vs materialize "
          "| XNNPACK took | numerics / notes |")
    print("|---|---|---:|---:|---:|---:|---:|---|---|")
    for r in rows:
        b = base[r["mode"]]
        p50 = statistics.median(r["p50"]) if r["p50"] else None
        bp50 = statistics.median(b["p50"]) if b["p50"] else None
        print(f"| {r['form']} | {r['mode']} | {r['weight_bytes']:,} | {r['weight_bytes'] / b['weight_bytes']:.2f}x "
              f"| {r['file_bytes']:,} | {'-' if p50 is None else f'{p50:.3f}'} "
              f"| {'-' if p50 is None or not bp50 else f'{p50 / bp50:.2f}x'} | {r['xnnpack']} | {r['note']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
