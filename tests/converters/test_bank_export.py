"""bank_export="materialize" | "runtime": where each soft BankConv2D's weights end up in the file.

Content checks: a Keras-side array is "stored" when some buffer holds it under some axis order, within
float rounding (the converter folds in float32 in its own order) or half a quantization step.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from edgeshare.converters import InvalidInputError, export_onnx, export_tflite
from edgeshare.converters.verify import load_weights

T, C, SOFT = 4, 16, 4


def stored_copies(path: str, array: np.ndarray, *layouts: np.ndarray) -> list[str]:
    """Keys of the stored weights that hold `array` (or one of its `layouts`, e.g. a reshape) under some
    axis order, within float32 rounding (1e-5 of its largest value) or half a quantization step plus that."""
    found: list[str] = []
    for alternative in (array, *layouts):
        found += [k for k in _stored_copies(path, alternative) if k not in found]
    return found


def _stored_copies(path: str, array: np.ndarray) -> list[str]:
    _, _, weights, handle = load_weights(path)
    ref = np.asarray(array, dtype=np.float64)
    ref = ref.reshape([d for d in ref.shape if d != 1])
    found = []
    for w in weights:
        if w.numel != ref.size or not (w.is_float or w.quant is not None):
            continue
        deq = w.dequantized().astype(np.float64)
        bound = np.asarray(w.error_bound(deq), dtype=np.float64) + 1e-5 * np.abs(ref).max()
        keep = [i for i, d in enumerate(deq.shape) if d != 1]
        deq = deq.reshape([deq.shape[i] for i in keep])
        bound = np.broadcast_to(bound, w.dequantized().shape).reshape(deq.shape)
        for perm in itertools.permutations(range(ref.ndim)):
            if tuple(ref.shape[i] for i in perm) == deq.shape and np.all(
                np.abs(np.transpose(ref, perm) - deq) <= bound * 1.02
            ):
                found.append(w.key)
                break
    handle.source.close()
    return found


def stacked_bank(bank) -> np.ndarray:
    """The bank as the runtime form stores it: (kh, kw, c, T * c), channel c of template t at t * c + c."""
    t, kh, kw, c, _ = bank.templates.shape
    return np.transpose(bank.templates.numpy(), (1, 2, 3, 0, 4)).reshape(kh, kw, c, t * c)


@pytest.fixture(scope="module")
def bank_model():
    import keras

    from edgeshare.layers import BankConv2D, FilterBank

    keras.utils.set_random_seed(0)
    soft_bank = FilterBank(T, 3, C, name="soft_bank")
    hard_bank = FilterBank(2, 3, C, name="hard_bank")
    image = keras.Input((8, 8, C), name="image")
    x = image
    for t, name in ((0, "hard0"), (1, "hard1"), (0, "hard0_again")):
        x = BankConv2D(hard_bank, mixing="hard", template=t, activation="relu", name=name)(x)
    for i in range(SOFT):
        x = keras.layers.Add(name=f"res{i}")([x, BankConv2D(soft_bank, activation="relu", name=f"soft{i}")(x)])
    model = keras.Model(image, x, name="bank_model")
    data = np.random.default_rng(0).standard_normal((24, 8, 8, C)).astype("float32")
    return model, data


def _soft_kernels(model):
    return [np.tensordot(model.get_layer(f"soft{i}").coefficients.numpy(),
                         model.get_layer(f"soft{i}").bank.templates.numpy(), axes=1) for i in range(SOFT)]


def test_materialize_stores_one_kernel_per_soft_layer(bank_model, tmp_path):
    model, data = bank_model
    path = str(tmp_path / "m.tflite")
    rep = export_tflite(model, path, "none", calibration=data, bank_export="materialize")
    assert rep.ok and rep.numerics.passed
    for kernel in _soft_kernels(model):
        assert len(stored_copies(path, kernel)) == 1
    assert stored_copies(path, stacked_bank(model.get_layer("soft0").bank)) == []
    hard = model.get_layer("hard0").bank.templates.numpy()
    assert len(stored_copies(path, hard[0])) == 1  # two layers on template 0: one buffer
    assert len(stored_copies(path, hard[1])) == 1


@pytest.mark.parametrize("mode", ["none", "dynamic", "int8"])
def test_runtime_stores_the_bank_once(bank_model, tmp_path, mode):
    model, data = bank_model
    path = str(tmp_path / f"r_{mode}.tflite")
    rep = export_tflite(model, path, mode, calibration=data, bank_export="runtime")
    assert rep.numerics.passed, rep.numerics
    assert rep.duplicate_bytes == 0 and rep.ratio <= 1.01
    bank = model.get_layer("soft0").bank
    copies = stored_copies(path, stacked_bank(bank))
    assert len(copies) == 1, copies  # the templates, once, read by every soft layer
    _, _, weights, handle = load_weights(path)
    readers = next(w for w in weights if w.key == copies[0]).consumers
    handle.source.close()
    assert len(readers) == SOFT and all(r.startswith("CONV_2D") for r in readers)
    for kernel in _soft_kernels(model):  # no layer's mixed kernel is materialized
        assert stored_copies(path, kernel) == []
    if mode == "none":
        # The floor with the bank stored once: every unique Keras parameter once, in float32.
        assert rep.weight_bytes <= 1.01 * 4 * rep.unique_params
        # Only constant-weight ops: XNNPACK takes the whole graph on this host.
        assert rep.delegates["summary"]["xnnpack"]["unsupported"] == 0


def test_runtime_onnx_stores_the_bank_once(bank_model, tmp_path):
    model, data = bank_model
    path = str(tmp_path / "r.onnx")
    rep = export_onnx(model, path, calibration=data, bank_export="runtime")
    assert rep.numerics.passed and rep.duplicate_bytes == 0
    assert len(stored_copies(path, stacked_bank(model.get_layer("soft0").bank))) == 1
    assert rep.weight_bytes <= 1.01 * 4 * rep.unique_params


def test_export_leaves_the_layers_in_their_training_form(bank_model, tmp_path):
    model, data = bank_model
    export_tflite(model, str(tmp_path / "x.tflite"), "none", sample_inputs=data[:2], bank_export="runtime")
    assert {model.get_layer(f"soft{i}").bank_export for i in range(SOFT)} == {"materialize"}


def test_unknown_bank_export_is_rejected(bank_model, tmp_path):
    model, data = bank_model
    with pytest.raises(InvalidInputError, match=r"`bank_export` must be one of materialize, runtime, "
                                                 r"runtime_kernel. Received: bank_export='fold'"):
        export_tflite(model, str(tmp_path / "x.tflite"), sample_inputs=data[:2], bank_export="fold")
    with pytest.raises(InvalidInputError, match=r"use bank_export='runtime'. "
                                                 r"Received: bank_export='runtime_kernel', quantize='int8'"):
        export_tflite(model, str(tmp_path / "x.tflite"), "int8", calibration=data, bank_export="runtime_kernel")


@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
def test_runtime_kernel_stores_the_bank_once_and_mixes_each_kernel(bank_model, tmp_path, fmt):
    """bank_export="runtime_kernel": the templates frozen into one buffer, each kernel computed."""
    model, data = bank_model
    path = str(tmp_path / f"k.{fmt}")
    export = export_tflite if fmt == "tflite" else export_onnx
    rep = export(model, path, calibration=data, bank_export="runtime_kernel")
    assert rep.numerics.passed and rep.duplicate_bytes == 0
    templates = model.get_layer("soft0").bank.templates.numpy()
    # TFLite keeps the frozen (T, kh, kw, c, c) tensor; tf2onnx folds it to (kh * kw * c * c, T) for MatMul
    assert len(stored_copies(path, templates, templates.reshape(T, -1))) == 1
    for kernel in _soft_kernels(model):
        assert stored_copies(path, kernel) == []
    assert rep.weight_bytes <= 1.01 * 4 * rep.unique_params
    if fmt == "tflite":  # XNNPACK leaves the computed-filter convolutions to LiteRT's builtin kernels
        xnn = rep.delegates["summary"]["xnnpack"]
        assert xnn["unsupported_ops"] == ["CONV_2D"] and xnn["unsupported"] == SOFT


def test_freeze_input_errors():
    from edgeshare._quiet import quiet_fds
    from edgeshare.accounting import quiet_tensorflow
    from edgeshare.converters.export.bank_export import freeze_input

    tf = quiet_tensorflow()
    f = tf.function(lambda x, w: tf.matmul(x, w), input_signature=[tf.TensorSpec([1, 4], name="x"),
                                                                   tf.TensorSpec([4, 2], name="w")])
    with quiet_fds():
        data = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f).convert()
    frozen = freeze_input(data, "w", np.ones((4, 2), np.float32))
    from edgeshare.converters.runtime import LiteRTRunner

    runner = LiteRTRunner(frozen)
    assert runner.input_names == ["x"]
    np.testing.assert_allclose(runner(x=np.arange(4, dtype=np.float32)[None])[0], [[6.0, 6.0]])
    with pytest.raises(InvalidInputError, match=r"`name` must be an input of the converted model. "
                                                 r"Received: name='v'"):
        freeze_input(data, "v", np.ones((4, 2), np.float32))
    with pytest.raises(InvalidInputError, match=r"must have its shape \[4, 2\]. Received: shape=\[2, 4\]"):
        freeze_input(data, "w", np.ones((2, 4), np.float32))
