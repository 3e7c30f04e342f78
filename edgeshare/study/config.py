"""Sizes of the study: the full run (`make study`) and the toy run (`--quick`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

DIGITS_TECHNIQUES = (
    "cnn", "bank_hard", "bank_soft", "grouped", "grouped_shuffle", "shuffle_unit", "cp", "tucker",
    "rnn", "rnn_shared", "separate_tasks", "multitask",
)
TEXT_TECHNIQUES = (
    "untied", "tied", "factorized", "half_depth", "all", "sequence", "cycle", "cycle_rev", "universal",
    "shared_attention", "shared_ffn", "repeat_loop",
)
# --quick trains a few techniques of each task: enough to run every stage of the pipeline.
QUICK_DIGITS = ("cnn", "bank_soft", "separate_tasks", "multitask")
QUICK_TEXT = ("tied", "all", "repeat_loop")


@dataclass(frozen=True)
class DigitsSize:
    channels: int = 32
    body_layers: int = 6
    groups: int = 4
    cp_rank: int = 16
    tucker_ranks: tuple[int, int] = (12, 12)
    rnn_units: int = 64
    rnn_layers: int = 4
    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 2e-3
    calibration: int = 128  # training images for int8 calibration


@dataclass(frozen=True)
class TextSize:
    dim: int = 64
    heads: int = 4
    ffn: int = 256
    seq_len: int = 64
    depth: int = 4
    unique: int = 2  # unique blocks of the sequence / cycle / cycle_rev stacks (and of half_depth)
    factor_dim: int = 16  # E of the factorized embedding
    steps: int = 200
    batch_size: int = 32
    learning_rate: float = 2e-3
    eval_windows: int = 64  # evenly spaced test windows
    calibration: int = 32  # training windows for int8 calibration


@dataclass(frozen=True)
class StudyConfig:
    seeds: tuple[int, ...] = (0, 1, 2)
    digits: DigitsSize = field(default_factory=DigitsSize)
    text: TextSize = field(default_factory=TextSize)
    digits_techniques: tuple[str, ...] = DIGITS_TECHNIQUES
    text_techniques: tuple[str, ...] = TEXT_TECHNIQUES
    bench_runs: int = 50
    growth_samples: int = 8  # inputs for the use-by-use int8 error
    remedy_steps: int = 150  # fine-tuning steps of the remedy
    quick: bool = False

    @property
    def name(self) -> str:
        return "quick" if self.quick else "full"


FULL = StudyConfig()
QUICK = StudyConfig(
    seeds=(0,),
    digits=DigitsSize(channels=16, body_layers=4, cp_rank=8, tucker_ranks=(6, 6), rnn_units=16, rnn_layers=3,
                      epochs=2, calibration=32),
    text=TextSize(dim=32, heads=2, ffn=64, seq_len=32, depth=4, unique=2, factor_dim=8, steps=30,
                  eval_windows=32, calibration=16),
    digits_techniques=QUICK_DIGITS,
    text_techniques=QUICK_TEXT,
    bench_runs=10,
    growth_samples=4,
    remedy_steps=10,
    quick=True,
)


def select(config: StudyConfig, tasks: tuple[str, ...] | None, techniques: tuple[str, ...] | None) -> StudyConfig:
    """`config` restricted to some tasks and techniques; unknown names raise ValueError."""
    known = {"digits": DIGITS_TECHNIQUES, "text": TEXT_TECHNIQUES}
    if tasks is not None:
        bad = sorted(set(tasks) - set(known))
        if bad:
            raise ValueError(f"unknown task(s): expected digits or text. Received: tasks={bad}")
    if techniques is not None:
        bad = sorted(set(techniques) - set(DIGITS_TECHNIQUES) - set(TEXT_TECHNIQUES))
        if bad:
            raise ValueError(
                f"unknown technique(s): expected any of {', '.join(DIGITS_TECHNIQUES + TEXT_TECHNIQUES)}. "
                f"Received: techniques={bad}"
            )

    def keep(task: str, names: tuple[str, ...]) -> tuple[str, ...]:
        if tasks is not None and task not in tasks:
            return ()
        if techniques is None:
            return names
        return tuple(t for t in known[task] if t in techniques)

    return replace(config, digits_techniques=keep("digits", config.digits_techniques if techniques is None else
                                                  DIGITS_TECHNIQUES),
                   text_techniques=keep("text", config.text_techniques if techniques is None else TEXT_TECHNIQUES))
