import numpy as np

from edgeshare.bench.compare import compare_rows
from edgeshare.bench.plot import plot_compare


def test_plot_writes_a_png_with_both_panels(tmp_path):
    rng = np.random.default_rng(0)
    results = [
        {"variant": "tied_lm_int8.tflite", "device": "host", "delegate": "xnnpack", "size_bytes": 120_000,
         "p50_ms": 0.5, "latencies_ms": list(0.5 + rng.gamma(2, 0.02, 50)), "timestamp": "2026-01-01"},
        {"variant": "tied_lm_none.tflite", "device": "host", "delegate": "xnnpack", "size_bytes": 400_000,
         "p50_ms": 0.9, "latencies_ms": list(0.9 + rng.gamma(2, 0.03, 50)), "timestamp": "2026-01-01"},
        {"variant": "tied_lm_int8.tflite", "device": "adb:R58M", "delegate": "gpu", "size_bytes": 120_000,
         "p50_ms": None, "mean_ms": 2.0, "min_ms": 1.8, "max_ms": 2.6, "timestamp": "2026-01-01"},
    ]
    path = plot_compare(compare_rows(results), str(tmp_path / "c.png"))
    with open(path, "rb") as fh:
        data = fh.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def _png_width(path: str) -> int:
    with open(path, "rb") as fh:
        head = fh.read(24)
    return int.from_bytes(head[16:20], "big")  # the IHDR chunk's width


def test_results_with_ram_get_a_ram_panel(tmp_path):
    base = {"variant": "lm.tflite", "device": "host", "delegate": "xnnpack", "size_bytes": 400_000, "p50_ms": 1.0,
            "timestamp": "2026-01-01"}
    without = plot_compare(compare_rows([base]), str(tmp_path / "a.png"))
    with_ram = plot_compare(compare_rows([{**base, "setup": "compiled+cache", "ram_mb": 60.0, "ram_to_weight": 1.16,
                                           "peak_ram_mb": 109.0, "weight_bytes": 54_379_532}]), str(tmp_path / "b.png"))
    assert _png_width(with_ram) > _png_width(without) * 1.3  # a third panel
