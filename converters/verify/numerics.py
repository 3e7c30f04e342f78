"""The numerics gate: an artifact's outputs against the Keras model's, sample by sample, output by output.

One cosine over a whole flattened batch can pass a wrong model: logits that share an offset score close
to 1 even with every sample's class order reversed. So each output is judged on its worst sample
(`worst_sample_cosine`) and its largest absolute error, and outputs with a class axis (classifier and LM
logits) also on top-1 agreement with Keras. Each precision has its own thresholds (`CRITERIA`).
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

# f32 allows float reassociation in the runtime's kernels (XNNPACK, MLAS), scaled by the output's magnitude.
F32_ATOL = 1e-4


@dataclass(frozen=True)
class Criterion:
    cosine: float | None  # the worst per-sample cosine must reach this (None: judged on max_abs_error)
    top1: float  # top-1 agreement with Keras on outputs with a class axis


# Top-1 agreement counts a position where the artifact picks another class whose Keras score is within
# TIE x (that position's spread of Keras scores) of the best: a tie the precision cannot resolve (random-init
# and briefly trained LMs have many). A wrong model (a shuffled or reversed class order) picks classes far
# from the best and agrees on about 1/classes of the positions. `top1_exact` reports the plain agreement.
TIE = {"none": 1e-3, "fp16": 0.01, "dynamic": 0.05, "int8": 0.1}
CRITERIA = {
    "none": Criterion(None, 0.99),
    "fp16": Criterion(0.999, 0.99),
    "dynamic": Criterion(0.99, 0.95),
    "int8": Criterion(0.98, 0.9),
}


@dataclass
class OutputNumerics:
    name: str
    samples: int
    max_abs_error: float
    cosine: float  # over the whole batch, for reference only
    worst_sample_cosine: float
    worst_sample: int
    top1_agreement: float | None  # None: the output has no class axis; ties within TIE count as agreement
    top1_exact: float | None  # the plain argmax agreement
    passed: bool
    criterion: str


@dataclass
class Numerics:
    samples: int
    max_abs_error: float  # the largest over every output
    cosine_similarity: float  # the worst per-sample cosine over every output
    top1_agreement: float | None  # the lowest over the outputs with a class axis
    criterion: str
    passed: bool
    outputs: list[OutputNumerics] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    cpu: str = field(default_factory=lambda: cpu_description())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def failure(self) -> str | None:
        """One line naming the output and the figure that failed, or None."""
        bad = [o for o in self.outputs if not o.passed]
        if not bad:
            return None
        o = bad[0]
        top1 = "" if o.top1_agreement is None else f", top-1 {o.top1_agreement:.3f}"
        return (f"numerics off on output {o.name!r}: max |error| {o.max_abs_error:.3g}, worst sample cosine "
                f"{o.worst_sample_cosine:.5f} (sample {o.worst_sample}){top1}; needs {o.criterion}")


def cpu_description() -> str:
    """The CPU the numerics ran on (kernels differ between CPUs: AVX2, AVX-512, VNNI, NEON)."""
    model = ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith(("model name", "Model", "Hardware")):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    flags = _cpu_flags()
    isa = ",".join(f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "asimddp", "i8mm") if f in flags)
    return f"{platform.machine()} {model}".strip() + (f" ({isa})" if isa else "")


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith(("flags", "Features")):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = a.astype(np.float64).reshape(-1)
    b = b.astype(np.float64).reshape(-1)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0.0 and nb == 0.0:
        return 1.0
    if na == 0.0 or nb == 0.0:
        return 0.0
    return float(a @ b / (na * nb))


def compare_output(name: str, reference: np.ndarray, actual: np.ndarray, mode: str, classes: bool) -> OutputNumerics:
    """Judge one output (samples on axis 0) for `mode`."""
    r = np.asarray(reference, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64).reshape(r.shape)
    n = r.shape[0] if r.ndim else 1
    rs, as_ = r.reshape(n, -1), a.reshape(n, -1)
    per_sample = [cosine(rs[i], as_[i]) for i in range(n)]
    worst = int(np.argmin(per_sample)) if per_sample else 0
    max_err = float(np.max(np.abs(r - a))) if r.size else 0.0
    top1 = top1_exact = None
    if classes and r.ndim >= 2 and r.shape[-1] >= 2:
        picked = np.argmax(a, axis=-1)[..., None]
        best, chosen = np.max(r, axis=-1), np.take_along_axis(r, picked, axis=-1)[..., 0]
        tied = best - chosen <= TIE[mode] * np.std(r, axis=-1)
        top1 = float(np.mean(tied))
        top1_exact = float(np.mean(np.argmax(r, axis=-1) == picked[..., 0]))
    crit = CRITERIA[mode]
    parts = []
    if crit.cosine is None:
        tol = F32_ATOL * max(1.0, float(np.max(np.abs(r))) if r.size else 0.0)
        ok = max_err <= tol
        parts.append(f"max_abs_error <= {tol:.3g} (1e-4 x max(1, max|y|))")
    else:
        ok = per_sample[worst] >= crit.cosine if per_sample else True
        parts.append(f"worst sample cosine >= {crit.cosine}")
    if top1 is not None:
        ok = ok and top1 >= crit.top1
        parts.append(f"top-1 agreement >= {crit.top1} (ties within {TIE[mode]} std count)")
    return OutputNumerics(name, n, max_err, cosine(r, a), per_sample[worst] if per_sample else 1.0, worst, top1,
                          top1_exact, ok, " and ".join(parts))


def constant_outputs(reference: Mapping[str, np.ndarray]) -> list[str]:
    """Outputs that are the same for every input sample (an untrained or degenerate model)."""
    out = []
    for name, y in reference.items():
        y = np.asarray(y, dtype=np.float64)
        if y.ndim and y.shape[0] > 1:
            scale = max(1e-12, float(np.max(np.abs(y))))
            if float(np.max(np.abs(y - y[:1]))) <= 1e-6 * scale:
                out.append(name)
    return out


def compare(reference: Mapping[str, np.ndarray], actual: Mapping[str, np.ndarray], mode: str,
            class_outputs: Sequence[str] = ()) -> Numerics:
    """Judge every output of `reference` (by name) against `actual` for `mode`."""
    missing = [k for k in reference if k not in actual]
    if missing:
        raise ValueError(f"the artifact has no output named {missing}; it has {sorted(actual)}")
    outs = [compare_output(k, reference[k], actual[k], mode, k in class_outputs) for k in reference]
    warnings = []
    same = constant_outputs(reference)
    if same:
        warnings.append(f"the Keras outputs {same} are the same for every input sample (an untrained model?): "
                        "no numerics check means anything on them")
    top1s = [o.top1_agreement for o in outs if o.top1_agreement is not None]
    crit = sorted({o.criterion for o in outs})
    return Numerics(
        samples=outs[0].samples if outs else 0,
        max_abs_error=max((o.max_abs_error for o in outs), default=0.0),
        cosine_similarity=min((o.worst_sample_cosine for o in outs), default=1.0),
        top1_agreement=min(top1s) if top1s else None,
        criterion="; ".join(crit),
        passed=all(o.passed for o in outs),
        outputs=outs,
        warnings=warnings,
    )


def combined(parts: Sequence[Numerics]) -> Numerics:
    """The numerics of several signatures or files as one: every output, the worst figures."""
    outs = [o for p in parts for o in p.outputs]
    top1s = [p.top1_agreement for p in parts if p.top1_agreement is not None]
    return Numerics(
        samples=max((p.samples for p in parts), default=0),
        max_abs_error=max((p.max_abs_error for p in parts), default=0.0),
        cosine_similarity=min((p.cosine_similarity for p in parts), default=1.0),
        top1_agreement=min(top1s) if top1s else None,
        criterion="; ".join(sorted({p.criterion for p in parts})) + " (every signature)",
        passed=all(p.passed for p in parts),
        outputs=outs,
        warnings=sorted({w for p in parts for w in p.warnings}),
    )


def run_samples(run: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]],
                inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run a batch-1 artifact over every sample (inputs by name, samples on axis 0); outputs by name,
    stacked along axis 0."""
    n = next(iter(inputs.values())).shape[0]
    outs: dict[str, list[np.ndarray]] = {}
    for i in range(n):
        ys = run({k: x[i : i + 1] for k, x in inputs.items()})
        for k, y in ys.items():
            outs.setdefault(k, []).append(np.asarray(y))
    return {k: np.concatenate(v, axis=0) for k, v in outs.items()}
