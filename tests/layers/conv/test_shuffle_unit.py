import numpy as np
import pytest

from edgeshare.layers import ShuffleUnit
from tests.layer_checks import run_layer_test
from tests.layers.conv.test_channel_shuffle import numpy_shuffle

G = 3


def _bn(x, layer):
    gamma, beta, mean, var = (w.numpy() for w in (layer.gamma, layer.beta, layer.moving_mean, layer.moving_variance))
    return (x - mean) / np.sqrt(var + layer.epsilon) * gamma + beta


def _grouped_1x1(x, kernel, groups):
    """Reference grouped 1x1 conv: each group of inputs through its own block of the kernel."""
    cin, cout = x.shape[-1], kernel.shape[-1]
    i, o = cin // groups, cout // groups
    return np.concatenate(
        [x[..., g * i : (g + 1) * i] @ kernel[0, 0, :, g * o : (g + 1) * o] for g in range(groups)], axis=-1
    )


def _depthwise_same(x, kernel, stride):
    n, h, w, c = x.shape
    oh, ow = -(-h // stride), -(-w // stride)
    ph, pw = max((oh - 1) * stride + 3 - h, 0), max((ow - 1) * stride + 3 - w, 0)
    xp = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    out = np.zeros((n, oh, ow, c))
    for i in range(3):
        for j in range(3):
            patch = xp[:, i : i + (oh - 1) * stride + 1 : stride, j : j + (ow - 1) * stride + 1 : stride]
            out += patch * kernel[i, j, :, 0]
    return out


def _avg_pool_same(x):
    """3x3 stride-2 'same' average pool that, like TF, averages over the valid (unpadded) cells only."""
    n, h, w, c = x.shape
    oh, ow = -(-h // 2), -(-w // 2)
    ph, pw = max((oh - 1) * 2 + 3 - h, 0), max((ow - 1) * 2 + 3 - w, 0)
    xp = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    ones = np.pad(np.ones((1, h, w, 1)), ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    total = np.zeros((n, oh, ow, c))
    count = np.zeros((1, oh, ow, 1))
    for i in range(3):
        for j in range(3):
            total += xp[:, i : i + (oh - 1) * 2 + 1 : 2, j : j + (ow - 1) * 2 + 1 : 2]
            count += ones[:, i : i + (oh - 1) * 2 + 1 : 2, j : j + (ow - 1) * 2 + 1 : 2]
    return total / count


def numpy_shuffle_unit(unit, x):
    """NumPy reference of the unit in inference mode, from the layer's own weights."""
    h = np.maximum(_bn(_grouped_1x1(x, unit.group_conv1.kernel.numpy(), G), unit.bn1), 0)
    h = numpy_shuffle(h, G)
    h = _bn(_depthwise_same(h, unit.depthwise.kernel.numpy(), unit.strides), unit.bn2)
    h = _bn(_grouped_1x1(h, unit.group_conv2.kernel.numpy(), G), unit.bn3)
    if unit.strides == 1:
        return np.maximum(x + h, 0)
    return np.maximum(np.concatenate([_avg_pool_same(x), h], axis=-1), 0)


def _params(cin, bottleneck, branch):
    # grouped 1x1 kernels hold 1/G of a dense kernel; BN holds 4 numbers per channel (2 trainable)
    return cin * bottleneck // G + 9 * bottleneck + bottleneck * branch // G + 4 * (2 * bottleneck + branch)


@pytest.mark.parametrize(("strides", "cin", "filters", "bottleneck", "branch"), [(1, 12, 12, 3, 12), (2, 6, 18, 3, 12)])
def test_shuffle_unit_shared_checks(tmp_path, strides, cin, filters, bottleneck, branch):
    x = np.random.default_rng(0).standard_normal((2, 5, 5, cin)).astype("float32")
    unit = run_layer_test(
        lambda dtype=None: ShuffleUnit(filters, groups=G, strides=strides, dtype=dtype, name="unit"),
        x,
        # 3 conv kernels (no bias: batch norm follows) + gamma and beta of 3 batch norms
        expected_num_trainable_weights=9,
        expected_params=_params(cin, bottleneck, branch),
        check_sharing=lambda u: _assert_grouped(u, cin, bottleneck, branch),
        tmp_path=tmp_path,
        atol=1e-5,
    )
    np.testing.assert_allclose(np.asarray(unit(x, training=False)), numpy_shuffle_unit(unit, x), atol=1e-4)


def _assert_grouped(unit, cin, bottleneck, branch):
    # A grouped conv stores (1, 1, in / groups, out): each filter reads only its own input group.
    assert tuple(unit.group_conv1.kernel.shape) == (1, 1, cin // G, bottleneck)
    assert tuple(unit.group_conv2.kernel.shape) == (1, 1, bottleneck // G, branch)
    assert unit.group_conv1.groups == unit.group_conv2.groups == G


def test_shuffle_unit_errors():
    with pytest.raises(ValueError, match=r"`strides` must be one of 1, 2. Received: strides=3"):
        ShuffleUnit(12, strides=3)
    with pytest.raises(ValueError, match=r"`groups` must be a positive integer. Received: groups=0"):
        ShuffleUnit(12, groups=0)
    with pytest.raises(ValueError, match=r"`filters` must be a positive integer. Received: filters=1.5"):
        ShuffleUnit(1.5)
    with pytest.raises(ValueError, match=r"`bottleneck_ratio` must be in \(0, 1\]. Received: bottleneck_ratio=0"):
        ShuffleUnit(12, bottleneck_ratio=0)
    with pytest.raises(ValueError, match=r"`bn_momentum` must be in \[0, 1\). Received: bn_momentum=1"):
        ShuffleUnit(12, bn_momentum=1)
    with pytest.raises(ValueError, match=r"must equal the input channels. Received: filters=12, input_channels=6"):
        ShuffleUnit(12)(np.zeros((1, 4, 4, 6), "float32"))
    with pytest.raises(ValueError, match=r"must exceed the input channels. Received: filters=6, input_channels=6"):
        ShuffleUnit(6, strides=2)(np.zeros((1, 4, 4, 6), "float32"))
    with pytest.raises(ValueError, match=r"by `groups`. Received: input_channels=8, branch_filters=8, groups=3"):
        ShuffleUnit(8)(np.zeros((1, 4, 4, 8), "float32"))
