"""The one random-input generator: seeded, by input name, valid for every input.

Floats are standard normal; integer inputs that index a table get ids inside it (`index_bound`); other
integers and booleans are padding masks: ones up to a random length along the last axis, zeros after (a
mask of random holes masks whole attention rows, which no real input does); an int8 input that carries
real values gets values across its whole range. Dynamic dimensions must be given (`shapes`) or filled with
`fill_dynamic`, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from edgeshare.errors import InvalidInputError

from .base import TensorSpec


def concrete_shape(spec: TensorSpec, shapes: Mapping[str, Sequence[int]] | None = None,
                   fill_dynamic: int | None = None) -> tuple[int, ...]:
    """The shape to feed `spec`: `shapes[name]` when given (it must fit the static dimensions), else its
    static shape, with dynamic dimensions set to `fill_dynamic` (an error when that is None)."""
    given = (shapes or {}).get(spec.name)
    if given is not None:
        shape = tuple(int(d) for d in given)
        fits = len(shape) == len(spec.shape) and all(s < 0 or s == d for s, d in zip(spec.shape, shape))
        if not fits or any(d <= 0 for d in shape):
            raise InvalidInputError(
                f"input {spec.name!r} has shape {_text(spec.shape)}; a given shape must keep its static "
                f"dimensions and set each dynamic one to a positive size. Received: shape={_text(shape)}")
        return shape
    if spec.dynamic_axes and fill_dynamic is None:
        raise InvalidInputError(
            f"input {spec.name!r} has dynamic dimensions (axes {spec.dynamic_axes} of {_text(spec.shape)}); "
            f"give its shape, e.g. --input-shape {spec.name}={'x'.join('1' if d < 0 else str(d) for d in spec.shape)}. "
            f"Received: shape={_text(spec.shape)}")
    return tuple(fill_dynamic if d < 0 else d for d in spec.shape)  # type: ignore[misc]


def _text(shape: Sequence[int]) -> str:
    return "[" + ", ".join("?" if d < 0 else str(d) for d in shape) + "]"


def draw(spec: TensorSpec, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """One array of `shape` for `spec`, in real values (int8 I/O is quantized by the runner)."""
    dt = np.dtype(spec.dtype)
    if dt == np.bool_:
        return prefix_mask(shape, rng).astype(bool)
    if np.issubdtype(dt, np.integer):
        if spec.scale:  # an integer tensor that carries real values: anywhere in its range
            info = np.iinfo(dt)
            q = rng.integers(info.min, info.max + 1, size=shape)
            return ((q - spec.zero_point) * spec.scale).astype(np.float32)
        if spec.index_bound:
            return rng.integers(0, spec.index_bound, size=shape).astype(dt)
        return prefix_mask(shape, rng).astype(dt)
    return rng.standard_normal(shape).astype(dt)


def prefix_mask(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """0/1 of `shape`: along the last axis, ones up to a random length of at least one, then zeros."""
    if len(shape) < 2:
        return np.ones(shape, np.int64)
    lengths = rng.integers(1, shape[-1] + 1, size=shape[:-1])
    return (np.arange(shape[-1]) < lengths[..., None]).astype(np.int64)


def random_feeds(specs: Sequence[TensorSpec], n: int, seed: int = 0,
                 shapes: Mapping[str, Sequence[int]] | None = None,
                 fill_dynamic: int | None = None) -> list[dict[str, np.ndarray]]:
    """`n` feeds, each a dict by input name at the inputs' own (batch-included) shapes."""
    rng = np.random.default_rng(seed)
    full = {s.name: concrete_shape(s, shapes, fill_dynamic) for s in specs}
    return [{s.name: draw(s, full[s.name], rng) for s in specs} for _ in range(n)]


def random_batch(specs: Sequence[TensorSpec], n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """`n` samples stacked on a leading axis: each array has shape (n, *spec.shape[1:])."""
    rng = np.random.default_rng(seed)
    return {s.name: draw(s, (n, *concrete_shape(s, fill_dynamic=1)[1:]), rng) for s in specs}
