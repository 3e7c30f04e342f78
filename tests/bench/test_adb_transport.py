"""The adb target: exact command lines with a recorder on PATH that plays adb and the phone.

No phone is attached here. `tests/bench/adb_recorder.py` records every adb argv and runs each
`adb shell` line in a real /bin/sh (the device shell), with a benchmark_model stand-in that records
the argv it received and prints the tool's documented output. Tests marked `device` need a phone.
"""

import itertools
import json
import os
import re

import pytest

from edgeshare.bench.flow import BenchOptions, bench_target
from edgeshare.bench.transports.adb import ANDROID_INFO_SCRIPT, AdbTransport, list_devices, resolve_adb_devices
from edgeshare.bench.transports.resolve import resolve_targets
from edgeshare.cli import main
from edgeshare.errors import InvalidInputError
from tests.bench.adb_recorder import PIXEL_PROPS, benchmark_model_calls, install_recorder, recorded
from tests.bench.conftest import HOSTILE_STEM


@pytest.fixture
def phone_dir(tmp_path):
    d = tmp_path / "phone storage"  # plays /data/local/tmp
    d.mkdir()
    return d


def _recorder(tmp_path, monkeypatch, devices, vanish_after=None):
    rec = install_recorder(tmp_path / "recorder", devices, {s: PIXEL_PROPS for s in devices}, vanish_after)
    monkeypatch.setenv("ADB_RECORDER_STATE", rec["state"])
    monkeypatch.setenv("PATH", rec["bin"] + os.pathsep + os.environ["PATH"])
    monkeypatch.delenv("ADB", raising=False)
    monkeypatch.delenv("EDGESHARE_BENCHMARK_BINARY", raising=False)
    return rec


def test_adb_command_lines_are_exactly_what_benchmark_model_expects(tmp_path, monkeypatch, phone_dir, canary,
                                                                    hostile_tflite):
    rec = _recorder(tmp_path, monkeypatch, {"R58M123": "device"})
    [t], errors = resolve_adb_devices("adb", "adb")
    assert errors == []
    t.base_dir = str(phone_dir)
    opts = BenchOptions(warmup=1, runs=5, threads=2, cpu_mask="1", op_profile=True, benchmark_binary=rec["binaries"])
    [row] = bench_target(t, [(hostile_tflite, "xnnpack")], opts)
    assert "error" not in row, row.get("error")
    assert not canary.exists(), "a shell metacharacter in the file name ran a command on the device"

    calls = recorded(rec["folder"])
    first, measured = benchmark_model_calls(rec["folder"])
    wd = first["cwd"]
    assert wd.startswith(f"{phone_dir}/edgeshare-")
    name = os.path.basename(hostile_tflite)
    cache = f"{wd}/{HOSTILE_STEM}.xnnpack_cache"

    def q(text: str) -> str:  # how the device shell line quotes a word (POSIX single quotes)
        return "'" + text.replace("'", "'\\''") + "'"

    qwd = "'" + wd + "'"  # the phone folder here has a space; /data/local/tmp would stay bare
    run = (f"cd {qwd} && taskset 1 {qwd[:-1]}/benchmark_model' {q('--graph=' + wd + '/' + name)} --num_threads=2 "
           f"--warmup_runs=1 --num_runs=5 --use_xnnpack=true {q('--xnnpack_weight_cache_file_path=' + cache)} "
           "--enable_op_profiling=true 2>&1")
    assert calls == [
        ["devices"],
        ["-s", "R58M123", "shell", ANDROID_INFO_SCRIPT],
        ["-s", "R58M123", "shell", f"mkdir -p {qwd}"],
        ["-s", "R58M123", "push", rec["binary"], f"{wd}/benchmark_model"],
        ["-s", "R58M123", "shell", f"chmod 755 {qwd[:-1]}/benchmark_model'"],
        ["-s", "R58M123", "push", hostile_tflite, f"{wd}/{name}"],
        ["-s", "R58M123", "shell", run],  # the first launch writes the weight cache
        ["-s", "R58M123", "shell", f"wc -c {q(cache)}"],  # which must be there and not empty
        ["-s", "R58M123", "shell", run],  # the measured launch maps it
        ["-s", "R58M123", "shell", f"rm -f -- {q(wd + '/' + name)} {q(cache)}"],
        ["-s", "R58M123", "shell", f"rm -rf -- {qwd}"],
    ]
    # What benchmark_model itself received once the device shell parsed that line: one argv per flag.
    expected = [f"--graph={wd}/{name}", "--num_threads=2", "--warmup_runs=1", "--num_runs=5", "--use_xnnpack=true",
                f"--xnnpack_weight_cache_file_path={cache}", "--enable_op_profiling=true"]
    assert first["argv"] == measured["argv"] == expected
    assert first["cwd"] == measured["cwd"] == wd
    assert not os.path.exists(wd)  # everything pushed was removed, the cache too

    # The second launch is reported; the first (which packed the weights into the cache) is the first launch.
    assert row["init_ms"] == pytest.approx(1.877) and row["first_launch"]["init_ms"] == pytest.approx(18.777)
    assert row["ram_mb"] == pytest.approx(9.36135) and row["peak_ram_mb"] == pytest.approx(18.7227)
    assert row["setup"] == "benchmark_model+cache" and row["weight_cache"] == cache
    assert row["ram_to_weight"] == pytest.approx(9.36135 * 2**20 / (8 * 16 * 4))  # the tiny model's 8x16 floats
    assert row["variant"] == f"{HOSTILE_STEM}.tflite" and row["engine"] == "benchmark_model"
    assert row["device"] == "adb:R58M123" and row["delegate"] == "xnnpack"
    assert row["mean_ms"] == pytest.approx(55.0432) and row["p50_ms"] == pytest.approx(54.890)
    assert row["delegation"]["partitions"][0]["delegate"] == "TfLiteXNNPackDelegate"
    assert [r["delegated"] for r in row["op_profile"]["run_order"]] == [True, False, True]
    assert row["device_info"] == {"model": "Google Pixel 8", "soc": "Tensor G3", "platform": "zuma",
                                  "os": "Android 14", "os_version": "API 34", "abi": "arm64-v8a",
                                  "abilist": "arm64-v8a,armeabi-v7a,armeabi", "governor": None,
                                  "serial": "R58M123"}
    assert row["command"].startswith("adb -s R58M123 shell ")


