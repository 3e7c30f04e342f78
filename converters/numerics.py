"""Compare an artifact's outputs with the Keras model's, and the tolerance each precision must meet."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

# What each export precision must meet against the float Keras model. f32 allows float
# reassociation in the runtime's kernels (XNNPACK, MLAS), scaled by the output's magnitude.
F32_ATOL = 1e-4
COSINE_MIN = {"fp16": 0.999, "dynamic": 0.99, "int8": 0.99}


@dataclass
class Numerics:
    samples: int
    max_abs_error: float
    cosine_similarity: float
    criterion: str
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = a.astype(np.float64).reshape(-1)
    b = b.astype(np.float64).reshape(-1)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0.0 and nb == 0.0:
        return 1.0
    if na == 0.0 or nb == 0.0:
        return 0.0
    return float(a @ b / (na * nb))


def compare(
    reference: Sequence[np.ndarray], actual: Sequence[np.ndarray], mode: str
) -> Numerics:
    """Max absolute error and the worst per-output cosine similarity, judged for `mode`."""
    if len(reference) != len(actual):
        raise ValueError(f"{len(reference)} reference outputs but {len(actual)} artifact outputs")
    max_err = 0.0
    cos = 1.0
    scale = 1.0
    samples = 0
    for r, a in zip(reference, actual):
        r = np.asarray(r, dtype=np.float64)
        a = np.asarray(a, dtype=np.float64).reshape(r.shape)
        samples = r.shape[0] if r.ndim else 1
        max_err = max(max_err, float(np.max(np.abs(r - a))) if r.size else 0.0)
        cos = min(cos, cosine(r, a))
        scale = max(scale, float(np.max(np.abs(r))) if r.size else 0.0)
    if mode == "none":
        tol = F32_ATOL * scale
        return Numerics(samples, max_err, cos, f"max_abs_error <= {tol:.3g} (1e-4 x max(1, max|y|))",
                        max_err <= tol)
    need = COSINE_MIN[mode]
    return Numerics(samples, max_err, cos, f"cosine_similarity >= {need}", cos >= need)


def run_samples(run: Callable[..., list[np.ndarray]], inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Run a batch-1 artifact over every sample and stack the outputs along axis 0."""
    n = inputs[0].shape[0]
    outs: list[list[np.ndarray]] = []
    for i in range(n):
        ys = run(*[x[i : i + 1] for x in inputs])
        if not outs:
            outs = [[] for _ in ys]
        for k, y in enumerate(ys):
            outs[k].append(np.asarray(y))
    return [np.concatenate(o, axis=0) for o in outs]
