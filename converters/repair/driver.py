"""`repair`: make an existing .tflite or .onnx store each shared weight once, and prove that the
outputs did not change beyond the stated tolerance.

Works on files from any exporter (the stock TFLite converter, `Model.export`, tf2onnx, ...). Never
imports TensorFlow. The rules that rewrite each kind of copy live in `tflite/rules/` and `onnx/rules/`;
this driver verifies, rewrites, checks the outputs and retries without guarded rules that cost accuracy.
"""

from __future__ import annotations

import gc
import os
import tempfile
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from edgeshare.errors import InvalidInputError

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
from .plan import Plan
from .tflite.rewrite import rewrite_tflite
from .tflite.rules import GROUP_RULES

# A repair that only re-points tensors must leave outputs (nearly) bitwise equal; XNNPACK may pack
# a re-pointed weight differently, hence 1e-6 rather than 0.
EXACT_ATOL = 1e-6
# Where a copy was requantized (e.g. FULLY_CONNECTED moved from per-channel to the GATHER's
# per-tensor int8 scale), outputs must stay this close to the unrepaired model's.
REQUANT_COSINE = 0.999


@dataclass
class RepairNumerics:
    samples: int
    bitwise: bool
    max_abs_diff: float
    cosine_similarity: float
    criterion: str
    passed: bool


@dataclass
class RepairReport:
    source: str
    output: str | None
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
    data: bytes | None = field(default=None, repr=False)  # the repaired model when no `out` was given

    @property
    def ok(self) -> bool:
        return self.duplicate_bytes_after == 0 and (self.numerics is None or self.numerics.passed)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("data", None)
        d["ok"] = self.ok
        d["bytes_saved"] = self.weight_bytes_before - self.weight_bytes_after
        return dict(finite(d))


Outputs = dict[str, list[list[np.ndarray]]]  # signature -> per sample, the outputs in name order
Feeds = dict[str, list[dict[str, np.ndarray]]]  # signature -> per sample, the inputs by name


def _signatures(model: bytes | str) -> list[str | None]:
    with open_source(model) as src:
        keys: list[str | None] = [sd.key for sd in read_tflite(src).signatures]
    return keys or [None]


def outputs_of(fmt: str, model: bytes | str, n: int, feeds: Feeds | None = None) -> tuple[Outputs, Feeds]:
    """Real-valued outputs of every signature for `n` seeded random inputs (or the given ones), with the
    inputs used, so that another model can be run on the very same inputs."""
    keys: list[str | None] = _signatures(model) if fmt == "tflite" else [None]
    out: Outputs = {}
    used: Feeds = {}
    for key in keys:
        name = key or "main"
        runner: Runner = LiteRTRunner(model, signature=key) if fmt == "tflite" else OnnxRunner(model)
        xs = feeds[name] if feeds is not None else random_feeds(runner.inputs, n, seed=0, fill_dynamic=1)
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
                bitwise &= bool(np.array_equal(x, y))
                xf, yf = x.astype(np.float64), y.astype(np.float64)
                worst = max(worst, float(np.max(np.abs(xf - yf))) if x.size else 0.0)
                cos = min(cos, cosine(xf, yf))
    if requantized:
        return RepairNumerics(n, bitwise, worst, cos, f"cosine_similarity >= {REQUANT_COSINE} to the unrepaired model",
                             cos >= REQUANT_COSINE)
    return RepairNumerics(n, bitwise, worst, cos, f"bitwise, or max_abs_diff <= {EXACT_ATOL}",
                          bitwise or worst <= EXACT_ATOL)


