"""TFLite repair on hand-built files (each case a real model LiteRT runs) and on real conversions."""

import numpy as np
import pytest

from edgeshare.converters import verify
from edgeshare.converters.repair import repair
from edgeshare.converters.runtime import LiteRTRunner
from tests.converters.test_verify_tflite import X, two_fc
from tests.converters.test_verify_tflite import tied_embedding as tflite_tied
from tests.tflite_builder import TFLiteBuilder


def _outputs(data_or_path, **inputs):
    return LiteRTRunner(data_or_path)(inputs)


def test_exact_copy_is_merged_bitwise(tmp_path):
    src = two_fc("exact")
    out = str(tmp_path / "fixed.tflite")
    rep = repair(src, out)
    assert rep.ok and rep.duplicate_bytes_before == 16 * 8 * 4 and rep.duplicate_bytes_after == 0
    assert rep.weight_bytes_after == 16 * 8 * 4
    assert [m.kind for m in rep.merged] == ["exact"]
    assert rep.numerics.bitwise
    for a, b in zip(_outputs(src, x1=X, x2=X), _outputs(out, x1=X, x2=X)):
        np.testing.assert_array_equal(a, b)


def test_transposed_copy_read_by_batch_matmul_flips_adj_y(tmp_path):
    src = two_fc("transposed")
    out = str(tmp_path / "fixed.tflite")
    rep = repair(src, out)
    assert rep.ok, (rep.skipped, rep.numerics)
    assert [m.kind for m in rep.merged] == ["transposed"]
    assert any("adj_y flipped" in n for n in rep.merged[0].rewrites)
    y1, y2 = _outputs(out, x1=X, x2=X)
    np.testing.assert_allclose(y2, y1, atol=1e-5)


def test_float_copy_reads_the_fp16_copy_through_dequantize(tmp_path):
    src = two_fc("fp16")
    rep = repair(src, str(tmp_path / "fixed.tflite"))
    assert rep.ok and rep.numerics.criterion.startswith("cosine")
    assert rep.weight_bytes_after == 16 * 8 * 2  # one float16 copy
    assert any("DEQUANTIZE" in n for n in rep.merged[0].rewrites)


def test_requantized_tied_embedding_keeps_the_per_tensor_copy(tmp_path):
    src = tflite_tied("requantized")
    out = str(tmp_path / "fixed.tflite")
    rep = repair(src, out)
    assert rep.ok and rep.weight_bytes_after == 50 * 8
    assert "per-tensor" in rep.merged[0].rewrites[0]
    ids = np.array([[1, 2, 3, 4]], np.int32)
    a, b = _outputs(src, ids=ids)[0], _outputs(out, ids=ids)[0]
    assert np.corrcoef(a.reshape(-1), b.reshape(-1))[0, 1] > 0.999


def test_a_copy_no_op_can_read_is_left_with_its_reason(tmp_path):
    """Two FULLY_CONNECTED ops, one on W and one on W^T: FULLY_CONNECTED has one weight layout, so
    the copy stays, the report says why, and the repair is not ok."""
    rng = np.random.default_rng(3)
    w = rng.standard_normal((16, 16)).astype("float32")
    b = TFLiteBuilder()
    x = b.tensor("x", (1, 16))
    t1 = b.tensor("w", (16, 16), data=w)
    t2 = b.tensor("w_t", (16, 16), data=np.ascontiguousarray(w.T))
    h = b.tensor("h", (1, 16))
    y = b.tensor("y", (1, 16))
    b.op("FULLY_CONNECTED", [x, t1, -1], [h])
    b.op("FULLY_CONNECTED", [h, t2, -1], [y])
    b.io([x], [y])
    src = b.build()
    rep = repair(src, str(tmp_path / "fixed.tflite"))
    assert not rep.ok
    assert rep.merged == [] and len(rep.skipped) == 1
    assert rep.skipped[0].reason == "FULLY_CONNECTED needs the [units, in] layout"
    assert rep.duplicate_bytes_after == w.nbytes
    assert rep.numerics.bitwise


