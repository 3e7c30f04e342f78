"""Generate the corpus files that other exporters write, from small models built with fixed seeds.

Two models: a tied-embedding LM written with plain Keras (`keras.layers.ReversibleEmbedding(
tie_weights=True)`, V=5000, D=128: `edgeshare.benchmarks.bench_repair_stock.build`) and a small CNN.
Each goes through the tools a user would run on it:

- TFLiteConverter (float, dynamic range, full int8), the float file also through ai-edge-quantizer's
  recipes dynamic_wi8_afp32, weight_only_wi8_afp32 and static_wi8_ai8;
- Keras' `Model.export(format="litert")` and `format="onnx"`;
- tf2onnx's `convert.from_keras`, and those ONNX files through onnxruntime's `quantize_dynamic` and
  `quantize_static` (QDQ);
- `torch.onnx.export` of a tied LM, only when torch is importable (it is not in the dev extras: PyPI's
  Linux torch is the CUDA build; `pip install torch==2.13.0` takes the CPU wheel where one is on disk).

The files are cached under `<corpus cache>/generated/<key>/`, where the key hashes this file and the tool
versions, so a second run builds nothing.

    python -m tests.corpus.generate [--quiet]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np

from tests.corpus.fetch import cache_dir

TOOLS = ("tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "ai-edge-quantizer", "ai-edge-litert", "torch")
SEQ = 16
CNN_SHAPE = (32, 32, 3)
MODELS = ("tied_lm", "cnn")
TFLITE_MODES = ("float", "dynamic", "int8")
RECIPES = ("dynamic_wi8_afp32", "weight_only_wi8_afp32", "static_wi8_ai8")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


def cache_key() -> str:
    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update(json.dumps({t: _version(t) for t in TOOLS}, sort_keys=True).encode())
    return h.hexdigest()[:16]


def generated_dir() -> Path:
    return cache_dir() / "generated" / cache_key()


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def generated_names() -> list[str]:
    """The file names `generate` writes, known without building anything (for test parametrization)."""
    names = []
    for key in MODELS:
        names += [f"tflite_converter_{key}_{m}.tflite" for m in TFLITE_MODES]
        names += [f"keras_litert_{key}.tflite", f"keras_onnx_{key}.onnx", f"tf2onnx_{key}.onnx"]
        names += [f"ort_dynamic_{key}.onnx", f"ort_static_qdq_{key}.onnx"]
    names += [f"ai_edge_quantizer_tied_lm_{r}.tflite" for r in RECIPES]
    if torch_available():
        names.append("torch_onnx_tied_lm.onnx")
    return sorted(names)


# --------------------------------------------------------------------------------------------- models


def _cnn() -> object:
    import keras

    keras.utils.set_random_seed(0)
    x = inp = keras.Input(CNN_SHAPE, name="image")
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="conv1")(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu", name="dw")(x)
    x = keras.layers.Conv2D(32, 1, activation="relu", name="pw")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inp, keras.layers.Dense(10, name="logits")(x), name="small_cnn")


def _tokens(n: int, vocab: int = 5000) -> np.ndarray:
    return np.random.default_rng(0).integers(0, vocab, size=(n, SEQ)).astype(np.int32)


def _images(n: int) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 1, size=(n, *CNN_SHAPE)).astype(np.float32)


# ---------------------------------------------------------------------------------------------- tools


def _tflite(model: object, mode: str, data: np.ndarray) -> bytes:
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode != "float":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "int8":
        conv.representative_dataset = lambda: ([data[i : i + 1]] for i in range(len(data)))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return bytes(conv.convert())


def _aeq(float_path: Path, recipe_name: str, data: np.ndarray) -> bytes:
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_quantizer import quantizer, recipe

    q = quantizer.Quantizer(str(float_path), getattr(recipe, recipe_name)())
    calibration = None
    if q.need_calibration:
        runner = Interpreter(model_path=str(float_path)).get_signature_runner()
        (name,) = runner.get_input_details()
        sig = "serving_default"
        calibration = q.calibrate({sig: [{name: data[i : i + 1]} for i in range(len(data))]})
    result = q.quantize(calibration, enable_progress_report=False)
    return bytes(result.quantized_model)


def _tf2onnx(model: object, path: Path) -> None:
    import tensorflow as tf
    import tf2onnx

    spec = [tf.TensorSpec((None, *t.shape[1:]), t.dtype, name=t.name) for t in model.inputs]
    tf2onnx.convert.from_keras(model, input_signature=spec, opset=17, output_path=str(path))


def _ort_quant(src: Path, dst: Path, mode: str, data: np.ndarray) -> None:
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    if mode == "dynamic":
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)
        return
    name = onnx.load(str(src), load_external_data=False).graph.input[0].name

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter([{name: data[i : i + 1]} for i in range(len(data))])

        def get_next(self) -> dict | None:
            return next(self.it, None)

    quantize_static(
        str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=True,
    )  # fmt: skip


def _torch_tied_lm(path: Path) -> None:
    import torch

    torch.manual_seed(0)

    class TiedLM(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = torch.nn.Embedding(1000, 64)
            self.hidden = torch.nn.Linear(64, 64)
            self.head = torch.nn.Linear(64, 1000, bias=False)
            self.head.weight = self.embed.weight  # tied

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            return self.head(torch.relu(self.hidden(self.embed(tokens))))

    model = TiedLM().eval()
    tokens = torch.zeros((1, SEQ), dtype=torch.int64)
    torch.onnx.export(model, (tokens,), str(path), input_names=["tokens"], output_names=["logits"], dynamo=False)


# ------------------------------------------------------------------------------------------- pipeline


def _steps(out: Path) -> list[tuple[str, Callable[[], None]]]:
    from edgeshare.benchmarks.bench_repair_stock import build as build_tied_lm

    state: dict[str, object] = {}
    tokens, images = _tokens(32), _images(16)

    def models() -> None:
        lm = build_tied_lm()
        lm(tokens[:1])
        # A normal table has wider tails than Keras' uniform init, as a trained one does: the int8 GATHER
        # copy then takes its scale from the rows the calibration saw, and the rest saturate.
        emb = lm.get_layer("embedding").embeddings
        emb.assign(np.random.default_rng(1).normal(0, 0.05, emb.shape).astype(np.float32))
        state["tied_lm"], state["cnn"] = lm, _cnn()

    def write(name: str, data: bytes) -> None:
        (out / name).write_bytes(data)

    steps: list[tuple[str, Callable[[], None]]] = [("build models", models)]
    for key, data in zip(MODELS, (tokens[:8], images)):
        for mode in TFLITE_MODES:
            steps.append(
                (f"tflite_converter/{key}_{mode}", lambda k=key, m=mode, d=data: write(
                    f"tflite_converter_{k}_{m}.tflite", _tflite(state[k], m, d)))
            )  # fmt: skip
        steps.append((f"keras_litert/{key}", lambda k=key: state[k].export(
            str(out / f"keras_litert_{k}.tflite"), format="litert", verbose=False)))  # fmt: skip
        steps.append((f"keras_onnx/{key}", lambda k=key: state[k].export(
            str(out / f"keras_onnx_{k}.onnx"), format="onnx", verbose=False)))  # fmt: skip
        steps.append((f"tf2onnx/{key}", lambda k=key: _tf2onnx(state[k], out / f"tf2onnx_{k}.onnx")))
        steps.append((f"ort_dynamic/{key}", lambda k=key: _ort_quant(
            out / f"tf2onnx_{k}.onnx", out / f"ort_dynamic_{k}.onnx", "dynamic", None)))  # fmt: skip
        steps.append((f"ort_static_qdq/{key}", lambda k=key, d=data: _ort_quant(
            out / f"tf2onnx_{k}.onnx", out / f"ort_static_qdq_{k}.onnx", "static", d[:8])))  # fmt: skip
    for rec in RECIPES:
        steps.append((f"ai_edge_quantizer/{rec}", lambda r=rec: write(
            f"ai_edge_quantizer_tied_lm_{r}.tflite",
            _aeq(out / "tflite_converter_tied_lm_float.tflite", r, tokens[:8]))))  # fmt: skip
    if torch_available():
        steps.append(("torch_onnx/tied_lm", lambda: _torch_tied_lm(out / "torch_onnx_tied_lm.onnx")))
    return steps


def generate(quiet: bool = False) -> list[Path]:
    """Build every generated corpus file (or find them cached); returns their paths."""
    final = generated_dir()
    done = final / "done.json"
    if done.is_file():
        return [final / n for n in json.loads(done.read_text())["files"]]
    from edgeshare._quiet import quiet_fds
    from edgeshare.accounting import quiet_tensorflow

    quiet_tensorflow()
    final.parent.mkdir(parents=True, exist_ok=True)
    timings = {}
    with tempfile.TemporaryDirectory(dir=final.parent) as tmp:
        out = Path(tmp)
        for label, step in _steps(out):
            t0 = time.perf_counter()
            with quiet_fds():
                step()
            timings[label] = round(time.perf_counter() - t0, 2)
            if not quiet:
                print(f"corpus: generated {label} ({timings[label]:.1f} s)", flush=True)
        files = sorted(p.name for p in out.iterdir() if p.suffix in (".tflite", ".onnx"))
        if files != generated_names():
            raise RuntimeError(f"the generators wrote {files}, expected {generated_names()}")
        (out / "done.json").write_text(json.dumps({"files": files, "seconds": timings}, indent=1))
        shutil.rmtree(final, ignore_errors=True)
        os.replace(out, final)
        out.mkdir()  # the TemporaryDirectory removes it again
    return [final / n for n in files]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quiet", action="store_true", help="print nothing when the cache is complete")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    files = generate(quiet=args.quiet)
    if not args.quiet:
        print(f"corpus: {len(files)} generated files in {generated_dir()} ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
