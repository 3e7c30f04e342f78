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
