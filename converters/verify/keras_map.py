"""Map Keras variables to the stored weights that carry them (`verify --model`).

Light: the variables come in as arrays (`KerasVariable`), so this module needs no Keras; the export room
reads them from a model (`edgeshare.converters.export.keras_variables`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..formats.weights import StoredWeight, is_constant_valued
from .matching import prepare, relate
from .report import VariableReport


@dataclass
class KerasVariable:
    """One unique Keras variable: its path, its values and how many layer calls read it."""

    path: str
    values: np.ndarray
    uses: int


def map_variables(
    variables: Sequence[KerasVariable], weights: list[StoredWeight], min_elements: int = 16
) -> tuple[list[VariableReport], dict[str, str]]:
    """For each variable, the stored weights equal to it (exactly, transposed or requantized)."""
    prepared = [(w, prepare(w, i)) for i, w in enumerate(weights) if w.numel >= min_elements]
    reports: list[VariableReport] = []
    var_of: dict[str, str] = {}
    for v in variables:
        value = np.asarray(v.values)
        n = int(value.size)
        shape = [int(d) for d in value.shape]
        if n < min_elements or is_constant_valued(value):
            reports.append(VariableReport(v.path, shape, v.uses, [], [], False, "not mapped (small or constant)"))
            continue
        ref = StoredWeight(
            key=f"keras {v.path}",
            name=v.path,
            shape=tuple(shape),
            dtype="float32",
            nbytes=n * 4,
            load=_constant(value.astype(np.float32, copy=False)),
        )
        rp = prepare(ref, -1)
        carriers, relations = [], []
        for w, wp in prepared:
            if w.numel != n:
                continue
            r = relate(rp, wp)
            if r is not None:
                carriers.append(w.key)
                relations.append(r.relation)
                var_of.setdefault(w.key, v.path)
        note = "" if carriers else "not stored as-is (folded or transformed by the converter)"
        reports.append(VariableReport(v.path, shape, v.uses, carriers, relations, len(carriers) > 1, note))
    return reports, var_of


def _constant(values: np.ndarray) -> Callable[[], np.ndarray]:
    return lambda: values
