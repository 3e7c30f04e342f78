"""`verify_file`: prove that a .tflite or .onnx stores each weight once, by reading the file.

Light: no TensorFlow or Keras. The Keras-variable map takes the variables as arrays (`KerasVariable`);
`edgeshare.converters.verify(path, model=...)` reads them from a Keras model first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from edgeshare.errors import InvalidInputError

from ..formats.onnx_file import OnnxFile, read_onnx
from ..formats.source import Source, open_source, sniff_format
from ..formats.tflite_file import TFLiteFile, read_tflite
from ..formats.weights import StoredWeight
from .keras_map import KerasVariable, map_variables
from .matching import Group, find_groups, reroot, smallest_first
from .report import GroupReport, LeftCopy, RepairOutlook, TensorEntry, VariableReport, VerifyReport, WeightRow

LARGEST_ROWS = 12


def _quant_text(w: StoredWeight) -> str | None:
    q = w.quant
    if q is None:
        return None
    if not w.scale_known:
        return "scale applied downstream"
    if q.scale.size > 1:
        return f"per-channel ({q.scale.size} scales, axis {q.axis})"
    return f"per-tensor (scale {float(q.scale.reshape(-1)[0]):.3g}, zero point {int(q.zero_point.reshape(-1)[0])})"


ParsedFile = TFLiteFile | OnnxFile
# The repair's planner, run in memory on the groups of a parsed file (`edgeshare.converters.verify` passes
# `repair.outlook`; the verifier cannot import the repair, which imports it).
Outlook = Callable[[list[Group], ParsedFile], RepairOutlook]


@dataclass
class Analysis:
    """A verified file kept open for the repair: the report, the matcher's groups and the parsed file."""

    report: VerifyReport
    groups: list[Group]
    parsed: ParsedFile

    def close(self) -> None:
        """Unmap the file (the report keeps no view of it)."""
        self.parsed.source.close()


def load_weights(source: Source) -> tuple[str, int, list[StoredWeight], ParsedFile]:
    """Open an artifact and list its stored weights: (format, file bytes, weights, handle)."""
    src = open_source(source)
    try:
        fmt = sniff_format(src.data, src.path)
        if fmt == "tflite":
            tfl = read_tflite(src)
            return fmt, src.data.nbytes, tfl.stored_weights(), tfl
        onx = read_onnx(src)
        return fmt, src.data.nbytes, onx.stored_weights(), onx
    except InvalidInputError:
        src.close()
        raise


def is_weight(w: StoredWeight) -> bool:
    """Counted in weight bytes: float data and quantized integers (not shapes or indices)."""
    return w.is_float or w.quant is not None


def verify_file(
    source: Source,
    variables: Sequence[KerasVariable] | None = None,
    *,
    min_elements: int = 16,
    progress: Callable[[int, int], None] | None = None,
    outlook: Outlook | None = None,
) -> VerifyReport:
    """Find every group of stored weights that hold the same weight.

    Args:
        source: a path to a .tflite or .onnx file, or its bytes.
        variables: optional Keras variables (path, values, uses) to map to the stored weights; a shared
            variable carried by more than one stored weight is flagged.
        min_elements: smaller tensors are counted in the bytes but not matched.
        progress: called with (done, total) while comparing.
        outlook: the repair's planner: the floor then keeps, in each group, the copy a repair keeps, and
            the report says what a full repair reaches. Without it each group keeps its smallest copy
            (what a repair keeps whenever every copy can merge into it).

    Raises:
        InvalidInputError: the artifact is missing, empty, truncated or not TFLite/ONNX.
    """
    found = analyze(source, variables, min_elements=min_elements, progress=progress, outlook=outlook)
    found.close()
    return found.report


def analyze(
    source: Source,
    variables: Sequence[KerasVariable] | None = None,
    *,
    min_elements: int = 16,
    progress: Callable[[int, int], None] | None = None,
    outlook: Outlook | None = None,
) -> Analysis:
    """`verify_file`, keeping the groups and the open file for a repair; the caller closes it."""
    fmt, file_bytes, weights, handle = load_weights(source)
    label = handle.label
    try:
        groups = [smallest_first(g) for g in find_groups(weights, min_elements=min_elements, progress=progress)]
        notes: list[str] = []
        planned: RepairOutlook | None = None
        if outlook is not None and groups:
            try:
                planned = outlook(groups, handle)
            except InvalidInputError:
                raise
            except Exception as exc:  # the planner failing must not cost the user the duplicate report
                notes.append(f"the repair planner failed ({type(exc).__name__}: {exc}); the floor keeps the "
                             "smallest copy of each group")
        if planned is not None:
            for gi, key in planned.kept.items():
                kept = next(m.weight for m in groups[gi].members if m.weight.key == key)
                groups[gi] = reroot(groups[gi], kept)
        order = sorted(range(len(groups)), key=lambda i: -groups[i].wasted_bytes)
        renumber = {old: new for new, old in enumerate(order)}
        groups = [groups[i] for i in order]
    except BaseException:
        handle.source.close()
        raise
    weight_list = [w for w in weights if is_weight(w)]
    weight_bytes = sum(w.nbytes for w in weight_list)
    dup = sum(g.wasted_bytes for g in groups)
    reaches = weight_bytes if not groups else (planned.reaches_bytes if planned is not None else None)
    leaves = [LeftCopy(renumber[c.group], c.tensor, c.bytes, c.reason) for c in planned.left] if planned else []
    # With the repair's plan, the floor is what the repair writes had it merged the copies it leaves too:
    # merges also free what served only the merged copy (an ONNX copy's own scale vector) and may add a
    # little (a bias requantized for the kept scale). Without it, each group keeps its smallest copy.
    floor = reaches - sum(c.bytes for c in leaves) if reaches is not None else weight_bytes - dup

    var_of: dict[str, str] = {}
    reports: list[VariableReport] | None = None
    if variables is not None:
        reports, var_of = map_variables(variables, weight_list, min_elements=min_elements)
        unmapped = [v.path for v in reports if not v.carriers and v.uses > 1]
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
        floor_bytes=floor,
        num_weights=len(weight_list),
        groups=group_reports,
        largest=rows,
        variables=reports,
        notes=notes,
        repair_reaches_bytes=reaches,
        repair_leaves=leaves,
    )
    return Analysis(rep, groups, handle)


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
            saturated=m.saturated if m.relation == "requantized" else None,
            layout=m.weight.layout,
        )
        for m in g.members
    ]
    names = {e.keras_variable for e in entries if e.keras_variable}
    return GroupReport(g.kind, g.wasted_bytes, entries, ", ".join(sorted(names)) if names else None)
