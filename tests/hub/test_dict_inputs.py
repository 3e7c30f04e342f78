"""Plain Keras models with dict inputs whose keys are not in sorted order: every export mode feeds them by
name, the TFLite signature and the ONNX graph take the dict keys as input names, and numerics pass."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from edgeshare.converters import export_onnx, export_tflite

KEYS = ["zeta", "alpha", "mid"]  # not sorted: a positional call in sorted order would swap them
VOCAB, SEQ, FEATURES = 64, 8, 6


def build():
    """Token ids, float features and a 0/1 mask under dict keys; each input changes the output."""
    from edgeshare.accounting import quiet_tensorflow

    quiet_tensorflow()
    import keras

    keras.utils.set_random_seed(0)
    inputs = {
        "zeta": keras.Input((SEQ,), dtype="int32", name="zeta"),
        "alpha": keras.Input((SEQ, FEATURES), name="alpha"),
        "mid": keras.Input((SEQ,), name="mid"),
    }
    emb = keras.layers.Embedding(VOCAB, FEATURES, name="embedding")(inputs["zeta"])
    x = keras.layers.Concatenate()([emb, inputs["alpha"], keras.layers.Reshape((SEQ, 1))(inputs["mid"])])
    x = keras.layers.Dense(16, activation="relu", name="hidden")(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, keras.layers.Dense(5, name="classes")(x), name="dict_inputs")


def data(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"zeta": rng.integers(0, VOCAB, (n, SEQ)).astype(np.int32),
            "alpha": rng.standard_normal((n, SEQ, FEATURES)).astype(np.float32),
            "mid": rng.integers(0, 2, (n, SEQ)).astype(np.float32)}


@pytest.fixture(scope="module")
def model():
    m = build()
    assert list(m.input) == KEYS
    return m


@pytest.mark.parametrize("mode", ["none", "fp16", "dynamic", "int8"])
def test_tflite_signature_takes_the_dict_keys(model, mode, tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    path = str(tmp_path / f"dict_{mode}.tflite")
    rep = export_tflite(model, path, mode, calibration=data(32))
    assert rep.ok, rep.problems()
    assert rep.numerics.top1_agreement is not None
    assert [i["name"] for i in rep.inputs] == KEYS
    runner = Interpreter(model_path=path).get_signature_runner()
    assert sorted(runner.get_input_details()) == sorted(KEYS)
    # Fed by name, the file gives what Keras gives (float modes: close; the gate covers int8).
    if mode in ("none", "fp16"):
        one = {k: v[:1] for k, v in data(1).items()}
        y = next(iter(runner(**one).values()))
        np.testing.assert_allclose(y, model(one).numpy(), atol=1e-2 if mode == "fp16" else 1e-4)


@pytest.mark.parametrize("mode", ["none", "dynamic", "int8"])
def test_onnx_inputs_take_the_dict_keys(model, mode, tmp_path):
    path = str(tmp_path / f"dict_{mode}.onnx")
    rep = export_onnx(model, path, mode, calibration=data(32))
    assert rep.ok, rep.problems()
    assert sorted(i.name for i in onnx.load(path).graph.input) == sorted(KEYS)
    if mode == "none":
        from edgeshare.converters.runtime import OnnxRunner

        one = {k: v[:1] for k, v in data(1).items()}
        y = OnnxRunner(path)(**one)[0]
        np.testing.assert_allclose(y, model(one).numpy(), atol=1e-4)

