"""Host latency of every SharedTransformerStack strategy against the unshared stack of the same depth.

Each stack (causal, `--layers` deep) is exported to float TFLite with `edgeshare.converters.export_tflite`
(which also verifies that each shared weight is stored once). All files are then loaded into LiteRT
interpreters in this one process and timed side by side: every round visits the models in a fresh random
order and times `--runs` invokes of each, so that machine noise falls on all of them alike, and the
interpreters are created anew `--loads` times in a random order, so that memory placement averages out.
This runs twice: on LiteRT's default CPU path (the XNNPACK delegate) and on the builtin kernels without a
delegate. The script prints each stack's p50 latency, its ratio to the unshared stack, the median of the
per-round ratios, and the resident memory the model adds when loaded and run once in a fresh process.
`sequence` and `adjacent` build the same stack, so the gap between their ratios shows the run's noise.

    python -m edgeshare.benchmarks.bench_stack_strategies [--layers 8] [--dim 128] [--ffn 512] [--seq 4]
        [--loads 5] [--rounds 40] [--runs 10] [--threads 1] [--strategies all,cycle,...] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

from edgeshare.benchmarks._common import machine_line

SCRIPT = "python -m edgeshare.benchmarks.bench_stack_strategies"
BACKENDS = ("xnnpack", "builtin")


def configs(layers: int) -> list[tuple[str, str, int, int]]:
    """(label, strategy, num_unique, skip_distance) for each stack; the first is the unshared baseline."""
    half = layers // 2
    return [
        ("unshared", "sequence", layers, 1),
        ("sequence", "sequence", half, 1),
        ("cycle", "cycle", half, 1),
        ("cycle_rev", "cycle_rev", half, 1),
        ("all", "all", 1, 1),
        ("adjacent", "adjacent", half, 1),
        ("interleaved", "interleaved", layers // 2 + 1, 1),
        ("skip", "skip", half, 2),
    ]


def build(strategy: str, num_unique: int, skip: int, a: argparse.Namespace) -> Any:
    import keras

    from edgeshare.layers import SharedTransformerStack

    inputs = keras.Input((a.seq, a.dim), name="hidden")
    stack = SharedTransformerStack(
        a.layers, num_unique, strategy, num_heads=a.heads, key_dim=a.dim // a.heads, ffn_dim=a.ffn,
        skip_distance=skip, causal=True, name="stack",
    )
    model = keras.Model(inputs, stack(inputs), name=f"stack_{strategy}")
    return model, stack.layer_assignment


def export_all(a: argparse.Namespace, folder: str) -> list[dict[str, Any]]:
    from edgeshare.accounting import quiet_tensorflow
    from edgeshare.converters import export_tflite

    quiet_tensorflow()
    import keras

    rows = []
    data = np.random.default_rng(0).standard_normal((4, a.seq, a.dim)).astype(np.float32)
    wanted = set(a.strategies.split(",")) if a.strategies else None
    for label, strategy, num_unique, skip in configs(a.layers):
        if wanted is not None and label != "unshared" and label not in wanted:
            continue
        keras.utils.set_random_seed(0)
        model, assignment = build(strategy, num_unique, skip, a)
        path = os.path.join(folder, f"{label}.tflite")
        report = export_tflite(model, path, "none", sample_inputs=data)
        if report.duplicate_bytes or not report.numerics.passed:
            raise SystemExit(f"{label}: the export is not clean: {report.problems()}")
        rows.append({"label": label, "strategy": strategy, "unique": num_unique, "assignment": assignment,
                     "path": path, "weight_bytes": report.weight_bytes})
        print(f"exported {label:<12} {report.weight_bytes / 2**20:6.2f} MB of weights", flush=True)
    return rows


RSS_PROBE = r"""
import os, sys
import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType
def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
resolver = OpResolverType.AUTO if sys.argv[2] == "xnnpack" else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
before = rss()
it = Interpreter(model_path=sys.argv[1], num_threads=1, experimental_op_resolver_type=resolver)
it.allocate_tensors()
for d in it.get_input_details():
    it.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
