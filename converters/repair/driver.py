"""`repair`: make an existing .tflite or .onnx store each shared weight once, and prove that the
outputs did not change beyond the stated tolerance.

Works on files from any exporter (the stock TFLite converter, `Model.export`, tf2onnx, ...). Never
imports TensorFlow. The rules that rewrite each kind of copy live in `tflite/rules/` and `onnx/rules/`;
this driver verifies, rewrites, checks the outputs and never keeps a file worse than its input:

1. every group is merged and the outputs are compared with the input's on seeded random inputs;
2. if they moved too much, the guarded rules (those that change the arithmetic on purpose, such as one
   bias for a shared int8 layer) are kept only in the groups where they fit;
3. if the outputs still moved too much, each merged group is tried alone to name the merge that costs
   the accuracy (the culprits); those copies are then rewritten by the next rule that applies to them, or
   else left as they are, and the other merges kept when the outputs stay within tolerance;
4. when nothing within tolerance remains, no file is written (`force=True` writes it anyway).

When the check cannot run (a custom op the runtime lacks, dynamic
shapes it cannot guess without `input_shapes`), a repair that merged nothing, or whose every merge
re-points a reader at byte-identical data, is kept (its outputs are the input's by construction); any other
merge is unchecked, so no file is written unless `force=True`.
"""

from __future__ import annotations

import gc
import os
import shutil
import tempfile
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from edgeshare._quiet import quiet_fds
from edgeshare.errors import InvalidInputError

from ..formats.onnx_file import read_onnx
from ..formats.source import Source, open_source, sniff_format
from ..formats.tflite_file import read_tflite
from ..jsonsafe import finite
from ..runtime.base import Runner
from ..runtime.inputs import random_feeds
from ..runtime.litert import LiteRTRunner
from ..runtime.onnxrt import OnnxRunner
from ..verify.numerics import cosine
from ..verify.report import VerifyReport
from ..verify.verifier import Analysis, analyze, verify_file
from .onnx.rewrite import rewrite_onnx
from .onnx.rules import COPY_RULES as ONNX_COPY_RULES
from .plan import KeptChange, Plan
from .tflite.rewrite import rewrite_tflite
from .tflite.rules import COPY_RULES as TFLITE_COPY_RULES
from .tflite.rules import GROUP_RULES

# A repair that only re-points tensors must leave outputs (nearly) bitwise equal; XNNPACK may pack
# a re-pointed weight differently, hence 1e-6 rather than 0.
EXACT_ATOL = 1e-6
# Where a copy was requantized (e.g. FULLY_CONNECTED moved from per-channel to the GATHER's
# per-tensor int8 scale), outputs must stay this close to the unrepaired model's.
REQUANT_COSINE = 0.999

# Rules whose merge re-points readers at byte-identical data (same dtype and quantization): the outputs
# are the input's by construction.
IDENTICAL_RULES = frozenset(str(getattr(r, "name", "")) for r in (*TFLITE_COPY_RULES, *ONNX_COPY_RULES)
                            if getattr(r, "identical", False))

Shapes = Mapping[str, Sequence[int]]


@dataclass
class RepairNumerics:
    samples: int
    bitwise: bool
    max_abs_diff: float
    cosine_similarity: float
    criterion: str
    passed: bool


@dataclass
class Culprit:
    """A group whose merge alone moves the outputs beyond the tolerance."""

    group: int
    kept: str
    merged: list[str]
    rules: list[str]
    cosine_similarity: float
    max_abs_diff: float


@dataclass
class RepairReport:
    source: str
    output: str | None  # the file written; None when none was (the result was rejected, or bytes asked for)
    format: str
    weight_bytes_before: int
    weight_bytes_after: int
    duplicate_bytes_before: int
    duplicate_bytes_after: int
    floor_bytes_after: int
    merged: list[Any]
    skipped: list[Any]
    numerics: RepairNumerics | None
    after: VerifyReport | None = None
    notes: list[str] = field(default_factory=list)
    kept_changes: list[KeptChange] = field(default_factory=list)
    # The result failed its numerics check (or could not be checked): it was not kept unless forced.
    rejected: bool = False
    culprits: list[Culprit] = field(default_factory=list)
    numerics_unavailable: str | None = None  # why the outputs could not be compared
    data: bytes | None = field(default=None, repr=False)  # the repaired model when no `out` was given

    @property
    def ok(self) -> bool:
        return (not self.rejected and self.duplicate_bytes_after == 0
                and (self.numerics is None or self.numerics.passed))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("data", None)
        d["ok"] = self.ok
        d["bytes_saved"] = self.weight_bytes_before - self.weight_bytes_after
        return dict(finite(d))


