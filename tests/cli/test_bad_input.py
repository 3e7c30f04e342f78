"""Bad input never crashes: a missing, empty, truncated, bit-flipped or wrong-typed file gives exit 2
and one line on stderr that names the file. No traceback."""

import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from edgeshare.cli import main
from edgeshare.converters import InvalidInputError, verify
from tests.converters.test_verify_onnx import tied as onnx_tied
from tests.converters.test_verify_tflite import two_fc


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    tfl = two_fc("exact")
    onx = onnx_tied("transposed")
    paths = {}

    def put(name, data):
        p = d / name
        p.write_bytes(data)
        paths[name] = str(p)

    put("good.tflite", tfl)
    put("good.onnx", onx)
    put("empty.tflite", b"")
    put("truncated.tflite", tfl[: len(tfl) // 2])
    put("tiny.tflite", tfl[:10])
    flipped = bytearray(tfl)
    flipped[0] ^= 0x40  # the root table offset points outside the file
    put("rootflip.tflite", bytes(flipped))
    ident = bytearray(tfl)
    ident[5] ^= 0x01  # 'TFL3' -> 'TGL3'
    put("identflip.tflite", bytes(ident))
    put("truncated.onnx", onx[: len(onx) // 3])
    put("text.onnx", b"this is not a model\n" * 20)
    put("image.tflite", b"\x89PNG\r\n\x1a\n" + bytes(200))
    put("notes.txt", b"hello")
    put("garbage.keras", b"not a zip at all")
    zp = d / "notakeras.keras"
    with zipfile.ZipFile(zp, "w") as z:
        z.writestr("readme.txt", "a zip, but no Keras model inside")
    paths["notakeras.keras"] = str(zp)
    paths["missing.tflite"] = str(d / "missing.tflite")
    paths["dir"] = str(d)
    return paths


ARTIFACT_CASES = [
    ("missing.tflite", "no such file"),
    ("empty.tflite", "the file is empty"),
    ("dir", "is a directory"),
    ("truncated.tflite", "corrupt"),
    ("tiny.tflite", "corrupt"),
    ("rootflip.tflite", "corrupt"),
    ("identflip.tflite", "not a TFLite flatbuffer"),
    ("image.tflite", "not a TFLite flatbuffer"),
    ("truncated.onnx", "ONNX"),
    ("text.onnx", "ONNX"),
    ("notes.txt", "not a TFLite flatbuffer or an ONNX model"),
]


@pytest.mark.parametrize("command", ["verify", "bench"])
@pytest.mark.parametrize("name, why", ARTIFACT_CASES)
def test_artifact_commands_exit_2_with_one_line(files, command, name, why, capsys):
    args = [command, files[name]] + (["--runs", "2", "--warmup", "0"] if command == "bench" else [])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert files[name] in err and why in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "command, name, why",
    [
        ("inspect", "garbage.keras", "not a .keras archive"),
        ("inspect", "notakeras.keras", "cannot load the Keras model"),
        ("inspect", "missing.tflite", "no such file"),
        ("export", "garbage.keras", "not a .keras archive"),
        ("export", "notakeras.keras", "cannot load the Keras model"),
    ],
)
def test_model_commands_exit_2_with_one_line(files, command, name, why, capsys, tmp_path):
    if command == "export" or name == "notakeras.keras":
        pytest.importorskip("tensorflow", reason="loading a .keras file needs TensorFlow (not in the light runtime)")
    args = [command, files[name]] + (["-o", str(tmp_path / "x.tflite")] if command == "export" else [])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and files[name] in err and why in err


def test_verify_with_a_model_that_does_not_load(files, capsys):
    assert main(["verify", files["good.tflite"], "--model", files["garbage.keras"]]) == 2
    err = capsys.readouterr().err
    assert files["garbage.keras"] in err and "not a .keras archive" in err


def test_no_traceback_in_a_real_process(files):
    """The console script itself, as a user runs it."""
    exe = os.path.join(os.path.dirname(sys.executable), "edgeshare")
    if not os.path.exists(exe):  # a system-wide install (the arm64 root of make test-arm): /usr/local/bin
        exe = shutil.which("edgeshare") or exe
    for name in ("truncated.tflite", "text.onnx", "missing.tflite"):
        proc = subprocess.run([exe, "verify", files[name]], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2
        assert proc.stdout == ""
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
def test_random_bit_flips_never_crash(files, fmt):
    """Flip one bit at 300 random places: verify either reads a (changed) model or raises
    InvalidInputError. Any other exception is a crash."""
    with open(files[f"good.{fmt}"], "rb") as fh:
        data = fh.read()
    rng = np.random.default_rng(42)
    outcomes = {"report": 0, "invalid": 0}
    for pos in rng.integers(0, len(data), size=300):
        bad = bytearray(data)
        bad[pos] ^= 1 << int(rng.integers(0, 8))
        try:
            verify(bytes(bad))
            outcomes["report"] += 1
        except InvalidInputError:
            outcomes["invalid"] += 1
    # both outcomes occur: flips in weight bytes leave a valid model, flips in the structure do not
    assert outcomes["report"] > 0 and outcomes["invalid"] > 0, outcomes
