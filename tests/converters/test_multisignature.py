"""Multi-task export: one .tflite with a signature per task plus "all", the encoder stored once; ONNX
with every output plus one pruned file per task."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from edgeshare.converters import InvalidInputError, export_onnx, export_tflite, verify
from edgeshare.converters.export.signatures import per_task_tflite_bytes, resolve_signatures
from edgeshare.converters.runtime import LiteRTRunner, OnnxRunner

TASKS = ["digit", "parity", "big"]


@pytest.fixture(scope="module")
def multitask():
    import keras

    from edgeshare.layers import MultiTaskModel

    keras.utils.set_random_seed(0)
    encoder = keras.Sequential([
        keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2"),
        keras.layers.GlobalAveragePooling2D(name="pool"),
        keras.layers.Dense(64, activation="relu", name="features"),
    ], name="encoder")
    proj = keras.layers.Dense(32, activation="relu", name="proj")
    heads = {"digit": keras.layers.Dense(10, name="digit"), "parity": keras.layers.Dense(2, name="parity"),
             "big": keras.layers.Dense(2, name="big")}
    image = keras.Input((8, 8, 1), name="image")
    mt = MultiTaskModel(encoder, heads, shared_heads={"parity": proj, "big": proj}, name="multitask")
    model = keras.Model(image, mt(image), name="multitask_wrapper")
    data = np.random.default_rng(0).random((24, 8, 8, 1)).astype("float32")
    return model, data


@pytest.mark.parametrize("mode", ["none", "int8"])
def test_one_tflite_with_a_signature_per_task(multitask, tmp_path, mode):
    model, data = multitask
    path = str(tmp_path / f"mt_{mode}.tflite")
    rep = export_tflite(model, path, mode, calibration=data, signatures="tasks")
    assert [s["key"] for s in rep.signatures] == ["all", *TASKS]
    assert all(s["numerics"]["passed"] for s in rep.signatures) and rep.numerics.passed
    # Each signature runs in LiteRT and returns what Keras returns, for its own tasks only.
    want = {k: np.asarray(v) for k, v in model(data[:4]).items()}
    for key in ["all", *TASKS]:
        runner = LiteRTRunner(path, signature=key)
        assert sorted(runner.output_names) == sorted(TASKS if key == "all" else [key])
        name = runner.input_names[0]
        per_sample = [runner({name: data[i : i + 1]}) for i in range(4)]
        got = [np.concatenate([ys[j] for ys in per_sample]) for j in range(len(runner.output_names))]
        for name, y in zip(runner.output_names, got):
            if mode == "none":
                np.testing.assert_allclose(y, want[name], atol=1e-4)
            else:  # int8: cosine against Keras, as the export report measures it
                cos = float((y * want[name]).sum() / (np.linalg.norm(y) * np.linalg.norm(want[name])))
                assert cos >= 0.99, (key, name, cos)
    # The encoder is stored once across the four subgraphs, and verify says so.
    vr = verify(path, model=model)
    assert vr.duplicate_bytes == 0 and vr.ok
    encoder_vars = [v for v in vr.variables if "/encoder/" in v.path and v.path.endswith("kernel")]
    assert len(encoder_vars) == 3 and all(len(v.carriers) == 1 for v in encoder_vars)
    conv2 = next(r for r in vr.largest if r.keras_variable and "conv2/kernel" in r.keras_variable)
    assert _subgraphs(conv2.consumers) == {0, 1, 2, 3}, conv2.consumers  # read by every signature
    # Smaller than the per-task files added together.
    separate = per_task_tflite_bytes(model, mode, calibration=data)
    print(f"\nmulti-signature {mode}: {rep.file_bytes} bytes; per-task files {separate} "
          f"sum {sum(separate.values())} bytes ({rep.file_bytes / sum(separate.values()):.2f}x)")
    assert rep.file_bytes < sum(separate.values())
    assert rep.weight_bytes < sum(separate.values())


def _subgraphs(consumers):
    """Subgraph index of each consumer label: 'OP#7' is subgraph 0, 'OP#2.7' subgraph 2."""
    out = set()
    for c in consumers:
        idx = c.split("→")[0].split("#")[1]
        out.add(int(idx.split(".")[0]) if "." in idx else 0)
    return out


def test_onnx_all_outputs_plus_a_pruned_file_per_task(multitask, tmp_path):
    model, data = multitask
    path = str(tmp_path / "mt.onnx")
    rep = export_onnx(model, path, calibration=data, signatures="tasks")
    assert rep.numerics.passed and rep.ok
    assert sorted(o.name for o in onnx.load(path).graph.output) == sorted(TASKS)
    files = {s["key"]: s for s in rep.signatures}
    assert files["all"]["artifact"] == path
    want = {k: np.asarray(v) for k, v in model(data[:1]).items()}
    for task in TASKS:
        s = files[task]
        assert s["artifact"] == str(tmp_path / f"mt.{task}.onnx") and s["numerics"]["passed"]
        pruned = onnx.load(s["artifact"])
        assert [o.name for o in pruned.graph.output] == [task]
        assert len(pruned.graph.node) < files["all"]["nodes"]
        runner = OnnxRunner(s["artifact"])
        np.testing.assert_allclose(runner({runner.input_names[0]: data[:1]})[0], want[task], atol=1e-4)
    # the digit file has no projection: the shared head serves parity and big only
    digit_shapes = {tuple(t.dims) for t in onnx.load(files["digit"]["artifact"]).graph.initializer}
    assert (64, 32) not in digit_shapes and (32, 64) not in digit_shapes


def test_resolve_signatures_errors():
    assert resolve_signatures(["a", "b"], "tasks") == {"all": ["a", "b"], "a": ["a"], "b": ["b"]}
    assert resolve_signatures(["a", "b"], {"pair": ["a", "b"], "one": "a"}) == {"pair": ["a", "b"], "one": ["a"]}
    with pytest.raises(InvalidInputError, match=r"`signatures` must be 'tasks' or a dict of signature name to "
                                                 r"output names. Received: signatures='heads'"):
        resolve_signatures(["a"], "heads")
    with pytest.raises(InvalidInputError, match=r"Received: signature='x', outputs=\['c'\]"):
        resolve_signatures(["a", "b"], {"x": ["c"]})
    with pytest.raises(InvalidInputError, match=r"an output is named 'all'.* Received: outputs=\['all', 'b'\]"):
        resolve_signatures(["all", "b"], "tasks")


def test_prune_onnx_and_runtime_kernel_errors(multitask, tmp_path):
    from edgeshare.converters.export.to_onnx import prune_onnx

    model, data = multitask
    graph = onnx.helper.make_graph([onnx.helper.make_node("Relu", ["x"], ["y"])], "g",
                                   [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
                                   [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])])
    with pytest.raises(InvalidInputError, match=r"`outputs` must name outputs of the ONNX model \['y'\]. "
                                                 r"Received: missing=\['z'\]"):
        prune_onnx(onnx.helper.make_model(graph), ["z"])
    with pytest.raises(InvalidInputError, match=r"does not combine with `signatures`; use 'runtime'. "
                                                 r"Received: bank_export='runtime_kernel', signatures='tasks'"):
        export_tflite(model, str(tmp_path / "x.tflite"), sample_inputs=data[:2], signatures="tasks",
                      bank_export="runtime_kernel")