def repair(
    source: Source,
    out: str | os.PathLike[str] | None = None,
    *,
    layout: str = "auto",
    samples: int = 8,
    check: bool = True,
    min_elements: int = 16,
) -> RepairReport:
    """Rewrite `source` so that each group of duplicate weights is stored once, and write `out`.

    Args:
        source: a .tflite or .onnx path, or its bytes.
        out: where to write the repaired file (required for ONNX and for the offset layout).
        layout: TFLite buffer layout, "auto", "inline" or "offset" (see formats/tflite_writer).
        samples: random inputs used to compare the outputs before and after.
        check: run the before/after numerics comparison.

    Returns:
        A RepairReport: what was merged, what could not be and why, the bytes before and after, and
        the numerics. `report.ok` is False when duplicates remain or the numerics moved too much.
    """
    with open_source(source) as src:
        fmt = sniff_format(src.data, src.path)
        label = src.label
    found = analyze(source, min_elements=min_elements)
    before = found.report
    target = os.fspath(out) if out is not None else None
    repaired: Any
    if fmt == "tflite":
        repaired, plan = _rewrite_tflite_within_tolerance(source, target, found, layout, check, samples)
    else:
        if target is None:
            raise InvalidInputError("ONNX repair writes a file: pass `out`", label)
        plan = rewrite_onnx(source, target, groups=found.groups, parsed=found.parsed)  # type: ignore[arg-type]
        repaired = target
    # Unmap the source before mapping the output: peak memory stays one file, not two.
    found.close()
    del found
    gc.collect()
    after = verify_file(repaired, min_elements=min_elements)
    numerics = _numerics(fmt, source, repaired, plan.requantized, samples) if check else None
    return RepairReport(
        source=label,
        output=target,
        format=fmt,
        weight_bytes_before=before.weight_bytes,
        weight_bytes_after=after.weight_bytes,
        duplicate_bytes_before=before.duplicate_bytes,
        duplicate_bytes_after=after.duplicate_bytes,
        floor_bytes_after=after.floor_bytes,
        merged=plan.merged,
        skipped=plan.skipped,
        numerics=numerics,
        after=after,
        data=repaired if isinstance(repaired, bytes) else None,
    )


def _rewrite_tflite_within_tolerance(source: Source, target: str | None, found: Analysis, layout: str,
                                     check: bool, samples: int) -> tuple[Any, Plan]:
    """Rewrite a .tflite with the groups `verify` found; returns (bytes or the written path, the plan).

    Guarded rules (those that change the arithmetic, such as sharing a shared int8 layer's biases) are
    kept only within tolerance: all their groups at once if they fit, else the groups that fit one by one
    (and then together)."""
    guarded = {r.name for r in GROUP_RULES if getattr(r, "guarded", False)}

    def attempt(allowed: set[int] | None) -> tuple[Any, Plan, bool]:
        def allow(rule: str, group: int) -> bool:
            return allowed is None or group in allowed

        d, pl = rewrite_tflite(source, target, layout=layout, groups=found.groups,
                               parsed=found.parsed, allow=allow)  # type: ignore[arg-type]
        result = d if d is not None else target
        used = {m.group for m in pl.merged if m.rule in guarded}
        ok = not (check and used) or _numerics("tflite", source, result, True, samples).passed
        return result, pl, ok

    repaired, plan, ok = attempt(None)
    if not ok:
        tried = sorted({m.group for m in plan.merged if m.rule in guarded})
        fitting = {gi for gi in tried if attempt({gi})[2]}
        repaired, plan, ok = attempt(fitting)
        if not ok:
            repaired, plan, _ = attempt(set())
    return repaired, plan


def _numerics(fmt: str, source: Source, repaired: Any, requantized: bool, n: int) -> RepairNumerics:
    # Both models see the same inputs, drawn from the original's (ids stay inside its tables).
    with tempfile.TemporaryDirectory() as tmp:
        model = _as_model(source) if fmt == "tflite" else _as_path(source, tmp, ".onnx")
        a, feeds = outputs_of(fmt, model, n)
        b, _ = outputs_of(fmt, repaired if isinstance(repaired, (bytes, str)) else str(repaired), n, feeds)
    return _compare(a, b, requantized, n)


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
