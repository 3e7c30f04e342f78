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
import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from edgeshare.bench.bench_options import BenchOptions
from edgeshare.bench.benchmark_model import (
    DELEGATES,
    BenchmarkRunError,
    benchmark_model_argv,
    parse_benchmark_output,
    select_benchmark_binary,
)
from edgeshare.bench.transport import TargetError, Transport
from edgeshare.converters.errors import InvalidInputError

__all__ = ["BenchOptions", "BenchSession", "bench_target", "bench_targets", "error_row", "load_report", "plan_jobs"]

RUNNER_DELEGATES = {"tflite": ("xnnpack", "cpu"), "onnx": ("cpu",)}
ProgressFn = Callable[[str, int, int], None]  # (message, done, total)


def artifact_format(path: str) -> str:
    from edgeshare.bench.host import check_artifact

    return check_artifact(path)


def load_report(artifact: str) -> dict[str, Any] | None:
    """`<artifact>.report.json` written by `edgeshare export`, when it is there."""
    path = f"{artifact}.report.json"
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as fh:
            rep = json.load(fh)
    except (OSError, json.JSONDecodeError):
        return None
    keys = ("model", "format", "quantize", "mode", "file_bytes", "weight_bytes", "floor_bytes", "duplicate_bytes")
    return {k: rep[k] for k in keys if k in rep} if isinstance(rep, dict) else None


