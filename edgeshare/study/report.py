"""Aggregate the study's rows over seeds and write BENCHMARKS.md's study section (between markers)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

BEGIN = "<!-- BEGIN study -->"
END = "<!-- END study -->"
HIGHER_IS_BETTER = {"accuracy": True, "bits_per_byte": False}
LITTLE = 0.05  # ALBERT's "costs a little": at most 5% worse than the unshared model


@dataclass(frozen=True)
class Stat:
    mean: float
    std: float  # sample standard deviation over seeds (ddof=1); 0 for one seed
    n: int

    def fmt(self, digits: int = 3) -> str:
        if not math.isfinite(self.mean):
            return "n/a"
        if self.n < 2:
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} ± {self.std:.{digits}f}"


def stat(values: list[float]) -> Stat:
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)
    if len(v) == 0:
        return Stat(float("nan"), float("nan"), 0)
    return Stat(float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0, len(v))


@dataclass(frozen=True)
class Summary:
    task: str
    technique: str
    metric_name: str
    seeds: tuple[int, ...]
    metric: Stat
    int8_metric: Stat
    int8_delta: Stat  # int8 minus float, per seed
    p50_ms: Stat
    int8_p50_ms: Stat
    ram_mb: Stat
    int8_ram_mb: Stat
    unique_params: int
    params_per_use: int
    tflite_f32_bytes: Stat
    tflite_int8_bytes: Stat
    stock_f32_bytes: int
    stock_int8_bytes: int
    duplicate_bytes: int
    ram_source: str
    task_metrics: dict[str, Stat]
    int8_task_metrics: dict[str, Stat]
    extra: dict[str, Stat]  # the optional metrics of OPTIONAL that the rows carry (finite values only)


OPTIONAL = ("int8_keras_mask_metric", "int8_unrolled_metric", "tflite_f32_metric")


def summarize(rows: list[dict[str, Any]]) -> list[Summary]:
    """One Summary per (task, technique), in the order the rows first name them."""
    order: list[tuple[str, str]] = []
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        key = (r["task"], r["technique"])
        if key not in groups:
            order.append(key)
            groups[key] = []
        groups[key].append(r)
    out = []
    for key in order:
        g = groups[key]

        def s(field: str, g: list[dict[str, Any]] = g) -> Stat:
            return stat([float(r[field]) for r in g])

        tasks = sorted({t for r in g for t in r.get("task_metrics", {})})
        out.append(Summary(
            task=key[0], technique=key[1], metric_name=g[0]["metric_name"], seeds=tuple(r["seed"] for r in g),
            metric=s("metric"), int8_metric=s("int8_metric"),
            int8_delta=stat([r["int8_metric"] - r["metric"] for r in g]),
            p50_ms=s("p50_ms"), int8_p50_ms=s("int8_p50_ms"), ram_mb=s("ram_mb"), int8_ram_mb=s("int8_ram_mb"),
            unique_params=int(g[0]["unique_params"]), params_per_use=int(g[0]["params_per_use"]),
            tflite_f32_bytes=s("tflite_f32_bytes"), tflite_int8_bytes=s("tflite_int8_bytes"),
            stock_f32_bytes=int(g[0]["stock_tflite_f32_bytes"]), stock_int8_bytes=int(g[0]["stock_tflite_int8_bytes"]),
            duplicate_bytes=max(int(r["duplicate_bytes"]) for r in g), ram_source=g[0].get("ram_source", ""),
            task_metrics={t: stat([r["task_metrics"][t] for r in g]) for t in tasks},
            int8_task_metrics={t: stat([r["int8_task_metrics"][t] for r in g]) for t in tasks},
            extra={f: st for f in OPTIONAL if (st := stat([_num(r.get(f)) for r in g])).n},
        ))
    return out


def _num(x: Any) -> float:
    return float(x) if isinstance(x, (int, float)) else float("nan")


def by_technique(summaries: list[Summary], task: str) -> dict[str, Summary]:
    return {s.technique: s for s in summaries if s.task == task}


@dataclass(frozen=True)
class Verdict:
    claim: str
    outcome: str  # "held", "did not hold", "within the seed spread", "not run"
    evidence: str


def compare(a: Stat, b: Stat, a_better_when_lower: bool) -> tuple[str, float, float]:
    """Whether a beats b: "held" when the difference of means favours a by more than the combined seed
    spread sqrt(std_a^2 + std_b^2), "did not hold" when it favours b by more, else "within the seed spread"."""
    if not (math.isfinite(a.mean) and math.isfinite(b.mean)):
        return "not run", float("nan"), float("nan")
    diff = a.mean - b.mean
    spread = math.hypot(a.std, b.std)
    gain = -diff if a_better_when_lower else diff
    if gain > spread:
        return "held", diff, spread
    if -gain > spread:
        return "did not hold", diff, spread
    return "within the seed spread", diff, spread


def verdicts(summaries: list[Summary], source: str) -> list[Verdict]:
    """The five published directions of issue 12, judged on this run's numbers."""
    text = by_technique(summaries, "text")
    digits = by_technique(summaries, "digits")
    out: list[Verdict] = []

    def bpb(name: str) -> str:
        s = text[name]
        return f"`{name}` {s.metric.fmt()} bpb ({s.unique_params:,} unique params)"

    def check(claim: str, need: list[str], pool: dict[str, Summary], a: str, b: str, lower: bool,
              evidence: Any) -> None:
        if not all(n in pool for n in need):
            out.append(Verdict(claim, "not run", f"needs {', '.join(need)} ({source})"))
            return
        outcome, diff, spread = compare(pool[a].metric, pool[b].metric, lower)
        out.append(Verdict(claim, outcome, f"{evidence()}; difference {diff:+.3f}, seed spread {spread:.3f} "
                                           f"({source})"))

    check("Press & Wolf 2017: tying lowers perplexity with fewer parameters", ["tied", "untied"], text, "tied",
          "untied", True, lambda: f"{bpb('tied')} against {bpb('untied')}")
    if all(n in text for n in ("all", "tied")):
        # "A little": within LITTLE (relative) of the unshared model's metric, beyond the seed spread.
        a, b = text["all"].metric, text["tied"].metric
        cost, spread = a.mean - b.mean, math.hypot(a.std, b.std)
        outcome = "held" if cost - spread <= LITTLE * b.mean else "did not hold"
        out.append(Verdict(
            "ALBERT: sharing every layer costs a little for a large saving", outcome,
            f"{bpb('all')} against {bpb('tied')}: "
            f"{text['tied'].unique_params / max(1, text['all'].unique_params):.1f}x "
            f"fewer unique params for {cost:+.3f} bpb ({100 * cost / b.mean:+.1f}%; seed spread {spread:.3f}); "
            f"'a little' means within {100 * LITTLE:.0f}% ({source})"))
    else:
        out.append(Verdict("ALBERT: sharing every layer costs a little for a large saving", "not run",
                           f"needs all, tied ({source})"))
    check("ALBERT: sharing the FFN costs more than sharing attention", ["shared_attention", "shared_ffn"], text,
          "shared_attention", "shared_ffn", True, lambda: f"{bpb('shared_ffn')} against {bpb('shared_attention')}")
    if all(n in digits for n in ("bank_soft", "cnn")):
        # "Keeps accuracy": not worse than the unshared CNN by more than the seed spread, with fewer parameters.
        bank, cnn = digits["bank_soft"], digits["cnn"]
        diff, spread = bank.metric.mean - cnn.metric.mean, math.hypot(bank.metric.std, cnn.metric.std)
        kept = diff >= -spread and bank.unique_params < cnn.unique_params
        out.append(Verdict(
            "Savarese & Maire 2019: a soft template bank keeps accuracy with fewer parameters",
            "held" if kept else "did not hold",
            f"`bank_soft` {bank.metric.fmt()} ({bank.unique_params:,} params) against `cnn` {cnn.metric.fmt()} "
            f"({cnn.unique_params:,}); difference {diff:+.3f}, seed spread {spread:.3f}; 'keeps' means not worse by "
            f"more than the spread ({source})"))
    else:
        out.append(Verdict("Savarese & Maire 2019: a soft template bank keeps accuracy with fewer parameters",
                           "not run", f"needs bank_soft, cnn ({source})"))
    check("MobileLLM: adjacent repeat gains at an equal count of unique parameters", ["sequence", "half_depth"],
          text, "sequence", "half_depth", True, lambda: f"{bpb('sequence')} against {bpb('half_depth')}")
    check("Takase & Kiyono 2021: cycle_rev beats sequence", ["cycle_rev", "sequence"], text, "cycle_rev",
          "sequence", True, lambda: f"{bpb('cycle_rev')} against {bpb('sequence')}")
    return out


