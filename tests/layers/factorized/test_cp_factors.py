import numpy as np
import pytest

from edgeshare.layers import CPFactors
from tests.layer_checks import run_layer_test


def test_cp_factors_shared_checks(tmp_path):
    x = np.random.default_rng(0).standard_normal((2, 4, 4, 6)).astype("float32")
    layer = run_layer_test(
        lambda dtype=None: CPFactors(6, 5, 3, dtype=dtype, name="factors"),
        x,
        expected_num_trainable_weights=2,  # input factor (6, 3) and output factor (3, 5)
        expected_params=6 * 3 + 3 * 5,
        tmp_path=tmp_path,
        train=False,  # calling the factors only reads the input factor; CPConv2D trains both
    )
    np.testing.assert_allclose(np.asarray(layer(x)), x @ layer.input_factor.numpy(), atol=1e-5)


def test_cp_factors_errors():
    with pytest.raises(ValueError, match=r"`rank` must be a positive integer. Received: rank=0"):
        CPFactors(4, 4, 0)
    with pytest.raises(ValueError, match=r"`in_channels` must be a positive integer. Received: in_channels=None"):
        CPFactors(None, 4, 2)