def test_default_remote_folder_is_data_local_tmp_and_hexagon_libs_are_pushed(tmp_path, monkeypatch, tiny_tflite):
    rec = _recorder(tmp_path, monkeypatch, {"R58M123": "device"})
    t = AdbTransport("R58M123", "adb")
    assert t.base_dir == "/data/local/tmp"
    lib = tmp_path / "libhexagon_nn_skel_v66.so"
    lib.write_bytes(b"\0")
    t.base_dir = str(tmp_path / "phone")
    os.makedirs(t.base_dir)
    opts = BenchOptions(warmup=1, runs=5, benchmark_binary=rec["binary"], push_libs=(str(lib),))
    [row] = bench_target(t, [(tiny_tflite, "hexagon")], opts)
    [bm] = benchmark_model_calls(rec["folder"])
    wd = bm["cwd"]
    assert bm["argv"][-2:] == ["--use_hexagon=true", f"--hexagon_lib_path={wd}"]
    assert ["-s", "R58M123", "push", str(lib), f"{wd}/libhexagon_nn_skel_v66.so"] in recorded(rec["folder"])
    assert row["command"].split(" shell ", 1)[1].startswith(f"'cd {wd} && LD_LIBRARY_PATH={wd} ")


def test_delegate_failure_is_recorded_and_the_other_delegates_still_run(tmp_path, monkeypatch, phone_dir,
                                                                         tiny_tflite):
    rec = _recorder(tmp_path, monkeypatch, {"R58M123": "device"})
    t = AdbTransport("R58M123", "adb", base_dir=str(phone_dir))
    rows = bench_target(t, [(tiny_tflite, "gpu"), (tiny_tflite, "nnapi"), (tiny_tflite, "xnnpack")],
                        BenchOptions(warmup=1, runs=5, benchmark_binary=rec["binaries"]))
    assert rows[0]["error_kind"] == "delegate_failed"
    assert "the GPU delegate failed to apply to this model; unsupported: GATHER, DEQUANTIZE" in rows[0]["error"]
    assert rows[1]["delegation"]["status"] == "none"  # NNAPI ran, but on the CPU: shown, not hidden
    assert rows[2]["delegation"]["status"] == "partial"
    assert os.listdir(phone_dir) == []


