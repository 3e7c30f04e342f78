"""The report types of `verify`: duplicate groups, the largest weights and the Keras-variable map."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..jsonsafe import finite


@dataclass
class TensorEntry:
    name: str
    storage: str
    shape: list[int]
    dtype: str
    bytes: int
    relation: str
    consumers: list[str]
    perm: list[int] | None = None
    max_abs_diff: float | None = None
    quantization: str | None = None
    keras_variable: str | None = None
    saturated: int | None = None  # requantized copies: elements clipped at a quantization limit
    layout: str | None = None  # a storage layout other than dense (TFLite sparse)


@dataclass
class GroupReport:
    kind: str
    wasted_bytes: int
    tensors: list[TensorEntry]
    keras_variable: str | None = None


@dataclass
class WeightRow:
    """One stored weight, for the 'where do the bytes go' table."""

    name: str
    storage: str
    shape: list[int]
    dtype: str
    bytes: int
    group: int | None  # index into groups, when this weight is part of a duplicate group
    consumers: list[str]
    keras_variable: str | None = None


@dataclass
class VariableReport:
    """A Keras variable and the stored weights that carry it (with `--model`)."""

    path: str
    shape: list[int]
    uses: int
    carriers: list[str]
    relations: list[str]
    flagged: bool  # carried by more than one stored weight
    note: str = ""


@dataclass
class LeftCopy:
    """A copy that a repair would leave in the file, and why."""

    group: int
    tensor: str
    bytes: int
    reason: str


@dataclass
class RepairOutlook:
    """What a full repair of the file reaches, from the repair's own planner run in memory (nothing is
    written): the copy it keeps in each group, the weight bytes of its output and the copies it leaves."""

    kept: dict[int, str]  # group index -> storage key of the kept copy
    reaches_bytes: int
    left: list[LeftCopy] = field(default_factory=list)


@dataclass
class VerifyReport:
    path: str
    format: str
    file_bytes: int
    weight_bytes: int
    duplicate_bytes: int
    floor_bytes: int
    num_weights: int
    groups: list[GroupReport]
    largest: list[WeightRow]
    variables: list[VariableReport] | None = None
    notes: list[str] = field(default_factory=list)
    # What `repair` reaches: the weight bytes of its output (None when not computed) and the copies it
    # leaves, with the reason. `floor_bytes` stores each group once, as the copy the repair keeps: the
    # repair's output weight less the copies it would leave, so the two agree when it leaves none.
    # Without the repair's plan: the weight bytes minus `duplicate_bytes` (each group's smallest copy kept).
    repair_reaches_bytes: int | None = None
    repair_leaves: list[LeftCopy] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        flagged = any(v.flagged for v in self.variables or [])
        return not self.groups and not flagged

    @property
    def ratio(self) -> float:
        return self.weight_bytes / self.floor_bytes if self.floor_bytes else 1.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        d["weight_to_floor"] = round(self.ratio, 4)
        return finite(d)
