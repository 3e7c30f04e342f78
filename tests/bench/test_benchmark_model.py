import os
import struct

import pytest

from edgeshare.bench.engines.benchmark_model import (
    BenchmarkRunError,
    benchmark_model_argv,
    elf_arch,
    parse_benchmark_output,
    parse_op_profile,
    select_benchmark_binary,
)
from edgeshare.errors import InvalidInputError
from tests.bench import benchmark_model_logs as logs


def test_xnnpack_run_with_percentiles_memory_and_partitions():
    r = parse_benchmark_output(logs.XNNPACK_PROFILED)
    assert r["init_ms"] == pytest.approx(18.777)
    assert r["first_ms"] == pytest.approx(64.791)
    assert r["warmup_mean_ms"] == pytest.approx(57.7582)
    assert r["mean_ms"] == pytest.approx(55.0432)
    # The regular run's count line, not the warm-up's nor the profiler's "Timings (microseconds)" line.
    assert r["std_ms"] == pytest.approx(1.562)
    assert (r["min_ms"], r["max_ms"]) == (pytest.approx(53.077), pytest.approx(60.727))
    assert (r["p5_ms"], r["p50_ms"], r["p95_ms"]) == (pytest.approx(53.301), pytest.approx(54.890),
                                                       pytest.approx(58.544))
    assert r["p90_ms"] is None  # the tool does not print it; never invented
    assert (r["measured_runs"], r["measured_warmup_runs"]) == (50, 9)
    assert (r["mem_init_mb"], r["mem_overall_mb"]) == (pytest.approx(8.97656), pytest.approx(18.7227))
    assert r["peak_mem_mb"] == pytest.approx(25.0508)
    assert r["mem_source"] == "periodic peak footprint"
    assert r["model_file_mb"] == pytest.approx(1.23456)
    d = r["delegation"]
    assert d["status"] == "partial" and d["delegate_kernels"] == 2 and d["delegate"] == "XNNPACK"
    assert d["partitions"] == [{"delegate": "TfLiteXNNPackDelegate", "nodes": 12, "of_nodes": 14, "partitions": 2}]


def test_op_profile_marks_delegated_partitions():
    prof = parse_benchmark_output(logs.XNNPACK_PROFILED)["op_profile"]
    assert [r["node_type"] for r in prof["run_order"]] == ["TfLiteXNNPackDelegate", "GATHER", "TfLiteXNNPackDelegate"]
    first = prof["run_order"][0]
    assert first["avg_ms"] == pytest.approx(40.117) and first["percent"] == pytest.approx(72.89)
    assert first["times_called"] == 1 and first["delegated"] is True
    assert first["name"] == "[tied_lm/embedding/Gather, tied_lm/block_0/dense/MatMul]:12"
    assert prof["run_order"][1]["delegated"] is False
    assert len(prof["delegated"]) == 2
    assert [r["node_type"] for r in prof["by_node_type"]] == ["TfLiteXNNPackDelegate", "GATHER"]
    assert prof["by_node_type"][0]["count"] == 2
    assert [r["node_type"] for r in prof["init"]] == ["ModifyGraphWithDelegate", "AllocateTensors"]
    assert len(prof["top"]) == 3


def test_op_profile_without_start_column_and_with_space_padded_rows():
    r = parse_benchmark_output(logs.GPU_PROFILED_NEW_COLUMNS)
    rows = r["op_profile"]["run_order"]
    assert rows[0] == {"node_type": "TfLiteGpuDelegateV2", "first_ms": 0.801, "avg_ms": 0.79, "percent": 99.37,
                       "cdf_percent": 99.37, "mem_kb": 0.0, "times_called": 1,
                       "name": "[shared cnn/conv  block/Relu6]:31", "delegated": True}
    assert rows[1]["node_type"] == "QUANTIZE" and rows[1]["delegated"] is False
    assert r["delegation"]["status"] == "full"
    assert r["p50_ms"] == pytest.approx(0.794)


def test_no_profile_tables_means_no_op_profile():
    assert parse_op_profile(logs.GPU_FULL) is None
    assert "op_profile" not in parse_benchmark_output(logs.GPU_FULL)


