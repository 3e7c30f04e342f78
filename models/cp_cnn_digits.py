"""cp_cnn_digits: a digits CNN of tensor-decomposed convolutions with shared factors.

Three CP convolutions (rank 16) share one CPFactors (input and output channel factors); two Tucker-2
convolutions (ranks 12, 12) share one TuckerFactors. Each layer keeps its own small spatial factors or
core. Runs on scikit-learn's bundled 8x8 digits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeshare.models import ReferenceModel
from edgeshare.models._data import digit_images, train_digit_classifier

CHANNELS = 32
CP_RANK = 16
CP_LAYERS = 3
TUCKER_RANKS = (12, 12)
TUCKER_LAYERS = 2


def build() -> Any:
    import keras

    from edgeshare.layers import CPConv2D, CPFactors, TuckerConv2D, TuckerFactors

    cp = CPFactors(CHANNELS, CHANNELS, CP_RANK, name="cp_factors")
    tucker = TuckerFactors(CHANNELS, CHANNELS, TUCKER_RANKS, name="tucker_factors")
    image = keras.Input((8, 8, 1), name="image")
    x = keras.layers.Conv2D(CHANNELS, 3, padding="same", activation="relu", name="stem")(image)
    for i in range(CP_LAYERS):
        h = CPConv2D(CHANNELS, 3, CP_RANK, factors=cp, activation="relu", name=f"cp{i}")(x)
        x = keras.layers.Add(name=f"cp_residual{i}")([x, h])
    for i in range(TUCKER_LAYERS):
        h = TuckerConv2D(CHANNELS, 3, TUCKER_RANKS, factors=tucker, activation="relu", name=f"tucker{i}")(x)
        x = keras.layers.Add(name=f"tucker_residual{i}")([x, h])
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    logits = keras.layers.Dense(10, name="classifier")(x)
    return keras.Model(image, logits, name="cp_cnn_digits")


def sample_data(n: int) -> list[np.ndarray]:
    return digit_images(n)


def train(model: Any, epochs: int = 15) -> dict[str, float]:
    return train_digit_classifier(model, epochs, learning_rate=2e-3)


REFERENCE = ReferenceModel(
    name="cp_cnn_digits",
    description="digits CNN: 3 CP convs (rank 16) sharing channel factors, 2 Tucker-2 convs sharing factors",
    families=("factorized sharing",),
    build=build,
    sample_data=sample_data,
    train=train,
)
