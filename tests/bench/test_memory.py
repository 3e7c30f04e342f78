"""The RAM figures of a result (edgeshare/bench/memory.py) from /proc snapshots, with made-up snapshots."""

import pytest

from edgeshare.bench.memory import MIB, ram_figures, weight_ratio
from edgeshare.cli.compare_cmd import fmt_mb, fmt_ratio

BASE = {"rss": 100.0, "hwm": 100.0, "anon": 40.0, "file": 60.0}


def test_figures_split_the_gain_into_anonymous_and_model_pages():
    steady = {"rss": 130.0, "hwm": 132.0, "anon": 50.0, "file": 80.0, "files": {"m.tflite": 16.0, "cache": 2.0}}
    r = ram_figures(BASE, steady, None, weight_bytes=int(16 * MIB))
    assert r["ram_anon_mb"] == 10.0 and r["ram_file_mb"] == 18.0 and r["ram_mb"] == 28.0
    assert r["runtime_code_mb"] == 2.0  # file pages that are neither the model nor the cache
    assert r["ram_to_weight"] == pytest.approx(28.0 / 16.0)
    assert r["peak_ram_mb"] == pytest.approx(132.0 - 100.0 - 2.0)


def test_a_gain_below_the_noise_has_no_ratio_and_shows_as_about_zero():
    # a 12 KB model whose process allocated 2 MiB less than the baseline's (onnxruntime's arena)
    steady = {"rss": 98.0, "hwm": 98.0, "anon": 38.0, "file": 60.0, "files": {"m.onnx": 0.0}}
    r = ram_figures(BASE, steady, None, weight_bytes=12_000)
    assert r["ram_mb"] == -2.0  # kept as measured
    assert r["ram_to_weight"] is None
    assert fmt_mb(r["ram_mb"]) == "~0" and fmt_ratio(r["ram_to_weight"]) == "-"
    assert fmt_mb(6.54) == "6.5" and fmt_mb(None) == "-"
    assert weight_ratio(0.0, 100)["ram_to_weight"] is None and weight_ratio(1.0, int(MIB))["ram_to_weight"] == 1.0
