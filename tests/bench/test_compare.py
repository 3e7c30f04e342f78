from edgeshare.bench.compare import compare_rows, size_bytes, typical_ms


def _r(variant, device="host", delegate="xnnpack", when="2026-01-01T00:00:00+00:00", p50=1.0, **kw):
    return {"variant": variant, "device": device, "delegate": delegate, "timestamp": when, "p50_ms": p50,
            "target": "host" if device == "host" else device.split(":")[0], **kw}


def test_rows_are_sorted_and_errors_left_out():
    rows = compare_rows([_r("b"), _r("a", delegate="cpu"), {"variant": "a", "error": "boom"}, _r("a")])
    assert [(r["variant"], r["delegate"]) for r in rows] == [("a", "cpu"), ("a", "xnnpack"), ("b", "xnnpack")]


def test_latest_keeps_the_newest_run_per_variant_device_delegate():
    old, new = _r("a", p50=2.0), _r("a", when="2026-02-01T00:00:00+00:00", p50=1.5)
    assert [r["p50_ms"] for r in compare_rows([new, old])] == [2.0, 1.5]  # both days, oldest first
    assert [r["p50_ms"] for r in compare_rows([new, old], latest=True)] == [1.5]


def test_size_prefers_the_export_report(tmp_path):
    art = tmp_path / "m.tflite"
    art.write_bytes(b"12345")
    assert size_bytes({"artifact": str(art)}) == 5
    assert size_bytes({"artifact": str(art), "size_bytes": 7}) == 7
    assert size_bytes({"artifact": str(art), "size_bytes": 7, "report": {"file_bytes": 9}}) == 9
    (tmp_path / "m.tflite.report.json").write_text('{"file_bytes": 11}')
    assert size_bytes({"artifact": str(art)}) == 11
    assert size_bytes({"artifact": str(tmp_path / "gone.tflite")}) is None


def test_phone_rows_name_the_phone_and_fall_back_to_the_mean():
    r = _r("a", device="adb:R58M", p50=None, mean_ms=3.5, device_info={"model": "Google Pixel 8"})
    [row] = compare_rows([r])
    assert row["device"] == "adb:R58M (Google Pixel 8)"
    assert typical_ms(row) == 3.5


def test_tradeoffs_compare_the_setups_of_one_file():
    from edgeshare.bench.compare import tradeoffs

    rows = compare_rows([
        _r("lm.tflite", setup="compiled+cache", ram_mb=60.0, p50=10.0),
        _r("lm.tflite", setup="interpreter", ram_mb=112.0, p50=12.5),
        _r("lm.onnx", delegate="cpu", setup="ort prepack on", ram_mb=116.0, p50=27.0),
        _r("lm.onnx", delegate="cpu", setup="ort prepack off", ram_mb=66.0, p50=25.0),
        _r("alone.tflite", setup="compiled+cache", ram_mb=5.0),
    ])
    assert tradeoffs(rows) == [
        "lm.onnx on host [cpu]: ort prepack on vs ort prepack off: RAM 116.0 vs 66.0 MiB (+50.0), p50 27 vs 25 ms "
        "(x1.08)",
        "lm.tflite on host [xnnpack]: interpreter vs compiled+cache: RAM 112.0 vs 60.0 MiB (+52.0), p50 12.5 vs 10 ms "
        "(x1.25)",
    ]
    # Setups are kept apart by --latest too.
    assert len(compare_rows([_r("lm.tflite", setup="a"), _r("lm.tflite", setup="b")], latest=True)) == 2
