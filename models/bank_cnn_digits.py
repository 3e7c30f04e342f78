"""bank_cnn_digits: a digits CNN whose convolutions come from two shared filter banks.

A hard bank (2 templates) serves three layers, two of them on the same template; a soft bank (3
templates) serves six residual layers, each with its own learned mix of the templates (Savarese & Maire
2019). It exports with `bank_export="runtime"`: the soft bank is stored once, 3 kernels' worth of
weights instead of the 6 kernels a materialized export folds (see converters/bank_export.py).
Runs on scikit-learn's bundled 8x8 digits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeshare.models import ReferenceModel
from edgeshare.models._data import digit_images, train_digit_classifier

CHANNELS = 32
HARD_TEMPLATES = (0, 1, 0)  # the template of each hard layer: the first and third share a kernel
SOFT_LAYERS = 6
SOFT_TEMPLATES = 3


def build() -> Any:
    import keras

    from edgeshare.layers import BankConv2D, FilterBank

    hard_bank = FilterBank(2, 3, CHANNELS, name="hard_bank")
    soft_bank = FilterBank(SOFT_TEMPLATES, 3, CHANNELS, name="soft_bank")
    image = keras.Input((8, 8, 1), name="image")
    x = keras.layers.Conv2D(CHANNELS, 3, padding="same", activation="relu", name="stem")(image)
    for i, t in enumerate(HARD_TEMPLATES):
        x = BankConv2D(hard_bank, mixing="hard", template=t, activation="relu", name=f"hard{i}")(x)
    for i in range(SOFT_LAYERS):
        h = BankConv2D(soft_bank, mixing="soft", activation="relu", name=f"soft{i}")(x)
        x = keras.layers.Add(name=f"residual{i}")([x, h])
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    logits = keras.layers.Dense(10, name="classifier")(x)
    return keras.Model(image, logits, name="bank_cnn_digits")


def sample_data(n: int) -> list[np.ndarray]:
    return digit_images(n)


def train(model: Any, epochs: int = 20) -> dict[str, float]:
    return train_digit_classifier(model, epochs, learning_rate=2e-3)


REFERENCE = ReferenceModel(
    name="bank_cnn_digits",
    description="digits CNN: a hard filter bank (3 layers, 2 templates) and a soft bank (6 layers, 3 templates)",
    families=("CNN sharing",),
    build=build,
    sample_data=sample_data,
    train=train,
    export_options={"bank_export": "runtime"},
)
