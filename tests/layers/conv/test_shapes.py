"""The conv shape helpers against Keras' own convolutions."""

import itertools

import keras
import numpy as np
import pytest

from edgeshare.layers.conv.shapes import conv2d_output_shape, conv_output_length, same_padding

GRID = list(itertools.product((5, 6, 7, 8), (1, 2, 3, 4), (1, 2, 3)))  # size, kernel, stride


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_output_shape_is_keras_conv2d_shape(padding):
    for size, kernel, stride in GRID:
        conv = keras.layers.Conv2D(3, (kernel, 1), strides=(stride, 1), padding=padding)
        want = conv.compute_output_shape((2, size, 4, 5))
        got = conv2d_output_shape((2, size, 4, 5), (kernel, 1), (stride, 1), padding, 3)
        assert got == want, (size, kernel, stride)
    assert conv_output_length(None, 3, 2, "same") is None


def test_same_padding_is_what_keras_pads():
    """conv("same") equals conv("valid") of the input padded with `same_padding`, in both axes."""
    rng = np.random.default_rng(0)
    for size, kernel, stride in GRID:
        x = rng.standard_normal((1, size, size + 1, 2)).astype("float32")
        k = rng.standard_normal((kernel, kernel, 2, 1)).astype("float32")
        pads = ((0, 0), same_padding(size, kernel, stride), same_padding(size + 1, kernel, stride), (0, 0))
        same = keras.ops.conv(x, k, stride, "same")
        padded = keras.ops.conv(keras.ops.pad(x, pads), k, stride, "valid")
        np.testing.assert_allclose(np.asarray(padded), np.asarray(same), atol=1e-5, err_msg=str((size, kernel, stride)))
