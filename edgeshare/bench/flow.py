"""The one benchmark flow, the same for every target: push, run, parse, pull, clean up.

    session = BenchSession(transport, options)      # make a work folder, describe the device,
    session.open()                                   #   push the benchmark binary (adb)
    session.bench("build/tied_lm/tied_lm_int8.tflite", "xnnpack")   # push model, run, pull, parse, rm
    session.close()                                  # remove the work folder and all it holds

Only the transport differs between targets. The engine that measures depends on the target: the
Python runner (`python -m edgeshare.bench.runner`, LiteRT or onnxruntime) on the host and on SSH
boards, the TFLite `benchmark_model` binary on Android.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from edgeshare.bench.artifacts import artifact_format, load_report, predicted_ram, weight_bytes
from edgeshare.bench.engines import BenchmarkRunError, Engine, engine_for
from edgeshare.bench.engines.base import Invocation, ProgressFn
from edgeshare.bench.memory import weight_ratio
from edgeshare.bench.names import DELEGATES, RUNNER_DELEGATES
from edgeshare.bench.options import BenchOptions
from edgeshare.bench.transports.base import TargetError, Transport
from edgeshare.errors import InvalidInputError

__all__ = ["BenchOptions", "BenchSession", "bench_target", "bench_targets", "error_row", "load_report", "plan_jobs"]


def plan_jobs(artifacts: Sequence[str], delegates: Sequence[str], kind: str,
              options: BenchOptions | None = None) -> list[tuple[str, str]]:
    """(artifact, delegate) pairs a target of this kind can run; raises InvalidInputError for none."""
    if options is not None and kind != "adb" and options.runtime == "interpreter" and options.weight_cache == "on":
        raise InvalidInputError("the XNNPACK weight cache needs LiteRT's CompiledModel API on the host and SSH "
                                "boards: use --runtime compiled, or --weight-cache off for the Interpreter. "
                                "Received: runtime=interpreter, weight_cache=on")
    for d in delegates:
        if d not in DELEGATES:
            raise InvalidInputError(f"unknown delegate; expected one of {', '.join(DELEGATES)}. Received: delegate={d}")
    jobs = []
    for a in artifacts:
        fmt = artifact_format(a)
        if kind == "adb":
            if fmt != "tflite":
                raise InvalidInputError("Android targets run .tflite files with benchmark_model; bench .onnx on "
                                        "the host or an SSH board", a)
            jobs += [(a, d) for d in (delegates or ["xnnpack"])]
            continue
        offered = RUNNER_DELEGATES[fmt]
        wanted = [d for d in delegates if d in offered] if delegates else [offered[0]]
        if not wanted:
            raise InvalidInputError(
                f"on {kind} targets the {fmt} runner offers {', '.join(offered)}; GPU, NNAPI, Hexagon and NPU "
                f"delegates run on Android (--device adb). Received: delegate={','.join(delegates)}", a)
        jobs += [(a, d) for d in wanted]
    if kind == "adb" and options is not None:
        from edgeshare.bench.engines import ENGINES, adb_engine

        engine = ENGINES[adb_engine(options)]
        offered = getattr(engine, "delegates", DELEGATES)
        for a, d in jobs:
            if d not in offered:
                raise InvalidInputError(f"{engine.name} offers delegates {', '.join(offered)}. Received: delegate={d}",
                                        a)
    return jobs


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class BenchSession:
    """One target's work folder and state for the length of a benchmark run.

    Args:
        transport: how to reach the target.
        options: BenchOptions.
        engine: what measures (default: the target kind's engine, see `edgeshare.bench.engines`).
    """

    def __init__(self, transport: Transport, options: BenchOptions, engine: Engine | None = None) -> None:
        self.transport = transport
        self.options = options
        self.engine = engine or engine_for(transport.kind, options=options)
        self.workdir: str | None = None
        self.info: dict[str, Any] = {}

    def __enter__(self) -> BenchSession:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        self.info = self.transport.device_info()
        self.workdir = self.transport.make_workdir()
        self.engine.open(self)

    def close(self) -> None:
        if self.workdir is not None:
            # A device that went away cannot be cleaned any more; its error is already recorded.
            with contextlib.suppress(TargetError):
                self.transport.remove(self.workdir)
            self.workdir = None
        with contextlib.suppress(TargetError):
            self.transport.close()

    def prefix(self) -> list[str]:
        """What runs the engine's command: `taskset MASK` when a CPU mask is set."""
        return ["taskset", self.options.cpu_mask] if self.options.cpu_mask else []

    def bench(self, artifact: str, delegate: str, progress: ProgressFn | None = None) -> dict[str, Any]:
        """Push `artifact`, benchmark it with `delegate`, pull and parse the result, remove the copy."""
        if self.workdir is None:
            raise RuntimeError("BenchSession.bench() before open()")
        t = self.transport
        fmt = artifact_format(artifact)
        remote_model = f"{self.workdir}/{os.path.basename(artifact)}"
        t.push(artifact, remote_model)
        steps: list[Invocation] = []
        try:
            steps = self.engine.steps(self, remote_model, delegate, progress, fmt)
            parsed = []
            for inv in steps:
                proc = t.run(inv.argv, cwd=self.workdir, env=inv.env, timeout=self.options.timeout,
                             merge_stderr=inv.merge_stderr, on_stderr_line=inv.on_stderr_line)
                parsed.append(self.engine.parse(inv, proc, self._pull_text(inv.result_file)))
                for path in inv.expect_files:
                    self._check_written(path, inv)
            res = self.engine.combine(steps, parsed)
            described = [t.describe(s.argv, cwd=self.workdir, env=s.env, merge_stderr=s.merge_stderr) for s in steps]
            res["command"] = described[-1]  # the measured run
            if len(described) > 1:
                res["commands"] = described
        finally:
            scratch = list(dict.fromkeys(f for s in steps for f in s.cleanup))
            with contextlib.suppress(TargetError):
                t.run(["rm", "-f", "--", remote_model, *scratch], timeout=60)
        o = self.options
        res.update({
            "artifact": artifact,
            "variant": os.path.basename(artifact),
            "format": fmt,
            "device": t.label,
            "target": t.kind,
            "device_info": self.info,
            "delegate": delegate,
            "engine": self.engine.name,
            "threads": o.threads,
            "cpu_mask": o.cpu_mask,
            "warmup": o.warmup,
            "runs": o.runs,
            "size_bytes": os.path.getsize(artifact),
            "weight_bytes": weight_bytes(artifact),
            "report": load_report(artifact),
            "timestamp": _now(),
        })
        res.update(weight_ratio(res.get("ram_mb"), res["weight_bytes"]))
        res["ram_predicted"], res["ram_notes"] = predicted_ram(artifact, res)
        return res

    def _check_written(self, path: str, step: Invocation) -> None:
        """A file the step had to write (a weight cache) must be on the target and not empty."""
        proc = self.transport.run(["wc", "-c", path], timeout=60)
        words = proc.text.split()
        size = int(words[0]) if proc.returncode == 0 and words and words[0].isdigit() else None
        if not size:
            state = "missing" if size is None else "empty"
            raise BenchmarkRunError(
                f"the XNNPACK weight cache {path} is {state} after the {step.role.replace('_', ' ')}: the runtime did "
                "not write it (a build that ignores the cache flag, or a folder it cannot write to); measure "
                f"without it with --weight-cache off. Received: weight_cache={path}", "cache_missing", {"cache": path})

    def _pull_text(self, remote: str | None) -> str | None:
        """The text of a result file the engine left on the target, or None when it left none."""
        if remote is None:
            return None
        with tempfile.TemporaryDirectory(prefix="edgeshare-pull-") as tmp:
            local = os.path.join(tmp, "result")
            try:
                self.transport.pull(remote, local)
                with open(local) as fh:
                    return fh.read()
            except (TargetError, OSError):
                return None


def error_row(device: str, artifact: str, delegate: str, exc: BaseException) -> dict[str, Any]:
    return {
        "device": device,
        "artifact": artifact,
        "variant": os.path.basename(artifact),
        "delegate": delegate,
        "error": str(exc),
        "error_kind": getattr(exc, "kind", "device" if isinstance(exc, TargetError) else
                              "input" if isinstance(exc, InvalidInputError) else "failed"),
        "timestamp": _now(),
    }


def bench_target(transport: Transport, jobs: Sequence[tuple[str, str]], options: BenchOptions,
                 progress: ProgressFn | None = None) -> list[dict[str, Any]]:
    """Run every (artifact, delegate) job on one target. Failures become rows with an "error" key.

    A failed run (a delegate that does not apply, an unsupported op) does not stop the others; a
    target that goes away stops this target, and the rows measured before are kept.
    """
    rows: list[dict[str, Any]] = []
    session = BenchSession(transport, options)
    try:
        session.open()
    except (TargetError, InvalidInputError) as exc:
        # A device that is not usable (or a binary that does not fit it) fails this target only.
        session.close()
        return [error_row(transport.label, a, d, exc) for a, d in jobs]
    try:
        for i, (artifact, delegate) in enumerate(jobs):
            name = f"{transport.label} {os.path.basename(artifact)} [{delegate}]"

            def tick(msg: str, done: int, total: int, _name: str = name, _i: int = i) -> None:
                if progress:
                    progress(_name, _i * 1000 + (done * 1000 // total if total else 0), len(jobs) * 1000)

            tick("start", 0, 1)
            try:
                rows.append(session.bench(artifact, delegate, tick))
            except BenchmarkRunError as exc:
                rows.append(error_row(transport.label, artifact, delegate, exc))
            except TargetError as exc:
                rows += [error_row(transport.label, a, d, exc) for a, d in jobs[i:]]
                break
            tick("done", 1, 1)
    finally:
        session.close()
    return rows


def bench_targets(transports: Sequence[Transport], jobs_for: Callable[[Transport], list[tuple[str, str]]],
                  options: BenchOptions, progress: Callable[[Transport], ProgressFn | None] | None = None
                  ) -> list[dict[str, Any]]:
    """Run several targets in parallel (one thread each: they are different machines)."""
    if len(transports) == 1:
        t = transports[0]
        return bench_target(t, jobs_for(t), options, progress(t) if progress else None)
    with ThreadPoolExecutor(max_workers=len(transports)) as pool:
        futures = [pool.submit(bench_target, t, jobs_for(t), options, progress(t) if progress else None)
                   for t in transports]
        rows: list[dict[str, Any]] = []
        for f in futures:
            rows += f.result()
    return rows
