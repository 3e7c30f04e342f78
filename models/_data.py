"""Data that ships inside installed packages, so nothing is downloaded at run time.

* digits: scikit-learn's bundled 8x8 handwritten digits (1797 images).
* text: the help topics that ship with Python (`pydoc_data.topics`), about 0.7 MB of English prose.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from typing import Any

import numpy as np


@lru_cache(maxsize=1)
def digits() -> tuple[np.ndarray, np.ndarray]:
    """Images as float32 in [0, 1] with shape (1797, 8, 8, 1), and int labels."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[..., None]
    return x, d.target.astype(np.int32)


def digits_split(test_fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A fixed shuffled train/test split of digits."""
    x, y = digits()
    idx = np.random.default_rng(0).permutation(len(x))
    cut = int(len(x) * (1 - test_fraction))
    return x[idx[:cut]], y[idx[:cut]], x[idx[cut:]], y[idx[cut:]]


@lru_cache(maxsize=1)
def _words() -> list[str]:
    from pydoc_data.topics import topics

    text = "\n".join(topics[k] for k in sorted(topics))
    return re.findall(r"[a-z]+|[0-9]+|[^\sa-z0-9]", text.lower())


@lru_cache(maxsize=4)
def text_tokens(vocab_size: int) -> np.ndarray:
    """The help-topics corpus as token ids: the vocab_size-1 most common words, 0 for the rest."""
    words = _words()
    common = [w for w, _ in Counter(words).most_common(vocab_size - 1)]
    index = {w: i + 1 for i, w in enumerate(common)}
    return np.array([index.get(w, 0) for w in words], dtype=np.int32)


def text_windows(vocab_size: int, seq_len: int, n: int, seed: int = 0) -> np.ndarray:
    """n windows of seq_len + 1 tokens (inputs and next-token targets), at random offsets."""
    toks = text_tokens(vocab_size)
    starts = np.random.default_rng(seed).integers(0, len(toks) - seq_len - 1, size=n)
    return np.stack([toks[s : s + seq_len + 1] for s in starts])


def digit_images(n: int) -> list[np.ndarray]:
    """The first n digits images, as the single input of the digits reference models."""
    x, _ = digits()
    return [x[:n]]


def train_digit_classifier(model: Any, epochs: int, learning_rate: float) -> dict[str, float]:
    """A short real training run on the digits train split; returns the test accuracy."""
    import keras

    xtr, ytr, xte, yte = digits_split()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(xtr, ytr, batch_size=64, epochs=epochs, verbose=0)
    _, acc = model.evaluate(xte, yte, verbose=0)
    return {"test_accuracy": float(acc)}
