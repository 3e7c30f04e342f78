"""multitask_digits: one CNN encoder, three tasks on digits: the digit, its parity, and digit > 4.

The parity and digit > 4 tasks share one projection head (MultiTaskModel's shared_heads), each with
its own output layer. Exports as one .tflite with a signature per task plus "all" (signatures="tasks"),
the encoder stored once. Runs on scikit-learn's bundled 8x8 digits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeshare.models import ReferenceModel
from edgeshare.models._data import digit_images, digits_split

TASKS = ("digit", "parity", "above4")


def labels(y: np.ndarray) -> dict[str, np.ndarray]:
    return {"digit": y, "parity": y % 2, "above4": (y > 4).astype(np.int32)}


def build() -> Any:
    import keras

    from edgeshare.layers import MultiTaskModel

    encoder = keras.Sequential([
        keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1"),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
        keras.layers.MaxPooling2D(name="pool1"),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="conv3"),
        keras.layers.GlobalAveragePooling2D(name="pool2"),
        keras.layers.Dense(64, activation="relu", name="features"),
    ], name="encoder")
    shared = keras.layers.Dense(32, activation="relu", name="binary_projection")
    heads = {"digit": keras.layers.Dense(10, name="digit"), "parity": keras.layers.Dense(2, name="parity"),
             "above4": keras.layers.Dense(2, name="above4")}
    image = keras.Input((8, 8, 1), name="image")
    tasks = MultiTaskModel(encoder, heads, shared_heads={"parity": shared, "above4": shared}, name="tasks")
    return keras.Model(image, tasks(image), name="multitask_digits")


def sample_data(n: int) -> list[np.ndarray]:
    return digit_images(n)


def train(model: Any, epochs: int = 15) -> dict[str, float]:
    import keras

    xtr, ytr, xte, yte = digits_split()
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss={t: loss for t in TASKS},
                  metrics={t: ["accuracy"] for t in TASKS})
    model.fit(xtr, labels(ytr), batch_size=64, epochs=epochs, verbose=0)
    pred = model.predict(xte, verbose=0)
    want = labels(yte)
    metrics = {f"{t}_accuracy": float(np.mean(np.argmax(pred[t], -1) == want[t])) for t in TASKS}
    metrics["test_accuracy"] = metrics["digit_accuracy"]
    return metrics


REFERENCE = ReferenceModel(
    name="multitask_digits",
    description="digits, 3 tasks (digit, parity, digit > 4) on one encoder; parity and >4 share a projection",
    families=("multi-task",),
    build=build,
    sample_data=sample_data,
    train=train,
    export_options={"signatures": "tasks"},
)
