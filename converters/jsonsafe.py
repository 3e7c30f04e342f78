"""JSON has no NaN or infinity: reports replace them with null."""

from __future__ import annotations

import math
from typing import Any


def finite(x: Any) -> Any:
    """A copy of a JSON-bound structure with NaN and infinities replaced by None."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite(v) for v in x]
    return x