def plan_jobs(artifacts: Sequence[str], delegates: Sequence[str], kind: str) -> list[tuple[str, str]]:
    """(artifact, delegate) pairs a target of this kind can run; raises InvalidInputError for none."""
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
    return jobs


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class BenchSession:
    """One target's work folder and state for the length of a benchmark run.

    Args:
        transport: how to reach the target.
        options: BenchOptions.
    """

    def __init__(self, transport: Transport, options: BenchOptions) -> None:
        self.transport = transport
        self.options = options
        self.engine = "benchmark_model" if transport.kind == "adb" else "edgeshare.bench.runner"
        self.workdir: str | None = None
        self.info: dict[str, Any] = {}
        self.remote_binary: str | None = None
        self.binary: str | None = None

    def __enter__(self) -> BenchSession:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        t = self.transport
        self.info = t.device_info()
        if self.engine == "benchmark_model":
            # Choose before anything is pushed: a wrong binary is an input error, not a device one.
            self.binary = select_benchmark_binary(self.options.benchmark_binary, self.info.get("abi") or "",
                                                  self.info.get("abilist"), t.label)
        self.workdir = t.make_workdir()
        if self.binary:
            self.remote_binary = f"{self.workdir}/benchmark_model"
            t.push(self.binary, self.remote_binary)
            res = t.run(["chmod", "755", self.remote_binary], timeout=60)
            if res.returncode != 0:
                raise TargetError(f"could not make benchmark_model executable: {res.last_error_line()}. "
                                  f"Received: device={t.label}", t.label)
            for lib in self.options.push_libs:
                t.push(lib, f"{self.workdir}/{os.path.basename(lib)}")

    def close(self) -> None:
        if self.workdir is not None:
            # A device that went away cannot be cleaned any more; its error is already recorded.
            with contextlib.suppress(TargetError):
                self.transport.remove(self.workdir)
            self.workdir = None
        with contextlib.suppress(TargetError):
            self.transport.close()

    def bench(self, artifact: str, delegate: str, progress: ProgressFn | None = None) -> dict[str, Any]:
        """Push `artifact`, benchmark it with `delegate`, pull and parse the result, remove the copy."""
        if self.workdir is None:
            raise RuntimeError("BenchSession.bench() before open()")
        t = self.transport
        fmt = artifact_format(artifact)
        remote_model = f"{self.workdir}/{os.path.basename(artifact)}"
        t.push(artifact, remote_model)
        try:
            if self.engine == "benchmark_model":
                res = self._run_benchmark_model(remote_model, delegate, progress)
            else:
                res = self._run_runner(remote_model, delegate, progress)
        finally:
            with contextlib.suppress(TargetError):
                t.run(["rm", "-f", "--", remote_model], timeout=60)
        o = self.options
        res.update({
            "artifact": artifact,
            "variant": os.path.basename(artifact),
            "format": fmt,
            "device": t.label,
            "target": t.kind,
            "device_info": self.info,
            "delegate": delegate,
            "engine": self.engine,
            "threads": o.threads,
            "cpu_mask": o.cpu_mask,
            "warmup": o.warmup,
            "runs": o.runs,
            "size_bytes": os.path.getsize(artifact),
            "report": load_report(artifact),
            "timestamp": _now(),
        })
        return res

    def _prefix(self) -> list[str]:
        return ["taskset", self.options.cpu_mask] if self.options.cpu_mask else []

    def _run_runner(self, remote_model: str, delegate: str, progress: ProgressFn | None) -> dict[str, Any]:
        t, o = self.transport, self.options
        if self.workdir is None:
            raise RuntimeError("the session has no work folder")
        python = o.remote_python or (sys.executable if t.kind == "host" else "python3")
        out = f"{self.workdir}/result.json"
        argv = [*self._prefix(), python, "-m", "edgeshare.bench.runner", remote_model, "--warmup", str(o.warmup),
                "--runs", str(o.runs), "--delegate", delegate, "--out", out]
        if o.threads:
            argv += ["--threads", str(o.threads)]
        env = {"EDGESHARE_PROGRESS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
        other: list[str] = []

        def on_line(line: str) -> None:
            if line.startswith("edgeshare-progress "):
                if progress:
                    done, total = line.split()[1:3]
                    progress("running", int(done), int(total))
            elif line.strip():
                other.append(line.strip())

        proc = t.run(argv, cwd=self.workdir, env=env, timeout=o.timeout, on_stderr_line=on_line)
        data: dict[str, Any] = {}
        with tempfile.TemporaryDirectory(prefix="edgeshare-pull-") as tmp:
            local = os.path.join(tmp, "result.json")
            try:
                t.pull(out, local)
                with open(local) as fh:
                    data = json.load(fh)
            except (TargetError, OSError, json.JSONDecodeError):
                lines = proc.text.strip().splitlines()
                try:
                    data = json.loads(lines[-1]) if lines else {}
                except json.JSONDecodeError:
                    data = {}
        if proc.returncode != 0 or "error" in data or not data:
            why = data.get("error") or (other[-1] if other else f"exit status {proc.returncode}")
            if "No module named" in why and "edgeshare" in why:
                why += f" (install the light runtime on the board: `{python} -m pip install edgeshare`)"
            raise BenchmarkRunError(f"the runner could not benchmark the model: {why}", "failed")
        data.pop("artifact", None)
        data["command"] = t.describe(argv, cwd=self.workdir, env=env)
        return data

    def _run_benchmark_model(self, remote_model: str, delegate: str, progress: ProgressFn | None
                             ) -> dict[str, Any]:
        t, o = self.transport, self.options
        if self.workdir is None or self.remote_binary is None:
            raise RuntimeError("the session has no work folder or benchmark binary")
        argv = [*self._prefix(), *benchmark_model_argv(
            self.remote_binary, remote_model, delegate=delegate, threads=o.threads, warmup=o.warmup, runs=o.runs,
            op_profile=o.op_profile, peak_memory=o.peak_memory,
            lib_dir=self.workdir if o.push_libs else None)]
        env = {"LD_LIBRARY_PATH": self.workdir} if o.push_libs else None
        if progress:
            progress("running benchmark_model", 0, 0)
        # stderr is merged into stdout on the device, so the log keeps its order through adb.
        proc = t.run(argv, cwd=self.workdir, env=env, merge_stderr=True, timeout=o.timeout)
        log = proc.text + proc.error_text
        res = parse_benchmark_output(log, proc.returncode)
        res["command"] = t.describe(argv, cwd=self.workdir, env=env, merge_stderr=True)
        res["runtime"] = "benchmark_model"
        res["log_tail"] = [ln for ln in log.splitlines() if ln.strip()][-5:]
        return res


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
