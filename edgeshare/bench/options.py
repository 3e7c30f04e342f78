"""What to measure and how: the options of a benchmark run, the same for every target."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from edgeshare.bench.names import LITERT_APIS, ON_OFF
from edgeshare.errors import InvalidInputError
from edgeshare.validation import check_choice, check_in_range, check_positive_int


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
        weight_cache: "on" (XNNPACK's weight cache: each buffer packed once; a build launch and a measured
            launch), "off", or None: on, unless `runtime` is "interpreter".
        runtime: the LiteRT API of the Python runner, "compiled" or "interpreter"; None: compiled when the
            weight cache is on. On Android, "compiled" picks benchmark_litert_model and "interpreter"
            benchmark_model (None: the binary's name decides).
        ort_prepack: "on" (onnxruntime's default: a prepacked copy of a constant GEMM operand per node) or "off".
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
    weight_cache: str | None = None
    runtime: str | None = None
    ort_prepack: str = "on"

    @property
    def cache_on(self) -> bool:
        """Whether LiteRT runs through XNNPACK's weight cache (the default)."""
        return self.weight_cache == "on" or (self.weight_cache is None and self.runtime != "interpreter")

    @property
    def litert_api(self) -> str:
        """The LiteRT API the Python runner uses: "compiled" unless asked or the cache is off."""
        return self.runtime or ("compiled" if self.cache_on else "interpreter")

    def validate(self) -> None:
        if self.weight_cache is not None and self.weight_cache not in ON_OFF:
            raise InvalidInputError(f"`weight_cache` is on or off. Received: weight_cache={self.weight_cache}")
        if self.ort_prepack not in ON_OFF:
            raise InvalidInputError(f"`ort_prepack` is on or off. Received: ort_prepack={self.ort_prepack}")
        if self.runtime is not None:
            check_choice(self.runtime, "runtime", LITERT_APIS, error=InvalidInputError)
        check_positive_int(self.runs, "runs", error=InvalidInputError)
        check_in_range(self.warmup, "warmup", 0, error=InvalidInputError)
        check_positive_int(self.threads, "threads", allow_none=True, error=InvalidInputError)
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