def test_offset_layout_loads_and_matches_inline(tmp_path):
    src = two_fc("exact")
    inline, offset = str(tmp_path / "inline.tflite"), str(tmp_path / "offset.tflite")
    repair(src, inline, layout="inline")
    rep = repair(src, offset, layout="offset")
    assert rep.ok
    from edgeshare.converters.formats.source import open_source
    from edgeshare.converters.formats.tflite_file import read_tflite

    with open_source(offset) as s:
        tfl = read_tflite(s)
        data_buffers = [b for b in tfl.buffers if b.length]
        assert data_buffers and all(b.start % 64 == 0 for b in data_buffers)
    for a, b in zip(_outputs(inline, x1=X, x2=X), _outputs(offset, x1=X, x2=X)):
        np.testing.assert_array_equal(a, b)
    assert verify(offset).weight_bytes == verify(inline).weight_bytes


@pytest.fixture(scope="module")
def biased_tied_lm():
    """A tied embedding whose output projection has a bias: in full int8 the repair must requantize
    the int32 bias for the kept (per-tensor) weight scale."""
    import keras
    from keras import ops

    from edgeshare.accounting import quiet_tensorflow

    quiet_tensorflow()
    keras.utils.set_random_seed(1)

    class TiedHead(keras.layers.Layer):
        def __init__(self, embedding, **kw):
            super().__init__(**kw)
            self.embedding = embedding

        def build(self, shape):
            self.bias = self.add_weight(name="bias", shape=(self.embedding.input_dim,),
                                        initializer=keras.initializers.RandomNormal(0, 0.5))

        def call(self, x):
            return ops.matmul(x, ops.transpose(self.embedding.embeddings)) + self.bias

    tokens = keras.Input((8,), dtype="int32", name="tokens")
    emb = keras.layers.Embedding(300, 32, name="embedding")
    h = keras.layers.Dense(32, activation="tanh", name="hidden")(emb(tokens))
    model = keras.Model(tokens, TiedHead(emb, name="head")(h))
    data = np.random.default_rng(0).integers(0, 300, size=(32, 8)).astype(np.int32)
    return model, data


def test_full_int8_bias_is_requantized_with_the_kept_weight(biased_tied_lm, tmp_path):
    from edgeshare.converters import export_tflite

    model, data = biased_tied_lm
    raw = export_tflite(model, str(tmp_path / "raw.tflite"), "int8", calibration=data, repair=False)
    assert [g.kind for g in raw.groups] == ["requantized"]
    rep = export_tflite(model, str(tmp_path / "fixed.tflite"), "int8", calibration=data)
    assert rep.duplicate_bytes == 0 and rep.ok, rep.problems()
    notes = [n for m in rep.repair["merged"] for n in m["rewrites"]]
    assert any("int32 bias requantized" in n for n in notes), notes
    assert rep.numerics.cosine_similarity >= 0.99
    assert rep.weight_bytes < raw.weight_bytes - 300 * 32 + 1  # the int8 table once (a new bias added)


def test_stock_int8_tied_table_is_one_per_channel_copy(stock_tied, tmp_path):
    """In a full-integer model the GATHER table carries the activation's asymmetric range (a few outliers
    clipped) and the head a symmetric per-channel copy. The repair keeps the per-channel copy, which the head
    reads unchanged (and XNNPACK takes: zero points 0); the GATHER becomes an EMBEDDING_LOOKUP of it,
    requantized to the GATHER's own output scale."""
    from edgeshare.converters.formats.source import open_source
    from edgeshare.converters.formats.tflite_file import read_tflite

    out = str(tmp_path / "fixed.tflite")
    rep = repair(stock_tied["int8"], out)
    assert rep.ok and rep.duplicate_bytes_after == 0, (rep.skipped, rep.notes)
    assert [m.rule for m in rep.merged] == ["gather_per_channel_table"] and rep.kept_changes == []
    with open_source(out) as s:
        tfl = read_tflite(s)
        opcodes = [op.opcode for sg in tfl.subgraphs for op in sg.operators]
        tables = [sg.tensors[op.inputs[0]] for sg in tfl.subgraphs for op in sg.operators if op.opcode == "GATHER"]
        assert "EMBEDDING_LOOKUP" in opcodes and not [t for t in tables if t.quant is not None]
        for sg in tfl.subgraphs:
            for op in sg.operators:
                if op.opcode in ("FULLY_CONNECTED", "EMBEDDING_LOOKUP"):
                    w = sg.tensors[op.inputs[1]]
                    if w.quant is not None and w.dtype == "int8":
                        assert not w.quant.zero_point.any(), (op.opcode, w.name)
