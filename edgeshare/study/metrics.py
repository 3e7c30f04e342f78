"""The two metrics, in NumPy: top-1 accuracy and bits per byte."""

from __future__ import annotations

import numpy as np


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy of (n, classes) logits against (n,) labels."""
    if logits.ndim != 2 or len(logits) != len(labels):
        raise ValueError(
            f"`logits` must be (n, classes) with one row per label. Received: logits.shape={logits.shape}, "
            f"labels.shape={labels.shape}"
        )
    return float(np.mean(np.argmax(logits, axis=-1) == labels))


def bits_per_byte(logits: np.ndarray, targets: np.ndarray) -> float:
    """Mean next-byte cross-entropy in bits: -log2 softmax(logits)[target], over every position.

    `logits` is (n, length, 256) and `targets` (n, length) byte values."""
    if logits.shape[:-1] != targets.shape:
        raise ValueError(
            f"`logits` must be `targets`' shape plus a class axis. Received: logits.shape={logits.shape}, "
            f"targets.shape={targets.shape}"
        )
    z = logits.astype(np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=-1))  # (n, length)
    picked = np.take_along_axis(z, targets[..., None].astype(np.int64), axis=-1)[..., 0]
    return float(np.mean(log_norm - picked) / np.log(2.0))
