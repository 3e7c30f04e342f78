"""`edgeshare bench --device ssh:` from the x86 host against an aarch64 board: the sshd that
`make test-arm` (tests/arm/inroot.sh) starts inside the emulated arm64 root on 127.0.0.1.

Skipped in `make test`: it needs that sshd, whose address tests/arm/inroot.sh passes in $EDGESHARE_ARM_SSH.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from edgeshare.cli import main
from tests.bench.conftest import HOSTILE_STEM
from tests.bench.tiny_models import write_tiny_onnx, write_tiny_tflite

SPEC = os.environ.get("EDGESHARE_ARM_SSH", "")
pytestmark = pytest.mark.skipif(not SPEC, reason="runs in `make test-arm` against the aarch64 sshd of the emulated "
                                "root (tests/arm/test_arm.sh); $EDGESHARE_ARM_SSH is not set")


def test_ssh_bench_runs_on_aarch64_and_a_hostile_name_executes_nothing(tmp_path: Path) -> None:
    root = Path(os.environ["EDGESHARE_ARM_ROOT"])
    canary = root / "tmp" / "canary-executed-over-ssh"  # sshd sets $EDGESHARE_CANARY to it in every session
    tiny = tmp_path / "hostile dir $(x)"
    tiny.mkdir()
    tfl = str(tiny / f"{HOSTILE_STEM}.tflite")
    onx = str(tiny / f"{HOSTILE_STEM}.onnx")
    write_tiny_tflite(tfl)
    write_tiny_onnx(onx)
    remote = root / "tmp" / "board work $(y)"
    remote.mkdir()
    out = tmp_path / "bench.json"
    code = main(["bench", tfl, onx, "--device", f"ssh:{SPEC}", "--ssh-config", os.environ["EDGESHARE_ARM_SSH_CONFIG"],
                 "--remote-dir", "/tmp/board work $(y)", "--runs", "5", "--warmup", "1", "--timeout", "600",
                 "--no-history", "--json", str(out)])
    report = json.loads(out.read_text())
    if os.environ.get("EDGESHARE_ARM_SSH_OUT"):
        shutil.copyfile(out, os.environ["EDGESHARE_ARM_SSH_OUT"])
    assert code == 0, report
    rows = report["results"]
    assert not canary.exists(), "a shell metacharacter in the file name ran a command on the aarch64 board"
    assert [r["variant"] for r in rows] == [f"{HOSTILE_STEM}.tflite", f"{HOSTILE_STEM}.onnx"]
    for r in rows:
        assert r["machine"] == "aarch64", r  # the runner's platform.machine(), on the board
        assert r["device_info"]["abi"] == "aarch64" and r["target"] == "ssh" and r["device"] == f"ssh:{SPEC}"
        assert r["runs"] == 5 and len(r["latencies_ms"]) == 5 and r["p50_ms"] > 0
    assert [r["runtime"] for r in rows] == ["litert-compiled", "onnxruntime"]  # CompiledModel is the default
    assert os.listdir(remote) == []  # the work folder on the board is gone
