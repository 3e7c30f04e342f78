"""The two int8 export fixes keras-hub models needed, each with the failure it removes:
the masked softmax traced in a quantizable form, and calibration that reaches each embedding table's
extreme rows."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

from edgeshare.converters.export import bank_export, prepare
from edgeshare.converters.export.calibration import with_table_extremes
from edgeshare.converters.export.masked_softmax import masked_softmax
from tests.corpus.bruteforce import find_pairs, read
from tests.hub.builders import export_one, gemma, llama

pytest.importorskip("keras_hub")


def test_masked_softmax_equals_keras_including_fully_masked_rows():
    import keras

    rng = np.random.default_rng(0)
    x = (4.0 * rng.standard_normal((2, 3, 5, 5))).astype(np.float32)
    mask = rng.random((2, 1, 5, 5)) > 0.4
    mask[0, 0, 2, :] = False  # a row with nothing to attend to: Keras gives zeros
    want = keras.layers.Softmax(axis=-1)(x, mask=np.broadcast_to(mask, x.shape)).numpy()
    got = np.asarray(masked_softmax(x, mask, -1))
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert np.all(got[0, :, 2, :] == 0.0)
    # over two axes, as MultiHeadAttention with attention_axes=(1, 2) asks for
    want2 = keras.layers.Softmax(axis=(-2, -1))(x, mask=np.broadcast_to(mask, x.shape)).numpy()
    np.testing.assert_allclose(np.asarray(masked_softmax(x, mask, (-2, -1))), want2, atol=1e-6)


def test_stock_masked_softmax_fails_gemma_int8(tmp_path, monkeypatch):
    """Keras' where(mask, logits, -1e9) makes int8 SELECT_V2 quantize every logit to one value. (With the
    traced form the same export passes: test_hub_models.py, gemma-tflite-int8.)"""
    model = gemma()
    monkeypatch.setattr(bank_export, "quantizable_masked_softmax", lambda active: contextlib.nullcontext())
    stock = export_one(model, "gemma_stock", "tflite", "int8", str(tmp_path))
    assert not stock.numerics.passed and stock.numerics.cosine_similarity < 0.6


def test_onnx_int8_traces_the_quantizable_softmax_too(tmp_path):
    """ONNX int8 quantizes the float model with onnxruntime (QDQ): the float trace needs the same form."""
    rep = export_one(gemma(), "gemma", "onnx", "int8", str(tmp_path))
    assert rep.ok and rep.numerics.cosine_similarity >= 0.98, rep.problems()
    assert find_pairs(read(rep.artifact)) == []


def test_table_extremes_are_added_to_int8_calibration():
    from edgeshare.accounting import input_tensor_names

    model = llama(True)
    cal = {"token_ids": np.zeros((3, 16), np.int32), "padding_mask": np.ones((3, 16), np.int32)}
    out = with_table_extremes(model, input_tensor_names(model), cal)
    table = model.layers[-1].backbone.token_embedding.embeddings.numpy()
    lo, hi = np.unravel_index(np.argmin(table), table.shape)[0], np.unravel_index(np.argmax(table), table.shape)[0]
    assert out["token_ids"].shape == (5, 16) and list(out["token_ids"][3:, 0]) == [lo, hi]
    assert np.all(out["token_ids"][3:, 1:] == 0) and np.all(out["padding_mask"] == 1)


def _converter_tables(model, path: str):
    """The converter's own int8 file (no repair): the independent finder's pair of the tied table's two copies."""
    from edgeshare.converters import export_tflite
    from tests.hub.builders import sample_inputs

    export_tflite(model, path, "int8", calibration=sample_inputs(model, 32), repair=False)
    pairs = find_pairs(read(path))
    assert len(pairs) == 1  # the GATHER table and the FULLY_CONNECTED head: one weight stored twice
    return pairs[0]


def test_without_the_extremes_the_tied_llama_table_is_clipped(tmp_path, monkeypatch):
    """The converter quantizes a GATHER table over the rows the calibration looked up: without the two extra
    samples the unseen extremes are clipped (elements outside the step of the head's copy); with them the
    table covers its whole range."""
    model = llama(True)
    full = _converter_tables(model, str(tmp_path / "full.tflite"))
    monkeypatch.setattr(prepare, "with_table_extremes", lambda m, names, cal: cal)
    clipped = _converter_tables(model, str(tmp_path / "clipped.tflite"))
    assert full.outside == 0 and clipped.outside >= 1


def causal_softmax_model(seq: int = 32):
    """Keras' masked softmax over causal rows, as attention computes it: logits in, probabilities out."""
    import keras

    x = keras.Input((seq, seq), name="logits")
    causal = np.tril(np.ones((seq, seq), dtype=bool))[None]
    return keras.Model(x, keras.layers.Softmax(axis=-1)(x, mask=causal), name="causal_softmax")


def test_int8_masked_softmax_keeps_every_probability_in_place(tmp_path):
    """Every probability of the int8 file within a few int8 steps of Keras. Written as e / sum(e), TFLite's
    int8 DIV returned 1.0 for some numerators one step above zero (found on the tied_lm reference: 0.0007
    due, 1.0 given); the export's form multiplies by rsqrt(sum) twice instead."""
    from ai_edge_litert.interpreter import Interpreter

    from edgeshare.converters import export_tflite

    rng = np.random.default_rng(0)
    # rows of near-equal logits (large sums) with a third of the positions far below (probabilities one
    # int8 step above zero): where e / sum(e) went wrong (max error 0.9999 with DIV)
    cal = 0.3 * rng.standard_normal((64, 32, 32))
    far = rng.random(cal.shape) < 0.3
    cal[far] = rng.uniform(-9.0, -4.0, int(far.sum()))
    cal = cal.astype(np.float32)
    model = causal_softmax_model()
    path = str(tmp_path / "softmax_int8.tflite")
    export_tflite(model, path, "int8", calibration={"logits": cal})
    interp = Interpreter(model_path=path)
    ops = {op["op_name"] for op in interp._get_ops_details()}
    assert "DIV" not in ops and "SELECT_V2" in ops
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    want = np.asarray(model(cal[:16]))
    worst = 0.0
    for i in range(16):
        s, z = inp["quantization"]
        interp.set_tensor(inp["index"], np.clip(np.round(cal[i : i + 1] / s + z), -128, 127).astype(np.int8))
        interp.invoke()
        s, z = out["quantization"]
        got = (interp.get_tensor(out["index"]).astype(np.float32) - z) * s
        worst = max(worst, float(np.abs(got[0] - want[i]).max()))
    assert worst < 0.05, worst  # int8 steps of 1/255 on [0, 1]: a handful of them at most
