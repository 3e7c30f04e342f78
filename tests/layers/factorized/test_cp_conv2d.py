import keras
import numpy as np
import pytest

from edgeshare.layers import CPConv2D, CPFactors
from edgeshare.layers.factorized import cp_conv2d_from_conv2d
from tests.layer_checks import run_layer_test

CIN, COUT, R = 6, 5, 4


def _x(size=6, n=2):
    return np.random.default_rng(0).standard_normal((n, size, size, CIN)).astype("float32")


def _dense_reference(layer, x):
    """The unshared equivalent: one Conv2D with the reconstructed dense kernel."""
    conv = keras.layers.Conv2D(layer.filters, layer.kernel_size, strides=layer.strides, padding=layer.padding,
                               activation=layer.activation)
    conv.build((None, None, None, CIN))
    conv.set_weights([layer.reconstructed_kernel(), layer.bias.numpy()])
    return np.asarray(conv(x))


@pytest.mark.parametrize("shared", [False, True])
def test_cp_conv2d_shared_checks(tmp_path, shared):
    x = _x()

    def make(dtype=None):
        factors = CPFactors(CIN, COUT, R, dtype=dtype, name="shared_factors") if shared else None
        return CPConv2D(COUT, (3, 2), R, factors=factors, activation="relu", dtype=dtype, name="cp")

    def check(layer):
        stored = next(v for v in layer.trainable_weights if "input_factor" in v.path)
        assert layer.channel_factors.input_factor is stored
        if shared:
            assert layer.channel_factors is layer.factors

    layer = run_layer_test(
        make,
        x,
        expected_num_trainable_weights=5,  # input and output factors, height and width factors, bias
        expected_params=R * (CIN + COUT + 3 + 2) + COUT,
        check_sharing=check,
        tmp_path=tmp_path,
    )
    np.testing.assert_allclose(np.asarray(layer(x)), _dense_reference(layer, x), atol=1e-5)


@pytest.mark.parametrize(
    ("kernel_size", "strides", "padding"),
    [
        # (2, 2) and (2, 1) strides once failed on TensorFlow's CPU depthwise kernel without oneDNN (equal strides
        # only; `make test` runs this file with TF_ENABLE_ONEDNN_OPTS=0 too). Each path of CPConv2D.call:
        (3, 1, "valid"),  # two stride-1 passes
        (3, 2, "same"),  # one fused (3, 3) pass at stride 2
        (3, 2, "valid"),
        ((3, 2), 3, "same"),
        (7, 2, "same"),  # a stride-1 pass, then a strided one (fewer taps than a fused 7x7)
        (7, 2, "valid"),
        (3, (2, 1), "same"),  # unequal strides: the last 1x1 convolution samples
        (3, (2, 1), "valid"),
        ((3, 1), (1, 2), "same"),
        ((1, 3), (3, 2), "same"),  # a 1-tap axis with a stride above the kernel: "same" pads nothing there
    ],
)
@pytest.mark.parametrize("size", [(9, 9), (10, 12)])  # "same" pads odd and even sizes differently
def test_cp_conv2d_matches_the_conv2d_of_its_kernel(kernel_size, strides, padding, size):
    layer = CPConv2D(COUT, kernel_size, R, strides=strides, padding=padding, bias_initializer="random_normal")
    x = np.random.default_rng(3).standard_normal((2, *size, CIN)).astype("float32")
    out = np.asarray(layer(x))
    assert out.shape == layer.compute_output_shape(x.shape)
    np.testing.assert_allclose(out, _dense_reference(layer, x), atol=1e-5)


@pytest.mark.parametrize("strides", [(2, 2), (2, 1)])
def test_strided_cp_conv2d_shared_checks(tmp_path, strides):
    """The shared checks (with a training step, so the gradients too) at strides that need equal-stride kernels."""
    x = _x(size=7)
    layer = run_layer_test(
        lambda dtype=None: CPConv2D(COUT, 3, R, strides=strides, activation="relu", dtype=dtype, name="cp"),
        x,
        expected_num_trainable_weights=5,
        expected_params=R * (CIN + COUT + 3 + 3) + COUT,
        tmp_path=tmp_path,
    )
    np.testing.assert_allclose(np.asarray(layer(x)), _dense_reference(layer, x), atol=1e-5)


@pytest.mark.parametrize(("kernel_size", "strides"), [(3, (2, 2)), (7, (2, 2)), (3, (2, 1))])
def test_cp_conv2d_with_unknown_spatial_size(kernel_size, strides):
    """"same" padding computed from the runtime size: one functional model, inputs of several sizes."""
    inp = keras.Input((None, None, CIN))
    layer = CPConv2D(COUT, kernel_size, R, strides=strides, bias_initializer="random_normal")
    model = keras.Model(inp, layer(inp))
    for size in (7, 8, 11):
        x = _x(size=size, n=1)
        np.testing.assert_allclose(np.asarray(model(x)), _dense_reference(layer, x), atol=1e-5)