def test_adb_all_runs_devices_in_parallel_and_keeps_results_when_one_fails(tmp_path, monkeypatch, phone_dir,
                                                                            tiny_tflite, capsys):
    # OK1 and OK2 work, LOCKED never accepted the debugging prompt, GONE is unplugged during its second model.
    rec = _recorder(tmp_path, monkeypatch, {"OK1": "device", "LOCKED": "unauthorized", "GONE": "device",
                                            "OK2": "device"}, vanish_after={"GONE": 8})
    second = str(tmp_path / "second.tflite")
    with open(tiny_tflite, "rb") as a, open(second, "wb") as b:
        b.write(a.read())
    out_json, history = tmp_path / "out.json", tmp_path / "h.jsonl"
    code = main(["bench", tiny_tflite, second, "--device", "adb:all", "--benchmark-binary", rec["binaries"],
                 "--remote-dir", str(phone_dir), "--runs", "5", "--warmup", "1", "--json", str(out_json),
                 "--history", str(history)])
    assert code == 1
    res = json.loads(out_json.read_text())
    ok = sorted((r["device"], r["variant"]) for r in res["results"])
    assert ok == [("adb:GONE", "tiny.tflite"), ("adb:OK1", "second.tflite"), ("adb:OK1", "tiny.tflite"),
                  ("adb:OK2", "second.tflite"), ("adb:OK2", "tiny.tflite")]
    errs = {(e["device"], e["variant"]): e["error"] for e in res["errors"]}
    assert set(errs) == {("adb:GONE", "second.tflite"), ("adb:LOCKED", "tiny.tflite"), ("adb:LOCKED", "second.tflite")}
    assert errs[("adb:GONE", "second.tflite")].startswith(
        "lost Android device GONE: adb says \"device 'GONE' not found\". Results measured before this are kept.")
    assert "accept the 'Allow USB debugging?' prompt" in errs[("adb:LOCKED", "tiny.tflite")]
    assert len(history.read_text().splitlines()) == 8  # 5 results and 3 errors
    err = capsys.readouterr().err
    assert "edgeshare bench: error: adb:LOCKED:" in err and "edgeshare bench: error: adb:GONE:" in err
    # The devices ran at the same time: their adb calls interleave (one after another would switch twice).
    serials = [c[1] for c in recorded(rec["folder"]) if c[0] == "-s"]
    assert sum(a != b for a, b in itertools.pairwise(serials)) > 2, serials


def test_missing_device_names_what_is_attached(tmp_path, monkeypatch):
    _recorder(tmp_path, monkeypatch, {"R58M123": "device", "emulator-5554": "offline"})
    with pytest.raises(InvalidInputError, match=r"no Android device with serial 'NOPE' is attached \(attached: "
                                                r"R58M123 \(device\), emulator-5554 \(offline\)\). "
                                                r"Received: device=adb:NOPE"):
        resolve_adb_devices("adb:NOPE", "adb")
    with pytest.raises(InvalidInputError, match=r"2 devices are attached .*name one with --device adb:SERIAL, or "
                                                r"use --device adb:all. Received: device=adb"):
        resolve_adb_devices("adb", "adb")
    with pytest.raises(InvalidInputError, match=r"Android device emulator-5554 is 'offline', not ready: "
                                                r"reconnect the cable, or run `adb reconnect`.*"
                                                r"Received: device=adb:emulator-5554"):
        resolve_adb_devices("adb:emulator-5554", "adb")


def test_no_device_at_all(tmp_path, monkeypatch):
    _recorder(tmp_path, monkeypatch, {})
    assert list_devices("adb") == []
    with pytest.raises(InvalidInputError, match=r"no Android device is attached \(attached: none\)"):
        resolve_adb_devices("adb", "adb")
    with pytest.raises(InvalidInputError, match=r"no Android device is ready over adb \(attached: none\). "
                                                r"Received: device=adb:all"):
        resolve_adb_devices("adb:all", "adb")


