"""verify reports the floor as the copy a repair keeps, and what a repair reaches; the two agree whenever the
repair can merge every copy, and differ by exactly the copies it must leave otherwise."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgeshare.converters import verify
from edgeshare.converters.repair import repair
from edgeshare.converters.runtime import LiteRTRunner
from edgeshare.converters.verify import verify_file
from tests.converters.test_repair_guard import cli
from tests.tflite_builder import TFLiteBuilder, quantize_per_channel

RNG = np.random.default_rng(9)
W = RNG.standard_normal((64, 32)).astype("float32")
X = RNG.standard_normal((1, 32)).astype("float32")


def float_and_int8() -> bytes:
    """A weight stored twice, as ai-edge-quantizer's dynamic recipe writes a tied table: float32 for one
    FULLY_CONNECTED, int8 per-channel for the other."""
    b = TFLiteBuilder()
    x = b.tensor("x", (1, 32))
    w = b.tensor("w_float", (64, 32), data=W)
    q, s = quantize_per_channel(W, 0)
    wq = b.tensor("w_int8", (64, 32), "int8", q, scale=s, axis=0)
    y1, y2 = b.tensor("y1", (1, 64)), b.tensor("y2", (1, 64))
    b.op("FULLY_CONNECTED", [x, w, -1], [y1])
    b.op("FULLY_CONNECTED", [x, wq, -1], [y2])
    b.io([x], [y1, y2])
    data = b.build()
    LiteRTRunner(data)(x=X)
    return data


def test_the_floor_keeps_the_copy_the_repair_keeps(tmp_path):
    src = float_and_int8()
    rep = verify(src)
    [g] = rep.groups
    kept = next(t for t in g.tensors if t.relation == "kept")
    assert kept.name == "w_int8"  # the float readers read it through DEQUANTIZE
    assert rep.floor_bytes == W.size == rep.repair_reaches_bytes and rep.repair_leaves == []
    assert rep.duplicate_bytes == W.nbytes and rep.weight_bytes == W.nbytes + W.size
    out = repair(src, str(tmp_path / "fixed.tflite"))
    assert out.ok and out.weight_bytes_after == rep.floor_bytes


def test_without_the_repair_planner_the_floor_keeps_the_smallest_copy():
    rep = verify_file(float_and_int8())
    assert rep.repair_reaches_bytes is None and rep.floor_bytes == W.size


def test_a_copy_the_repair_must_leave_separates_the_two_numbers():
    """FULLY_CONNECTED on W and on W^T: no rule can merge them, the report says why and by how much."""
    b = TFLiteBuilder()
    sq = RNG.standard_normal((16, 16)).astype("float32")
    x = b.tensor("x", (1, 16))
    t1, t2 = b.tensor("w", (16, 16), data=sq), b.tensor("w_t", (16, 16), data=np.ascontiguousarray(sq.T))
    h, y = b.tensor("h", (1, 16)), b.tensor("y", (1, 16))
    b.op("FULLY_CONNECTED", [x, t1, -1], [h])
    b.op("FULLY_CONNECTED", [h, t2, -1], [y])
    b.io([x], [y])
    rep = verify(b.build())
    [left] = rep.repair_leaves
    assert left.reason == "FULLY_CONNECTED needs the [units, in] layout" and left.bytes == sq.nbytes
    assert rep.repair_reaches_bytes == rep.weight_bytes == 2 * sq.nbytes
    assert rep.floor_bytes == sq.nbytes


def test_the_json_report_carries_both_numbers(tmp_path):
    src = tmp_path / "m.tflite"
    src.write_bytes(float_and_int8())
    code, _, _ = cli("verify", str(src), "--json", str(tmp_path / "v.json"))
    d = json.loads((tmp_path / "v.json").read_text())
    assert code == 1 and d["floor_bytes"] == d["repair_reaches_bytes"] == W.size and d["repair_leaves"] == []


def test_relations_carry_over_when_the_group_is_rooted_at_the_kept_copy():
    """W (float), W^T (float, read by BATCH_MATMUL) and an int8 copy: the repair keeps the int8 copy, and
    the relations to it are the ones a direct comparison gives."""
    from edgeshare.converters.formats import open_source, read_tflite
    from edgeshare.converters.verify.matching import prepare, relate

    q, s = quantize_per_channel(W, 0)
    b = TFLiteBuilder()
    x = b.tensor("x", (1, 32))
    x3 = b.tensor("x3", (1, 1, 32))
    w = b.tensor("w", (64, 32), data=W)
    wt = b.tensor("w_t", (32, 64), data=np.ascontiguousarray(W.T))
    wq = b.tensor("w_int8", (64, 32), "int8", q, scale=s, axis=0)
    y1, y2, y3 = b.tensor("y1", (1, 64)), b.tensor("y2", (1, 1, 64)), b.tensor("y3", (1, 64))
    b.op("FULLY_CONNECTED", [x, w, -1], [y1])
    b.op("BATCH_MATMUL", [x3, wt], [y2])
    b.op("FULLY_CONNECTED", [x, wq, -1], [y3])
    b.io([x, x3], [y1, y2, y3])
    data = b.build()
    LiteRTRunner(data)(x=X, x3=X.reshape(1, 1, 32))
    [g] = verify_file(data).groups
    by_name = {t.name: t for t in g.tensors}
    assert by_name["w_int8"].relation == "kept"
    assert (by_name["w"].relation, by_name["w"].perm) == ("requantized", None)
    assert (by_name["w_t"].relation, by_name["w_t"].perm) == ("requantized", [1, 0])
    with open_source(data) as src:
        weights = {w.name: w for w in read_tflite(src).stored_weights()}
        direct = relate(prepare(weights["w_int8"], 0), prepare(weights["w_t"], 1))
        assert direct is not None and direct.perm == (1, 0)
        assert by_name["w_t"].max_abs_diff == pytest.approx(direct.diff, rel=1e-6)
