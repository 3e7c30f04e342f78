"""The host target: benchmark a file in a fresh Python process on this machine.

A fresh process per artifact keeps peak RSS meaningful (nothing from earlier runs or from the CLI's
own imports) and matches what runs on a board over SSH: `python -m edgeshare.bench.runner`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from edgeshare.converters.errors import InvalidInputError
from edgeshare.converters.source import open_source, sniff_format

ProgressFn = Callable[[int, int], None]


def check_artifact(path: str) -> str:
    """Open and parse the file without TensorFlow; returns its format or raises InvalidInputError."""
    with open_source(path) as src:
        fmt = sniff_format(src.data, src.path)
        if fmt == "tflite":
            from edgeshare.converters.tflite_file import read_tflite

            read_tflite(src)
        else:
            from edgeshare.converters.onnx_file import read_onnx

            read_onnx(src).close()
    return fmt


def bench_host(
    path: str,
    threads: int | None = None,
    warmup: int = 10,
    runs: int = 100,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Run `edgeshare.bench.runner` on `path` in a child process and return its result dict."""
    if runs < 1:
        raise InvalidInputError(f"`runs` must be at least 1. Received: runs={runs}")
    if warmup < 0:
        raise InvalidInputError(f"`warmup` must be 0 or more. Received: warmup={warmup}")
    fmt = check_artifact(path)
    cmd = [sys.executable, "-m", "edgeshare.bench.runner", os.path.abspath(path),
           "--warmup", str(warmup), "--runs", str(runs)]
    if threads:
        cmd += ["--threads", str(threads)]
    env = {**os.environ, "EDGESHARE_PROGRESS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    other: list[str] = []
    if proc.stderr is None or proc.stdout is None:
        raise RuntimeError("the benchmark process has no pipes")
    for line in proc.stderr:
        if line.startswith("edgeshare-progress "):
            if progress:
                done, total = line.split()[1:3]
                progress(int(done), int(total))
        else:
            other.append(line.rstrip())
    out = proc.stdout.read()
    proc.wait()
    try:
        res = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    except json.JSONDecodeError:
        res = {}
    if proc.returncode != 0 or "error" in res or not res:
        why = res.get("error") or next((ln for ln in reversed(other) if ln.strip()), f"exit {proc.returncode}")
        raise InvalidInputError(f"the {fmt} runtime could not run the model: {why}", path)
    res["device"] = "host"
    res["command"] = " ".join(cmd)
    return res
