"""What to measure and how: the options of a benchmark run, the same for every target."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from edgeshare.errors import InvalidInputError


@dataclass
class BenchOptions:
    """What to measure and how; the same for every target.

    Args:
        warmup, runs: untimed then timed invocations.
        threads: CPU threads (None: the runtime's default).
        cpu_mask: a hex CPU affinity mask for `taskset` (e.g. "f0" for the big cores of many phones).
        op_profile: per-op timings (benchmark_model's `--enable_op_profiling=true`).
        peak_memory: benchmark_model's `--report_peak_memory_footprint=true` (a sampling thread).
        benchmark_binary: benchmark_model file or folder for Android (else $EDGESHARE_BENCHMARK_BINARY).
        push_libs: extra files pushed beside the binary (Hexagon skel libraries, NPU dispatch libraries).
        remote_python: the Python that runs the runner on an SSH board (None: `python3`; host: this one).
        timeout: seconds one benchmark may take.
        input_shapes: input name -> shape, for inputs with dynamic dimensions (`--input-shape NAME=1x16`).
    """

    warmup: int = 10
    runs: int = 100
    threads: int | None = None
    cpu_mask: str | None = None
    op_profile: bool = False
    peak_memory: bool = False
    benchmark_binary: str | None = None
    push_libs: Sequence[str] = field(default_factory=tuple)
    remote_python: str | None = None
    timeout: float = 900.0
    input_shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    def validate(self) -> None:
        if self.runs < 1:
            raise InvalidInputError(f"`runs` must be at least 1. Received: runs={self.runs}")
        if self.warmup < 0:
            raise InvalidInputError(f"`warmup` must be 0 or more. Received: warmup={self.warmup}")
        if self.threads is not None and self.threads < 1:
            raise InvalidInputError(f"`threads` must be at least 1. Received: threads={self.threads}")
        if self.cpu_mask is not None and (not re.fullmatch(r"(0x)?[0-9a-fA-F]{1,16}", self.cpu_mask)
                                          or int(self.cpu_mask, 16) == 0):
            raise InvalidInputError("`cpu_mask` must be a non-zero hexadecimal CPU mask such as f0 (cores 4-7). "
                                    f"Received: cpu_mask={self.cpu_mask}")
        for name, shape in self.input_shapes.items():
            if not shape or any(d < 1 for d in shape):
                raise InvalidInputError(f"an input shape needs positive sizes, such as 1x16. "
                                        f"Received: input_shape={name}={'x'.join(map(str, shape))}")
        for lib in self.push_libs:
            if not os.path.isfile(lib):
                raise InvalidInputError("no such file to push", lib)


def parse_input_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """`NAME=1x16` -> ("NAME", (1, 16)); raises InvalidInputError on anything else."""
    name, sep, dims = text.rpartition("=")
    try:
        shape = tuple(int(d) for d in dims.lower().split("x"))
    except ValueError:
        shape = ()
    if not sep or not name or not shape or any(d < 1 for d in shape):
        raise InvalidInputError(f"an input shape is NAME=DIMS with positive sizes joined by x, such as "
                                f"tokens=1x16. Received: input_shape={text}")
    return name, shape
