"""The Keras side of `verify --model`: a model's unique variables as arrays, with how many layer calls
read each (the verify room maps them to stored weights without Keras)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..verify.keras_map import KerasVariable
from .prepare import resolve_model


def keras_variables(model: Any) -> list[KerasVariable]:
    """Every unique variable of `model` (an object, a .keras path or its bytes), in `model.weights` order."""
    from edgeshare.accounting import count_uses, unique_variables

    m = resolve_model(model)
    uses = count_uses(m)
    return [KerasVariable(v.path, np.asarray(v.numpy()), uses.get(id(v), 0)) for v in unique_variables(m)]
