"""Names the CLI needs while it builds its parser; this module imports nothing, so `--help` stays fast."""

from __future__ import annotations

import os

DELEGATES = ("cpu", "xnnpack", "gpu", "nnapi", "hexagon", "npu")
DEVICE_HELP = "host (default), ssh:USER@HOST[:PORT], adb (the one attached phone), adb:SERIAL or adb:all"
DEFAULT_HISTORY = os.path.join("build", "bench_history.jsonl")
