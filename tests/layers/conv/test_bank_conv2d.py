import keras
import numpy as np
import pytest

from edgeshare.layers import BankConv2D, FilterBank
from tests.layer_checks import run_layer_test
from tests.layers.conv.test_filter_bank import conv2d_same

T, K, C = 3, 3, 4
BANK_PARAMS = T * K * K * C * C


def _x(n=2, size=6):
    return np.random.default_rng(0).standard_normal((n, size, size, C)).astype("float32")


def test_soft_bank_conv2d_shared_checks(tmp_path):
    x = _x()
    layer = run_layer_test(
        lambda dtype=None: BankConv2D(
            FilterBank(T, K, C, dtype=dtype, name="bank"), mixing="soft", activation="relu", dtype=dtype, name="soft"
        ),
        x,
        expected_num_trainable_weights=3,  # the bank's templates, T coefficients, the bias
        expected_params=BANK_PARAMS + T + C,
        check_sharing=lambda layer: _assert_reads_bank(layer),
        tmp_path=tmp_path,
    )
    # Numerics against the unshared equivalent: a Conv2D holding the materialized kernel.
    kernel = np.tensordot(layer.coefficients.numpy(), layer.bank.templates.numpy(), axes=1)
    np.testing.assert_allclose(np.asarray(layer(x)), _dense_conv(kernel, layer.bias.numpy(), "relu")(x), atol=1e-5)


def _assert_reads_bank(layer):
    assert sum(v is layer.bank.templates for v in layer.trainable_weights) == 1


def _dense_conv(kernel, bias, activation=None, strides=1, padding="same"):
    conv = keras.layers.Conv2D(kernel.shape[-1], kernel.shape[:2], strides=strides, padding=padding,
                               activation=activation)
    conv.build((None, None, None, kernel.shape[2]))
    conv.set_weights([kernel, bias])
    return lambda x: np.asarray(conv(x))


def test_hard_bank_conv2d_shared_checks(tmp_path):
    x = _x()
    layer = run_layer_test(
        lambda dtype=None: BankConv2D(
            FilterBank(T, K, C, dtype=dtype, name="bank"), mixing="hard", template=2, dtype=dtype, name="hard"
        ),
        x,
        expected_num_trainable_weights=2,  # the bank's templates and the bias: no coefficients
        expected_params=BANK_PARAMS + C,
        check_sharing=lambda layer: _assert_reads_bank(layer),
        tmp_path=tmp_path,
    )
    expected = conv2d_same(x, layer.bank.templates.numpy()[2]) + layer.bias.numpy()
    np.testing.assert_allclose(np.asarray(layer(x)), expected, atol=1e-5)


def test_layers_share_one_bank_across_save_and_reload(tmp_path):
    """Three soft and two hard layers on one bank: one templates variable, before and after .keras."""
    bank = FilterBank(T, K, C, name="bank")
    inp = keras.Input((6, 6, C))
    h = inp
    names = ["s0", "s1", "s2"]
    for n in names:
        h = BankConv2D(bank, mixing="soft", activation="relu", name=n)(h)
    for n, t in (("h0", 0), ("h1", 0)):  # two layers on one template: the same kernel
        h = BankConv2D(bank, mixing="hard", template=t, name=n)(h)
        names.append(n)
    model = keras.Model(inp, h)
    expected = BANK_PARAMS + 3 * T + 5 * C
    path = str(tmp_path / "bank.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    x = _x()
    np.testing.assert_allclose(np.asarray(reloaded(x)), np.asarray(model(x)), atol=1e-6)
    for m in (model, reloaded):
        layers = [m.get_layer(n) for n in names]
        assert all(layer.bank is layers[0].bank for layer in layers)
        assert all(any(v is layers[0].bank.templates for v in layer.trainable_weights) for layer in layers)
        assert len(m.trainable_weights) == 1 + 3 * 2 + 2  # templates, 3 x (coefficients, bias), 2 biases
        assert m.count_params() == expected


@pytest.mark.parametrize(("strides", "padding"), [(1, "same"), (2, "same"), (2, "valid")])
def test_runtime_form_equals_materialized_form(strides, padding):
    """bank_export="runtime" mixes template responses; it must equal the materialized kernel's output."""
    layer = BankConv2D(FilterBank(T, K, C), mixing="soft", strides=strides, padding=padding)
    x = _x(size=7)
    materialized = np.asarray(layer(x))
    layer.bank_export = "runtime"
    runtime = np.asarray(layer(x))
    kernel = np.tensordot(layer.coefficients.numpy(), layer.bank.templates.numpy(), axes=1)
    assert runtime.shape == layer.compute_output_shape(x.shape)
    np.testing.assert_allclose(runtime, materialized, atol=1e-5)
    np.testing.assert_allclose(materialized, _dense_conv(kernel, layer.bias.numpy(), None, strides, padding)(x),
                               atol=1e-5)


def test_bank_conv2d_errors():
    bank = FilterBank(T, K, C)
    with pytest.raises(TypeError, match=r"`bank` must be a FilterBank. Received: bank=3"):
        BankConv2D(3)
    with pytest.raises(ValueError, match=r"`mixing` must be one of hard, soft. Received: mixing='mix'"):
        BankConv2D(bank, mixing="mix")
    with pytest.raises(ValueError, match=r"must be None when mixing='soft'. Received: mixing='soft', template=1"):
        BankConv2D(bank, mixing="soft", template=1)
    with pytest.raises(ValueError, match=r"`template` must be an index into the bank, in \[0, 3\). "
                                         r"Received: template=3, num_templates=3"):
        BankConv2D(bank, mixing="hard", template=3)
    with pytest.raises(ValueError, match=r"`padding` must be one of same, valid. Received: padding='causal'"):
        BankConv2D(bank, padding="causal")
    with pytest.raises(ValueError, match=r"needs inputs with the bank's 4 channels. "
                                         r"Received: input_shape=\(2, 6, 6, 5\)"):
        BankConv2D(bank)(np.zeros((2, 6, 6, 5), "float32"))
