import keras
import numpy as np
import pytest

from edgeshare.layers import Repeat, TransformerBlock
from tests.layer_checks import run_layer_test
from tests.layers import reference

D, HEADS, KEY, FFN, N = 8, 2, 4, 16, 3
BLOCK = 3 * (D * HEADS * KEY + HEADS * KEY) + HEADS * KEY * D + D + D * FFN + FFN + FFN * D + D + 4 * D


@pytest.mark.parametrize("mode", ["unrolled", "loop"])
def test_repeat_shared_checks_and_numerics(tmp_path, mode):
    x = np.random.default_rng(0).standard_normal((3, 5, D)).astype("float32")

    def check(layer):
        assert isinstance(layer.layer, keras.layers.Dense)
        assert [id(v) for v in layer.trainable_weights] == [id(v) for v in layer.layer.trainable_weights]

    layer = run_layer_test(
        lambda dtype=None: Repeat(
            keras.layers.Dense(D, activation="tanh", dtype=dtype, name="inner"),
            N,
            mode=mode,
            dtype=dtype,
            name="repeat",
        ),
        x,
        expected_num_trainable_weights=2,
        expected_params=D * D + D,  # one Dense, applied N times
        check_sharing=check,
        tmp_path=tmp_path,
    )
    kernel, bias = (np.asarray(w, dtype="float64") for w in layer.layer.get_weights())
    expected = x.astype("float64")
    for _ in range(N):
        expected = np.tanh(expected @ kernel + bias)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, atol=1e-6)


def test_repeat_loop_equals_unrolled_for_a_block():
    x = np.random.default_rng(1).standard_normal((2, 5, D)).astype("float32")
    block = TransformerBlock(HEADS, KEY, FFN, causal=True)
    unrolled, loop = Repeat(block, N), Repeat(block, N, mode="loop")
    unrolled_out, loop_out = np.asarray(unrolled(x)), np.asarray(loop(x))
    expected = x.astype("float64")
    for _ in range(N):
        expected = reference.block(expected, block)
    # float32 against float64 NumPy through 3 blocks: 1e-5.
    np.testing.assert_allclose(unrolled_out, expected, atol=1e-5)
    np.testing.assert_allclose(loop_out, unrolled_out, atol=1e-6)


def test_repeated_layer_used_elsewhere_stays_one_instance_after_reload(tmp_path):
    x = np.random.default_rng(2).standard_normal((2, 5, D)).astype("float32")
    block = TransformerBlock(HEADS, KEY, FFN, name="block")
    inputs = keras.Input((5, D))
    y = Repeat(block, N, mode="loop", name="repeat")(inputs)
    model = keras.Model(inputs, block(y))  # the block once more, outside the Repeat

    def check(m):
        assert m.get_layer("repeat").layer is m.get_layer("block")
        assert m.count_params() == BLOCK

    check(model)
    model.save(tmp_path / "repeat.keras")
    reloaded = keras.saving.load_model(tmp_path / "repeat.keras")
    check(reloaded)
    np.testing.assert_allclose(np.asarray(reloaded(x)), np.asarray(model(x)), atol=1e-6)


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (("dense", 2), TypeError, r"`layer` must be a Keras layer instance. Received: layer='dense'"),
        ((None, 2), TypeError, r"`layer` must be a Keras layer instance. Received: layer=None"),
        ((keras.layers.Dense(4), 0), ValueError, r"`num_repeats` must be a positive integer. Received: num_repeats=0"),
        ((keras.layers.Dense(4), 2, "scan"), ValueError,
         r"`mode` must be one of unrolled, loop. Received: mode='scan'"),
    ],
)
def test_repeat_errors(args, error, match):
    with pytest.raises(error, match=match):
        Repeat(*args)


def test_repeat_rejects_a_shape_changing_layer():
    with pytest.raises(ValueError, match=r"`layer` must map its input shape to itself to be repeated. "
                                         r"Received: input_shape=\(2, 8\), output_shape=\(2, 4\)"):
        Repeat(keras.layers.Dense(4), 2)(np.zeros((2, 8), "float32"))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """One float TFLite export per mode of a 3x repeated Transformer block (the only conversions here)."""
    from edgeshare.converters import export_tflite
    from edgeshare.converters.formats.source import open_source
    from edgeshare.converters.formats.tflite_file import read_tflite

    folder = tmp_path_factory.mktemp("repeat_export")
    data = np.random.default_rng(0).standard_normal((8, 6, D)).astype("float32")
    out = {}
    for mode in ("unrolled", "loop"):
        inputs = keras.Input((6, D))
        block = TransformerBlock(HEADS, KEY, FFN, causal=True, name="block")
        model = keras.Model(inputs, Repeat(block, N, mode=mode, name="repeat")(inputs))
        # Random values everywhere: the converter merges equal constants (zero biases, unit gains).
        rng = np.random.default_rng(1)
        model.set_weights([rng.standard_normal(w.shape).astype("float32") * 0.3 for w in model.get_weights()])
        report = export_tflite(model, folder / f"{mode}.tflite", "none", sample_inputs=data)
        with open_source(folder / f"{mode}.tflite") as src:
            parsed = read_tflite(src)
            opcodes = [[op.opcode for op in sg.operators] for sg in parsed.subgraphs]
        out[mode] = (report, opcodes)
    return out


def test_repeat_loop_exports_a_while_op_and_unrolled_a_flat_graph(exported):
    unrolled_report, unrolled_ops = exported["unrolled"]
    loop_report, loop_ops = exported["loop"]
    assert len(unrolled_ops) == 1 and "WHILE" not in unrolled_ops[0]
    assert unrolled_ops[0].count("BATCH_MATMUL") + unrolled_ops[0].count("FULLY_CONNECTED") >= 3 * 6
    assert "WHILE" in loop_ops[0]
    assert len(loop_ops) == 3  # main graph, loop condition, loop body
    body = max(loop_ops[1:], key=len)
    assert "FULLY_CONNECTED" in body or "BATCH_MATMUL" in body  # the block lives in the body
    for report in (unrolled_report, loop_report):
        assert report.numerics.passed, report.numerics
        assert report.duplicate_bytes == 0 and report.ratio == 1.0, report.groups
        # Stored once: the float weights hold one block's parameters, not three (plus small constants).
        assert BLOCK * 4 <= report.weight_bytes < 1.5 * BLOCK * 4, (report.weight_bytes, BLOCK * 4)