it.invoke()
print(rss() - before)
"""


def rss_added(path: str, backend: str) -> float:
    """Resident MB that loading and running the model once adds, in a fresh process (packed weights
    included)."""
    out = subprocess.run([sys.executable, "-c", RSS_PROBE, path, backend], capture_output=True, text=True,
                         check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return float(out.stdout.strip().splitlines()[-1])


def bench(rows: list[dict[str, Any]], a: argparse.Namespace, backend: str) -> None:
    """Time every model on one backend: "xnnpack" (LiteRT's default CPU path) or "builtin" (the reference
    kernels, no delegate). The interpreters are created `--loads` times, in a random order each time, so
    that where each one's memory lands averages out too."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if backend == "xnnpack" else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    rng = np.random.default_rng(0)
    samples: list[list[float]] = [[] for _ in rows]
    per_round: list[list[float]] = [[] for _ in rows]
    per_load: list[list[float]] = [[] for _ in rows]
    clock = time.perf_counter_ns
    for _ in range(a.loads):
        load_samples: list[list[float]] = [[] for _ in rows]
        interpreters: dict[int, Any] = {}
        for i in rng.permutation(len(rows)):
            it = Interpreter(model_path=rows[i]["path"], num_threads=a.threads,
                             experimental_op_resolver_type=resolver)
            it.allocate_tensors()
            for d in it.get_input_details():
                it.set_tensor(d["index"], rng.standard_normal(d["shape"]).astype(d["dtype"]))
            for _ in range(a.warmup):
                it.invoke()
            interpreters[int(i)] = it
        for _ in range(a.rounds):
            for i in rng.permutation(len(rows)):
                invoke = interpreters[int(i)].invoke
                times = []
                for _ in range(a.runs):
                    t0 = clock()
                    invoke()
                    times.append((clock() - t0) / 1e6)
                samples[i].extend(times)
                load_samples[i].extend(times)
                per_round[i].append(statistics.median(times))
        for i, times in enumerate(load_samples):
            per_load[i].append(statistics.median(times))
        del interpreters
    for row, s, r, lo in zip(rows, samples, per_round, per_load):
        row[f"{backend}_p50_ms"] = statistics.median(s)
        row[f"{backend}_round_p50"] = r
        row[f"{backend}_load_p50"] = lo
        row[f"{backend}_rss_mb"] = rss_added(row["path"], backend)


def report(rows: list[dict[str, Any]], a: argparse.Namespace) -> None:
    base = rows[0]
    print()
    print(f"{SCRIPT} --layers {a.layers} --dim {a.dim} --ffn {a.ffn} --heads {a.heads} --seq {a.seq} "
          f"--loads {a.loads} --rounds {a.rounds} --runs {a.runs} --threads {a.threads}")
    print(machine_line())
    print("causal stacks, float TFLite, batch 1, LiteRT in one process. ratio = p50 / p50 of the unshared stack; "
          "paired = median over rounds of the per-round ratio; loads = lowest and highest ratio over the loads "
          "(a spread that straddles 1 is noise); RSS = resident memory that loading the model and running it "
          "once adds, in a fresh process")
    print()
    print("| stack | assignment | unique blocks | weights MB | XNNPACK p50 ms | ratio | paired | loads | RSS MB "
          "| builtin p50 ms | ratio | paired | loads | RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        cells = [row["label"], "".join(map(str, row["assignment"])), str(row["unique"]),
                 f"{row['weight_bytes'] / 2**20:.2f}"]
        for backend in BACKENDS:
            p50 = row[f"{backend}_p50_ms"]
            paired = statistics.median(
                x / y for x, y in zip(row[f"{backend}_round_p50"], base[f"{backend}_round_p50"])
            )
            loads = [x / y for x, y in zip(row[f"{backend}_load_p50"], base[f"{backend}_load_p50"])]
            cells += [f"{p50:.3f}", f"{p50 / base[f'{backend}_p50_ms']:.3f}", f"{paired:.3f}",
                      f"{min(loads):.2f}-{max(loads):.2f}", f"{row[f'{backend}_rss_mb']:.1f}"]
        print("| " + " | ".join(cells) + " |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=8, help="depth of every stack (even; default 8)")
    ap.add_argument("--dim", type=int, default=128, help="model width (default 128)")
    ap.add_argument("--ffn", type=int, default=512, help="feed-forward width (default 512)")
    ap.add_argument("--heads", type=int, default=4, help="attention heads (default 4)")
    ap.add_argument("--seq", type=int, default=4, help="sequence length (default 4)")
    ap.add_argument("--loads", type=int, default=5, help="times every interpreter is created anew (default 5)")
    ap.add_argument("--rounds", type=int, default=40, help="rounds over all models per load (default 40)")
    ap.add_argument("--runs", type=int, default=10, help="timed invokes per model per round (default 10)")
    ap.add_argument("--warmup", type=int, default=20, help="untimed invokes per model first (default 20)")
    ap.add_argument("--threads", type=int, default=1, help="LiteRT threads (default 1)")
    ap.add_argument("--strategies", default=None,
                    help="comma-separated subset of the strategies (default all; the unshared stack always runs)")
    ap.add_argument("--out", default=None, help="folder for the .tflite files (default: a temporary one)")
    a = ap.parse_args()
    if a.layers < 4 or a.layers % 4:
        raise SystemExit(
            f"`--layers` must be a multiple of 4 (skip shares at distance 2). Received: --layers={a.layers}"
        )
    known = [c[0] for c in configs(a.layers)][1:]
    unknown = sorted(set(a.strategies.split(",")) - set(known)) if a.strategies else []
    if unknown:
        raise SystemExit(f"`--strategies` must name some of {', '.join(known)}. Received: --strategies={a.strategies}")
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        rows = export_all(a, a.out)
        for backend in BACKENDS:
            bench(rows, a, backend)
    else:
        with tempfile.TemporaryDirectory() as folder:
            rows = export_all(a, folder)
            for backend in BACKENDS:
                bench(rows, a, backend)
    report(rows, a)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
