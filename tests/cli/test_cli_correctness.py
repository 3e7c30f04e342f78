"""CLI correctness (issue 9): the output's extension picks the format, every file check runs before
TensorFlow loads, an unwritable output exits 2, calibration keys must match the input names, and a model with
dynamic dimensions needs --input-shape to bench (the result records the shape)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgeshare.cli import main
from tests.converters.test_verify_tflite import two_fc

PROBE = r"""
import sys
from edgeshare.cli import main
code = main(ARGS)
print(code, "tensorflow" in sys.modules)
"""


def _probe(args: list[str]) -> tuple[int, bool, str]:
    """(exit code, whether TensorFlow was imported, stderr) of `edgeshare ARGS` in a fresh process."""
    proc = subprocess.run([sys.executable, "-c", PROBE.replace("ARGS", repr(args))], capture_output=True,
                          text=True, timeout=120)
    code, heavy = proc.stdout.split()
    return int(code), heavy == "True", proc.stderr


@pytest.mark.parametrize("args, message", [
    (["export", "missing.keras", "-o", "b.onnx"], "missing.keras: no such file"),
    (["export", "missing.keras", "-o", "b.bin"], "cannot tell the format from the output's extension"),
    (["export", "missing.keras", "-o", "b.tflite", "--format", "onnx"], "--format onnx conflicts with the output"),
    (["export", "missing.keras", "-o", "/nonexistent/dir/b.onnx"], "its folder /nonexistent/dir does not exist"),
])
def test_export_checks_run_before_tensorflow_loads(args, message, tmp_path):
    code, heavy, err = _probe([a if not a.endswith(".keras") else str(tmp_path / a) for a in args])
    assert code == 2 and not heavy, (code, heavy, err)
    assert message in err and err.count("\n") == 1, err


def test_calibration_file_is_checked_before_tensorflow_loads(tmp_path):
    model = tmp_path / "m.keras"
    model.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip: only opened after the calibration check
    code, heavy, err = _probe(["export", str(model), "-o", str(tmp_path / "m.tflite"),
                                  "--calibration", str(tmp_path / "none.npz")])
    assert code == 2 and not heavy
    assert "none.npz: no such file (--calibration)" in err


def test_output_extension_picks_the_format(tmp_path, keras_dense):
    out = tmp_path / "b.onnx"
    assert main(["export", keras_dense, "-o", str(out)]) == 0
    with open(out, "rb") as fh:
        head = fh.read(8)
    assert head[4:8] != b"TFL3"  # not a TFLite file
    assert onnx.load(str(out)).graph.node  # an ONNX model


@pytest.mark.parametrize("command", ["repair", "verify"])
def test_unwritable_output_exits_2(command, tmp_path, capsys):
    src = tmp_path / "m.tflite"
    src.write_bytes(two_fc("exact"))
    bad = str(tmp_path / "missing_folder" / "out.x")
    args = [command, str(src), "-o", bad] if command == "repair" else [command, str(src), "--json", bad]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and err.count("\n") == 1


@pytest.fixture(scope="module")
def keras_dense(tmp_path_factory):
    """A two-input model with dict inputs in non-sorted key order, saved as .keras."""
    from edgeshare.accounting import quiet_tensorflow

    quiet_tensorflow()
    import keras

    keras.utils.set_random_seed(0)
    zeta, alpha = keras.Input((4,), name="zeta"), keras.Input((3,), name="alpha")
    y = keras.layers.Dense(5, name="head")(keras.layers.Concatenate()([zeta, alpha]))
    model = keras.Model({"zeta": zeta, "alpha": alpha}, y)
    path = tmp_path_factory.mktemp("dense") / "m.keras"
    model.save(path)
    return str(path)


def test_calibration_with_wrong_keys_names_expected_and_received(tmp_path, keras_dense, capsys):
    cal = tmp_path / "cal.npz"
    rng = np.random.default_rng(0)
    np.savez(cal, arr_0=rng.standard_normal((4, 4)), arr_1=rng.standard_normal((4, 3)))  # positional names
    code = main(["export", keras_dense, "-o", str(tmp_path / "m.tflite"), "--quantize", "int8",
                 "--calibration", str(cal)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "expected ['alpha', 'zeta'], received ['arr_0', 'arr_1']" in err


def _dynamic_onnx(path):
    """ids [1, seq] -> Gather of a 50x8 table: seq is dynamic."""
    table = np.random.default_rng(0).standard_normal((50, 8)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "ids"], ["emb"], axis=0)], "dyn",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, "seq"])],
        [helper.make_tensor_value_info("emb", TensorProto.FLOAT, [1, "seq", 8])],
        initializer=[numpy_helper.from_array(table, "table")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_bench_needs_the_shape_of_a_dynamic_input(tmp_path, capsys):
    path = str(tmp_path / "dyn.onnx")
    _dynamic_onnx(path)
    assert main(["bench", path, "--runs", "3", "--warmup", "0", "--no-history"]) == 2
    err = capsys.readouterr().err
    assert "input 'ids' has dynamic dimensions (axes [1] of [1, ?])" in err
    assert "--input-shape ids=1x1" in err
    out = tmp_path / "b.json"
    assert main(["bench", path, "--runs", "3", "--warmup", "0", "--no-history", "--input-shape", "ids=1x16",
                 "--json", str(out)]) == 0
    [res] = json.loads(out.read_text())["results"]
    assert res["input_shapes"] == {"ids": [1, 16]}
    assert main(["bench", path, "--input-shape", "ids=1xfoo", "--no-history"]) == 2
    assert "an input shape is NAME=DIMS" in capsys.readouterr().err
