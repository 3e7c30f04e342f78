"""edgeshare bench against a bare LiteRT invoke loop, on the same model, in the same run.

Each round runs both in fresh processes, alternating which goes first; the script prints the median
p50 of each and their ratio (edgeshare / bare). The goal is a ratio <= 1.05: the harness adds nothing
to what it measures.

    python -m edgeshare.benchmarks.bench_overhead [MODEL.tflite] [--rounds 7] [--runs 300]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from edgeshare.benchmarks._common import machine_line, reference_artifact

BARE = r"""
import sys, time
import numpy as np
from ai_edge_litert.interpreter import Interpreter
it = Interpreter(model_path=sys.argv[1])
it.allocate_tensors()
for d in it.get_input_details():
    it.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
for _ in range(int(sys.argv[2])):
    it.invoke()
lat = []
for _ in range(int(sys.argv[3])):
    t0 = time.perf_counter_ns(); it.invoke(); lat.append(time.perf_counter_ns() - t0)
lat.sort()
print(lat[len(lat) // 2] / 1e6 if len(lat) % 2 else (lat[len(lat) // 2 - 1] + lat[len(lat) // 2]) / 2e6)
"""


def bare_p50(model: str, warmup: int, runs: int) -> float:
    out = subprocess.run([sys.executable, "-c", BARE, model, str(warmup), str(runs)],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def edgeshare_p50(model: str, warmup: int, runs: int) -> float:
    exe = os.path.join(os.path.dirname(sys.executable), "edgeshare")
    with tempfile.NamedTemporaryFile(suffix=".json") as fh:
        subprocess.run([exe, "bench", model, "--warmup", str(warmup), "--runs", str(runs), "--json", fh.name],
                       capture_output=True, text=True, check=True)
        return float(json.load(open(fh.name))["results"][0]["p50_ms"])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?", default=None)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--runs", type=int, default=300)
    a = ap.parse_args()
    model = a.model or reference_artifact("tied_lm", "tied_lm_none.tflite")
    ours: list[float] = []
    bare: list[float] = []
    for i in range(a.rounds):
        first, second = (edgeshare_p50, bare_p50) if i % 2 == 0 else (bare_p50, edgeshare_p50)
        r1 = first(model, a.warmup, a.runs)
        r2 = second(model, a.warmup, a.runs)
        (ours if first is edgeshare_p50 else bare).append(r1)
        (bare if first is edgeshare_p50 else ours).append(r2)
    m_ours, m_bare = statistics.median(ours), statistics.median(bare)
    print(f"bench_overhead: {model}  ({machine_line()})")
    print(f"rounds={a.rounds} warmup={a.warmup} runs={a.runs} per round, alternating order")
    print(f"edgeshare bench p50 (median over rounds): {m_ours:.4f} ms   per round: "
          + " ".join(f"{x:.4f}" for x in ours))
    print(f"bare LiteRT loop p50 (median over rounds): {m_bare:.4f} ms   per round: "
          + " ".join(f"{x:.4f}" for x in bare))
    ratio = m_ours / m_bare
    print(f"ratio edgeshare/bare = {ratio:.3f}  (goal <= 1.05: {'met' if ratio <= 1.05 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
