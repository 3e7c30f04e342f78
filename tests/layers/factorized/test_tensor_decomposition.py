import numpy as np
import pytest

from edgeshare.layers.factorized import cp_decompose, tucker_decompose


def test_cp_recovers_an_exact_low_rank_pair_with_shared_channel_factors():
    rng = np.random.default_rng(0)
    r = 3
    c, d = rng.standard_normal((8, r)), rng.standard_normal((6, r))
    kernels = [np.einsum("hr,wr,ir,or->hwio", rng.standard_normal((3, r)), rng.standard_normal((3, r)), c, d)
               for _ in range(2)]
    dec = cp_decompose(kernels, r)
    assert max(dec.relative_errors) < 1e-4
    for i, k in enumerate(kernels):
        np.testing.assert_allclose(dec.kernel(i), k, atol=1e-3 * np.abs(k).max())


def test_cp_error_falls_with_rank_on_a_random_kernel():
    k = np.random.default_rng(1).standard_normal((3, 3, 8, 8))
    errors = [cp_decompose(k, r, max_iter=200).relative_errors[0] for r in (1, 4, 16)]
    assert errors[0] > errors[1] > errors[2] > 0


def test_tucker_is_exact_when_the_ranks_cover_the_kernels():
    rng = np.random.default_rng(2)
    u, v = np.linalg.qr(rng.standard_normal((8, 3)))[0], np.linalg.qr(rng.standard_normal((6, 2)))[0]
    kernels = [np.einsum("ir,hwrs,os->hwio", u, rng.standard_normal((3, 3, 3, 2)), v) for _ in range(3)]
    dec = tucker_decompose(kernels, (3, 2))
    assert max(dec.relative_errors) < 1e-6
    np.testing.assert_allclose(dec.input_factor.T @ dec.input_factor, np.eye(3), atol=1e-5)  # orthonormal
    np.testing.assert_allclose(dec.kernel(2), kernels[2], atol=1e-5)


def test_decomposition_errors():
    with pytest.raises(ValueError, match=r"`kernels` must be 4-D \(kh, kw, in_channels, filters\) arrays of one "
                                         r"shape. Received: shapes=\[\(3, 3, 4\)\]"):
        cp_decompose(np.zeros((3, 3, 4)), 2)
    with pytest.raises(ValueError, match=r"`kernels` must hold at least one kernel. Received: kernels=\[\]"):
        tucker_decompose([], 2)
    with pytest.raises(ValueError, match=r"`rank` must be a positive integer. Received: rank=0"):
        cp_decompose(np.zeros((3, 3, 4, 4)), 0)
