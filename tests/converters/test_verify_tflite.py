"""The verifier on hand-built .tflite files: each good model is paired with a minimally broken one
(a duplicated buffer, a transposed copy, a requantized copy). Every file also runs in LiteRT, so the
cases are real models, not just bytes the verifier happens to parse."""

import numpy as np
import pytest

from edgeshare.converters import verify
from edgeshare.converters.runtime import LiteRTRunner
from tests.tflite_builder import TFLiteBuilder, float_beside_int8, quantize_per_channel, quantize_per_tensor

RNG = np.random.default_rng(0)
W = RNG.standard_normal((16, 8)).astype("float32")  # a Dense kernel in FULLY_CONNECTED layout [out, in]
X = RNG.standard_normal((1, 8)).astype("float32")


def two_fc(copy: str | None) -> bytes:
    """A shared Dense applied to two inputs: two FULLY_CONNECTED ops that both need the 16x8 weight W.
    `copy` decides how the second use stores it."""
    b = TFLiteBuilder()
    x1 = b.tensor("x1", (1, 8))
    x2 = b.tensor("x2", (1, 8))
    w = b.tensor("w", (16, 8), data=W)
    y1 = b.tensor("y1", (1, 16))
    y2 = b.tensor("y2", (1, 16))
    b.op("FULLY_CONNECTED", [x1, w, -1], [y1])
    if copy is None:
        b.op("FULLY_CONNECTED", [x2, w, -1], [y2])  # the shared tensor itself
    elif copy == "buffer":
        w_again = b.tensor("w_again", (16, 8), buffer=b.buffer_of(w))  # a second tensor, same buffer
        b.op("FULLY_CONNECTED", [x2, w_again, -1], [y2])
    elif copy == "exact":
        w2 = b.tensor("w_copy", (16, 8), data=W.copy())
        b.op("FULLY_CONNECTED", [x2, w2, -1], [y2])
    elif copy == "transposed":
        wt = b.tensor("w_transposed", (8, 16), data=np.ascontiguousarray(W.T))
        x2r = b.tensor("x2_3d", (1, 1, 8))
        y2r = b.tensor("y2_3d", (1, 1, 16))
        shape = b.tensor("shape", (2,), "int32", data=np.array([1, 16], np.int32))
        b.op("RESHAPE", [x2, b.tensor("s3", (3,), "int32", data=np.array([1, 1, 8], np.int32))], [x2r])
        b.op("BATCH_MATMUL", [x2r, wt], [y2r])
        b.op("RESHAPE", [y2r, shape], [y2])
    elif copy == "fp16":
        w16 = b.tensor("w_fp16", (16, 8), "float16", data=W.astype(np.float16))
        wd = b.tensor("w_dequantized", (16, 8))
        b.op("DEQUANTIZE", [w16], [wd])
        b.op("FULLY_CONNECTED", [x2, wd, -1], [y2])
    elif copy == "other":
        w2 = b.tensor("w_other", (16, 8), data=RNG.standard_normal((16, 8)).astype("float32"))
        b.op("FULLY_CONNECTED", [x2, w2, -1], [y2])
    b.io([x1, x2], [y1, y2])
    return b.build()


def run(data: bytes) -> list[np.ndarray]:
    return LiteRTRunner(data)(x1=X, x2=X)


@pytest.mark.parametrize("copy", [None, "buffer"])
def test_shared_weight_is_clean(copy):
    data = two_fc(copy)
    y1, y2 = run(data)
    np.testing.assert_allclose(y1, X @ W.T, atol=1e-5)
    np.testing.assert_allclose(y2, X @ W.T, atol=1e-5)
    rep = verify(data)
    assert rep.groups == []
    assert rep.duplicate_bytes == 0
    assert rep.weight_bytes == W.nbytes
    assert rep.ok


@pytest.mark.parametrize(
    "copy, kind, relation, wasted",
    [
        ("exact", "exact", "exact", W.nbytes),
        ("transposed", "transposed", "transposed", W.nbytes),
        # The floor keeps the copy a repair keeps: the fp16 one, which the float reader reads dequantized.
        ("fp16", "requantized", "requantized", W.nbytes),
    ],
)
def test_broken_copy_is_found(copy, kind, relation, wasted):
    data = two_fc(copy)
    y1, y2 = run(data)  # still a valid model that computes the same thing
    np.testing.assert_allclose(y2, y1, atol=5e-3)
    rep = verify(data)
    assert len(rep.groups) == 1
    g = rep.groups[0]
    assert g.kind == kind
    assert g.wasted_bytes == wasted
    assert rep.duplicate_bytes == wasted
    assert [t.relation for t in g.tensors] == ["kept", relation]
    copy_name = {"exact": "w_copy", "transposed": "w_transposed", "fp16": "w_fp16"}[copy]
    assert {t.name for t in g.tensors} == {"w", copy_name}
    assert not rep.ok
    if copy == "transposed":
        assert g.tensors[1].perm == [1, 0]
        assert any("BATCH_MATMUL" in c for c in g.tensors[1].consumers)
    if copy == "fp16":  # the consumer behind the DEQUANTIZE is named
        half = next(t for t in g.tensors if t.name == "w_fp16")
        assert any(c.startswith("DEQUANTIZE") and c.endswith("FULLY_CONNECTED") for c in half.consumers)


