"""Map Keras variables to the stored weights that carry them (used by `verify --model`).

Imports Keras, so only the `--model` path pays for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .matching import _prepare, relate
from .verify import VariableReport
from .weights import StoredWeight, is_constant_valued


def map_variables(
    model: Any, weights: list[StoredWeight], min_elements: int = 16
) -> tuple[list[VariableReport], dict[str, str]]:
    """For each Keras variable, the stored weights equal to it (exactly, transposed or requantized)."""
    from edgeshare.accounting import count_uses, load_keras_model

    if not hasattr(model, "weights"):
        model = load_keras_model(model)
    uses = count_uses(model)
    prepared = [(w, _prepare(w, i)) for i, w in enumerate(weights) if w.numel >= min_elements]
    reports: list[VariableReport] = []
    var_of: dict[str, str] = {}
    seen: set[int] = set()
    for v in model.weights:
        if id(v) in seen:
            continue
        seen.add(id(v))
        value = np.asarray(v.numpy())
        n = int(value.size)
        shape = [int(d) for d in value.shape]
        ref = StoredWeight(
            key=f"keras {v.path}",
            name=v.path,
            shape=tuple(shape),
            dtype="float32",
            nbytes=n * 4,
            load=_constant(value.astype(np.float32, copy=False)),
        )
        if n < min_elements or is_constant_valued(value):
            reports.append(
                VariableReport(v.path, shape, uses.get(id(v), 0), [], [], False, "not mapped (small or constant)")
            )
            continue
        rp = _prepare(ref, -1)
        carriers, relations = [], []
        for w, wp in prepared:
            if w.numel != n:
                continue
            r = relate(rp, wp)
            if r is not None:
                carriers.append(w.key)
                relations.append(r.relation)
                var_of.setdefault(w.key, v.path)
        k = uses.get(id(v), 0)
        note = "" if carriers else "not stored as-is (folded or transformed by the converter)"
        reports.append(VariableReport(v.path, shape, k, carriers, relations, len(carriers) > 1, note))
    return reports, var_of


def _constant(values: np.ndarray) -> Callable[[], np.ndarray]:
    return lambda: values