def test_adb_not_installed_says_where_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("ADB", raising=False)
    with pytest.raises(InvalidInputError, match=r"adb was not found: install Android platform-tools .*"
                                                r"Received: device=adb:all"):
        resolve_targets(["adb:all"])


def test_missing_benchmark_binary_is_an_input_error_before_anything_is_pushed(tmp_path, monkeypatch, tiny_tflite,
                                                                              capsys):
    rec = _recorder(tmp_path, monkeypatch, {"R58M123": "device"})
    code = main(["bench", tiny_tflite, "--device", "adb", "--no-history"])
    assert code == 2
    err = capsys.readouterr().err
    assert "benchmark_model is needed to bench on adb:R58M123 (arm64-v8a)" in err
    assert not [c for c in recorded(rec["folder"]) if "push" in c]


def test_onnx_on_android_is_refused_up_front(tmp_path, monkeypatch, tiny_onnx, capsys):
    _recorder(tmp_path, monkeypatch, {"R58M123": "device"})
    assert main(["bench", tiny_onnx, "--device", "adb"]) == 2
    assert "tiny.onnx: Android targets run .tflite files with benchmark_model" in capsys.readouterr().err


@pytest.mark.device
def test_real_phone(tiny_tflite, tmp_path):
    """Needs a phone over adb and EDGESHARE_BENCHMARK_BINARY (skipped otherwise)."""
    if not os.environ.get("EDGESHARE_BENCHMARK_BINARY"):
        pytest.skip("set EDGESHARE_BENCHMARK_BINARY to the benchmark_model for the attached phone")
    out = tmp_path / "phone.json"
    assert main(["bench", tiny_tflite, "--device", "adb", "--runs", "20", "--json", str(out), "--no-history"]) == 0
    [r] = json.loads(out.read_text())["results"]
    assert r["mean_ms"] > 0 and r["device_info"]["abi"]


def test_cli_prints_the_op_profile_with_delegated_partitions(tmp_path, monkeypatch, phone_dir, tiny_tflite, capsys):
    rec = _recorder(tmp_path, monkeypatch, {"R58M123": "device"})
    monkeypatch.setenv("EDGESHARE_BENCHMARK_BINARY", rec["binaries"])
    code = main(["bench", tiny_tflite, "--device", "adb:R58M123", "--remote-dir", str(phone_dir), "--op-profile",
                 "--runs", "5", "--warmup", "1", "--no-history"])
    assert code == 0
    # The table's text with its borders and line wraps taken out.
    text = " ".join(re.sub(r"[│┃]", " ", capsys.readouterr().out).split())
    assert "op profile: tiny.tflite on adb:R58M123 [xnnpack]" in text
    assert "TfLiteXNNPackDelegate (delegated partition)" in text
    assert "TfLiteXNNPackDelegate: 12/14 nodes, 2 partition(s)" in text
    # Names in brackets are printed as they are, not read as rich markup.
    assert "[tied_lm/embedding/Gather, tied_lm/block_0/dense/MatMul]:12" in text


