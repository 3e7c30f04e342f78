"""repair never keeps a worse file: outputs that moved too much (or could not be compared) leave no file
unless forced, with the merge that cost the accuracy named; dynamic inputs take --input-shape; the log
names each change honestly. Hand-built models, each run in LiteRT."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

from edgeshare.cli import main
from edgeshare.converters import verify
from edgeshare.converters.repair import repair
from edgeshare.converters.runtime import LiteRTRunner
from tests.tflite_builder import TFLiteBuilder, float_beside_int8, quantize_per_channel

RNG = np.random.default_rng(5)
W = RNG.standard_normal((16, 8)).astype("float32")
X = RNG.standard_normal((1, 8)).astype("float32")


def coarse_copy() -> bytes:
    """FC on W (float) and FC on a coarse int8 copy of W (step 0.4 of W's spread): one weight to the matcher
    (every value within half a step), but reading W through the coarse copy moves the first output."""
    scale = 0.4 * float(W.std())
    q = np.clip(np.round(W / scale), -127, 127).astype(np.int8)
    data = float_beside_int8(W, q, scale, "w_coarse")
    y1v, y2v = LiteRTRunner(data)(x=X)
    assert np.corrcoef(y1v.reshape(-1), y2v.reshape(-1))[0, 1] < 0.999  # really coarse
    return data


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return int(code), out.getvalue(), err.getvalue()


def test_a_merge_that_moves_the_outputs_is_named_and_no_file_is_written(tmp_path):
    src = coarse_copy()
    assert len(verify(src).groups) == 1
    out = tmp_path / "fixed.tflite"
    rep = repair(src, str(out))
    assert rep.rejected and not rep.ok and rep.output is None and not out.exists()
    assert not rep.numerics.passed and rep.numerics.cosine_similarity < 0.999
    [c] = rep.culprits
    assert c.group == 0 and c.merged == ["w"] and c.kept == "w_coarse" and c.rules == ["float_reads_dequantize"]
    assert any("merging w into w_coarse" in n for n in rep.notes)
    assert list(tmp_path.iterdir()) == []  # no work folder either


def test_force_keeps_the_result_and_still_fails(tmp_path):
    out = tmp_path / "fixed.tflite"
    rep = repair(coarse_copy(), str(out), force=True)
    assert rep.rejected and rep.output == str(out) and out.exists() and not rep.ok
    assert "kept anyway (--force)" in rep.notes


def test_the_cli_exits_1_and_says_which_merge(tmp_path):
    src, out = tmp_path / "m.tflite", tmp_path / "fixed.tflite"
    src.write_bytes(coarse_copy())
    code, text, _ = cli("repair", str(src), "-o", str(out))
    assert code == 1 and not out.exists()
    assert "(not written)" in text and "merging w into w_coarse" in text and "--force" in text
    code, _, _ = cli("repair", str(src), "-o", str(out), "--force", "--json", str(tmp_path / "r.json"))
    assert code == 1 and out.exists()
    d = json.loads((tmp_path / "r.json").read_text())
    assert d["rejected"] and d["culprits"][0]["merged"] == ["w"] and d["output"] == str(out)


def dynamic(requantized: bool) -> bytes:
    """x [1, ?] reshaped to [4, -1] (so a length of 1 cannot run), beside an FC on a static input that reads W
    and a copy: an fp16 copy ("requantized") or an exact one."""
    b = TFLiteBuilder()
    x = b.tensor("x", (1, 8), signature=(1, -1))
    shape = b.tensor("shape", (2,), "int32", np.array([4, -1], np.int32))
    r = b.tensor("r", (4, 2), signature=(4, -1))
    b.op("RESHAPE", [x, shape], [r])
    xin = b.tensor("xin", (1, 8))
    w = b.tensor("w", (16, 8), data=W)
    y1, y2 = b.tensor("y1", (1, 16)), b.tensor("y2", (1, 16))
    if requantized:
        w16 = b.tensor("w_fp16", (16, 8), "float16", W.astype(np.float16))
        w2 = b.tensor("w_f32", (16, 8))
        b.op("DEQUANTIZE", [w16], [w2])
    else:
        w2 = b.tensor("w_copy", (16, 8), data=W.copy())
    b.op("FULLY_CONNECTED", [xin, w, -1], [y1])
    b.op("FULLY_CONNECTED", [xin, w2, -1], [y2])
    b.io([x, xin], [r, y1, y2])
    data = b.build()
    assert LiteRTRunner(data)(x=np.ones((1, 8), np.float32), xin=X)[0].shape == (4, 2)
    return data


def test_dynamic_inputs_take_input_shape(tmp_path):
    src = dynamic(requantized=True)
    out = tmp_path / "fixed.tflite"
    rep = repair(src, str(out))  # each dynamic size 1: the reshape cannot run, the fp16 merge is unchecked
    assert rep.rejected and rep.numerics is None and not out.exists()
    assert "RESHAPE" in rep.numerics_unavailable or "reshape" in rep.numerics_unavailable.lower()
    rep = repair(src, str(out), input_shapes={"x": (1, 8)})
    assert rep.ok and out.exists() and rep.numerics.passed


def test_exact_merges_need_no_numerics_and_nothing_merged_needs_no_check(tmp_path):
    out = tmp_path / "fixed.tflite"
    rep = repair(dynamic(requantized=False), str(out))
    assert rep.ok and out.exists() and rep.numerics is None and "by construction" in rep.notes[0]
    b = TFLiteBuilder()  # the dynamic reshape alone: nothing to merge
    x = b.tensor("x", (1, 8), signature=(1, -1))
    shape = b.tensor("shape", (2,), "int32", np.array([4, -1], np.int32))
    r = b.tensor("r", (4, 2), signature=(4, -1))
    b.op("RESHAPE", [x, shape], [r])
    b.io([x], [r])
    rep = repair(b.build(), str(tmp_path / "same.tflite"))
    assert rep.ok and rep.merged == [] and rep.numerics is None and "nothing merged" in rep.notes[0]


def test_the_cli_input_shape_flag(tmp_path):
    src, out = tmp_path / "m.tflite", tmp_path / "fixed.tflite"
    src.write_bytes(dynamic(requantized=True))
    assert cli("repair", str(src), "-o", str(out), "--input-shape", "x=1x8")[0] == 0 and out.exists()
    code, _, err = cli("repair", str(src), "-o", str(out), "--input-shape", "x=1xeight")
    assert code == 2 and "Received: input_shape=x=1xeight" in err
    code, _, err = cli("repair", str(src), "-o", str(out), "--input-shape", "nope=1x8")
    assert code == 2 and "names inputs the model does not have" in err and "nope" in err


def same_named_copies() -> bytes:
    """A tied table as a full-int8 converter writes it: an asymmetric per-tensor GATHER table and a per-channel
    copy for the head, both named "embedding". The GATHER takes int64 ids, so it cannot become a lookup of the
    per-channel copy: the table is kept, re-stored symmetric (a change to the kept copy itself)."""
    emb = RNG.standard_normal((64, 8)).astype("float32")
    lo, hi = float(emb.min()), float(emb.max())
    scale = (hi - lo) / 255.0
    zp = int(np.round(-128 - lo / scale))
    qt = np.clip(np.round(emb / scale) + zp, -128, 127).astype(np.int8)
    qc, sc = quantize_per_channel(emb, 0)
    b = TFLiteBuilder()
    ids = b.tensor("ids", (1, 4), "int64")
    t = b.tensor("embedding", (64, 8), "int8", qt, scale=scale, zero_point=zp)
    g = b.tensor("rows", (1, 4, 8), "int8", scale=scale, zero_point=zp)
    x = b.tensor("x", (1, 8), "int8", scale=0.05, zero_point=0)
    h = b.tensor("embedding", (64, 8), "int8", qc, scale=sc, axis=0)
    y = b.tensor("logits", (1, 64), "int8", scale=0.5, zero_point=0)
    b.op("GATHER", [t, ids], [g], axis=0)
    b.op("FULLY_CONNECTED", [x, h, -1], [y])
    b.io([ids, x], [g, y])
    return b.build()


def test_the_log_names_each_change_honestly(tmp_path):
    src, out = tmp_path / "m.tflite", tmp_path / "fixed.tflite"
    src.write_bytes(same_named_copies())
    LiteRTRunner(str(src))(ids=np.array([[1, 2, 3, 63]], np.int64), x=X)
    code, text, _ = cli("repair", str(src), "-o", str(out), "--force")
    assert code == 0, text
    lines = [" ".join(x.split()) for x in text.splitlines()]
    kept = [x for x in lines if x.startswith("kept copy embedding (buffer")]
    assert kept and "re-stored" in kept[0] and "symmetric" in kept[0]
    merged = [x for x in lines if x.startswith("merged requantized copy")]
    assert len(merged) == 1
    # Two tensors named "embedding": the storage keys tell them apart, so no tensor is merged into itself.
    buffers = re.findall(r"embedding \(buffer (\d+)\)", merged[0])
    assert len(buffers) == 2 and buffers[0] != buffers[1], merged[0]


@pytest.mark.parametrize("flag", ["--force", "--input-shape"])
def test_repair_help_lists_the_new_flags(flag):
    with pytest.raises(SystemExit), contextlib.redirect_stdout(io.StringIO()) as buf:
        main(["repair", "--help"])
    assert flag in buf.getvalue()


def test_nothing_written_means_nothing_left_behind(tmp_path: Path):
    out = tmp_path / "sub" / "fixed.tflite"
    out.parent.mkdir()
    repair(coarse_copy(), str(out))
    assert list(out.parent.iterdir()) == []
