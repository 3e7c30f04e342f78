"""Each TFLite repair rule on a good model and on a minimally broken one (hand-built, run in LiteRT).

The broken model holds exactly the kind of copy the rule exists for: the repair must merge it with that
rule (MergedCopy.rule), leave no duplicate and keep the outputs. The good model stores the weight once:
the repair must find nothing to do.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgeshare.converters.repair import repair
from edgeshare.converters.repair.tflite.rules import COPY_RULES, GROUP_RULES, KEPT_RULES
from edgeshare.converters.runtime import LiteRTRunner
from tests.converters.test_tflite_lookup_rule import tied as lookup_tied
from tests.converters.test_tflite_schema import sparse_model
from tests.converters.test_verify_tflite import tied_embedding, two_fc
from tests.tflite_builder import TFLiteBuilder, quantize_per_channel, quantize_per_tensor

RNG = np.random.default_rng(7)
W = RNG.standard_normal((16, 8)).astype("float32")
X = RNG.standard_normal((1, 8)).astype("float32")


def _fc_pair(second: str) -> bytes:
    """Two FULLY_CONNECTED ops on W: the first reads an int8 per-channel copy (hybrid), the second reads
    `second`: "int8" (the same tensor: good), "float" (a float32 copy) or "fp16" (DEQUANTIZE of an fp16 copy)."""
    b = TFLiteBuilder()
    x1, x2 = b.tensor("x1", (1, 8)), b.tensor("x2", (1, 8))
    q, s = quantize_per_channel(W, 0)
    wq = b.tensor("w_int8", (16, 8), "int8", q, scale=s, axis=0)
    y1, y2 = b.tensor("y1", (1, 16)), b.tensor("y2", (1, 16))
    b.op("FULLY_CONNECTED", [x1, wq, -1], [y1])
    if second == "int8":
        b.op("FULLY_CONNECTED", [x2, wq, -1], [y2])
    elif second == "float":
        b.op("FULLY_CONNECTED", [x2, b.tensor("w_float", (16, 8), data=W), -1], [y2])
    else:
        w16 = b.tensor("w_fp16", (16, 8), "float16", data=W.astype(np.float16))
        wd = b.tensor("w_fp16_dequantized", (16, 8))
        b.op("DEQUANTIZE", [w16], [wd])
        b.op("FULLY_CONNECTED", [x2, wd, -1], [y2])
    b.io([x1, x2], [y1, y2])
    return b.build()


def _asymmetric_tied() -> bytes:
    """A tied embedding whose GATHER table takes an asymmetric (zero point 5) per-tensor scale, as in a
    full-integer model, and whose FULLY_CONNECTED reads a symmetric per-channel copy (broken). Read as an int8
    weight, the asymmetric table itself is refused by XNNPACK ("failed to update filter tensor"), so the good
    model is the symmetric shared table (`tied_embedding("shared")`)."""
    emb = RNG.standard_normal((50, 8)).astype("float32")
    scale, zp = float(np.abs(emb).max()) / 122.0, 5
    table = np.clip(np.round(emb / scale) + zp, -128, 127).astype(np.int8)
    b = TFLiteBuilder()
    # int64 ids: EMBEDDING_LOOKUP (gather_per_channel_table) takes int32 ids only, so the kept table stays
    ids = b.tensor("ids", (1, 4), "int64")
    e = b.tensor("emb_gather", (50, 8), "int8", table, scale=scale, zero_point=zp)
    g = b.tensor("gathered", (1, 4, 8), "int8", scale=scale, zero_point=zp)
    d = b.tensor("gathered_f32", (1, 4, 8))
    q2, s2 = quantize_per_channel(emb, 0)
    fc_w = b.tensor("emb_fc", (50, 8), "int8", q2, scale=s2, axis=0)
    y = b.tensor("logits", (1, 4, 50))
    b.op("GATHER", [e, ids], [g], axis=0)
    b.op("DEQUANTIZE", [g], [d])
    b.op("FULLY_CONNECTED", [d, fc_w, -1], [y], keepNumDims=True)
    b.io([ids], [y])
    return b.build()


def _shared_int8_layer(biases: str) -> bytes:
    """A full-integer Dense called on two inputs with different scales: one int8 weight, and one int32
    bias per call (bias scale = input scale x weight scale). "same": the calls' biases are one real bias
    (the converter's duplicate); "different": two real biases (nothing to share)."""
    w = RNG.standard_normal((32, 8)).astype("float32")
    q, sw = quantize_per_tensor(w)
    bias = RNG.standard_normal(32).astype("float32")
    other = bias if biases == "same" else RNG.standard_normal(32).astype("float32")
    b = TFLiteBuilder()
    s1, s2 = 0.02, 0.05
    x1 = b.tensor("x1", (1, 8), "int8", scale=s1)
    x2 = b.tensor("x2", (1, 8), "int8", scale=s2)
    wt = b.tensor("w", (32, 8), "int8", q, scale=sw)
    b1 = b.tensor("bias1", (32,), "int32", np.round(bias / (s1 * sw)).astype(np.int32), scale=s1 * sw)
    b2 = b.tensor("bias2", (32,), "int32", np.round(other / (s2 * sw)).astype(np.int32), scale=s2 * sw)
    y1 = b.tensor("y1", (1, 32), "int8", scale=0.08)
    y2 = b.tensor("y2", (1, 32), "int8", scale=0.12)
    b.op("FULLY_CONNECTED", [x1, wt, b1], [y1])
    b.op("FULLY_CONNECTED", [x2, wt, b2], [y2])
    b.io([x1, x2], [y1, y2])
    return b.build()


# rule -> (good model, broken model)
CASES = {
    "exact_copy": (lambda: two_fc(None), lambda: two_fc("exact")),
    "transposed_batch_matmul": (lambda: two_fc(None), lambda: two_fc("transposed")),
    "float_reads_dequantize": (lambda: _fc_pair("int8"), lambda: _fc_pair("float")),
    "float16_dequantize": (lambda: _fc_pair("int8"), lambda: _fc_pair("fp16")),
    "requantized_integer": (lambda: tied_embedding("shared"), lambda: tied_embedding("requantized")),
    "symmetric_kept_table": (lambda: tied_embedding("shared"), _asymmetric_tied),
    "shared_int8_bias": (lambda: _shared_int8_layer("different"), lambda: _shared_int8_layer("same")),
    "sparse_copy": (lambda: two_fc(None), lambda: sparse_model("dense")),
    "gather_per_channel_table": (lambda: lookup_tied(False, (4,)), lambda: lookup_tied(True, (4,))),
}


def test_every_registered_rule_has_a_case():
    assert sorted(CASES) == sorted(r.name for r in [*GROUP_RULES, *KEPT_RULES, *COPY_RULES])


def _outputs(data: bytes) -> list[np.ndarray]:
    runner = LiteRTRunner(data)
    rng = np.random.default_rng(0)
    feeds = {}
    for s in runner.inputs:
        if np.issubdtype(np.dtype(s.dtype), np.integer) and not s.scale:
            feeds[s.name] = rng.integers(0, s.index_bound or 50, size=s.shape).astype(s.dtype)
        else:
            feeds[s.name] = rng.standard_normal(s.shape).astype(np.float32)
    return runner(feeds)


def _rules(rep) -> set[str]:
    return {m.rule for m in rep.merged}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_on_good_and_broken_model(rule, tmp_path):
    good, broken = (f() for f in CASES[rule])
    clean = repair(good, str(tmp_path / "good_fixed.tflite"))
    assert clean.merged == [] and clean.skipped == [] and clean.duplicate_bytes_before == 0
    rep = repair(broken, str(tmp_path / "fixed.tflite"))
    assert rep.duplicate_bytes_before > 0
    assert rep.ok, (rep.skipped, rep.numerics)
    fixed = (tmp_path / "fixed.tflite").read_bytes()
    if rule == "symmetric_kept_table":  # a kept rule adjusts the kept copy; the copy rule merges
        assert _rules(rep) == {"requantized_integer"}
        assert [c.rule for c in rep.kept_changes] == ["symmetric_kept_table"]
    else:
        assert _rules(rep) == {rule}
    assert rep.weight_bytes_after < rep.weight_bytes_before
    for a, b in zip(_outputs(broken), _outputs(fixed)):
        a, b = a.astype(np.float64).reshape(-1), b.astype(np.float64).reshape(-1)
        assert float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))) > 0.99
