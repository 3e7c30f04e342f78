"""The gather_per_channel_table rule on a good and a minimally broken model (hand-built, run in LiteRT): a
full-int8 tied table stored per tensor for GATHER and per channel for the head becomes one per-channel copy,
the GATHER an EMBEDDING_LOOKUP requantized to its own output scale."""

from __future__ import annotations

import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as s

from edgeshare.converters import verify
from edgeshare.converters.repair import repair
from edgeshare.converters.runtime import LiteRTRunner
from tests.tflite_builder import TFLiteBuilder, quantize_per_channel

RNG = np.random.default_rng(21)
EMB = RNG.standard_normal((100, 16)).astype("float32")
NAMES = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}


SCALE = float(EMB.max() - EMB.min()) / 255.0  # the activations' asymmetric range, as full int8 writes the table
ZERO = int(np.round(-128 - float(EMB.min()) / SCALE))


def tied(copy: bool, ids_shape: tuple[int, ...]) -> bytes:
    """GATHER on a per-tensor asymmetric int8 table (`copy`) or on the head's per-channel copy, FC on that."""
    b = TFLiteBuilder()
    ids = b.tensor("ids", ids_shape, "int32")
    x = b.tensor("x", (1, 16), "int8", scale=0.05)
    qc, sc = quantize_per_channel(EMB, 0)
    head = b.tensor("head", (100, 16), "int8", qc, scale=sc, axis=0)
    if copy:
        q = np.clip(np.round(EMB / SCALE) + ZERO, -128, 127).astype(np.int8)
        table = b.tensor("table", (100, 16), "int8", q, scale=SCALE, zero_point=ZERO)
        rows = b.tensor("rows", (*ids_shape, 16), "int8", scale=SCALE, zero_point=ZERO)
        b.op("GATHER", [table, ids], [rows], axis=0)
    else:  # good: the table is stored once, read by EMBEDDING_LOOKUP (what the repair writes)
        rows = b.tensor("rows", (int(np.prod(ids_shape)), 16))
        b.op("EMBEDDING_LOOKUP", [ids, head], [rows])
    y = b.tensor("logits", (1, 100), "int8", scale=0.5)
    b.op("FULLY_CONNECTED", [x, head, -1], [y])
    b.io([ids, x], [rows, y])
    return b.build()


def ops(path: str) -> list[str]:
    with open(path, "rb") as fh:
        m = s.ModelT.InitFromPackedBuf(bytearray(fh.read()), 0)
    return [NAMES[m.operatorCodes[o.opcodeIndex].builtinCode] for o in m.subgraphs[0].operators]


@pytest.mark.parametrize("ids_shape", [(4,), (1, 4)])
def test_a_per_tensor_gather_table_becomes_a_lookup_of_the_per_channel_copy(ids_shape, tmp_path):
    src = tied(True, ids_shape)
    feeds = {"ids": np.array([3, 0, 99, 42], np.int32).reshape(ids_shape), "x": RNG.standard_normal((1, 16))}
    before = LiteRTRunner(src)(feeds)
    assert len(verify(src).groups) == 1
    out = str(tmp_path / "fixed.tflite")
    rep = repair(src, out)
    assert rep.ok, (rep.skipped, rep.notes)
    assert [m.rule for m in rep.merged] == ["gather_per_channel_table"] and rep.merged[0].kept == "head"
    assert rep.weight_bytes_after == EMB.size  # one int8 table (its scales live in the quantization parameters)
    assert "EMBEDDING_LOOKUP" in ops(out) and "QUANTIZE" in ops(out) and "GATHER" not in ops(out)
    after = LiteRTRunner(out)(feeds)
    np.testing.assert_array_equal(before[1], after[1])  # the head reads the very same weights
    assert np.max(np.abs(before[0] - after[0])) <= SCALE + 1e-6  # the rows move by at most one step


def test_a_good_model_runs_and_has_nothing_to_merge():
    src = tied(False, (4,))
    rows, _ = LiteRTRunner(src)(ids=np.array([3, 0, 99, 42], np.int32), x=np.ones((1, 16)))
    np.testing.assert_allclose(rows, EMB[[3, 0, 99, 42]], atol=float(np.abs(EMB).max()) / 127)
    assert verify(src).groups == []
