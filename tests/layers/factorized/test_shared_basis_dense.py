import keras
import numpy as np
import pytest

import edgeshare
from edgeshare.layers import SharedBasis, SharedBasisDense
from tests.layer_checks import run_layer_test

D, R = 16, 4


def test_shared_basis_dense_shared_checks(tmp_path):
    x = np.random.default_rng(0).standard_normal((3, 5, D)).astype("float32")

    def check(layer):
        assert isinstance(layer.basis, SharedBasis)
        assert any(v is layer.basis.basis for v in layer.trainable_weights)

    layer = run_layer_test(
        lambda dtype=None: SharedBasisDense(
            8, SharedBasis(R, dtype=dtype, name="basis"), activation="tanh", dtype=dtype, name="dense"
        ),
        x,
        expected_num_trainable_weights=3,
        expected_params=D * R + R * 8 + 8,  # B, C and the bias
        check_sharing=check,
        tmp_path=tmp_path,
    )
    # Numerics against the unshared equivalent: a Dense whose kernel is B C, with the bias copied.
    dense = keras.layers.Dense(8, activation="tanh")
    dense.build((None, D))
    dense.set_weights([layer.basis.basis.numpy() @ layer.coefficients.numpy(), layer.bias.numpy()])
    np.testing.assert_allclose(np.asarray(layer(x)), np.asarray(dense(x)), atol=1e-5)


def _three_layer_model():
    basis = SharedBasis(R, name="basis")
    inputs = keras.Input((5, D))
    h = inputs
    for i in range(3):
        h = SharedBasisDense(D, basis, activation="tanh", name=f"dense_{i}")(h)
    return keras.Model(inputs, h)


def test_layers_share_one_basis_through_keras_reload(tmp_path):
    x = np.random.default_rng(1).standard_normal((2, 5, D)).astype("float32")
    model = _three_layer_model()

    def check(m):
        bases = [m.get_layer(f"dense_{i}").basis for i in range(3)]
        assert bases[0] is bases[1] is bases[2]
        assert len(m.trainable_weights) == 1 + 3 * 2
        assert m.count_params() == D * R + 3 * (R * D + D)

    check(model)
    expected = x.astype("float64")
    for i in range(3):
        layer = model.get_layer(f"dense_{i}")
        expected = np.tanh(expected @ (layer.basis.basis.numpy() @ layer.coefficients.numpy()) + layer.bias.numpy())
    np.testing.assert_allclose(np.asarray(model(x)), expected, atol=1e-5)
    report = edgeshare.inspect(model)
    assert report.unique_params == D * R + 3 * (R * D + D)
    assert report.params_per_use == 3 * D * R + 3 * (R * D + D)
    model.save(tmp_path / "basis.keras")
    reloaded = keras.saving.load_model(tmp_path / "basis.keras")
    check(reloaded)
    np.testing.assert_allclose(np.asarray(reloaded(x)), np.asarray(model(x)), atol=1e-6)


def test_shared_basis_exports_once_in_int8(tmp_path):
    """Full-integer TFLite, the mode most prone to per-use copies: the basis is stored once."""
    from edgeshare.converters import export_tflite

    model = _three_layer_model()
    rng = np.random.default_rng(2)
    model.set_weights([rng.standard_normal(w.shape).astype("float32") * 0.3 for w in model.get_weights()])
    data = rng.standard_normal((32, 5, D)).astype("float32")
    report = export_tflite(model, tmp_path / "basis_int8.tflite", "int8", calibration=data)
    assert report.numerics.passed, report.numerics
    assert report.duplicate_bytes == 0 and report.ratio == 1.0, report.groups
    # Exactly the int8 kernels (B once, the three C) and the three int32 biases: nothing stored twice.
    assert report.weight_bytes == D * R + 3 * R * D + 3 * 4 * D


def test_shared_basis_dense_errors():
    with pytest.raises(TypeError, match=r"`basis` must be a SharedBasis instance. Received: basis=4"):
        SharedBasisDense(8, 4)
    with pytest.raises(ValueError, match=r"`units` must be a positive integer. Received: units=0"):
        SharedBasisDense(0, SharedBasis(R))
    basis = SharedBasis(R)
    SharedBasisDense(8, basis)(np.zeros((2, D), "float32"))
    with pytest.raises(ValueError, match=r"`basis` was built for inputs of width 16, but this layer receives width 8. "
                                         r"Received: input_shape=\(2, 8\)"):
        SharedBasisDense(8, basis)(np.zeros((2, 8), "float32"))
