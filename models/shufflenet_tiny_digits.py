"""shufflenet_tiny_digits: a three-unit ShuffleNet on digits (grouped 1x1 convs with channel shuffle).

Grouped convolutions export natively: one TFLite CONV_2D with a grouped filter, one ONNX Conv with
`group` (see converters/grouped_conv.py for the lowered alternative). Runs on scikit-learn's digits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeshare.models import ReferenceModel
from edgeshare.models._data import digit_images, train_digit_classifier

GROUPS = 3
STEM = 24
WIDTH = 48
BN_MOMENTUM = 0.9  # short runs on 1437 images: 0.99 leaves the moving statistics behind the weights


def build() -> Any:
    import keras

    from edgeshare.layers import ShuffleUnit

    image = keras.Input((8, 8, 1), name="image")
    x = keras.layers.Conv2D(STEM, 3, padding="same", use_bias=False, name="stem")(image)
    x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name="stem_bn")(x)
    x = keras.layers.ReLU(name="stem_relu")(x)
    x = ShuffleUnit(WIDTH, groups=GROUPS, strides=2, bn_momentum=BN_MOMENTUM, name="unit1")(x)  # 8x8x24 -> 4x4x48
    x = ShuffleUnit(WIDTH, groups=GROUPS, bn_momentum=BN_MOMENTUM, name="unit2")(x)
    x = ShuffleUnit(WIDTH, groups=GROUPS, bn_momentum=BN_MOMENTUM, name="unit3")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    logits = keras.layers.Dense(10, name="classifier")(x)
    return keras.Model(image, logits, name="shufflenet_tiny_digits")


def sample_data(n: int) -> list[np.ndarray]:
    return digit_images(n)


def train(model: Any, epochs: int = 12) -> dict[str, float]:
    return train_digit_classifier(model, epochs, learning_rate=3e-3)


REFERENCE = ReferenceModel(
    name="shufflenet_tiny_digits",
    description="digits ShuffleNet: 3 units, grouped (g=3) 1x1 convs, channel shuffle, depthwise 3x3",
    families=("CNN sharing",),
    build=build,
    sample_data=sample_data,
    train=train,
)
