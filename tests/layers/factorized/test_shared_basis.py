import numpy as np
import pytest

from edgeshare.layers import SharedBasis
from tests.layer_checks import run_layer_test


def test_shared_basis_shared_checks_and_numerics(tmp_path):
    x = np.random.default_rng(0).standard_normal((3, 5, 16)).astype("float32")
    layer = run_layer_test(
        lambda dtype=None: SharedBasis(4, dtype=dtype, name="basis"),
        x,
        expected_num_trainable_weights=1,
        expected_params=16 * 4,  # B: (input_dim, rank)
        tmp_path=tmp_path,
    )
    np.testing.assert_allclose(np.asarray(layer(x)), x.astype("float64") @ layer.basis.numpy(), atol=1e-5)


def test_shared_basis_rejects_bad_rank():
    with pytest.raises(ValueError, match=r"`rank` must be a positive integer. Received: rank=0"):
        SharedBasis(0)
