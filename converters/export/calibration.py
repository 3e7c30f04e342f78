"""Sample and calibration inputs for a Keras model, always by input name: from an .npz, a dict, arrays.

A dict (or an .npz written by `np.savez(path, **{name: array})`) must have exactly the model's input
names as keys (the Keras names, or the signature names the export gives them). A bare array is accepted
for a one-input model, and a list only for a model whose inputs are a list, in that list's order.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from edgeshare.errors import InvalidInputError

from ..runtime.base import TensorSpec


def named_inputs(data: Any, inputs: Sequence[TensorSpec], label: str = "<data>", positional: bool = True,
                 aliases: Mapping[str, str] | None = None) -> dict[str, np.ndarray]:
    """Inputs as {name: array with a leading sample axis}, checked against the model's inputs.

    Args:
        data: a dict by input name, an array (one-input models) or a list (list-input models, in order).
        inputs: the model's inputs, with each shape's leading (batch) axis standing for the samples.
        positional: whether a list may be matched by position (False for dict-input models).
        aliases: other accepted names (signature name -> input name).
    """
    names = [s.name for s in inputs]
    if isinstance(data, np.ndarray) or (not isinstance(data, Mapping) and not isinstance(data, (list, tuple))):
        if len(inputs) != 1:
            raise InvalidInputError(f"the model takes {len(inputs)} inputs {names}: give a dict by input name. "
                                    f"Received: one array", label)
        given = {names[0]: np.asarray(data)}
    elif isinstance(data, Mapping):
        alias = dict(aliases or {})
        keys = [str(k) for k in data]
        given = {alias.get(k, k): np.asarray(v) for k, v in zip(keys, data.values())}
        if sorted(given) != sorted(names) or len(given) != len(keys):
            raise InvalidInputError(
                f"input keys do not match the model's inputs: expected {sorted(names)}, received {sorted(keys)}",
                label)
    else:
        if not positional and len(inputs) > 1:
            raise InvalidInputError(f"the model's inputs are a dict {names}: give a dict by input name, not a "
                                    f"list. Received: a list of {len(data)} arrays", label)
        if len(data) != len(inputs):
            raise InvalidInputError(f"expected {len(inputs)} input arrays for {names}, got {len(data)}", label)
        given = {n: np.asarray(a) for n, a in zip(names, data)}
    out: dict[str, np.ndarray] = {}
    for spec in inputs:
        arr = given[spec.name]
        if arr.ndim != len(spec.shape) or tuple(arr.shape[1:]) != tuple(spec.shape[1:]):
            raise InvalidInputError(
                f"input {spec.name!r} must have shape [N, {', '.join(map(str, spec.shape[1:]))}]. "
                f"Received: shape={list(arr.shape)}", label)
        if arr.shape[0] == 0:
            raise InvalidInputError(f"input {spec.name!r} has no samples", label)
        want = np.dtype(spec.dtype)
        if np.issubdtype(want, np.integer) and not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
            raise InvalidInputError(f"input {spec.name!r} needs integers ({spec.dtype}). Received: dtype={arr.dtype}",
                                    label)
        out[spec.name] = arr.astype(want, copy=False)
    counts = {a.shape[0] for a in out.values()}
    if len(counts) != 1:
        raise InvalidInputError(f"inputs have different sample counts {sorted(counts)}", label)
    return out


def read_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The arrays of an .npz written by np.savez. Raises InvalidInputError on a missing or unreadable file."""
    label = os.fspath(path)
    if not os.path.exists(label):
        raise InvalidInputError("no such file", label)
    if not zipfile.is_zipfile(label):
        raise InvalidInputError("not an .npz archive (expected np.savez output)", label)
    try:
        with np.load(label, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise InvalidInputError(f"cannot read the .npz: {exc}", label) from exc


def embeddings_by_input(model: Any, tensor_names: Mapping[str, str]) -> dict[str, list[Any]]:
    """Input name -> the embedding-like layers (an `input_dim` or `vocabulary_size`) that look up its ids.
    `tensor_names` maps each input name to its KerasTensor's name.

    Nested functional models (a keras-hub task holds its backbone, a user's model may hold the task) are
    followed through their inputs, and are not embeddings themselves even when they carry a
    `vocabulary_size` (a keras-hub backbone does, and also takes the padding mask)."""
    import keras
    from keras.src.models.functional import Functional

    readers: dict[str, list[Any]] = {}
    fed_by: dict[str, str] = {}  # a nested model's own input tensor -> the tensor its caller fed it
    for layer in model._flatten_layers(include_self=False, recursive=True):
        nodes = getattr(layer, "_inbound_nodes", [])
        if isinstance(layer, Functional):
            own = keras.tree.flatten(layer._inputs_struct)
            for node in nodes:
                fed = list(getattr(node, "input_tensors", []))
                if len(fed) == len(own):
                    fed_by.update({a.name: b.name for a, b in zip(own, fed) if a.name != b.name})
            continue
        rows = getattr(layer, "input_dim", None) or getattr(layer, "vocabulary_size", None)
        if not isinstance(rows, int) or rows < 1:
            continue
        for node in nodes:
            for t in getattr(node, "input_tensors", []):
                readers.setdefault(t.name, []).append(layer)
    outer: dict[str, list[Any]] = {}
    for name, layers in readers.items():
        seen = {name}
        while name in fed_by and fed_by[name] not in seen:  # up to the tensor the outermost model takes
            name = fed_by[name]
            seen.add(name)
        outer.setdefault(name, []).extend(x for x in layers if all(x is not y for y in outer.get(name, [])))
    return {name: outer[t] for name, t in tensor_names.items() if t in outer}


def _rows(layer: Any) -> int:
    rows: int = getattr(layer, "input_dim", None) or layer.vocabulary_size  # embeddings_by_input checked one is set
    return rows


def integer_input_bounds(model: Any, tensor_names: Mapping[str, str]) -> dict[str, int]:
    """Input name -> table rows, for integer inputs that an embedding reads (ids must stay in its table;
    other integer inputs, such as padding masks, get 0 and 1)."""
    return {name: min(_rows(x) for x in layers) for name, layers in embeddings_by_input(model, tensor_names).items()}


def with_table_extremes(model: Any, tensor_names: Mapping[str, str],
                        cal: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """`cal` plus, for each embedding table its inputs index, one sample that looks up the row holding the
    table's smallest value and one for its largest (the first sample with its first id replaced).

    Full-integer TFLite quantizes a GATHER's table with the range calibrated on the rows it looked up:
    rows no calibration sample reads can hold values outside it and are clipped. Measured on a keras-hub
    Llama with tied embeddings built from config (32 calibration samples, 512 rows): the GATHER table
    saturated, and the clipped copy no longer matched the FULLY_CONNECTED one, so the tied table stayed
    stored twice. Two samples that reach the extremes make the range cover the whole table."""
    extra: list[dict[str, np.ndarray]] = []
    for name, layers in embeddings_by_input(model, tensor_names).items():
        x = cal.get(name)
        if x is None or x.ndim < 2 or not np.issubdtype(x.dtype, np.integer):
            continue
        for layer in layers:
            table = getattr(layer, "embeddings", None)
            if table is None or len(table.shape) != 2:
                continue
            values = np.asarray(table.numpy() if hasattr(table, "numpy") else table)
            for row in (int(np.argmin(values) // values.shape[1]), int(np.argmax(values) // values.shape[1])):
                sample = {k: v[:1].copy() for k, v in cal.items()}
                sample[name].reshape(-1)[0] = row
                extra.append(sample)
    if not extra:
        return cal
    return {k: np.concatenate([v] + [e[k] for e in extra], axis=0) for k, v in cal.items()}
