"""shared_cnn: one Conv2D applied three times (hard weight reuse), plus a grouped convolution.

Runs on scikit-learn's bundled 8x8 digits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeshare.models import ReferenceModel
from edgeshare.models._data import digit_images, train_digit_classifier

CHANNELS = 12
GROUPS = 3
REUSE = 3


def build() -> Any:
    import keras

    image = keras.Input((8, 8, 1), name="image")
    x = keras.layers.Conv2D(CHANNELS, 3, padding="same", activation="relu", name="stem")(image)
    shared = keras.layers.Conv2D(CHANNELS, 3, padding="same", activation="relu", name="shared_conv")
    for i in range(REUSE):
        x = keras.layers.Add(name=f"reuse{i}")([x, shared(x)])  # the same kernel at three depths
    x = keras.layers.Conv2D(CHANNELS, 3, padding="same", groups=GROUPS, activation="relu", name="grouped_conv")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    logits = keras.layers.Dense(10, name="classifier")(x)
    return keras.Model(image, logits, name="shared_cnn")


def sample_data(n: int) -> list[np.ndarray]:
    return digit_images(n)


def train(model: Any, epochs: int = 3) -> dict[str, float]:
    return train_digit_classifier(model, epochs, learning_rate=3e-3)


REFERENCE = ReferenceModel(
    name="shared_cnn",
    description="digits CNN: one Conv2D reused 3x, a grouped Conv2D(groups=3)",
    families=("CNN sharing",),
    build=build,
    sample_data=sample_data,
    train=train,
)
