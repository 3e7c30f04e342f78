"""Sample and calibration inputs for a Keras model: from an .npz, from arrays, or random."""

from __future__ import annotations

import os
import zipfile
from typing import Any

import numpy as np

from .errors import InvalidInputError

InputSpec = tuple[str, tuple[int, ...], str]  # (name, shape with batch fixed, dtype)


def as_input_list(data: Any, specs: list[InputSpec], label: str = "<data>") -> list[np.ndarray]:
    """Normalize inputs given as an array, a list of arrays, or a dict by input name.

    Each array has a leading sample axis; its other dims must match the model's input.
    """
    if isinstance(data, np.ndarray):
        arrays = [data]
    elif isinstance(data, dict):
        missing = [n for n, _, _ in specs if n not in data]
        if missing and len(data) == len(specs):
            arrays = list(data.values())  # positional, e.g. arr_0, arr_1 from np.savez
        elif missing:
            raise InvalidInputError(
                f"calibration data lacks inputs {missing}; it has {sorted(data)}", label
            )
        else:
            arrays = [data[n] for n, _, _ in specs]
    else:
        arrays = list(data)
    if len(arrays) != len(specs):
        raise InvalidInputError(f"expected {len(specs)} input arrays, got {len(arrays)}", label)
    out = []
    for (name, shape, dtype), arr in zip(specs, arrays):
        arr = np.asarray(arr)
        if arr.ndim != len(shape) or tuple(arr.shape[1:]) != tuple(shape[1:]):
            raise InvalidInputError(
                f"input {name!r} must have shape [N, {', '.join(map(str, shape[1:]))}]. "
                f"Received: shape={list(arr.shape)}",
                label,
            )
        if arr.shape[0] == 0:
            raise InvalidInputError(f"input {name!r} has no samples", label)
        want = np.dtype(dtype)
        if np.issubdtype(want, np.integer) and not np.issubdtype(arr.dtype, np.integer):
            raise InvalidInputError(f"input {name!r} needs integers ({dtype}). Received: dtype={arr.dtype}", label)
        out.append(arr.astype(want, copy=False))
    n = {a.shape[0] for a in out}
    if len(n) != 1:
        raise InvalidInputError(f"inputs have different sample counts {sorted(n)}", label)
    return out


def load_npz(path: str | os.PathLike, specs: list[InputSpec]) -> list[np.ndarray]:
    """Read calibration inputs from an .npz written by np.savez (keys = input names or arr_0...)."""
    label = os.fspath(path)
    if not os.path.exists(label):
        raise InvalidInputError("no such file", label)
    if not zipfile.is_zipfile(label):
        raise InvalidInputError("not an .npz archive (expected np.savez output)", label)
    try:
        with np.load(label, allow_pickle=False) as npz:
            data = {k: npz[k] for k in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise InvalidInputError(f"cannot read the .npz: {exc}", label) from exc
    return as_input_list(data, specs, label)


def integer_input_ranges(model: Any) -> dict[str, int]:
    """Upper bounds for integer inputs that feed an embedding (token ids must stay in the table)."""
    bounds: dict[str, int] = {}
    try:
        for layer in model.layers:
            dim = getattr(layer, "input_dim", None)
            if not isinstance(dim, int):
                continue
            for node in getattr(layer, "_inbound_nodes", []):
                for t in node.input_tensors:
                    bounds[t.name] = min(bounds.get(t.name, dim), dim)
    except (AttributeError, TypeError):
        pass
    return bounds


def random_inputs(model: Any, specs: list[InputSpec], n: int = 8, seed: int = 0) -> list[np.ndarray]:
    """Random inputs: standard normal floats; integers in [0, vocab) when they feed an embedding."""
    rng = np.random.default_rng(seed)
    bounds = integer_input_ranges(model)
    out = []
    for name, shape, dtype in specs:
        full = (n, *shape[1:])
        if np.issubdtype(np.dtype(dtype), np.integer):
            out.append(rng.integers(0, bounds.get(name, 2), size=full).astype(dtype))
        elif np.dtype(dtype) == np.bool_:
            out.append(rng.integers(0, 2, size=full).astype(bool))
        else:
            out.append(rng.standard_normal(full).astype(dtype))
    return out
