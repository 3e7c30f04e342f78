"""The Python runner engine: `python -m edgeshare.bench.runner` on the host or an SSH board (LiteRT or
onnxruntime, light runtime only). Each step writes its JSON result to a file that the flow pulls.

One benchmark is up to three fresh processes on the target:
1. `--baseline`: the same runtime set up, no model loaded: the RAM the model's figures are measured over;
2. with XNNPACK's weight cache (the default for .tflite on XNNPACK): a first launch that loads the model,
   runs it once and writes the cache (`<work folder>/<model stem>.xnnpack_cache`), reported as the
   first launch; a cache that is missing or empty afterwards fails the benchmark;
3. the measured launch, which maps that cache, times the loop and reports the steady RAM.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from edgeshare.bench.engines.base import BenchmarkRunError, Engine, Invocation, ProgressFn, Session
from edgeshare.bench.memory import ram_figures
from edgeshare.bench.transports.base import CommandResult


def cache_path(workdir: str, remote_model: str) -> str:
    """Where a model's XNNPACK weight cache goes on the target: one file per model in the work folder."""
    stem = os.path.splitext(os.path.basename(remote_model))[0]
    return f"{workdir}/{stem}.xnnpack_cache"


def setup_label(fmt: str, delegate: str, api: str, cache: bool, ort_prepack: str = "on") -> str:
    """A short name for the runtime configuration, shown beside the delegate in tables."""
    if fmt == "onnx":
        return f"ort prepack {ort_prepack}"
    return f"{api}+cache" if cache else (api if delegate != "cpu" else f"{api} builtin")


class RunnerEngine(Engine):
    name = "edgeshare.bench.runner"

    def __init__(self) -> None:
        self._other: list[str] = []
        self._python = "python3"

    def invocation(self, session: Session, remote_model: str, delegate: str,
                   progress: ProgressFn | None) -> Invocation:
        return self.steps(session, remote_model, delegate, progress)[-1]

    def steps(self, session: Session, remote_model: str, delegate: str, progress: ProgressFn | None,
              fmt: str = "tflite") -> list[Invocation]:
        t, o = session.transport, session.options
        wd = session.workdir
        self._python = o.remote_python or (sys.executable if t.kind == "host" else "python3")
        base = [*session.prefix(), self._python, "-m", "edgeshare.bench.runner", remote_model]
        common = ["--delegate", delegate]
        if o.threads:
            common += ["--threads", str(o.threads)]
        for name, shape in o.input_shapes.items():
            common += ["--input-shape", f"{name}={'x'.join(str(d) for d in shape)}"]
        api = o.litert_api
        cache = fmt == "tflite" and delegate == "xnnpack" and o.cache_on
        if fmt == "tflite":
            common += ["--runtime", api]
            setup = ["--runtime", api]
        else:
            common += ["--ort-prepack", o.ort_prepack]
            setup = []
        self._other = []
        env = {"EDGESHARE_PROGRESS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
        self._label = setup_label(fmt, delegate, api, cache, o.ort_prepack)

        def on_line(line: str) -> None:
            if line.startswith("edgeshare-progress "):
                if progress:
                    done, total = line.split()[1:3]
                    progress("running", int(done), int(total))
            elif line.strip():
                self._other.append(line.strip())

        steps = [Invocation([*base, "--baseline", *setup, "--out", f"{wd}/baseline.json"], env,
                            result_file=f"{wd}/baseline.json", on_stderr_line=on_line, role="baseline")]
        timed = ["--warmup", str(o.warmup), "--runs", str(o.runs), "--out", f"{wd}/result.json"]
        if cache:
            c = cache_path(str(wd), remote_model)
            steps.append(Invocation([*base, *common, "--weight-cache", c, "--cache-run", "build", "--first-launch",
                                     "--out", f"{wd}/first.json"], env, result_file=f"{wd}/first.json",
                                    on_stderr_line=on_line, role="first_launch", cleanup=(c,)))
            steps.append(Invocation([*base, *common, "--weight-cache", c, "--cache-run", "measure", *timed], env,
                                    result_file=f"{wd}/result.json", on_stderr_line=on_line, cleanup=(c,)))
        else:
            steps.append(Invocation([*base, *common, *timed], env, result_file=f"{wd}/result.json",
                                    on_stderr_line=on_line))
        return steps

    def parse(self, invocation: Invocation, proc: CommandResult, result_text: str | None) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for text in (result_text, (proc.text.strip().splitlines() or [""])[-1]):
            if not text:
                continue
            try:
                data = json.loads(text)
                break
            except json.JSONDecodeError:
                continue
        if proc.returncode != 0 or "error" in data or not data:
            why = data.get("error") or (self._other[-1] if self._other else f"exit status {proc.returncode}")
            if "No module named" in why and "edgeshare" in why:
                why += f" (install the light runtime on the board: `{self._python} -m pip install edgeshare`)"
            step = {"baseline": "the baseline process", "first_launch": "the first launch"}.get(invocation.role)
            # The runner reports what the input lacks (a dynamic shape with no --input-shape) as InvalidInputError.
            kind = "input" if why.startswith("InvalidInputError") else "failed"
            raise BenchmarkRunError(f"the runner could not benchmark the model{f' ({step})' if step else ''}: {why}",
                                    kind)
        data.pop("artifact", None)
        return data

    def combine(self, steps: list[Invocation], results: list[dict[str, Any]]) -> dict[str, Any]:
        by_role = {s.role: r for s, r in zip(steps, results)}
        res = dict(by_role["measure"])
        memory = res.pop("memory", {}) or {}
        base = (by_role.get("baseline") or {}).get("memory", {}).get("steady", {})
        first = by_role.get("first_launch")
        first_mem = (first or {}).get("memory", {}).get("steady")
        res.update(ram_figures(base, memory.get("steady", {}), first_mem, None))
        launch = first or res
        res["first_launch"] = {"init_ms": launch.get("init_ms"), "first_ms": launch.get("first_ms"),
                               "peak_ram_mb": res.get("peak_ram_mb"), "cache_bytes": launch.get("cache_bytes"),
                               "separate_process": first is not None}
        res["memory"] = {"baseline": base, "first_launch": first_mem, "measured": memory.get("steady"),
                         "after_runs": memory.get("after_runs")}
        res["setup"] = self._label
        return res
