import numpy as np
import pytest

from edgeshare.layers import FeedForward
from tests.layer_checks import run_layer_test
from tests.layers import reference


@pytest.mark.parametrize("gated", [False, True])
def test_feed_forward_shared_checks_and_numerics(tmp_path, gated):
    x = np.random.default_rng(0).standard_normal((3, 5, 8)).astype("float32")
    layer = run_layer_test(
        lambda dtype=None: FeedForward(
            16, activation="silu" if gated else "gelu", gated=gated, dtype=dtype, name="ffn"
        ),
        x,
        expected_num_trainable_weights=6 if gated else 4,
        # up (8x16 + 16), [gate (8x16 + 16)], down (16x8 + 8)
        expected_params=(8 * 16 + 16) * (2 if gated else 1) + 16 * 8 + 8,
        tmp_path=tmp_path,
    )
    # float32 Keras against float64 NumPy: 1e-5 covers the float32 rounding of two small matmuls.
    np.testing.assert_allclose(np.asarray(layer(x)), reference.feed_forward(x.astype("float64"), layer), atol=1e-5)


def test_feed_forward_output_dim():
    layer = FeedForward(16, output_dim=4)
    assert tuple(layer(np.zeros((2, 3, 8), "float32")).shape) == (2, 3, 4)
    assert layer.compute_output_shape((2, 3, 8)) == (2, 3, 4)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"hidden_dim": 0}, r"`hidden_dim` must be a positive integer. Received: hidden_dim=0"),
        ({"hidden_dim": 8, "output_dim": -1},
         r"`output_dim` must be a positive integer or None. Received: output_dim=-1"),
        ({"hidden_dim": 8, "dropout": 1.0}, r"`dropout` must be in \[0, 1\). Received: dropout=1.0"),
    ],
)
def test_feed_forward_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FeedForward(**kwargs)
