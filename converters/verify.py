"""`verify`: prove that an exported .tflite or .onnx stores each weight once.

Runs without TensorFlow or Keras (unless `model=` is given, to map Keras variables to buffers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import InvalidInputError
from .jsonsafe import finite
from .matching import Group, find_groups
from .source import Source, open_source, sniff_format
from .weights import StoredWeight

LARGEST_ROWS = 12


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


def _quant_text(w: StoredWeight) -> str | None:
    q = w.quant
    if q is None:
        return None
    if not w.scale_known:
        return "scale applied downstream"
    if q.scale.size > 1:
        return f"per-channel ({q.scale.size} scales, axis {q.axis})"
    return f"per-tensor (scale {float(q.scale.reshape(-1)[0]):.3g}, zero point {int(q.zero_point.reshape(-1)[0])})"


def load_weights(source: Source) -> tuple[str, int, list[StoredWeight], Any]:
    """Open an artifact and list its stored weights: (format, file bytes, weights, handle)."""
    src = open_source(source)
    try:
        fmt = sniff_format(src.data, src.path)
        if fmt == "tflite":
            from .tflite_file import read_tflite

            tfl = read_tflite(src)
            return fmt, src.data.nbytes, tfl.stored_weights(), tfl
        from .onnx_file import read_onnx

        onx = read_onnx(src)
        return fmt, src.data.nbytes, onx.stored_weights(), onx
    except InvalidInputError:
        src.close()
        raise


def is_weight(w: StoredWeight) -> bool:
    """Counted in weight bytes: float data and quantized integers (not shapes or indices)."""
    return w.is_float or w.quant is not None


def verify(
    source: Source,
    model: Any = None,
    *,
    min_elements: int = 16,
    progress: Callable[[int, int], None] | None = None,
) -> VerifyReport:
    """Find every group of stored weights that hold the same weight.

    Args:
        source: a path to a .tflite or .onnx file, or its bytes.
        model: optional Keras model (object or path) whose variables are mapped to stored weights;
            a shared variable carried by more than one stored weight is flagged.
        min_elements: smaller tensors are counted in the bytes but not matched.
        progress: called with (done, total) while comparing.

    Raises:
        InvalidInputError: the artifact is missing, empty, truncated or not TFLite/ONNX.
    """
    fmt, file_bytes, weights, handle = load_weights(source)
    label = handle.label
    groups = find_groups(weights, min_elements=min_elements, progress=progress)
    weight_list = [w for w in weights if is_weight(w)]
    weight_bytes = sum(w.nbytes for w in weight_list)
    dup = sum(g.wasted_bytes for g in groups)

    variables: list[VariableReport] | None = None
    var_of: dict[str, str] = {}
    notes: list[str] = []
    if model is not None:
        from .keras_map import map_variables

        variables, var_of = map_variables(model, weight_list, min_elements=min_elements)
        unmapped = [v.path for v in variables if not v.carriers and v.uses > 1]
        if unmapped:
            notes.append(
                "shared variables not stored as-is (folded into other constants by the converter): "
                + ", ".join(unmapped)
            )

    group_reports = [_group_report(g, var_of) for g in groups]
    group_of = {m.weight.key: i for i, g in enumerate(groups) for m in g.members}
    largest = sorted(weight_list, key=lambda w: -w.nbytes)[:LARGEST_ROWS]
    rows = [
        WeightRow(
            name=w.name,
            storage=w.key,
            shape=list(w.shape),
            dtype=w.dtype,
            bytes=w.nbytes,
            group=group_of.get(w.key),
            consumers=sorted(set(w.consumers)),
            keras_variable=var_of.get(w.key),
        )
        for w in largest
    ]
    rep = VerifyReport(
        path=label,
        format=fmt,
        file_bytes=file_bytes,
        weight_bytes=weight_bytes,
        duplicate_bytes=dup,
        floor_bytes=weight_bytes - dup,
        num_weights=len(weight_list),
        groups=group_reports,
        largest=rows,
        variables=variables,
        notes=notes,
    )
    # The matcher's groups and the open file, for repair (not part of the report's data).
    rep._groups = groups  # type: ignore[attr-defined]
    rep._handle = handle  # type: ignore[attr-defined]
    return rep


def _group_report(g: Group, var_of: dict[str, str]) -> GroupReport:
    entries = [
        TensorEntry(
            name=m.weight.name,
            storage=m.weight.key,
            shape=list(m.weight.shape),
            dtype=m.weight.dtype,
            bytes=m.weight.nbytes,
            relation=m.relation,
            consumers=sorted(set(m.weight.consumers)),
            perm=list(m.perm) if m.perm else None,
            max_abs_diff=m.max_abs_diff if m.relation == "requantized" else None,
            quantization=_quant_text(m.weight),
            keras_variable=var_of.get(m.weight.key),
        )
        for m in g.members
    ]
    names = {e.keras_variable for e in entries if e.keras_variable}
    return GroupReport(g.kind, g.wasted_bytes, entries, ", ".join(sorted(names)) if names else None)
