"""`edgeshare verify` and `edgeshare bench` must never import TensorFlow or Keras (DESIGN.md: TF costs
about 5 s and 620 MB to import), and must stay under 150 MB peak RSS on a small model.
Start-up time is measured by edgeshare/benchmarks/bench_startup.py, not asserted here."""

import json
import os
import subprocess
import sys

from tests.converters.test_verify_onnx import tied as onnx_tied
from tests.converters.test_verify_tflite import two_fc

PROBE = r"""
import json, sys
from edgeshare.cli import main

def hwm_mb():
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the (large) pytest parent across exec.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

codes = [main(a) for a in ARGS]
heavy = sorted(m for m in ("tensorflow", "keras", "tf2onnx", "tf_keras", "sklearn") if m in sys.modules)
print(json.dumps({
    "codes": codes,
    "heavy": heavy,
    "self_rss_mb": hwm_mb(),
}))
"""


# Under QEMU user emulation (make test-arm) RSS includes the emulator's translated code: no RSS limit holds.
EMULATED = os.environ.get("EDGESHARE_EMULATED") == "1"


def _probe(args: list[list[str]]) -> dict:
    code = PROBE.replace("ARGS", repr(args))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_verify_is_light(tmp_path):
    t = tmp_path / "m.tflite"
    t.write_bytes(two_fc("exact"))
    o = tmp_path / "m.onnx"
    o.write_bytes(onnx_tied("transposed"))
    r = _probe([["verify", str(t)], ["verify", str(o), "--json", str(tmp_path / "v.json")]])
    assert r["codes"] == [1, 1]  # both have a duplicate: the full verify path ran
    assert r["heavy"] == []
    assert EMULATED or r["self_rss_mb"] < 150, r


def test_bench_is_light(tmp_path):
    t = tmp_path / "m.tflite"
    t.write_bytes(two_fc(None))
    o = tmp_path / "m.onnx"
    o.write_bytes(onnx_tied("shared"))
    r = _probe([["bench", str(t), str(o), "--runs", "5", "--warmup", "1", "--json", str(tmp_path / "b.json")]])
    assert r["codes"] == [0]
    assert r["heavy"] == []
    assert EMULATED or r["self_rss_mb"] < 150, r
    res = json.loads((tmp_path / "b.json").read_text())["results"]
    assert EMULATED or all(x["peak_rss_mb"] < 150 for x in res), res  # the benchmark processes themselves
    assert [x["format"] for x in res] == ["tflite", "onnx"]
    for x in res:
        assert x["runs"] == 5 and len(x["latencies_ms"]) == 5
        assert 0 < x["p50_ms"] <= x["p90_ms"] <= x["p99_ms"] <= x["max_ms"]
        assert x["init_ms"] > 0 and x["peak_rss_mb"] > 0
