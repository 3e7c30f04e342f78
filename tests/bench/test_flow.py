import pytest

from edgeshare.bench.flow import BenchOptions, load_report, plan_jobs
from edgeshare.errors import InvalidInputError


def test_plan_for_host_uses_each_runtime_default(tiny_tflite, tiny_onnx):
    assert plan_jobs([tiny_tflite, tiny_onnx], [], "host") == [(tiny_tflite, "xnnpack"), (tiny_onnx, "cpu")]


def test_plan_keeps_only_the_delegates_each_format_offers(tiny_tflite, tiny_onnx):
    assert plan_jobs([tiny_tflite, tiny_onnx], ["cpu", "xnnpack"], "ssh") == [
        (tiny_tflite, "cpu"), (tiny_tflite, "xnnpack"), (tiny_onnx, "cpu")]


def test_plan_for_android_runs_every_delegate_asked(tiny_tflite):
    assert plan_jobs([tiny_tflite], ["gpu", "nnapi"], "adb") == [(tiny_tflite, "gpu"), (tiny_tflite, "nnapi")]
    assert plan_jobs([tiny_tflite], [], "adb") == [(tiny_tflite, "xnnpack")]


def test_onnx_with_only_accelerator_delegates_is_refused(tiny_onnx):
    with pytest.raises(InvalidInputError, match=r"tiny.onnx: on ssh targets the onnx runner offers cpu; .*"
                                                r"Received: delegate=xnnpack,gpu"):
        plan_jobs([tiny_onnx], ["xnnpack", "gpu"], "ssh")


def test_broken_artifact_is_refused_before_any_device_is_touched(tmp_path):
    bad = tmp_path / "half.tflite"
    bad.write_bytes(b"\0\0\0\0TFL3" + b"\0" * 3)
    with pytest.raises(InvalidInputError, match=r"half.tflite"):
        plan_jobs([str(bad)], [], "adb")


@pytest.mark.parametrize("kwargs, message", [
    ({"runs": 0}, r"`runs` must be a positive integer. Received: runs=0"),
    ({"warmup": -1}, r"`warmup` must be 0 or more. Received: warmup=-1"),
    ({"threads": 0}, r"`threads` must be a positive integer or None. Received: threads=0"),
    ({"cpu_mask": "0"}, r"non-zero hexadecimal CPU mask such as f0 \(cores 4-7\). Received: cpu_mask=0"),
    ({"cpu_mask": "f0;reboot"}, r"Received: cpu_mask=f0;reboot"),
    ({"push_libs": ("/nonexistent/libx.so",)}, r"/nonexistent/libx.so: no such file to push"),
])
def test_options_are_checked(kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        BenchOptions(**kwargs).validate()


def test_report_next_to_the_artifact_is_read(tmp_path):
    art = tmp_path / "m_int8.tflite"
    art.write_bytes(b"x")
    assert load_report(str(art)) is None
    (tmp_path / "m_int8.tflite.report.json").write_text(
        '{"model": "m", "quantize": "int8", "file_bytes": 123, "weight_bytes": 100, "duplicate_bytes": 0, "x": 1}')
    assert load_report(str(art)) == {"model": "m", "quantize": "int8", "file_bytes": 123, "weight_bytes": 100,
                                     "duplicate_bytes": 0}
