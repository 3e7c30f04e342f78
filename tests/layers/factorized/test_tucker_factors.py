import numpy as np
import pytest

from edgeshare.layers import TuckerFactors
from tests.layer_checks import run_layer_test


def test_tucker_factors_shared_checks(tmp_path):
    x = np.random.default_rng(0).standard_normal((2, 4, 4, 6)).astype("float32")
    layer = run_layer_test(
        lambda dtype=None: TuckerFactors(6, 5, (3, 2), dtype=dtype, name="factors"),
        x,
        expected_num_trainable_weights=2,  # input factor (6, 3) and output factor (2, 5)
        expected_params=6 * 3 + 2 * 5,
        tmp_path=tmp_path,
        train=False,  # calling the factors only reads the input factor; TuckerConv2D trains both
    )
    np.testing.assert_allclose(np.asarray(layer(x)), x @ layer.input_factor.numpy(), atol=1e-5)


def test_tucker_factors_errors():
    with pytest.raises(ValueError, match=r"`ranks` must be a positive integer or a pair of positive integers. "
                                         r"Received: ranks=\(2, 0\)"):
        TuckerFactors(4, 4, (2, 0))
    with pytest.raises(ValueError, match=r"`filters` must be a positive integer. Received: filters=0"):
        TuckerFactors(4, 0, 2)