def test_gpu_fully_delegated_without_percentiles():
    r = parse_benchmark_output(logs.GPU_FULL)
    assert r["init_ms"] == pytest.approx(842.225)
    assert r["mean_ms"] == pytest.approx(35.1349)
    assert r["p50_ms"] is None  # older builds print no median
    assert r["measured_runs"] == 1694
    assert r["peak_mem_mb"] == pytest.approx(74.6641)
    assert r["mem_source"] == "footprint delta from tool start"
    assert r["delegation"]["status"] == "full"
    assert r["delegation"]["partitions"][0]["delegate"] == "TfLiteGpuDelegateV2"


def test_gpu_partial_lists_the_ops_that_fell_back_to_cpu():
    d = parse_benchmark_output(logs.GPU_PARTIAL)["delegation"]
    assert d["status"] == "partial" and d["delegate_kernels"] == 2
    assert [o["op"] for o in d["fallback_ops"]] == ["UNPACK", "GATHER"]
    assert d["fallback_ops"][0]["reason"] == "Operation is not supported."
    assert d["fallback_summary"] == {"delegate": "GPU", "delegated_ops": 27, "cpu_ops": 3}


def test_delegate_that_is_not_applied_is_reported_not_hidden():
    r = parse_benchmark_output(logs.NNAPI_NOT_APPLIED)
    assert r["delegation"]["status"] == "none" and r["delegation"]["delegate_kernels"] == 0
    assert r["mean_ms"] == pytest.approx(104.036)


def test_delegate_that_fails_to_apply_raises_with_the_unsupported_ops():
    with pytest.raises(BenchmarkRunError, match=r"the GPU delegate failed to apply to this model; unsupported: "
                                                r"GATHER, DEQUANTIZE") as info:
        parse_benchmark_output(logs.GPU_FAILED, returncode=1)
    assert info.value.kind == "delegate_failed"


def test_unsupported_builtin_op_raises_and_names_it():
    with pytest.raises(BenchmarkRunError, match=r"does not support op GELU \(version 2\)") as info:
        parse_benchmark_output(logs.UNSUPPORTED_OP, returncode=1)
    assert info.value.kind == "unsupported_op"
    assert info.value.details["ops"] == ["GELU (version 2)"]


def test_unresolved_custom_op_raises_and_names_it():
    with pytest.raises(BenchmarkRunError, match=r"does not support op SharedBank") as info:
        parse_benchmark_output(logs.CUSTOM_OP, returncode=1)
    assert info.value.kind == "unsupported_op"


def test_output_without_timings_is_a_failure_with_context():
    with pytest.raises(BenchmarkRunError, match=r"benchmark_model failed: .*Segmentation fault"):
        parse_benchmark_output("INFO: STARTING!\nSegmentation fault\n", returncode=139)


def test_nonzero_exit_with_timings_still_fails():
    with pytest.raises(BenchmarkRunError, match=r"benchmark_model failed"):
        parse_benchmark_output(logs.GPU_FULL, returncode=1)


def test_old_average_line_format():
    r = parse_benchmark_output(logs.OLD_FORMAT)
    assert r["init_ms"] == pytest.approx(0.896)
    assert r["mean_ms"] == pytest.approx(2.1771)
    assert r["std_ms"] == pytest.approx(0.124)
    assert r["measured_runs"] == 459


# --- command line -----------------------------------------------------------------------------------

@pytest.mark.parametrize("delegate, flags", [
    ("cpu", ["--use_xnnpack=false"]),
    ("xnnpack", ["--use_xnnpack=true"]),
    ("gpu", ["--use_gpu=true"]),
    ("nnapi", ["--use_nnapi=true"]),
    ("hexagon", ["--use_hexagon=true", "--hexagon_lib_path=/data/local/tmp/w"]),
    ("npu", ["--use_npu=true", "--dispatch_library_path=/data/local/tmp/w"]),
])
def test_benchmark_model_flags_are_the_tools_own(delegate, flags):
    argv = benchmark_model_argv("/d/benchmark_model", "/d/m.tflite", delegate=delegate, threads=4, warmup=3,
                                runs=20, op_profile=True, peak_memory=True, lib_dir="/data/local/tmp/w")
    assert argv == ["/d/benchmark_model", "--graph=/d/m.tflite", "--num_threads=4", "--warmup_runs=3",
                    "--num_runs=20", *flags, "--enable_op_profiling=true", "--report_peak_memory_footprint=true"]


def test_threads_omitted_when_not_given():
    argv = benchmark_model_argv("b", "m.tflite", delegate="xnnpack", threads=None, warmup=1, runs=5)
    assert argv == ["b", "--graph=m.tflite", "--warmup_runs=1", "--num_runs=5", "--use_xnnpack=true"]