def test_benchmark_litert_model_command_lines(tmp_path, monkeypatch, phone_dir, tiny_tflite):
    """LiteRT's CompiledModel tool: picked by the binary's name, its own accelerator flags, run twice with the
    weight cache like benchmark_model."""
    rec = install_recorder(tmp_path / "recorder", {"R58M123": "device"}, {"R58M123": PIXEL_PROPS},
                           tool="benchmark_litert_model")
    monkeypatch.setenv("ADB_RECORDER_STATE", rec["state"])
    monkeypatch.setenv("PATH", rec["bin"] + os.pathsep + os.environ["PATH"])
    monkeypatch.delenv("EDGESHARE_BENCHMARK_BINARY", raising=False)
    t = AdbTransport("R58M123", "adb", base_dir=str(phone_dir))
    rows = bench_target(t, [(tiny_tflite, "xnnpack"), (tiny_tflite, "gpu"), (tiny_tflite, "nnapi")],
                        BenchOptions(warmup=1, runs=5, threads=4, benchmark_binary=rec["binaries"]))
    calls = benchmark_model_calls(rec["folder"])
    wd = calls[0]["cwd"]
    cache = f"{wd}/tiny.xnnpack_cache"
    assert [c["argv"] for c in calls[:2]] == [[f"--graph={wd}/tiny.tflite", "--num_threads=4", "--warmup_runs=1",
                                               "--num_runs=5", "--use_cpu=true",
                                               f"--xnnpack_weight_cache_file_path={cache}"]] * 2
    assert ["-s", "R58M123", "push", rec["binary"], f"{wd}/benchmark_litert_model"] in recorded(rec["folder"])
    assert rows[0]["engine"] == "benchmark_litert_model" and rows[0]["setup"] == "benchmark_litert_model+cache"
    assert rows[0]["first_launch"]["init_ms"] == pytest.approx(18.777) and rows[0]["init_ms"] == pytest.approx(1.877)
    # GPU runs once, without the CPU-only cache (the stand-in plays a GPU delegate that fails to apply).
    assert calls[2]["argv"][-1] == "--use_gpu=true" and rows[1]["error_kind"] == "delegate_failed"
    assert rows[2]["error"] == "unknown delegate; expected one of xnnpack, gpu, npu. Received: delegate=nnapi"
    assert len(calls) == 3


@pytest.mark.parametrize("cache_flag, why", [
    (False, r"this benchmark_model does not take --xnnpack_weight_cache_file_path \(it printed 'Unconsumed cmdline "
            r"flags'\), so it would run without the weight cache: use a newer build, or measure without the cache "
            r"with --weight-cache off"),
    ("silent", r"the XNNPACK weight cache .*/tiny.xnnpack_cache is missing after the first launch: the runtime did "
               r"not write it .* with --weight-cache off. Received: weight_cache=.*/tiny.xnnpack_cache"),
])
def test_a_run_without_the_cache_is_an_error(tmp_path, monkeypatch, phone_dir, tiny_tflite, cache_flag, why):
    rec = install_recorder(tmp_path / "recorder", {"R58M123": "device"}, {"R58M123": PIXEL_PROPS},
                           cache_flag=cache_flag)
    monkeypatch.setenv("ADB_RECORDER_STATE", rec["state"])
    monkeypatch.setenv("PATH", rec["bin"] + os.pathsep + os.environ["PATH"])
    t = AdbTransport("R58M123", "adb", base_dir=str(phone_dir))
    [row] = bench_target(t, [(tiny_tflite, "xnnpack")], BenchOptions(warmup=1, runs=5, benchmark_binary=rec["binary"]))
    assert row["error_kind"] == "cache_missing" and re.fullmatch(why, row["error"]), row["error"]
    assert len(benchmark_model_calls(rec["folder"])) == 1  # the measured launch never ran
    # --weight-cache off: one run, no cache flag.
    [row] = bench_target(t, [(tiny_tflite, "xnnpack")], BenchOptions(warmup=1, runs=5, benchmark_binary=rec["binary"],
                                                                     weight_cache="off"))
    assert "error" not in row and row["setup"] == "benchmark_model"
    assert not any("xnnpack_weight_cache" in a for a in benchmark_model_calls(rec["folder"])[-1]["argv"])
    assert os.listdir(phone_dir) == []


def test_runtime_compiled_on_android_picks_benchmark_litert_model_and_checks_its_delegates(tmp_path, monkeypatch,
                                                                                           tiny_tflite, capsys):
    rec = _recorder(tmp_path, monkeypatch, {"R58M123": "device"})
    code = main(["bench", tiny_tflite, "--device", "adb", "--runtime", "compiled", "--delegate", "nnapi",
                 "--benchmark-binary", rec["binaries"], "--no-history"])
    assert code == 2
    assert "tiny.tflite: benchmark_litert_model offers delegates xnnpack, gpu, npu. Received: delegate=nnapi" in \
        capsys.readouterr().err
    assert not [c for c in recorded(rec["folder"]) if "push" in c]  # refused before anything was pushed
