"""The matcher on requantized copies with values clipped at the quantization limits (hand-built, run in LiteRT).

The bound under test (verify/matching.py, SATURATED): at most 0.1% of a copy's elements may disagree with
the other copy beyond both quantization errors, and only when each sits exactly at its copy's limit
(qmin or qmax) with the other copy beyond that limit. A tied LM's full-int8 GATHER table, quantized with
the activations' range, clips a few outliers in this way.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgeshare.converters import verify
from edgeshare.converters.runtime import LiteRTRunner
from edgeshare.converters.verify.matching import SATURATED, saturation_allowance
from tests.tflite_builder import TFLiteBuilder, quantize_per_channel

ROWS, DIM = 200, 64  # 12,800 values: up to 12 may be clipped
EMB = np.random.default_rng(7).standard_normal((ROWS, DIM)).astype("float32")


def table_clipping(n: int) -> tuple[np.ndarray, float]:
    """A per-tensor int8 quantization of EMB whose range clips exactly its n largest magnitudes."""
    mags = np.sort(np.abs(EMB).reshape(-1))[::-1]
    scale = float((mags[n - 1] + mags[n]) / 2) / 127.5 if n else float(mags[0]) / 127.0
    q = np.clip(np.round(EMB / scale), -128, 127).astype(np.int8)
    clipped = int(np.count_nonzero(np.abs(EMB / scale) > 127.5))
    assert clipped == n  # the helper's own precondition
    return q, scale


def tied(table: np.ndarray, scale: float) -> bytes:
    """GATHER reads `table` (per-tensor int8), FULLY_CONNECTED reads a per-channel int8 copy of EMB."""
    b = TFLiteBuilder()
    ids = b.tensor("ids", (1, 4), "int32")
    x = b.tensor("x", (1, DIM))
    t = b.tensor("table", (ROWS, DIM), "int8", table, scale=scale)
    g = b.tensor("rows", (1, 4, DIM), "int8", scale=scale)
    d = b.tensor("rows_f32", (1, 4, DIM))
    q2, s2 = quantize_per_channel(EMB, 0)
    w = b.tensor("head", (ROWS, DIM), "int8", q2, scale=s2, axis=0)
    y = b.tensor("logits", (1, ROWS))
    b.op("GATHER", [t, ids], [g], axis=0)
    b.op("DEQUANTIZE", [g], [d])
    b.op("FULLY_CONNECTED", [x, w, -1], [y])
    b.io([ids, x], [d, y])
    data = b.build()
    rows, logits = LiteRTRunner(data)(ids=np.array([[0, 5, 7, ROWS - 1]], np.int32), x=np.ones((1, DIM), np.float32))
    assert rows.shape == (1, 4, DIM) and logits.shape == (1, ROWS)  # a real model
    return data


def test_the_allowance_is_a_tenth_of_a_percent():
    assert SATURATED == 1e-3
    assert saturation_allowance(ROWS * DIM) == 12
    assert saturation_allowance(999) == 0  # small weights get no allowance at all


def test_a_copy_with_a_few_values_clipped_at_the_limit_is_found():
    q, s = table_clipping(10)
    rep = verify(tied(q, s))
    assert len(rep.groups) == 1
    g = rep.groups[0]
    assert g.kind == "requantized" and {t.name for t in g.tensors} == {"table", "head"}
    other = next(t for t in g.tensors if t.relation == "requantized")
    # The clipped values that land within both copies' errors anyway are not counted as saturated.
    assert 0 < other.saturated <= 10


def test_a_copy_clipped_beyond_the_allowance_is_another_weight():
    q, s = table_clipping(saturation_allowance(ROWS * DIM) + 8)
    assert verify(tied(q, s)).groups == []


def test_as_many_values_off_but_not_at_the_limit_are_another_weight():
    """The minimally broken twin of the saturated case: 10 values off by 3 steps, inside the range."""
    q, s = table_clipping(0)
    off = q.copy().reshape(-1)
    idx = np.random.default_rng(1).choice(off.size, 10, replace=False)
    off[idx] = np.where(off[idx] > 0, off[idx] - 3, off[idx] + 3)
    assert np.all(np.abs(off[idx]) < 127)
    assert len(verify(tied(q, s)).groups) == 1  # the unbroken table is one weight with the head
    assert verify(tied(off.reshape(q.shape), s)).groups == []


def test_a_value_at_the_limit_on_the_wrong_side_is_not_saturation():
    """At qmax, the clipped copy must be below the other copy's value; a small value raised to qmax is not."""
    q, s = table_clipping(0)
    bad = q.copy().reshape(-1)
    small = np.flatnonzero(np.abs(EMB.reshape(-1)) < 0.5)[:5]
    bad[small] = 127
    assert verify(tied(bad.reshape(q.shape), s)).groups == []


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_float_and_int8_copies_of_one_weight_are_found(dtype):
    b = TFLiteBuilder()
    x = b.tensor("x", (1, DIM))
    w = b.tensor("w", (ROWS, DIM), dtype, EMB.astype(dtype))
    q, s = quantize_per_channel(EMB, 0)
    wq = b.tensor("w_int8", (ROWS, DIM), "int8", q, scale=s, axis=0)
    y1, y2 = b.tensor("y1", (1, ROWS)), b.tensor("y2", (1, ROWS))
    if dtype == "float16":
        wd = b.tensor("w_f32", (ROWS, DIM))
        b.op("DEQUANTIZE", [w], [wd])
        w = wd
    b.op("FULLY_CONNECTED", [x, w, -1], [y1])
    b.op("FULLY_CONNECTED", [x, wq, -1], [y2])
    b.io([x], [y1, y2])
    data = b.build()
    a, c = LiteRTRunner(data)(x=np.ones((1, DIM), np.float32))
    assert np.corrcoef(a.reshape(-1), c.reshape(-1))[0, 1] > 0.999
    rep = verify(data)
    assert len(rep.groups) == 1 and rep.groups[0].kind == "requantized"
    assert {t.dtype for t in rep.groups[0].tensors} == {dtype, "int8"}