def test_unknown_delegate_is_refused():
    with pytest.raises(InvalidInputError, match=r"unknown delegate; expected one of cpu, xnnpack, gpu, nnapi, "
                                                r"hexagon, npu. Received: delegate=tpu"):
        benchmark_model_argv("b", "m", delegate="tpu", threads=None, warmup=1, runs=1)


# --- choosing the binary by ABI ---------------------------------------------------------------------

def _elf(path, machine: int, bits64: bool = True) -> str:
    header = b"\x7fELF" + bytes([2 if bits64 else 1, 1, 1]) + bytes(9) + struct.pack("<HH", 2, machine)
    with open(path, "wb") as fh:
        fh.write(header + bytes(64))
    return str(path)


def test_elf_arch_reads_the_machine_field(tmp_path):
    assert elf_arch(_elf(tmp_path / "a", 183)) == "arm64"
    assert elf_arch(_elf(tmp_path / "b", 40, bits64=False)) == "arm"
    assert elf_arch(_elf(tmp_path / "c", 62)) == "x86_64"
    (tmp_path / "s").write_text("#!/system/bin/sh\n")
    assert elf_arch(str(tmp_path / "s")) == "script"
    (tmp_path / "t").write_text("hello")
    assert elf_arch(str(tmp_path / "t")) is None


def test_binary_for_the_wrong_abi_is_refused_before_pushing(tmp_path):
    x86 = _elf(tmp_path / "benchmark_model", 62)
    with pytest.raises(InvalidInputError, match=r"built for x86_64 but adb:R58M is arm64-v8a .*"
                                                r"android_aarch64_benchmark_model.*Received: benchmark_binary="):
        select_benchmark_binary(x86, "arm64-v8a", "arm64-v8a,armeabi-v7a,armeabi", "adb:R58M")


def test_32_bit_arm_binary_runs_on_an_arm64_device_that_lists_armeabi(tmp_path):
    arm = _elf(tmp_path / "benchmark_model", 40, bits64=False)
    assert select_benchmark_binary(arm, "arm64-v8a", "arm64-v8a,armeabi-v7a,armeabi") == arm


def test_folder_is_searched_by_abi(tmp_path):
    _elf(tmp_path / "android_arm_benchmark_model", 40, bits64=False)
    arm64 = _elf(tmp_path / "android_aarch64_benchmark_model", 183)
    assert select_benchmark_binary(str(tmp_path), "arm64-v8a", "arm64-v8a,armeabi-v7a") == arm64
    assert select_benchmark_binary(str(tmp_path), "armeabi-v7a").endswith("android_arm_benchmark_model")
    os.makedirs(tmp_path / "x86_64")
    with pytest.raises(InvalidInputError, match=r"no benchmark_model for x86_64 in .*Received: benchmark_binary="):
        select_benchmark_binary(str(tmp_path), "x86_64")


def test_missing_binary_says_where_to_get_it(monkeypatch):
    monkeypatch.delenv("EDGESHARE_BENCHMARK_BINARY", raising=False)
    with pytest.raises(InvalidInputError, match=r"benchmark_model is needed to bench on adb:R58M \(arm64-v8a\): "
                                                r"get the TFLite benchmark tool .*prebuilt nightly.*"
                                                r"bazel build -c opt --config=android_arm64 "
                                                r"//tensorflow/lite/tools/benchmark:benchmark_model.*"
                                                r"EDGESHARE_BENCHMARK_BINARY. Received: benchmark_binary=None"):
        select_benchmark_binary(None, "arm64-v8a", device="adb:R58M")


def test_environment_variable_names_the_binary(tmp_path, monkeypatch):
    b = _elf(tmp_path / "bm", 183)
    monkeypatch.setenv("EDGESHARE_BENCHMARK_BINARY", b)
    assert select_benchmark_binary(None, "arm64-v8a") == b


def test_non_executable_and_unknown_abi_are_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InvalidInputError, match=r"not an executable \(no ELF header, no #! line\)"):
        select_benchmark_binary(str(tmp_path / "notes.txt"), "arm64-v8a")
    with pytest.raises(InvalidInputError, match=r"unknown device ABI 'mips'.*Received: abi=mips"):
        select_benchmark_binary(str(tmp_path / "notes.txt"), "mips")
    with pytest.raises(InvalidInputError, match=r"the benchmark binary does not exist"):
        select_benchmark_binary(str(tmp_path / "nope"), "arm64-v8a")
