"""Verify: find every copy of a weight in a .tflite or .onnx by content (light: no TensorFlow, no Keras).

- `matching`: the relations that say two stored tensors are one weight (exact, transposed, requantized);
- `report`: the report dataclasses;
- `verifier`: `verify_file` (and `analyze`, which keeps the groups and the file open for the repair);
- `keras_map`: maps Keras variables, given as arrays, to the stored weights that carry them;
- `numerics`: the output comparisons of the export gate and the repair guard.
"""

from __future__ import annotations

from .keras_map import KerasVariable, map_variables
from .matching import Group, Member, find_groups, prepare, relate
from .report import GroupReport, TensorEntry, VariableReport, VerifyReport, WeightRow
from .verifier import Analysis, analyze, is_weight, load_weights, verify_file

__all__ = [
    "Analysis",
    "Group",
    "GroupReport",
    "KerasVariable",
    "Member",
    "TensorEntry",
    "VariableReport",
    "VerifyReport",
    "WeightRow",
    "analyze",
    "find_groups",
    "is_weight",
    "load_weights",
    "map_variables",
    "prepare",
    "relate",
    "verify_file",
]