Outputs = dict[str, list[list[np.ndarray]]]  # signature -> per sample, the outputs in name order
Feeds = dict[str, list[dict[str, np.ndarray]]]  # signature -> per sample, the inputs by name


class NumericsUnavailable(Exception):
    """The runtime cannot run the model on generated inputs (not an error of the user's input)."""


def _signatures(model: bytes | str) -> list[str | None]:
    with open_source(model) as src:
        keys: list[str | None] = [sd.key for sd in read_tflite(src).signatures]
    return keys or [None]


def outputs_of(fmt: str, model: bytes | str, n: int, feeds: Feeds | None = None,
               shapes: Shapes | None = None) -> tuple[Outputs, Feeds]:
    """Real-valued outputs of every signature for `n` seeded random inputs (or the given ones), with the
    inputs used, so that another model can be run on the very same inputs. Dynamic dimensions take
    `shapes[input name]`, else 1."""
    keys: list[str | None] = _signatures(model) if fmt == "tflite" else [None]
    out: Outputs = {}
    used: Feeds = {}
    for key in keys:
        name = key or "main"
        runner: Runner = LiteRTRunner(model, signature=key) if fmt == "tflite" else OnnxRunner(model)
        if feeds is not None:
            xs = feeds[name]
        else:
            unknown = sorted(set(shapes or {}) - {s.name for s in runner.inputs}) if len(keys) == 1 else []
            if unknown:
                raise InvalidInputError(f"--input-shape names inputs the model does not have; it takes "
                                        f"{[s.name for s in runner.inputs]}. Received: names={unknown}")
            xs = random_feeds(runner.inputs, n, seed=0, shapes=shapes, fill_dynamic=1)
        used[name] = xs
        out[name] = [runner.run(x) for x in xs]
    return out, used


def _compare(before: dict[str, list[Any]], after: dict[str, list[Any]], requantized: bool, n: int) -> RepairNumerics:
    if set(before) != set(after):
        raise InvalidInputError(f"the repaired model's signatures changed: {sorted(before)} -> {sorted(after)}")
    bitwise = True
    worst = 0.0
    cos = 1.0
    for key in before:
        for xs, ys in zip(before[key], after[key]):
            for x, y in zip(xs, ys):
                same = x.shape == y.shape and bool(np.array_equal(x, y))
                bitwise &= same
                if x.shape != y.shape or x.dtype.kind not in "biuf":  # a changed shape, or strings
                    if not same:
                        worst, cos = float("inf"), 0.0
                    continue
                xf, yf = x.astype(np.float64), y.astype(np.float64)
                worst = max(worst, float(np.max(np.abs(xf - yf))) if x.size else 0.0)
                cos = min(cos, cosine(xf, yf))
    if requantized:
        return RepairNumerics(n, bitwise, worst, cos, f"cosine_similarity >= {REQUANT_COSINE} to the unrepaired model",
                             cos >= REQUANT_COSINE)
    return RepairNumerics(n, bitwise, worst, cos, f"bitwise, or max_abs_diff <= {EXACT_ATOL}",
                          bitwise or worst <= EXACT_ATOL)


@dataclass
class _Candidate:
    result: Any  # the repaired bytes, or the path of the repaired file in the work folder
    plan: Plan
    numerics: RepairNumerics | None = None


