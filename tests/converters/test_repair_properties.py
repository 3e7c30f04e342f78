"""Property tests: random Keras models with randomly shared Dense, Conv2D and Embedding layers, in
random modes. After export + repair: no duplicates remain (verify passes), the outputs match the
unrepaired file within the repair's tolerance, and the file loads in LiteRT / onnxruntime."""

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from edgeshare.converters import export_onnx, export_tflite, verify
from edgeshare.converters.runtime import LiteRTRunner, OnnxRunner

SPECS = st.fixed_dictionaries({
    "kind": st.sampled_from(["mlp", "cnn", "lm"]),
    "width": st.sampled_from([16, 24, 32]),
    "reuse": st.integers(1, 3),
    "bias": st.booleans(),
    "tie": st.booleans(),
    "seed": st.integers(0, 2**16),
})


def build(spec):
    import keras

    from edgeshare.accounting import quiet_tensorflow

    quiet_tensorflow()
    keras.utils.set_random_seed(spec["seed"])
    w, reuse, bias = spec["width"], spec["reuse"], spec["bias"]
    rng = np.random.default_rng(spec["seed"])
    if spec["kind"] == "mlp":
        x_in = keras.Input((w,), name="x")
        h = keras.layers.Dense(w, activation="tanh", name="inp")(x_in)
        shared = keras.layers.Dense(w, activation="tanh", use_bias=bias, name="shared")
        for _ in range(reuse):
            h = keras.layers.Add()([h, shared(h)])
        out = keras.layers.Dense(5, name="out")(h)
        data = rng.standard_normal((32, w)).astype("float32")
    elif spec["kind"] == "cnn":
        x_in = keras.Input((8, 8, 3), name="image")
        h = keras.layers.Conv2D(w, 3, padding="same", activation="relu", name="stem")(x_in)
        shared = keras.layers.Conv2D(w, 3, padding="same", activation="relu", use_bias=bias, name="shared")
        for _ in range(reuse):
            h = keras.layers.Add()([h, shared(h)])
        out = keras.layers.Dense(5, name="out")(keras.layers.GlobalAveragePooling2D()(h))
        data = rng.random((32, 8, 8, 3)).astype("float32")
    else:
        vocab = 97
        x_in = keras.Input((8,), dtype="int32", name="tokens")
        emb = keras.layers.ReversibleEmbedding(vocab, w, tie_weights=spec["tie"], name="emb")
        h = emb(x_in)
        shared = keras.layers.Dense(w, activation="tanh", use_bias=bias, name="shared")
        for _ in range(reuse):
            h = keras.layers.Add()([h, shared(h)])
        out = emb(h, reverse=True)
        data = rng.integers(0, vocab, size=(32, 8)).astype("int32")
    return keras.Model(x_in, out), data


@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck),
          phases=[Phase.explicit, Phase.generate])  # shrinking re-runs conversions for minutes
@given(spec=SPECS, mode=st.sampled_from(["none", "fp16", "dynamic", "int8"]))
def test_tflite_repair_keeps_every_weight_once(tmp_path_factory, spec, mode):
    model, data = build(spec)
    path = str(tmp_path_factory.mktemp("prop") / f"m_{mode}.tflite")
    rep = export_tflite(model, path, mode, calibration=data)
    assert rep.duplicate_bytes == 0, (spec, mode, rep.groups, rep.repair and rep.repair["skipped"])
    assert verify(path).ok
    assert rep.repair["numerics_vs_unrepaired"]["passed"], rep.repair["numerics_vs_unrepaired"]
    runner = LiteRTRunner(path)
    runner({runner.input_names[0]: data[:1]})
    if mode == "none":
        assert rep.numerics.max_abs_error <= 1e-4 * max(1.0, float(np.abs(model(data[:4])).max()))


@settings(max_examples=4, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck),
          phases=[Phase.explicit, Phase.generate])  # shrinking re-runs conversions for minutes
@given(spec=SPECS, mode=st.sampled_from(["none", "dynamic"]))
def test_onnx_repair_keeps_every_weight_once(tmp_path_factory, spec, mode):
    model, data = build(spec)
    path = str(tmp_path_factory.mktemp("prop") / f"m_{mode}.onnx")
    rep = export_onnx(model, path, mode, calibration=data)
    assert rep.duplicate_bytes == 0, (spec, mode, rep.groups)
    assert verify(path).ok
    assert rep.numerics.passed, rep.numerics
    onnx_runner = OnnxRunner(path)
    onnx_runner({onnx_runner.input_names[0]: data[:1]})
