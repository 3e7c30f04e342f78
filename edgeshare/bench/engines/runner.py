"""The Python runner engine: `python -m edgeshare.bench.runner` on the host or an SSH board (LiteRT or
onnxruntime, light runtime only). It writes its JSON result to a file that the flow pulls."""

from __future__ import annotations

import json
import sys
from typing import Any

from edgeshare.bench.engines.base import BenchmarkRunError, Engine, Invocation, ProgressFn, Session
from edgeshare.bench.transports.base import CommandResult


class RunnerEngine(Engine):
    name = "edgeshare.bench.runner"

    def __init__(self) -> None:
        self._other: list[str] = []
        self._python = "python3"

    def invocation(self, session: Session, remote_model: str, delegate: str,
                   progress: ProgressFn | None) -> Invocation:
        t, o = session.transport, session.options
        self._python = o.remote_python or (sys.executable if t.kind == "host" else "python3")
        out = f"{session.workdir}/result.json"
        argv = [*session.prefix(), self._python, "-m", "edgeshare.bench.runner", remote_model, "--warmup",
                str(o.warmup), "--runs", str(o.runs), "--delegate", delegate, "--out", out]
        if o.threads:
            argv += ["--threads", str(o.threads)]
        for name, shape in o.input_shapes.items():
            argv += ["--input-shape", f"{name}={'x'.join(str(d) for d in shape)}"]
        self._other = []

        def on_line(line: str) -> None:
            if line.startswith("edgeshare-progress "):
                if progress:
                    done, total = line.split()[1:3]
                    progress("running", int(done), int(total))
            elif line.strip():
                self._other.append(line.strip())

        return Invocation(argv, {"EDGESHARE_PROGRESS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}, result_file=out,
                          on_stderr_line=on_line)

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
            # The runner reports what the input lacks (a dynamic shape with no --input-shape) as InvalidInputError.
            kind = "input" if why.startswith("InvalidInputError") else "failed"
            raise BenchmarkRunError(f"the runner could not benchmark the model: {why}", kind)
        data.pop("artifact", None)
        return data