class _Session:
    """The attempts of one repair: each rewrites the source with some groups held back, into the work
    folder, and is compared with the source's outputs (computed once)."""

    def __init__(self, fmt: str, source: Source, found: Analysis, target: str | None, layout: str,
                 samples: int, shapes: Shapes | None, work: str, avoid: frozenset[str] = frozenset()) -> None:
        self.avoid = avoid
        self.fmt, self.source, self.found, self.target = fmt, source, found, target
        self.layout, self.samples, self.shapes, self.work = layout, samples, shapes, work
        self.count = 0
        self._reference: tuple[Outputs, Feeds] | None = None
        self._parsed_used = False

    def attempt(self, held: frozenset[int] = frozenset(),
                banned: frozenset[tuple[str, int]] = frozenset()) -> _Candidate:
        """Rewrite with the groups in `held` left alone and each (rule, group) in `banned` passed over for
        the next rule that applies to those copies."""
        self.count += 1
        folder = os.path.join(self.work, f"attempt{self.count}")
        os.makedirs(folder)
        name = os.path.basename(self.target) if self.target else f"model.{self.fmt}"
        path = os.path.join(folder, name)

        def allow(rule: str, group: int) -> bool:
            return group not in held and (rule, group) not in banned and rule not in self.avoid

        groups = self.found.groups
        if self.fmt == "tflite":
            inline = self.target is None and self.layout != "offset"
            data, plan = rewrite_tflite(self.source, None if inline else path, layout=self.layout, groups=groups,
                                        parsed=self.found.parsed, allow=allow)  # type: ignore[arg-type]
            return _Candidate(data if data is not None else path, plan)
        # The ONNX rules edit the parsed model in place: the first attempt uses the verified file, later
        # ones a fresh parse.
        if not self._parsed_used:
            self._parsed_used = True
            plan = rewrite_onnx(self.source, path, groups=groups, parsed=self.found.parsed,  # type: ignore[arg-type]
                                allow=allow)
        else:
            with open_source(self.source) as src:
                fresh = read_onnx(src, check=False)
                plan = rewrite_onnx(self.source, path, groups=groups, parsed=fresh, allow=allow)
                fresh.close()
        return _Candidate(path, plan)

    def reference(self) -> tuple[Outputs, Feeds]:
        """The source's outputs on seeded random inputs. Raises NumericsUnavailable when the runtime cannot
        run it, InvalidInputError when `shapes` does not fit the model."""
        if self._reference is None:
            model = _as_model(self.source) if self.fmt == "tflite" else _as_path(self.source, self.work, ".onnx")
            result: tuple[Outputs, Feeds] | None = None
            failure: Exception | None = None
            with quiet_fds():  # the runtimes log their refusals on stderr; the report carries the reason
                try:
                    result = outputs_of(self.fmt, model, self.samples, shapes=self.shapes)
                except Exception as exc:  # any runtime refusal (unresolved custom op, shape errors, ...)
                    failure = exc
            if result is None:
                if isinstance(failure, InvalidInputError) and ("input-shape" in str(failure)
                                                               or "given shape" in str(failure)):
                    raise failure  # the user's --input-shape does not fit the model
                raise NumericsUnavailable(_first_line(failure or RuntimeError())) from failure
            self._reference = result
        return self._reference

    def check(self, cand: _Candidate) -> RepairNumerics:
        ref, feeds = self.reference()
        model = cand.result if isinstance(cand.result, (bytes, str)) else str(cand.result)
        failure: Exception | None = None
        with quiet_fds():
            try:
                after, _ = outputs_of(self.fmt, model, self.samples, feeds)
            except Exception as exc:  # the source runs and the candidate does not: the rewrite broke it
                failure = exc
        if failure is None:
            cand.numerics = _compare(ref, after, cand.plan.requantized, self.samples)
        else:
            cand.numerics = RepairNumerics(self.samples, False, float("inf"), 0.0,
                                           f"the repaired model does not run: {_first_line(failure)}", False)
        return cand.numerics


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300] if text else ''}"


