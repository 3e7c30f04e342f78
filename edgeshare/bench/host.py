"""The host target: benchmark a file in a fresh Python process on this machine.

A fresh process per artifact keeps peak RSS meaningful (nothing from earlier runs or from the CLI's
own imports) and matches what runs on a board over SSH: `python -m edgeshare.bench.runner`. It goes
through the same flow as every other target (`edgeshare.bench.flow`) with the local transport.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edgeshare.bench.engines import BenchmarkRunError
from edgeshare.bench.flow import BenchOptions, BenchSession, plan_jobs
from edgeshare.bench.transports.local import LocalTransport
from edgeshare.errors import InvalidInputError

ProgressFn = Callable[[int, int], None]


def bench_host(
    path: str,
    threads: int | None = None,
    warmup: int = 10,
    runs: int = 100,
    progress: ProgressFn | None = None,
    delegate: str | None = None,
    weight_cache: str | None = None,
    runtime: str | None = None,
    ort_prepack: str = "on",
) -> dict[str, Any]:
    """Benchmark `path` on this machine in fresh processes and return its result dict (see BenchOptions for
    `weight_cache`, `runtime` and `ort_prepack`; by default LiteRT runs CompiledModel with the weight cache).

    Raises InvalidInputError (naming the file) when the runtime cannot run the model.
    """
    options = BenchOptions(warmup=warmup, runs=runs, threads=threads, weight_cache=weight_cache, runtime=runtime,
                           ort_prepack=ort_prepack)
    options.validate()
    [(_, chosen)] = plan_jobs([path], [delegate] if delegate else [], "host", options)

    def tick(_msg: str, done: int, total: int) -> None:
        if progress and total:
            progress(done, total)

    with BenchSession(LocalTransport(), options) as session:
        try:
            return session.bench(path, chosen, tick)
        except BenchmarkRunError as exc:
            raise InvalidInputError(str(exc), path) from exc
