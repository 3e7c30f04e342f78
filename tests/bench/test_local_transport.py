"""The whole flow on this machine, for real: push (copy), run through /bin/sh, pull, parse, clean up."""

import os

import pytest

from edgeshare.bench.flow import BenchOptions, BenchSession, bench_target
from edgeshare.bench.host import bench_host
from edgeshare.bench.transports.local import LocalTransport
from edgeshare.errors import InvalidInputError
from tests.bench.conftest import HOSTILE_STEM, no_edgeshare_dirs
from tests.bench.tiny_models import write_tiny_tflite

OPTS = BenchOptions(warmup=2, runs=15)


def test_hostile_file_names_benchmark_correctly_and_execute_nothing(tmp_path, canary, hostile_tflite,
                                                                    hostile_onnx):
    work = tmp_path / "work"
    work.mkdir()
    rows = bench_target(LocalTransport(base_dir=str(work)),
                        [(hostile_tflite, "xnnpack"), (hostile_tflite, "cpu"), (hostile_onnx, "cpu")], OPTS)
    assert [r.get("error") for r in rows] == [None, None, None]
    assert not canary.exists(), "a shell metacharacter in the file name ran a command"
    assert [r["variant"] for r in rows] == [f"{HOSTILE_STEM}.tflite"] * 2 + [f"{HOSTILE_STEM}.onnx"]
    # Defaults: LiteRT's CompiledModel (XNNPACK with its weight cache; built-in kernels for cpu), onnxruntime.
    assert [(r["format"], r["delegate"], r["runtime"], r["setup"]) for r in rows] == [
        ("tflite", "xnnpack", "litert-compiled", "compiled+cache"), ("tflite", "cpu", "litert-compiled",
                                                                      "compiled builtin"),
        ("onnx", "cpu", "onnxruntime", "ort prepack on")]
    assert rows[0]["weight_cache"].endswith(f"/{HOSTILE_STEM}.xnnpack_cache") and rows[0]["cache_bytes"] > 0
    assert len(rows[0]["commands"]) == 3 and len(rows[1]["commands"]) == 2  # baseline, [first launch,] measured
    for r in rows:
        assert len(r["latencies_ms"]) == 15 and r["p50_ms"] > 0 and r["peak_mem_mb"] > 0
        assert r["artifact"] in (hostile_tflite, hostile_onnx)
        assert r["size_bytes"] == os.path.getsize(r["artifact"])
        assert r["command"].startswith("/bin/sh -c ")
    assert no_edgeshare_dirs(str(work)) == []  # the work folder and everything pushed are gone


def test_bench_host_keeps_its_api(tiny_tflite):
    seen = []
    r = bench_host(tiny_tflite, warmup=2, runs=10, progress=lambda done, total: seen.append((done, total)))
    assert r["device"] == "host" and r["artifact"] == tiny_tflite and r["delegate"] == "xnnpack"
    assert r["p50_ms"] > 0 and r["peak_rss_mb"] > 0 and r["runs"] == 10
    assert seen and seen[-1] == (12, 12)
    assert r["device_info"]["abi"] == os.uname().machine


def test_cpu_mask_pins_with_taskset(tiny_tflite):
    with BenchSession(LocalTransport(), BenchOptions(warmup=1, runs=5, cpu_mask="1", threads=1)) as s:
        r = s.bench(tiny_tflite, "xnnpack")
    assert " taskset 1 " in r["command"] and r["cpu_mask"] == "1" and r["threads"] == 1


def test_model_the_runtime_cannot_run_is_a_one_line_input_error(tmp_path):
    # It parses (so the up-front check passes) but its weights do not fit its input.
    bad = write_tiny_tflite(str(tmp_path / "bad.tflite"), n_in=16, input_features=5)
    with pytest.raises(InvalidInputError, match=r"bad.tflite: the runner could not benchmark the model \(the first "
                                                r"launch\): InvalidInputError: .*LiteRT's CompiledModel cannot "
                                                r"prepare the model: Failed to allocate tensors"):
        bench_host(bad, warmup=0, runs=1)
    with pytest.raises(InvalidInputError, match=r"bad.tflite: the runner could not benchmark the model: "
                                                r"RuntimeError: .*failed to prepare"):
        bench_host(bad, warmup=0, runs=1, weight_cache="off")


def test_gpu_delegate_on_the_host_is_refused_up_front(tiny_tflite):
    with pytest.raises(InvalidInputError, match=r"on host targets the tflite runner offers xnnpack, cpu; GPU, NNAPI, "
                                                r"Hexagon and NPU delegates run on Android \(--device adb\). "
                                                r"Received: delegate=gpu"):
        bench_host(tiny_tflite, delegate="gpu")


def test_remove_refuses_folders_it_did_not_make(tmp_path):
    with pytest.raises(ValueError, match=r"refusing to remove a folder edgeshare did not create. Received: path="):
        LocalTransport().remove(str(tmp_path))
    assert tmp_path.exists()
