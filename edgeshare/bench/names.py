"""Names the CLI needs while it builds its parser; this module imports nothing, so `--help` stays fast."""

from __future__ import annotations

import os

DELEGATES = ("cpu", "xnnpack", "gpu", "nnapi", "hexagon", "npu")
# What the Python runner (host and SSH boards) offers per format; the first is the default.
RUNNER_DELEGATES = {"tflite": ("xnnpack", "cpu"), "onnx": ("cpu",)}
# The LiteRT APIs the Python runner drives: CompiledModel (with XNNPACK's weight cache) or the Interpreter.
LITERT_APIS = ("compiled", "interpreter")
ON_OFF = ("on", "off")
DEVICE_HELP = "host (default), ssh:USER@HOST[:PORT], adb (the one attached phone), adb:SERIAL or adb:all"
DEFAULT_HISTORY = os.path.join("build", "bench_history.jsonl")


def history_path(explicit: str | None = None) -> str | None:
    """The history file: `--history`, else $EDGESHARE_HISTORY (empty: none), else DEFAULT_HISTORY."""
    if explicit:
        return explicit
    env = os.environ.get("EDGESHARE_HISTORY")
    if env is not None:
        return env or None
    return DEFAULT_HISTORY
