"""`edgeshare compare` end to end on histories written by `edgeshare bench`."""

import json

import pytest

from edgeshare.bench.history import append_history
from edgeshare.cli import main


@pytest.fixture
def history(tmp_path):
    h = tmp_path / "h.jsonl"
    base = {"device": "host", "target": "host", "delegate": "xnnpack", "init_ms": 1.0, "peak_mem_mb": 50.0,
            "p90_ms": 1.2, "engine": "edgeshare.bench.runner"}
    append_history(str(h), [
        {**base, "variant": "tied_lm_none.tflite", "p50_ms": 1.0, "timestamp": "2026-01-01T09:00:00+00:00",
         "report": {"file_bytes": 400_000, "duplicate_bytes": 131_072}},
        {**base, "variant": "tied_lm_int8.tflite", "p50_ms": 0.4, "timestamp": "2026-01-01T09:00:00+00:00",
         "report": {"file_bytes": 110_000, "duplicate_bytes": 0}},
        {"device": "adb:R58M", "variant": "tied_lm_int8.tflite", "delegate": "gpu", "error": "GPU failed"},
    ])
    append_history(str(h), [{**base, "variant": "tied_lm_int8.tflite", "p50_ms": 0.35,
                             "timestamp": "2026-01-02T09:00:00+00:00", "report": {"file_bytes": 110_000}}])
    return h


def test_compare_table_has_every_day_and_the_sizes(history, capsys):
    assert main(["compare", str(history)]) == 0
    text = capsys.readouterr().out
    assert "2026-01-01T09:00" in text and "2026-01-02T09:00" in text  # runs on different days side by side
    assert "390.6 KB" in text and "128.0 KB" in text and "107.4 KB" in text
    assert "1 failed run(s) not shown" in text


def test_compare_latest_json(history, capsys):
    assert main(["compare", str(history), "--latest", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [(r["variant"], r["p50_ms"]) for r in rows] == [("tied_lm_int8.tflite", 0.35), ("tied_lm_none.tflite", 1.0)]
    assert rows[0]["size_bytes"] == 110_000 and rows[1]["duplicate_bytes"] == 131_072


def test_compare_plot(history, tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="--plot needs the plot extra (not in the light runtime)")
    png = tmp_path / "c.png"
    assert main(["compare", str(history), "--plot", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert f"wrote {png}" in capsys.readouterr().out


def test_compare_without_results_is_an_input_error(tmp_path, capsys):
    empty = tmp_path / "e.jsonl"
    append_history(str(empty), [{"variant": "a", "error": "x"}])
    assert main(["compare", str(empty)]) == 2
    assert "no successful benchmark results in" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "none.jsonl")]) == 2
