import keras
import numpy as np
import pytest

from edgeshare.layers import MultiTaskModel
from tests.layer_checks import run_layer_test

D, P = 8, 5  # encoder features, shared projection width


def _make(name="multitask", dtype=None):
    encoder = keras.Sequential(
        [keras.layers.Flatten(dtype=dtype), keras.layers.Dense(D, activation="relu", dtype=dtype)], name="encoder"
    )
    proj = keras.layers.Dense(P, activation="relu", dtype=dtype, name="proj")
    heads = {"digit": keras.layers.Dense(10, dtype=dtype, name="digit"),
             "parity": keras.layers.Dense(2, dtype=dtype, name="parity"),
             "big": keras.layers.Dense(2, dtype=dtype, name="big")}
    return MultiTaskModel(encoder, heads, shared_heads={"parity": proj, "big": proj}, dtype=dtype, name=name)


def test_multi_task_model_shared_checks(tmp_path):
    x = np.random.default_rng(0).standard_normal((3, 4, 4)).astype("float32")

    def check(model):
        assert model.shared_heads["parity"] is model.shared_heads["big"]
        assert "digit" not in model.shared_heads
        kernels = [v for v in model.trainable_weights if v is model.shared_heads["parity"].kernel]
        assert len(kernels) == 1

    model = run_layer_test(
        _make,
        x,
        # encoder kernel + bias, the shared projection's kernel + bias once, 3 heads x (kernel, bias)
        expected_num_trainable_weights=2 + 2 + 3 * 2,
        expected_params=(16 * D + D) + (D * P + P) + (D * 10 + 10) + 2 * (P * 2 + 2),
        check_sharing=check,
        tmp_path=tmp_path,
        atol=1e-6,
    )
    # Numerics against the same layers composed by hand.
    out = model(x)
    assert list(out) == ["digit", "parity", "big"]
    features = model.encoder(x)
    np.testing.assert_allclose(np.asarray(out["digit"]), np.asarray(model.heads["digit"](features)), atol=1e-6)
    projected = model.shared_heads["big"](features)
    for task in ("parity", "big"):
        np.testing.assert_allclose(np.asarray(out[task]), np.asarray(model.heads[task](projected)), atol=1e-6)


def test_config_round_trip_keeps_shared_heads_shared_without_a_sharing_scope():
    model = _make()
    model(np.zeros((1, 4, 4), "float32"))
    config = keras.saving.serialize_keras_object(model)
    rebuilt = keras.saving.deserialize_keras_object(config)
    assert rebuilt.shared_heads["parity"] is rebuilt.shared_heads["big"]
    assert rebuilt.shared_heads["parity"] is not model.shared_heads["parity"]


def test_multi_task_model_errors():
    enc = keras.layers.Dense(4)
    with pytest.raises(TypeError, match=r"`encoder` must be a Keras layer or model. Received: encoder=None"):
        MultiTaskModel(None, {"a": keras.layers.Dense(2)})
    with pytest.raises(ValueError, match=r"must be a non-empty dict of task name to layer. Received: heads=\{\}"):
        MultiTaskModel(enc, {})
    with pytest.raises(ValueError, match=r"Task names must be Python identifiers. Received: task='a-b'"):
        MultiTaskModel(enc, {"a-b": keras.layers.Dense(2)})
    with pytest.raises(TypeError, match=r"Each head must be a Keras layer. Received: heads\['a'\]=2"):
        MultiTaskModel(enc, {"a": 2})
    with pytest.raises(ValueError, match=r"`shared_heads` names tasks that have no head. "
                                         r"Received: unknown_tasks=\['b'\], tasks=\['a'\]"):
        MultiTaskModel(enc, {"a": keras.layers.Dense(2)}, shared_heads={"b": keras.layers.Dense(2)})
    with pytest.raises(ValueError, match=r"`shared_heads` must be a dict of task name to layer. "
                                         r"Received: shared_heads=\['a'\]"):
        MultiTaskModel(enc, {"a": keras.layers.Dense(2)}, shared_heads=["a"])
    with pytest.raises(TypeError, match=r"Each shared head must be a Keras layer. Received: shared_heads\['a'\]='x'"):
        MultiTaskModel(enc, {"a": keras.layers.Dense(2)}, shared_heads={"a": "x"})
