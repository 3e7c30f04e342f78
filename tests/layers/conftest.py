"""Every test here starts from `keras.utils.set_random_seed(0)`: Python, NumPy and TensorFlow seeded, so each
weight initialization, dropout mask and data shuffle is the same on every run and machine."""

import pytest


@pytest.fixture(autouse=True)
def _keras_seed() -> None:
    import keras

    keras.utils.set_random_seed(0)
