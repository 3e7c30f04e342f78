"""`edgeshare bench` end to end (CLI tests live here, beside the harness they drive)."""

import json
import subprocess
import sys

import pytest

from edgeshare.cli import main


def test_bench_host_and_ssh_board_in_one_command(sshd, tmp_path, tiny_tflite, tiny_onnx, capsys):
    pytest.importorskip("matplotlib", reason="--plot needs the plot extra (not in the light runtime)")
    out, history, png = tmp_path / "r.json", tmp_path / "h.jsonl", tmp_path / "c.png"
    code = main(["bench", tiny_tflite, tiny_onnx, "--device", "host", "--device", f"ssh:{sshd.spec}",
                 "--ssh-config", sshd.config, "--remote-python", sys.executable, "--runs", "10", "--warmup", "1",
                 "--json", str(out), "--history", str(history), "--plot", str(png)])
    assert code == 0
    res = json.loads(out.read_text())
    got = sorted((r["device"], r["variant"], r["delegate"]) for r in res["results"])
    assert got == sorted([("host", "tiny.tflite", "xnnpack"), ("host", "tiny.onnx", "cpu"),
                          (f"ssh:{sshd.spec}", "tiny.tflite", "xnnpack"), (f"ssh:{sshd.spec}", "tiny.onnx", "cpu")])
    assert res["errors"] == []
    assert len(history.read_text().splitlines()) == 4
    assert png.read_bytes()[:4] == b"\x89PNG"
    text = capsys.readouterr().out
    assert "latency (ms; 10 runs after 1 warm-up)" in text and "comparison" in text
    assert f"ssh:{sshd.spec}" in text


def test_bench_json_to_stdout_is_machine_readable(tiny_tflite, capsys):
    assert main(["bench", tiny_tflite, "--runs", "5", "--warmup", "0", "--no-history", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    [r] = res["results"]
    assert r["variant"] == "tiny.tflite" and len(r["latencies_ms"]) == 5


def test_bad_inputs_exit_2_with_one_line(tmp_path, tiny_tflite, capsys):
    assert main(["bench", str(tmp_path / "missing.tflite"), "--no-history"]) == 2
    assert capsys.readouterr().err.strip().endswith("missing.tflite: no such file")
    assert main(["bench", tiny_tflite, "--device", "phone", "--no-history"]) == 2
    assert "unknown device; expected host (default), ssh:USER@HOST[:PORT], adb (the one attached phone), " \
           "adb:SERIAL or adb:all. Received: device=phone" in capsys.readouterr().err
    assert main(["bench", tiny_tflite, "--cpu-mask", "xyz", "--no-history"]) == 2
    assert "Received: cpu_mask=xyz" in capsys.readouterr().err


def test_bench_and_compare_never_import_tensorflow_keras_or_matplotlib(tmp_path, tiny_tflite):
    code = f"""
import json, sys
from edgeshare.cli import main
a = main(["bench", {tiny_tflite!r}, "--runs", "3", "--warmup", "0", "--history", {str(tmp_path / 'h.jsonl')!r}])
b = main(["compare", {str(tmp_path / 'h.jsonl')!r}])
print(json.dumps([a, b, [m for m in ("tensorflow", "keras", "matplotlib") if m in sys.modules]]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [0, 0, []], out.stderr


def test_hostile_name_is_printed_as_itself(hostile_tflite, canary, capsys):
    import os
    import re

    assert main(["bench", hostile_tflite, "--runs", "3", "--warmup", "0", "--no-history"]) == 0
    text = " ".join(re.sub(r"[│┃]", " ", capsys.readouterr().out).split())
    assert " ".join(os.path.basename(hostile_tflite).split()) in text  # no rich markup eaten, nothing run
    assert not canary.exists()