def test_different_weights_of_the_same_shape_are_never_grouped():
    data = two_fc("other")
    run(data)
    rep = verify(data)
    assert rep.groups == [] and rep.ok


def tied_embedding(copy: str) -> bytes:
    """A tied embedding as the stock converter writes it in dynamic-range mode: an int8 per-tensor copy for
    GATHER and an int8 per-channel copy for FULLY_CONNECTED ("requantized"), or one shared buffer."""
    emb = RNG.standard_normal((50, 8)).astype("float32")
    b = TFLiteBuilder()
    ids = b.tensor("ids", (1, 4), "int32")
    q1, s1 = quantize_per_tensor(emb)
    e = b.tensor("emb_gather", (50, 8), "int8", q1, scale=s1)
    g = b.tensor("gathered", (1, 4, 8), "int8", scale=s1)
    d = b.tensor("gathered_f32", (1, 4, 8))
    if copy == "requantized":
        q2, s2 = quantize_per_channel(emb, 0)
        fc_w = b.tensor("emb_fc", (50, 8), "int8", q2, scale=s2, axis=0)
    else:
        fc_w = e
    y = b.tensor("logits", (1, 4, 50))
    b.op("GATHER", [e, ids], [g], axis=0)
    b.op("DEQUANTIZE", [g], [d])
    b.op("FULLY_CONNECTED", [d, fc_w, -1], [y], keepNumDims=True)
    b.io([ids], [y])
    data = b.build()
    logits = LiteRTRunner(data)(ids=np.array([[1, 2, 3, 4]], np.int32))[0]
    ref = emb[[1, 2, 3, 4]] @ emb.T
    assert np.corrcoef(logits.reshape(-1), ref.reshape(-1))[0, 1] > 0.999
    return data


def test_requantized_tied_embedding():
    clean = verify(tied_embedding("shared"))
    assert clean.ok and clean.weight_bytes == 50 * 8
    rep = verify(tied_embedding("requantized"))
    assert [g.kind for g in rep.groups] == ["requantized"]
    g = rep.groups[0]
    assert g.wasted_bytes == 50 * 8
    quant = {t.name: t.quantization for t in g.tensors}
    assert quant["emb_fc"].startswith("per-channel (50 scales")
    assert quant["emb_gather"].startswith("per-tensor")
    # within half a step of each copy
    assert g.tensors[1].max_abs_diff is not None and g.tensors[1].max_abs_diff > 0


def test_constant_tensors_are_not_evidence_of_sharing():
    """Zero biases and unit gains are equal by construction, not shared: never grouped."""
    b = TFLiteBuilder()
    x = b.tensor("x", (1, 8))
    w1 = b.tensor("w1", (32, 8), data=RNG.standard_normal((32, 8)).astype("float32"))
    w2 = b.tensor("w2", (32, 32), data=RNG.standard_normal((32, 32)).astype("float32"))
    b1 = b.tensor("bias1", (32,), data=np.zeros(32, np.float32))
    b2 = b.tensor("bias2", (32,), data=np.zeros(32, np.float32))
    h = b.tensor("h", (1, 32))
    y = b.tensor("y", (1, 32))
    b.op("FULLY_CONNECTED", [x, w1, b1], [h])
    b.op("FULLY_CONNECTED", [h, w2, b2], [y])
    b.io([x], [y])
    data = b.build()
    LiteRTRunner(data)(x=X)
    rep = verify(data)
    assert rep.groups == []
    assert rep.weight_bytes == (32 * 8 + 32 * 32 + 64) * 4  # the biases still count as weight bytes


def test_verify_reads_bytes_and_paths_alike(tmp_path):
    data = two_fc("exact")
    path = tmp_path / "m.tflite"
    path.write_bytes(data)
    a, b = verify(data).to_dict(), verify(str(path)).to_dict()
    a.pop("path")
    b.pop("path")
    assert a == b


def test_a_coarsely_quantized_tensor_is_no_evidence_of_sharing():
    """An int8 tensor whose half step is as large as its values' spread (a folded or badly calibrated
    constant, seen in MobileNetV3's int8 squeeze-excite convs: per-channel scales up to 0.3 for weights
    below 0.3) rounds to -1, 0 and 1 and sits within half a step of many tensors of that size, different
    weights included. The matcher does not count such agreement: a half step must stay under a quarter
    of the values' standard deviation (int8 requantizations sit near 0.01-0.03)."""
    w = RNG.uniform(-0.3, 0.3, (16, 8)).astype("float32")
    scale = 0.3
    q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
    assert set(np.unique(q)) == {-1, 0, 1}  # three levels: not constant, so the matcher does look at it
    data = float_beside_int8(w, q, scale, "coarse")
    LiteRTRunner(data)(x=X)
    assert verify(data).groups == []
