import numpy as np
import pytest

from edgeshare.layers import FilterBank
from tests.layer_checks import run_layer_test

T, K, C = 3, 3, 4


def test_filter_bank_shared_checks(tmp_path):
    x = np.random.default_rng(0).standard_normal((2, 6, 6, C)).astype("float32")
    layer = run_layer_test(
        lambda dtype=None: FilterBank(T, K, C, dtype=dtype, name="bank"),
        x,
        expected_num_trainable_weights=1,
        expected_params=T * K * K * C * C,  # one (T, kh, kw, C, C) template tensor
        check_sharing=lambda bank: _assert_one_variable(bank),
        tmp_path=tmp_path,
    )
    # Numerics: response [..., t, :] is the 'same' convolution with template t (NumPy reference).
    out = np.asarray(layer(x))
    templates = layer.templates.numpy()
    for t in range(T):
        np.testing.assert_allclose(out[..., t, :], conv2d_same(x, templates[t]), atol=1e-5)


def _assert_one_variable(bank):
    assert bank.trainable_weights[0] is bank.templates


def conv2d_same(x, kernel, stride=1):
    """NumPy reference: NHWC 'same' convolution with an HWIO kernel (TF's padding split)."""
    kh, kw = kernel.shape[:2]
    n, h, w, _ = x.shape
    oh, ow = -(-h // stride), -(-w // stride)
    ph = max((oh - 1) * stride + kh - h, 0)
    pw = max((ow - 1) * stride + kw - w, 0)
    xp = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    out = np.zeros((n, oh, ow, kernel.shape[3]), np.float64)
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, i : i + (oh - 1) * stride + 1 : stride, j : j + (ow - 1) * stride + 1 : stride, :]
            out += patch @ kernel[i, j]
    return out


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_templates": 0}, r"`num_templates` must be a positive integer. Received: num_templates=0"),
        ({"channels": -2}, r"`channels` must be a positive integer. Received: channels=-2"),
        ({"kernel_size": (3, 0)}, r"`kernel_size` must be a positive integer or a pair of positive integers. "
         r"Received: kernel_size=\(3, 0\)"),
    ],
)
def test_filter_bank_rejects_bad_arguments(kwargs, message):
    args = {"num_templates": T, "kernel_size": K, "channels": C, **kwargs}
    with pytest.raises(ValueError, match=message):
        FilterBank(**args)
