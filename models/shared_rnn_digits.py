"""shared_rnn_digits: each 8x8 digit read as 8 time steps of 8 features by a stacked GRU whose layers
above the first share one cell (SharedStackedRNN, share="above_first").

Unrolled (8 fixed steps) so that it exports everywhere: the rolled form's WHILE loop crashes the int8
converter and its ONNX Loop is rejected by onnxruntime (TF 2.21, tf2onnx 1.17; see BENCHMARKS.md).
GRU rather than LSTM: in int8, TFLite requantizes a fused LSTM gate bias for each layer that shares it
(an int32 bias must sit at input scale x weight scale), which an LSTM stack stores more than once.
Runs on scikit-learn's bundled 8x8 digits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeshare.models import ReferenceModel
from edgeshare.models._data import digit_images, train_digit_classifier

UNITS = 64
LAYERS = 4
CELL = "gru"


def build(cell: str = CELL, unroll: bool = True) -> Any:
    import keras

    from edgeshare.layers import SharedStackedRNN

    image = keras.Input((8, 8, 1), name="image")
    rows = keras.layers.Reshape((8, 8), name="rows")(image)  # (batch, 8 steps, 8 features)
    h = SharedStackedRNN(UNITS, LAYERS, cell=cell, share="above_first", unroll=unroll, name="rnn")(rows)
    logits = keras.layers.Dense(10, name="classifier")(h)
    return keras.Model(image, logits, name=f"shared_rnn_digits{'' if cell == CELL else '_' + cell}")


def sample_data(n: int) -> list[np.ndarray]:
    return digit_images(n)


def train(model: Any, epochs: int = 15) -> dict[str, float]:
    return train_digit_classifier(model, epochs, learning_rate=3e-3)


REFERENCE = ReferenceModel(
    name="shared_rnn_digits",
    description="digits as 8 steps x 8 features: 4 stacked GRU layers, layers 1-3 share one cell, unrolled",
    families=("recurrent sharing",),
    build=build,
    sample_data=sample_data,
    train=train,
)
