"""Training and float evaluation of the study's models, with Keras only (so on any backend)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeshare.study import digits_techniques as dt
from edgeshare.study.config import DigitsSize, TextSize
from edgeshare.study.corpus import random_windows
from edgeshare.study.metrics import accuracy, bits_per_byte


@dataclass
class DigitsData:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @staticmethod
    def load() -> DigitsData:
        """scikit-learn's bundled digits, the reference models' fixed 80/20 split (1437 / 360 images)."""
        from edgeshare.models._data import digits_split

        return DigitsData(*digits_split())


@dataclass
class TextData:
    train: np.ndarray  # uint8 bytes
    eval_windows: np.ndarray  # (n, seq_len + 1) int32 test windows


def _classifier_loss() -> Any:
    import keras

    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def train_digits(models: dict[str, Any], size: DigitsSize, data: DigitsData, epochs: int | None = None) -> float:
    """Train the technique's model(s) on the training split; returns the seconds it took."""
    import keras

    started = time.perf_counter()
    want = dt.labels(data.y_train)
    for key, model in models.items():
        if key == "tasks":
            loss: Any = {t: _classifier_loss() for t in dt.TASKS}
            y: Any = want
        else:
            loss, y = _classifier_loss(), want[key]
        model.compile(optimizer=keras.optimizers.Adam(size.learning_rate), loss=loss)
        model.fit(data.x_train, y, batch_size=size.batch_size, epochs=epochs or size.epochs, verbose=0)
    return time.perf_counter() - started


def digits_outputs(models: dict[str, Any], x: np.ndarray) -> dict[str, np.ndarray]:
    """Keras logits for every task the model(s) answer."""
    out: dict[str, np.ndarray] = {}
    for key, model in models.items():
        pred = model.predict(x, batch_size=256, verbose=0)
        if isinstance(pred, dict):
            out.update({t: np.asarray(v) for t, v in pred.items()})
        else:
            out[key] = np.asarray(pred)
    return out


def digits_accuracies(outputs: dict[str, np.ndarray], y: np.ndarray) -> dict[str, float]:
    want = dt.labels(y)
    return {t: accuracy(v, want[t]) for t, v in outputs.items()}


def text_optimizer(size: TextSize, steps: int, learning_rate: float | None = None) -> Any:
    """Adam with a linear warm-up over the first 10% of the steps and a cosine decay, clipped at norm 1."""
    import keras

    lr = learning_rate or size.learning_rate
    warmup = max(1, steps // 10)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=max(1, steps - warmup), warmup_target=lr, warmup_steps=warmup, alpha=0.1
    )
    return keras.optimizers.Adam(schedule, clipnorm=1.0)


def train_text(model: Any, size: TextSize, data: TextData, seed: int, steps: int | None = None,
               learning_rate: float | None = None) -> float:
    """Next-byte training on random training windows (seeded by `seed`); returns the seconds it took."""
    import keras

    steps = steps or size.steps
    started = time.perf_counter()
    w = random_windows(data.train, size.seq_len, steps * size.batch_size, seed=1000 + seed)
    model.compile(optimizer=text_optimizer(size, steps, learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(w[:, :-1], w[:, 1:], batch_size=size.batch_size, epochs=1, shuffle=False, verbose=0)
    return time.perf_counter() - started


def text_bpb(model: Any, windows: np.ndarray) -> float:
    """Bits per byte of a Keras LM on (n, seq_len + 1) windows."""
    logits = model.predict(windows[:, :-1], batch_size=64, verbose=0)
    return bits_per_byte(np.asarray(logits), windows[:, 1:])