def repair(
    source: Source,
    out: str | os.PathLike[str] | None = None,
    *,
    layout: str = "auto",
    samples: int = 8,
    check: bool = True,
    min_elements: int = 16,
    force: bool = False,
    input_shapes: Shapes | None = None,
    avoid: Collection[str] = (),
) -> RepairReport:
    """Rewrite `source` so that each group of duplicate weights is stored once, and write `out`.

    Args:
        source: a .tflite or .onnx path, or its bytes.
        out: where to write the repaired file (required for ONNX and for the offset layout); without it the
            repaired TFLite bytes are in `report.data`.
        layout: TFLite buffer layout, "auto", "inline" or "offset" (see formats/tflite_writer).
        samples: random inputs used to compare the outputs before and after.
        check: run the before/after numerics comparison.
        force: keep the result even when its numerics check failed or could not run.
        input_shapes: the shape to feed each input with dynamic dimensions, by input name (others: 1).
        avoid: rules passed over everywhere for the next rule that applies to the same copies (an export
            that judges against Keras tries the alternatives this way).

    Returns:
        A RepairReport: what was merged, what could not be and why, the bytes before and after, the
        numerics, and when the result was rejected, the merges that cost the accuracy. `report.ok` is
        False when duplicates remain, the numerics moved too much or could not be checked.
    """
    with open_source(source) as src:
        fmt = sniff_format(src.data, src.path)
        label = src.label
    target = os.fspath(out) if out is not None else None
    if fmt == "onnx" and target is None:
        raise InvalidInputError("ONNX repair writes a file: pass `out`", label)
    found = analyze(source, min_elements=min_elements)
    before = found.report
    # The attempts go to a work folder beside the output (a rename moves the kept one into place).
    base = os.path.dirname(os.path.abspath(target)) if target else None
    work = tempfile.mkdtemp(prefix=".edgeshare-repair-", dir=base)
    try:
        session = _Session(fmt, source, found, target, layout, samples, input_shapes, work, frozenset(avoid))
        final, notes, culprits, unavailable, rejected = _repair_within_tolerance(session, check)
        # Unmap the source before mapping the output: peak memory stays one file, not two.
        found.close()
        del found, session
        gc.collect()
        after = verify_file(final.result, min_elements=min_elements)
        after.path = target or "<bytes>"
        written: str | None = None
        data: bytes | None = None
        if not rejected or force:
            if rejected:
                notes.append("kept anyway (--force)")
            if isinstance(final.result, bytes):
                data = final.result
            else:
                written = _move_into_place(final.result, target)  # type: ignore[arg-type]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    plan = final.plan
    return RepairReport(
        source=label,
        output=written,
        format=fmt,
        weight_bytes_before=before.weight_bytes,
        weight_bytes_after=after.weight_bytes,
        duplicate_bytes_before=before.duplicate_bytes,
        duplicate_bytes_after=after.duplicate_bytes,
        floor_bytes_after=after.floor_bytes,
        merged=plan.merged,
        skipped=plan.skipped,
        numerics=final.numerics,
        after=after,
        notes=notes,
        kept_changes=plan.kept_changes,
        rejected=rejected,
        culprits=culprits,
        numerics_unavailable=unavailable,
        data=data,
    )


