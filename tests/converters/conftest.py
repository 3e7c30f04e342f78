"""Real models and real stock exports, built once per test session."""

from __future__ import annotations

import os

import numpy as np
import pytest

VOCAB, DIM, SEQ = 1000, 64, 16


def _tf():
    from edgeshare.accounting import quiet_tensorflow

    return quiet_tensorflow()


def build_tied_lm(vocab: int = VOCAB, dim: int = DIM, seq: int = SEQ):
    """A tied-embedding LM written with plain Keras: ReversibleEmbedding(tie_weights=True)."""
    _tf()
    import keras

    keras.utils.set_random_seed(0)
    tokens = keras.Input((seq,), dtype="int32", name="tokens")
    emb = keras.layers.ReversibleEmbedding(vocab, dim, tie_weights=True, name="embedding")
    x = emb(tokens)
    x = keras.layers.Dense(dim, activation="relu", name="hidden")(x)
    return keras.Model(tokens, emb(x, reverse=True), name="plain_tied_lm")


def build_unshared(seed: int = 0):
    """No sharing anywhere: an embedding, a conv-free MLP and an untied output layer."""
    _tf()
    import keras

    keras.utils.set_random_seed(seed)
    tokens = keras.Input((SEQ,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(VOCAB, DIM, name="embedding")(tokens)
    x = keras.layers.Dense(DIM, activation="relu", name="hidden")(x)
    x = keras.layers.Dense(DIM, activation="relu", name="hidden2")(x)
    return keras.Model(tokens, keras.layers.Dense(VOCAB, name="out")(x), name="unshared_lm")


def token_data(n: int = 32) -> np.ndarray:
    return np.random.default_rng(0).integers(0, VOCAB, size=(n, SEQ)).astype(np.int32)


def stock_tflite(model, mode: str) -> bytes:
    """The stock converter, as a user would call it."""
    tf = _tf()
    from edgeshare._quiet import quiet_fds

    with quiet_fds():
        conv = tf.lite.TFLiteConverter.from_keras_model(model)
        if mode != "none":
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
        if mode == "int8":
            data = token_data(16)
            conv.representative_dataset = lambda: ([data[i : i + 1]] for i in range(len(data)))
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        return bytes(conv.convert())


def stock_onnx(model, path: str) -> str:
    """Keras' own ONNX export."""
    from edgeshare._quiet import quiet_fds

    with quiet_fds():
        model.export(path, format="onnx", verbose=False)
    return path


@pytest.fixture(scope="session")
def tied_lm(tmp_path_factory):
    model = build_tied_lm()
    path = str(tmp_path_factory.mktemp("tied") / "plain_tied_lm.keras")
    model.save(path)
    return model, path


@pytest.fixture(scope="session")
def stock_tied(tied_lm, tmp_path_factory):
    """Stock exports of the tied LM: TFLite dynamic-range and int8, and ONNX via Model.export."""
    model, _ = tied_lm
    d = tmp_path_factory.mktemp("stock_tied")
    out = {}
    for mode in ("dynamic", "int8"):
        p = os.path.join(d, f"tied_{mode}.tflite")
        with open(p, "wb") as fh:
            fh.write(stock_tflite(model, mode))
        out[mode] = p
    out["onnx"] = stock_onnx(model, os.path.join(d, "tied.onnx"))
    return out


@pytest.fixture(scope="session")
def stock_unshared(tmp_path_factory):
    model = build_unshared()
    d = tmp_path_factory.mktemp("stock_unshared")
    out = {}
    for mode in ("none", "dynamic"):
        p = os.path.join(d, f"unshared_{mode}.tflite")
        with open(p, "wb") as fh:
            fh.write(stock_tflite(model, mode))
        out[mode] = p
    out["onnx"] = stock_onnx(model, os.path.join(d, "unshared.onnx"))
    path = os.path.join(d, "unshared.keras")
    model.save(path)
    out["keras"] = path
    return out
