import keras
import numpy as np
import pytest

from edgeshare.layers import TuckerConv2D, TuckerFactors
from edgeshare.layers.factorized import tucker_conv2d_from_conv2d
from tests.layer_checks import run_layer_test

CIN, COUT, RANKS = 6, 5, (3, 2)


def _x(size=6, n=2):
    return np.random.default_rng(0).standard_normal((n, size, size, CIN)).astype("float32")


def _dense_reference(layer, x):
    """The unshared equivalent: one Conv2D with the reconstructed dense kernel."""
    conv = keras.layers.Conv2D(layer.filters, layer.kernel_size, strides=layer.strides, padding=layer.padding,
                               activation=layer.activation)
    conv.build((None, None, None, x.shape[-1]))
    conv.set_weights([layer.reconstructed_kernel(), layer.bias.numpy()])
    return np.asarray(conv(x))


@pytest.mark.parametrize("shared", [False, True])
def test_tucker_conv2d_shared_checks(tmp_path, shared):
    x = _x()

    def make(dtype=None):
        factors = TuckerFactors(CIN, COUT, RANKS, dtype=dtype, name="shared_factors") if shared else None
        return TuckerConv2D(COUT, 3, RANKS, factors=factors, activation="relu", dtype=dtype, name="tucker")

    def check(layer):
        assert layer.channel_factors.output_factor is next(
            v for v in layer.trainable_weights if "output_factor" in v.path
        )
        if shared:
            assert layer.channel_factors is layer.factors

    layer = run_layer_test(
        make,
        x,
        expected_num_trainable_weights=4,  # input and output factors, core, bias
        expected_params=CIN * 3 + 2 * COUT + 3 * 3 * 3 * 2 + COUT,
        check_sharing=check,
        tmp_path=tmp_path,
    )
    np.testing.assert_allclose(np.asarray(layer(x)), _dense_reference(layer, x), atol=1e-5)


@pytest.mark.parametrize(("strides", "padding"), [(2, "same"), (1, "valid"), ((2, 1), "same"), ((1, 2), "valid")])
def test_tucker_conv2d_matches_reconstructed_kernel(strides, padding):
    layer = TuckerConv2D(COUT, (3, 2), RANKS, strides=strides, padding=padding, bias_initializer="random_normal")
    x = _x(size=7)
    out = np.asarray(layer(x))
    assert out.shape == layer.compute_output_shape(x.shape)
    np.testing.assert_allclose(out, _dense_reference(layer, x), atol=1e-5)


def test_layers_sharing_tucker_factors_survive_save_and_reload(tmp_path):
    factors = TuckerFactors(CIN, CIN, RANKS, name="factors")
    inp = keras.Input((6, 6, CIN))
    h = TuckerConv2D(CIN, 3, RANKS, factors=factors, activation="relu", name="a")(inp)
    h = TuckerConv2D(CIN, 3, RANKS, factors=factors, name="b")(h)
    model = keras.Model(inp, h)
    path = str(tmp_path / "tucker.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    x = _x()
    np.testing.assert_allclose(np.asarray(reloaded(x)), np.asarray(model(x)), atol=1e-6)
    for m in (model, reloaded):
        a, b = m.get_layer("a"), m.get_layer("b")
        assert a.factors is b.factors and a.channel_factors is b.channel_factors
        assert len(m.trainable_weights) == 2 + 2 * 2
        assert m.count_params() == CIN * 3 + 2 * CIN + 2 * (9 * 3 * 2 + CIN)


def test_tucker_conv2d_from_conv2d_is_exact_at_full_rank_and_records_the_error():
    rng = np.random.default_rng(2)
    convs = []
    for i in range(2):
        conv = keras.layers.Conv2D(COUT, 3, padding="same", activation="relu", name=f"conv{i}")
        conv.build((None, None, None, CIN))
        conv.set_weights([rng.standard_normal((3, 3, CIN, COUT)).astype("float32"),
                          rng.standard_normal(COUT).astype("float32")])
        convs.append(conv)
    x = _x()
    full = TuckerConv2D.from_conv2d(convs[0], (CIN, COUT))
    assert full.reconstruction_error < 1e-6
    np.testing.assert_allclose(np.asarray(full(x)), np.asarray(convs[0](x)), atol=1e-4)
    a, b = tucker_conv2d_from_conv2d(convs, RANKS)
    assert a.factors is b.factors
    for layer, conv in ((a, convs[0]), (b, convs[1])):
        kernel = conv.kernel.numpy()
        measured = np.linalg.norm(kernel - layer.reconstructed_kernel()) / np.linalg.norm(kernel)
        # recorded in float64 from the HOOI factors; measured here from the float32 weights
        assert layer.reconstruction_error == pytest.approx(measured, rel=1e-3, abs=1e-6)
        assert 0 < layer.reconstruction_error < 1


def test_tucker_conv2d_errors():
    with pytest.raises(TypeError, match=r"`factors` must be a TuckerFactors or None. Received: factors=3"):
        TuckerConv2D(4, 3, 2, factors=3)
    with pytest.raises(ValueError, match=r"must have the layer's `filters` and `ranks`. Received: filters=5, "
                                         r"ranks=\(2, 2\), factors.filters=5, factors.ranks=\(3, 2\)"):
        TuckerConv2D(5, 3, 2, factors=TuckerFactors(6, 5, (3, 2)))
    with pytest.raises(ValueError, match=r"`padding` must be one of same, valid. Received: padding='causal'"):
        TuckerConv2D(5, 3, 2, padding="causal")
    with pytest.raises(ValueError, match=r"made for 6 input channels but the inputs have 4. "
                                         r"Received: input_shape=\(1, 4, 4, 4\)"):
        TuckerConv2D(5, 3, (3, 2), factors=TuckerFactors(6, 5, (3, 2)))(np.zeros((1, 4, 4, 4), "float32"))
    with pytest.raises(ValueError, match=r"Tucker ranks cannot exceed the channel counts. Received: ranks=\(7, 2\), "
                                         r"in_channels=6, filters=5"):
        from edgeshare.layers.factorized import tucker_decompose

        tucker_decompose(np.zeros((3, 3, 6, 5)), (7, 2))