def kb(n: float) -> str:
    return f"{n / 1024:.1f}"


def table(summaries: list[Summary], task: str, shared: dict[str, str], extra: tuple[tuple[str, str], ...] = ()
          ) -> list[str]:
    """The per-technique table of a task; `extra` adds (header, OPTIONAL field) columns after int8."""
    rows = [s for s in summaries if s.task == task]
    if not rows:
        return []
    name = rows[0].metric_name
    arrow = "higher is better" if HIGHER_IS_BETTER[name] else "lower is better"
    head = "".join(f" {h} |" for h, _ in extra)
    lines = [
        f"| technique | what is shared | unique params | params per use | f32 KB edgeshare / stock | "
        f"int8 KB edgeshare / stock | {name} float ({arrow}) | {name} int8 | int8 − float |{head} "
        f"p50 ms f32 / int8 | RAM MB f32 / int8 |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * len(extra) + "---:|---:|",
    ]
    for s in rows:
        cells = "".join(f" {s.extra[f].fmt() if f in s.extra else 'n/a'} |" for _, f in extra)
        lines.append(
            f"| `{s.technique}` | {shared.get(s.technique, '')} | {s.unique_params:,} | {s.params_per_use:,} | "
            f"{kb(s.tflite_f32_bytes.mean)} / {kb(s.stock_f32_bytes)} | {kb(s.tflite_int8_bytes.mean)} / "
            f"{kb(s.stock_int8_bytes)} | {s.metric.fmt()} | {s.int8_metric.fmt()} | {s.int8_delta.fmt()} |{cells} "
            f"{s.p50_ms.fmt(3)} / {s.int8_p50_ms.fmt(3)} | {s.ram_mb.fmt(1)} / {s.int8_ram_mb.fmt(1)} |"
        )
    return lines


def replace_section(document: str, section: str) -> str:
    """`document` with the text between BEGIN and END replaced by `section`."""
    if document.count(BEGIN) != 1 or document.count(END) != 1 or document.index(BEGIN) > document.index(END):
        raise ValueError(
            f"the document must hold one {BEGIN} line before one {END} line. "
            f"Received: begin_markers={document.count(BEGIN)}, end_markers={document.count(END)}"
        )
    head, rest = document.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{section.strip()}\n{END}{tail}"


def write_section(path: Path, section: str) -> None:
    path.write_text(replace_section(path.read_text(), section))


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
