import numpy as np
import pytest

from edgeshare.layers import ChannelShuffle
from tests.layer_checks import run_layer_test


def numpy_shuffle(x, groups):
    """Reference: output channel j * groups + g is input channel g * (channels // groups) + j."""
    c = x.shape[-1]
    per = c // groups
    out = np.empty_like(x)
    for g in range(groups):
        for j in range(per):
            out[..., j * groups + g] = x[..., g * per + j]
    return out


def test_channel_shuffle_shared_checks(tmp_path):
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 12)).astype("float32")
    layer = run_layer_test(
        lambda dtype=None: ChannelShuffle(3, dtype=dtype, name="shuffle"),
        x,
        expected_num_trainable_weights=0,  # a fixed permutation
        expected_params=0,
        tmp_path=tmp_path,
        train=False,  # nothing to train; the helper's step asserts every variable moves
    )
    np.testing.assert_array_equal(np.asarray(layer(x)), numpy_shuffle(x, 3))


def test_channel_shuffle_is_a_permutation_undone_by_the_transposed_shuffle():
    x = np.arange(24, dtype="float32").reshape(1, 1, 2, 12)
    # Shuffling with g groups, then with channels/g groups, restores the order.
    once = np.asarray(ChannelShuffle(3)(x))
    assert sorted(once.reshape(-1).tolist()) == sorted(x.reshape(-1).tolist())
    np.testing.assert_array_equal(np.asarray(ChannelShuffle(4)(once)), x)


def test_channel_shuffle_errors():
    with pytest.raises(ValueError, match=r"`groups` must be a positive integer. Received: groups=0"):
        ChannelShuffle(0)
    with pytest.raises(ValueError, match=r"must be divisible by `groups`. Received: channels=10, groups=3"):
        ChannelShuffle(3)(np.zeros((1, 2, 2, 10), "float32"))
    with pytest.raises(ValueError, match=r"expects 4-D inputs .* Received: input_shape=\(1, 2, 12\)"):
        ChannelShuffle(3)(np.zeros((1, 2, 12), "float32"))