def test_layers_sharing_cp_factors_survive_save_and_reload(tmp_path):
    factors = CPFactors(CIN, CIN, R, name="factors")
    inp = keras.Input((6, 6, CIN))
    h = CPConv2D(CIN, 3, R, factors=factors, activation="relu", name="a")(inp)
    h = CPConv2D(CIN, 3, R, factors=factors, name="b")(h)
    model = keras.Model(inp, h)
    path = str(tmp_path / "cp.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    x = _x()
    np.testing.assert_allclose(np.asarray(reloaded(x)), np.asarray(model(x)), atol=1e-6)
    for m in (model, reloaded):
        a, b = m.get_layer("a"), m.get_layer("b")
        assert a.factors is b.factors and a.channel_factors is b.channel_factors
        assert len(m.trainable_weights) == 2 + 2 * 3  # shared I, O; per layer H, W, bias
        assert m.count_params() == R * (CIN + CIN) + 2 * (R * (3 + 3) + CIN)


def test_cp_conv2d_from_conv2d_records_the_reconstruction_error():
    rng = np.random.default_rng(1)
    convs = []
    for i in range(2):
        conv = keras.layers.Conv2D(COUT, 3, padding="same", name=f"conv{i}")
        conv.build((None, None, None, CIN))
        conv.set_weights([rng.standard_normal((3, 3, CIN, COUT)).astype("float32"),
                          rng.standard_normal(COUT).astype("float32")])
        convs.append(conv)
    low, high = cp_conv2d_from_conv2d(convs[:1], 2)[0], cp_conv2d_from_conv2d(convs[:1], 8)[0]
    for layer in (low, high):
        kernel = convs[0].kernel.numpy()
        measured = np.linalg.norm(kernel - layer.reconstructed_kernel()) / np.linalg.norm(kernel)
        # recorded in float64 from the ALS factors; measured here from the float32 weights
        assert layer.reconstruction_error == pytest.approx(measured, rel=1e-3, abs=1e-6)
    assert 0 < high.reconstruction_error < low.reconstruction_error < 1
    # Jointly: both layers share one CPFactors and keep their own bias.
    a, b = cp_conv2d_from_conv2d(convs, 24)
    assert a.factors is b.factors
    np.testing.assert_array_equal(b.bias.numpy(), convs[1].bias.numpy())
    x = _x()
    np.testing.assert_allclose(np.asarray(b(x)), _dense_reference(b, x), atol=1e-4)


def test_factors_of_one_shape_start_different():
    """Keras 3 reuses an unseeded initializer's seed: each factor must get its own draw."""
    layer = CPConv2D(COUT, 3, R)
    layer.build((None, 6, 6, COUT))  # square factors: in_channels == filters
    assert not np.allclose(layer.height_factor.numpy(), layer.width_factor.numpy())
    f = layer.channel_factors
    assert not np.allclose(f.input_factor.numpy().reshape(-1), f.output_factor.numpy().reshape(-1))


def test_cp_conv2d_errors():
    with pytest.raises(ValueError, match=r"`rank` must be a positive integer. Received: rank=0"):
        CPConv2D(4, 3, 0)
    with pytest.raises(TypeError, match=r"`factors` must be a CPFactors or None. Received: factors='f'"):
        CPConv2D(4, 3, 2, factors="f")
    with pytest.raises(ValueError, match=r"must have the layer's `filters` and `rank`. Received: filters=4, rank=2, "
                                         r"factors.filters=5, factors.rank=2"):
        CPConv2D(4, 3, 2, factors=CPFactors(6, 5, 2))
    with pytest.raises(ValueError, match=r"made for 6 input channels but the inputs have 3. "
                                         r"Received: input_shape=\(1, 4, 4, 3\)"):
        CPConv2D(5, 3, 2, factors=CPFactors(6, 5, 2))(np.zeros((1, 4, 4, 3), "float32"))
    with pytest.raises(ValueError, match=r"`padding` must be one of same, valid. Received: padding='full'"):
        CPConv2D(4, 3, 2, padding="full")
    with pytest.raises(ValueError, match=r"`filters` must be a positive integer. Received: filters=0"):
        CPConv2D(0, 3, 2)
    a, b = keras.layers.Conv2D(4, 3), keras.layers.Conv2D(4, 5)
    a.build((None, None, None, 3))
    b.build((None, None, None, 3))
    with pytest.raises(ValueError, match=r"must have one kernel shape. "
                                         r"Received: shapes=\[\(3, 3, 3, 4\), \(5, 5, 3, 4\)\]"):
        cp_conv2d_from_conv2d([a, b], 2)
    grouped = keras.layers.Conv2D(4, 3, groups=2)
    grouped.build((None, None, None, 4))
    with pytest.raises(ValueError, match=r"Only dense \(groups=1\), undilated, channels_last convolutions can be "
                                         r"decomposed. Received: groups=2"):
        cp_conv2d_from_conv2d(grouped, 2)
    with pytest.raises(TypeError, match=r"`convs` must be built keras.layers.Conv2D layers. Received: conv="):
        cp_conv2d_from_conv2d(keras.layers.Dense(3), 2)
