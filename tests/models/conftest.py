"""The tests here start from `keras.utils.set_random_seed(0)` too (see tests/layers/conftest.py)."""

from tests.layers.conftest import _keras_seed  # noqa: F401 (an autouse fixture, registered by importing it)
