"""Start-up cost of the light commands: wall time and peak RSS of `edgeshare verify` and
`edgeshare bench` on a small model, next to `python -c "import tensorflow"` for scale.

    python -m edgeshare.benchmarks.bench_startup [MODEL.tflite] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

from edgeshare.benchmarks._common import machine_line, reference_artifact


def measure(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MB of the command and its children) for one run in a fresh process."""
    wrapper = (
        "import resource, subprocess, sys, time;"
        "t = time.perf_counter(); subprocess.run(sys.argv[1:], capture_output=True);"
        "w = time.perf_counter() - t;"
        "print(w, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)"
    )
    out = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, check=True)
    wall, rss = out.stdout.split()
    return float(wall), float(rss)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?", default=None)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    model = a.model or reference_artifact("shared_cnn", "shared_cnn_none.tflite")
    exe = os.path.join(os.path.dirname(sys.executable), "edgeshare")
    cases = {
        "edgeshare verify": [exe, "verify", model],
        "edgeshare bench --runs 10": [exe, "bench", model, "--runs", "10", "--warmup", "1"],
        'python -c "import tensorflow"': [sys.executable, "-c", "import tensorflow"],
    }
    print(f"bench_startup: {model} ({os.path.getsize(model)} bytes)  ({machine_line()})")
    print(f"{'command':32s} {'wall s (median)':>16s} {'peak RSS MB (max)':>18s}   goal")
    for name, cmd in cases.items():
        runs = [measure(cmd) for _ in range(a.repeat)]
        wall = statistics.median(r[0] for r in runs)
        rss = max(r[1] for r in runs)
        goal = "" if "tensorflow" in name else ("< 1 s, < 150 MB: " + ("met" if wall < 1 and rss < 150 else "NOT met"))
        print(f"{name:32s} {wall:16.3f} {rss:18.1f}   {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
