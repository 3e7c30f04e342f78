"""The RAM prediction (`edgeshare verify --ram`, converters/verify/ram.py) against the RAM `edgeshare bench`
measures, for each runtime setup the prediction covers.

Stated tolerance: the predicted RAM is within 10% of the measured RAM plus 2 MiB. The 2 MiB is the noise of
an RSS gain over a separate baseline process: heap that the baseline freed but kept resident can be reused
by the model (measured: up to about 2 MiB with onnxruntime), and a loaded LiteRT model costs about 1 MiB
beyond its tensors, which the prediction adds as a constant.
"""

from __future__ import annotations

import json

import pytest

from edgeshare.bench.host import bench_host
from edgeshare.cli import main
from edgeshare.converters.verify.ram import LITERT_CACHE, LITERT_NO_CACHE, ORT_NO_PREPACK, ORT_PREPACK, predict_ram
from tests.bench.tiny_models import write_shared_dense, write_tied_lm, write_tied_onnx

MIB = 2**20
CASES = {
    # one 4 MiB float32 weight read by 8 FULLY_CONNECTED ops: 8 packed copies without the cache, 1 with it
    "dense_x8": lambda p: write_shared_dense(p, dim=1024, uses=8),
    # the same, written as 8 byte-identical buffers: the cache is keyed by buffer, so 8 copies either way
    "dense_x8_copies": lambda p: write_shared_dense(p, dim=1024, uses=8, distinct=True),
    # a tied LM head: GATHER reads rows of the table, FULLY_CONNECTED packs it
    "tied_f32": lambda p: write_tied_lm(p, vocab=50000, dim=128),
    "tied_int8": lambda p: write_tied_lm(p, vocab=50000, dim=128, int8=True),
}
SETUPS = {LITERT_NO_CACHE: {"weight_cache": "off"}, LITERT_CACHE: {}}


def _close(predicted_mb: float, measured_mb: float) -> bool:
    return abs(predicted_mb - measured_mb) <= 0.10 * measured_mb + 2.0


@pytest.mark.ram
@pytest.mark.parametrize("case", sorted(CASES))
def test_litert_prediction_matches_the_measurement(case, tmp_path):
    path = CASES[case](str(tmp_path / f"{case}.tflite"))
    pred = predict_ram(path)
    for runtime, options in SETUPS.items():
        res = bench_host(path, warmup=2, runs=10, **options)
        predicted = pred.runtime(runtime).total_bytes / MIB
        assert res["ram_predicted"]["runtime"] == runtime
        assert _close(predicted, res["ram_mb"]), (case, runtime, predicted, res["ram_mb"], res["memory"])
        assert res["ram_to_weight"] == pytest.approx(res["ram_mb"] * MIB / pred.weight_bytes)


def test_copies_with_and_without_the_cache(tmp_path):
    shared = predict_ram(CASES["dense_x8"](str(tmp_path / "a.tflite")))
    [w] = shared.runtime(LITERT_NO_CACHE).packed
    assert (w.copies, w.copies_with_cache, w.storage) == (8, 1, "buffer 1")
    assert shared.runtime(LITERT_NO_CACHE).ram_to_weight > 8 > 1.3 > shared.runtime(LITERT_CACHE).ram_to_weight
    copies = predict_ram(CASES["dense_x8_copies"](str(tmp_path / "b.tflite")))
    assert [(p.copies, p.copies_with_cache) for p in copies.runtime(LITERT_CACHE).packed] == [(1, 1)] * 8
    tied = predict_ram(CASES["tied_f32"](str(tmp_path / "c.tflite")))
    [t] = tied.runtime(LITERT_CACHE).packed
    assert t.readers == ["FULLY_CONNECTED#1"] and t.copies == 1  # GATHER reads rows in place, packs nothing
    # Without the cache the table is held twice: packed, and in the file pages packing read.
    assert tied.runtime(LITERT_NO_CACHE).unpacked_bytes == t.bytes
    assert tied.runtime(LITERT_CACHE).unpacked_bytes == 0


@pytest.mark.ram
def test_onnx_prepacking_prediction_and_its_cost(tmp_path):
    path = write_tied_onnx(str(tmp_path / "tied.onnx"), vocab=50000, dim=128)
    pred = predict_ram(path)
    [note] = pred.notes
    assert note == ("weight 'E' (24.4 MiB) is read by 2 ops: prepacking holds 1 packed copy beside the original, "
                    "which Gather still reads: +24.4 MiB against --ort-prepack off")
    measured = {}
    for runtime, prepack in ((ORT_PREPACK, "on"), (ORT_NO_PREPACK, "off")):
        res = bench_host(path, warmup=2, runs=10, ort_prepack=prepack)
        predicted = pred.runtime(runtime).total_bytes / MIB
        assert _close(predicted, res["ram_mb"]), (runtime, predicted, res["ram_mb"], res["memory"])
        assert res["setup"] == f"ort prepack {prepack}" and res["ram_notes"] == [note]
        measured[prepack] = res["ram_mb"]
    assert measured["on"] - measured["off"] > 0.8 * 24.4  # the packed copy, measured


def test_verify_ram_cli(tmp_path, capsys):
    path = CASES["dense_x8"](str(tmp_path / "d.tflite"))
    out = tmp_path / "v.json"
    assert main(["verify", path, "--ram", "--json", str(out)]) == 0
    ram = json.loads(out.read_text())["ram"]
    rows = {r["runtime"]: r for r in ram["runtimes"]}
    assert rows[LITERT_NO_CACHE]["packed_copies"] == 8 and rows[LITERT_CACHE]["packed_copies"] == 1
    assert ram["packed"][0]["readers"] == [f"FULLY_CONNECTED#{i}" for i in range(8)]
    assert main(["verify", path, "--ram"]) == 0
    text = capsys.readouterr().out
    assert "predicted RAM per runtime" in text and "weights packed more than once" in text
