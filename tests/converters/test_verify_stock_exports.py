"""The verifier on what the stock tools really write (TF 2.21, Keras 3.15): a tied-embedding LM made
with plain keras.layers.ReversibleEmbedding stores its embedding twice in TFLite dynamic-range and int8,
and twice (once transposed) in Model.export's ONNX. Models without sharing come out clean."""

import json

import pytest

from edgeshare.cli import main
from edgeshare.converters import verify
from tests.converters.conftest import DIM, VOCAB

EMBED = VOCAB * DIM


@pytest.mark.parametrize("mode", ["dynamic", "int8"])
def test_stock_tflite_stores_the_tied_embedding_twice(stock_tied, mode):
    rep = verify(stock_tied[mode])
    assert [g.kind for g in rep.groups] == ["requantized"]
    g = rep.groups[0]
    assert [t.shape for t in g.tensors] == [[VOCAB, DIM], [VOCAB, DIM]]
    assert g.wasted_bytes == EMBED  # one int8 embedding
    consumers = " ".join(c for t in g.tensors for c in t.consumers)
    assert "GATHER" in consumers and "FULLY_CONNECTED" in consumers
    assert rep.ratio > 1.9


def test_model_export_onnx_stores_a_transposed_copy(stock_tied):
    rep = verify(stock_tied["onnx"])
    assert [g.kind for g in rep.groups] == ["transposed"]
    g = rep.groups[0]
    assert sorted(tuple(t.shape) for t in g.tensors) == [(DIM, VOCAB), (VOCAB, DIM)]
    assert g.wasted_bytes == EMBED * 4


@pytest.mark.parametrize("key", ["none", "dynamic", "onnx"])
def test_models_without_sharing_are_clean(stock_unshared, key, capsys):
    rep = verify(stock_unshared[key])
    assert rep.groups == [] and rep.duplicate_bytes == 0
    assert main(["verify", stock_unshared[key]]) == 0


def test_cli_exit_codes_and_json_on_stock_files(stock_tied, capsys):
    assert main(["verify", stock_tied["dynamic"], "--json"]) == 1
    d = json.loads(capsys.readouterr().out)
    assert d["format"] == "tflite"
    assert d["duplicate_bytes"] == EMBED
    assert d["weight_bytes"] > d["duplicate_bytes"]
    assert d["groups"][0]["kind"] == "requantized"
    assert d["groups"][0]["wasted_bytes"] == EMBED
    assert len(d["groups"][0]["tensors"]) == 2
    assert main(["verify", stock_tied["onnx"], "--json"]) == 1
    d = json.loads(capsys.readouterr().out)
    assert d["format"] == "onnx" and d["groups"][0]["kind"] == "transposed"


def test_model_mapping_flags_the_shared_embedding(stock_tied, tied_lm):
    _, keras_path = tied_lm
    rep = verify(stock_tied["dynamic"], model=keras_path)
    by_path = {v.path: v for v in rep.variables}
    emb = by_path["embedding/embeddings"]
    assert emb.uses == 2
    assert len(emb.carriers) == 2 and emb.flagged
    assert by_path["hidden/kernel"].carriers and not by_path["hidden/kernel"].flagged
    assert rep.groups[0].keras_variable == "embedding/embeddings"
