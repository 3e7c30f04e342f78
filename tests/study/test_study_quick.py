"""`python -m edgeshare.study --quick` end to end: the same pipeline as `make study`, at toy size."""

import json
import math
import os
import shutil
import subprocess
import sys

import pytest

from edgeshare.study.config import QUICK
from edgeshare.study.report import BEGIN, END

ROW_FIELDS = ("technique", "task", "seed", "unique_params", "params_per_use", "tflite_f32_bytes", "tflite_int8_bytes",
              "stock_tflite_f32_bytes", "stock_tflite_int8_bytes", "metric", "metric_name", "int8_metric", "p50_ms",
              "ram_mb")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("study")
    markdown = tmp / "BENCHMARKS.md"
    shutil.copy(os.path.join(REPO, "BENCHMARKS.md"), markdown)
    out = tmp / "rows.json"
    cmd = [sys.executable, "-m", "edgeshare.study", "--quick", "--json", str(out), "--markdown", str(markdown),
           "--figures", str(tmp / "figures"), "--out-dir", str(tmp / "files")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=REPO,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    return json.loads(out.read_text()), markdown.read_text(), tmp


def test_every_row_has_the_fields_of_the_issue(quick):
    doc, _, _ = quick
    rows = doc["rows"]
    assert {(r["task"], r["technique"]) for r in rows} == (
        {("digits", t) for t in QUICK.digits_techniques} | {("text", t) for t in QUICK.text_techniques})
    for r in rows:
        missing = [f for f in ROW_FIELDS if f not in r or r[f] is None]
        assert not missing, (r["technique"], missing)
        assert r["seed"] == 0
        assert r["metric_name"] == ("accuracy" if r["task"] == "digits" else "bits_per_byte")
        for f in ("tflite_f32_bytes", "tflite_int8_bytes", "stock_tflite_f32_bytes", "stock_tflite_int8_bytes",
                  "p50_ms", "ram_mb", "unique_params"):
            assert r[f] > 0, (r["technique"], f, r[f])
        assert r["params_per_use"] >= r["unique_params"]


def test_metrics_are_in_range_and_the_float_file_matches_keras(quick):
    doc, _, _ = quick
    for r in doc["rows"]:
        if r["task"] == "digits":
            assert 0.0 <= r["metric"] <= 1.0 and 0.0 <= r["int8_metric"] <= 1.0
            assert abs(r["tflite_f32_metric"] - r["metric"]) <= 1 / 360 + 1e-9  # at most one test image differs
        else:
            # Bits per byte of a byte model trained for 30 steps from N(0, 1) tables: well above 0, finite, and
            # nowhere near the hundreds of bits of logits gone wrong (the first steps start above 8).
            assert 1.0 < r["metric"] < 20.0 and 1.0 < r["int8_metric"] < 20.0
            assert math.isclose(r["tflite_f32_metric"], r["metric"], rel_tol=1e-3)
            assert 1.0 < r["int8_keras_mask_metric"] < 20.0


def test_sharing_shows_in_the_accounting_and_the_files(quick):
    doc, _, _ = quick
    rows = {(r["task"], r["technique"]): r for r in doc["rows"]}
    # The soft bank is one weight read by every body layer; stored once it beats the stock materialized kernels.
    bank = rows[("digits", "bank_soft")]
    assert bank["params_per_use"] > 2 * bank["unique_params"]
    assert bank["tflite_f32_bytes"] < bank["stock_tflite_f32_bytes"]
    # One encoder for three tasks against three models: fewer unique parameters and bytes.
    multi, separate = rows[("digits", "multitask")], rows[("digits", "separate_tasks")]
    assert multi["unique_params"] < separate["unique_params"] / 2
    assert multi["tflite_f32_bytes"] < separate["tflite_f32_bytes"] / 2
    # ALBERT-style sharing: one block for every depth, stored once; the loop and the unrolled stack agree in float.
    tied, shared, loop = rows[("text", "tied")], rows[("text", "all")], rows[("text", "repeat_loop")]
    assert shared["unique_params"] < tied["unique_params"] and shared["params_per_use"] == tied["params_per_use"]
    assert shared["tflite_f32_bytes"] < tied["tflite_f32_bytes"]
    assert math.isclose(loop["metric"], shared["metric"], rel_tol=1e-3)
    assert loop["int8_unrolled_metric"] is not None
    # Every float file stores each shared weight once (int8 files may keep int32 bias copies whose merge would
    # cost accuracy: the export report says so, and the study reports their bytes as duplicate_bytes).
    for r in doc["rows"]:
        for key, path in r["files"].items():
            if key.endswith("_none"):
                with open(path + ".report.json") as fh:
                    assert json.load(fh)["duplicate_bytes"] == 0, (r["technique"], key)


def test_int8_analyses_and_figures(quick):
    doc, _, tmp = quick
    assert set(doc["worst"]) >= {"digits", "text"}
    remedy = doc["remedies"]["int8_softmax"]
    assert set(remedy) == set(QUICK.text_techniques)
    for v in remedy.values():
        assert math.isclose(v["recovered"], v["int8_loss_keras_mask"] - v["int8_loss_edgeshare"], abs_tol=2e-4)
    curves = doc["growth"]
    # One point per block application: depth uses for the unrolled stacks, one (the WHILE output) for the loop.
    assert len(curves["text/tied"]["relative_error"]) == QUICK.text.depth
    assert len(curves["text/all"]["relative_error"]) == QUICK.text.depth
    assert len(curves["text/repeat_loop"]["relative_error"]) == 1
    assert len(curves["digits/cnn"]["relative_error"]) == QUICK.digits.body_layers
    for name, c in curves.items():
        assert all(e >= 0 and math.isfinite(e) for e in c["relative_error"]), name
    names = sorted(os.listdir(tmp / "figures"))
    assert names == ["digits_int8_error_by_use.png", "digits_pareto.png", "text_int8_error_by_use.png",
                     "text_pareto.png"]
    for n in names:
        with open(tmp / "figures" / n, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    assert doc["timing"]["wall_seconds"] > 0 and doc["timing"]["cpu_seconds"] > 0


def test_the_markdown_section_is_regenerated_between_its_markers(quick):
    _, markdown, _ = quick
    with open(os.path.join(REPO, "BENCHMARKS.md")) as fh:
        original = fh.read()
    head = original.split(BEGIN)[0]
    assert markdown.startswith(head)  # nothing before the markers changed
    assert markdown.count(BEGIN) == 1 and markdown.count(END) == 1
    body = markdown.split(BEGIN)[1].split(END)[0]
    for needle in ("`python -m edgeshare.study --quick`, seeds 0", "| `bank_soft` |", "| `repeat_loop` |",
                   "Published directions", "digits_pareto.png", "Keras' masked softmax"):
        assert needle in body, needle


def test_jax_backend_trains_on_jax_and_exports_through_tensorflow(tmp_path):
    pytest.importorskip("jax")
    out = tmp_path / "rows.json"
    cmd = [sys.executable, "-m", "edgeshare.study", "--quick", "--backend", "jax", "--techniques", "cnn,all",
           "--json", str(out), "--out-dir", str(tmp_path / "files")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=REPO,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    rows = json.loads(out.read_text())["rows"]
    assert sorted((r["task"], r["technique"]) for r in rows) == [("digits", "cnn"), ("text", "all")]
    for r in rows:
        assert r["backend"] == "jax"
        assert r["tflite_f32_bytes"] > 0 and r["tflite_int8_bytes"] > 0 and r["p50_ms"] > 0
        # The float file, exported on TensorFlow from the model trained on JAX, reproduces the JAX metric.
        tol = 1 / 360 + 1e-9 if r["task"] == "digits" else 1e-3 * r["metric"]
        assert abs(r["tflite_f32_metric"] - r["metric"]) <= tol, r