def _repair_within_tolerance(s: _Session, check: bool) -> tuple[_Candidate, list[str], list[Culprit], str | None, bool]:
    """(the result, notes, the culprits, why the numerics could not run, whether the result is rejected)."""
    notes: list[str] = []
    cand = s.attempt()
    if not check:
        return cand, notes, [], None, False
    try:
        numerics = s.check(cand)
    except NumericsUnavailable as exc:
        why = str(exc)
        if not cand.plan.merged:
            notes.append(f"nothing merged, so nothing to check (the outputs could not be compared: {why})")
            return cand, notes, [], why, False
        if all(m.rule in IDENTICAL_RULES for m in cand.plan.merged):
            notes.append(f"the outputs could not be compared ({why}); every merge re-points a reader at "
                         "byte-identical data of the same type and quantization, so they are the input's by "
                         "construction (--input-shape NAME=DIMS sets dynamic input sizes to compare them)")
            return cand, notes, [], why, False
        notes.append(f"the outputs could not be compared ({why}), so the merges are unchecked: no file "
                     "written (--force writes it; --input-shape NAME=DIMS sets dynamic input sizes)")
        return cand, notes, [], why, True
    if numerics.passed:
        return cand, notes, [], None, False

    # Guarded rules change the arithmetic on purpose: keep them only in the groups where they fit.
    guarded_names = {r.name for r in GROUP_RULES if getattr(r, "guarded", False)}
    guarded = frozenset(m.group for m in cand.plan.merged if m.rule in guarded_names)
    if guarded:
        fitting = frozenset(gi for gi in guarded if s.check(s.attempt(guarded - {gi})).passed)
        retry = s.attempt(guarded - fitting)
        if not s.check(retry).passed and fitting:
            retry = s.attempt(guarded)
            s.check(retry)
        held = sorted(guarded - fitting) if retry.numerics and retry.numerics.passed else sorted(guarded)
        if held:
            notes.append(f"guarded merges held back in group(s) {held}: they moved the outputs")
        cand = retry
        if cand.numerics is not None and cand.numerics.passed:
            return cand, notes, [], None, False

    # Still off: name the merge that costs the accuracy, trying each merged group alone.
    merged = cand.plan.merged_groups
    culprits = []
    for gi in merged:
        alone = s.attempt(frozenset(merged) - {gi})
        single = s.check(alone)
        if not single.passed:
            ms = [m for m in alone.plan.merged if m.group == gi]
            culprits.append(Culprit(gi, ms[0].kept if ms else "", [m.merged for m in ms],
                                    sorted({m.rule for m in ms}), single.cosine_similarity, single.max_abs_diff))
    n = cand.numerics
    if culprits:
        for c in culprits:
            notes.append(f"merging {', '.join(c.merged)} into {c.kept} ({', '.join(c.rules)}, group {c.group}) alone "
                         f"moves the outputs: cosine {c.cosine_similarity:.6f}, max |diff| {c.max_abs_diff:.3g}")
        kept = _without_culprits(s, cand, culprits, guarded, notes)
        if kept is not None:
            return kept, notes, culprits, None, False
    elif n is not None and not merged:
        notes.append(f"nothing was merged, yet the rewritten model's outputs moved ({n.criterion}: "
                     f"cosine {n.cosine_similarity:.6f})")
    elif n is not None:
        notes.append(f"no single group's merge moves the outputs beyond tolerance, all {len(merged)} together do "
                     f"(cosine {n.cosine_similarity:.6f})")
    notes.append("the repaired model failed its numerics check: no file written (--force writes it)")
    return cand, notes, culprits, None, True


def _without_culprits(s: _Session, cand: _Candidate, culprits: list[Culprit], guarded: frozenset[int],
                      notes: list[str]) -> _Candidate | None:
    """A result within tolerance without the culprits' merges, or None: first the next rule for the same
    copies (another rewrite of them), then the culprit groups left as they are. A result that merges
    nothing is no result (the input is the better file)."""
    held_guarded = frozenset(m.group for m in cand.plan.skipped if m.group in guarded)
    banned = frozenset((rule, c.group) for c in culprits for rule in c.rules)
    groups = sorted({c.group for c in culprits})
    other = s.attempt(held_guarded, banned)
    if other.plan.merged and s.check(other).passed:
        notes.append(f"group(s) {groups} merged with the next rule instead of {sorted({r for r, _ in banned})}; "
                     "the outputs stay within tolerance")
        return other
    rest = s.attempt(held_guarded | frozenset(groups))
    if rest.plan.merged and s.check(rest).passed:
        notes.append(f"group(s) {groups} left as they are; the other merges stay within tolerance")
        return rest
    return None


def _move_into_place(path: str, target: str) -> str:
    """Move the kept attempt (and its ONNX external data file, if any) to `target`."""
    data_file = path + ".data"
    if os.path.exists(data_file):
        os.replace(data_file, target + ".data")
    os.replace(path, target)
    return target


def _as_model(source: Source) -> bytes | str:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    return os.fspath(source)


def _as_path(source: Source, tmp: str, suffix: str) -> str:
    if isinstance(source, (bytes, bytearray, memoryview)):
        p = os.path.join(tmp, "model" + suffix)
        with open(p, "wb") as fh:
            fh.write(bytes(source))
        return p
    return os.fspath(source)
