"""Verify and repair at scale: a synthetic .tflite of over 1 GB with shared weights stored as exact,
transposed and requantized copies, written in TFLite's offset layout (as models over 2 GB are).

Prints, for `verify` and `repair` each run in a fresh process: wall time, MB/s of weights, and peak
RSS against the process's own baseline and the file size. The goals: at least 200 MB/s, and peak RSS
no more than about one weight above the mapped file (never the whole model twice).

    python -m edgeshare.benchmarks.bench_scale [--unique 28] [--dim 2048] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

from edgeshare.benchmarks._common import machine_line

CHILD = r"""
import json, sys, time
def status():
    d = {}
    for line in open("/proc/self/status"):
        if line.startswith(("VmHWM", "VmRSS")):
            d[line.split(":")[0]] = int(line.split()[1]) / 1024
    return d
from edgeshare.converters import verify
from edgeshare.converters.repair import repair
import numpy, ai_edge_litert.schema_py_generated  # imports done before the baseline
base = status()["VmRSS"]
t = time.perf_counter()
if sys.argv[1] == "verify":
    rep = verify(sys.argv[2])
    extra = {"groups": len(rep.groups), "duplicate_bytes": rep.duplicate_bytes, "weight_bytes": rep.weight_bytes}
else:
    rep = repair(sys.argv[2], sys.argv[3], check=False)
    extra = {"merged": len(rep.merged), "skipped": len(rep.skipped),
             "weight_bytes_after": rep.weight_bytes_after, "duplicate_bytes_after": rep.duplicate_bytes_after}
wall = time.perf_counter() - t
print(json.dumps({"wall_s": wall, "base_mb": base, "peak_mb": status()["VmHWM"], **extra}))
"""


def build(path: str, unique: int, dim: int) -> dict[str, Any]:
    """x -> FC(W_i) -> FC(copy of W_i) for each i; every 2nd W_i also feeds a BATCH_MATMUL through a
    transposed copy and every 2nd through an int8 copy behind a DEQUANTIZE. Weights are generated per
    buffer when written, so building never holds the model in memory."""
    from ai_edge_litert import schema_py_generated as s

    from edgeshare.converters.formats.tflite_writer import write_tflite

    m = s.ModelT()
    m.version = 3
    m.description = "edgeshare bench_scale synthetic model"
    m.buffers = [s.BufferT()]
    sg = s.SubGraphT()
    sg.tensors, sg.operators = [], []
    m.subgraphs = [sg]
    codes: dict[str, int] = {}
    m.operatorCodes = []
    recipes: dict[int, tuple[str, int]] = {}  # buffer -> (how, weight seed)

    def opcode(name: str) -> int:
        if name not in codes:
            c = s.OperatorCodeT()
            c.builtinCode = getattr(s.BuiltinOperator, name)
            c.deprecatedBuiltinCode = min(c.builtinCode, 127)
            c.version = 1
            m.operatorCodes.append(c)
            codes[name] = len(m.operatorCodes) - 1
        return codes[name]

    def tensor(name: str, shape: list[int], ttype: int, recipe: tuple[str, int] | None = None,
               scale: float | None = None) -> int:
        t = s.TensorT()
        t.name, t.shape, t.type = name, shape, ttype
        m.buffers.append(s.BufferT())
        t.buffer = len(m.buffers) - 1
        if recipe is not None:
            recipes[t.buffer] = recipe
        if scale is not None:
            q = s.QuantizationParametersT()
            q.scale, q.zeroPoint = [scale], [0]
            t.quantization = q
        sg.tensors.append(t)
        return len(sg.tensors) - 1

    def op(name: str, ins: list[int], outs: list[int]) -> None:
        o = s.OperatorT()
        o.opcodeIndex = opcode(name)
        o.inputs, o.outputs = ins, outs
        sg.operators.append(o)

    f32, i8 = s.TensorType.FLOAT32, s.TensorType.INT8
    x = tensor("x", [1, dim], f32)
    sg.inputs = [x]
    outputs = []
    cur = x
    scale = 1.0 / 127  # weights are uniform in [-1, 1]
    for i in range(unique):
        w = tensor(f"w{i}", [dim, dim], f32, ("f32", i))
        h = tensor(f"h{i}", [1, dim], f32)
        op("FULLY_CONNECTED", [cur, w, -1], [h])
        wc = tensor(f"w{i}_copy", [dim, dim], f32, ("f32", i))  # exact copy
        h2 = tensor(f"h{i}_b", [1, dim], f32)
        op("FULLY_CONNECTED", [h, wc, -1], [h2])
        cur = h2
        if i % 2 == 0:  # transposed copy for BATCH_MATMUL
            wt = tensor(f"w{i}_transposed", [dim, dim], f32, ("f32T", i))
            o = tensor(f"t{i}", [1, dim], f32)
            op("BATCH_MATMUL", [cur, wt], [o])
            outputs.append(o)
        else:  # int8 copy read through DEQUANTIZE
            wq = tensor(f"w{i}_int8", [dim, dim], i8, ("i8", i), scale=scale)
            wd = tensor(f"w{i}_deq", [dim, dim], f32)
            op("DEQUANTIZE", [wq], [wd])
            o = tensor(f"q{i}", [1, dim], f32)
            op("FULLY_CONNECTED", [cur, wd, -1], [o])
            outputs.append(o)
    sg.outputs = [cur, *outputs]

    def weight(seed: int) -> np.ndarray:
        # Multiples of 1/127 in [-1, 1]: the int8 copy is then an exact requantization.
        q = np.random.default_rng(seed).integers(-127, 128, size=(dim, dim), dtype=np.int8)
        return q.astype(np.float32) * np.float32(scale)

    def data_of(b: int) -> Any:
        if b not in recipes:
            return None
        how, seed = recipes[b]
        w = weight(seed)
        if how == "f32":
            return w
        if how == "f32T":
            return np.ascontiguousarray(w.T)
        return np.round(w / scale).astype(np.int8)

    write_tflite(m, data_of, path, layout="offset")
    one = dim * dim * 4
    return {"unique_weight_mb": one / 2**20, "unique_weights": unique}


def child(args: list[str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--unique", type=int, default=28)
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--keep", default=None, help="folder to keep the files in (default: a temp folder)")
    a = ap.parse_args()
    tmp = a.keep or tempfile.mkdtemp(prefix="edgeshare_scale_")
    os.makedirs(tmp, exist_ok=True)
    src, dst = os.path.join(tmp, "synthetic.tflite"), os.path.join(tmp, "repaired.tflite")
    t = time.perf_counter()
    info = build(src, a.unique, a.dim)
    size = os.path.getsize(src) / 2**20
    print(f"bench_scale ({machine_line()})")
    print(f"built {src}: {size:.0f} MB, {a.unique} unique {a.dim}x{a.dim} f32 weights "
          f"({info['unique_weight_mb']:.0f} MB each) in {time.perf_counter() - t:.1f} s")
    v = child(["verify", src])
    r = child(["repair", src, dst])
    out_size = os.path.getsize(dst) / 2**20
    weights_mb = v["weight_bytes"] / 2**20
    one = info["unique_weight_mb"]
    print(f"{'step':8s} {'wall s':>8s} {'MB/s':>8s} {'peak RSS MB':>12s} {'base MB':>8s} "
          f"{'peak-base-file MB':>18s} {'one weight MB':>14s}")
    for name, res in (("verify", v), ("repair", r)):
        over = res["peak_mb"] - res["base_mb"] - size
        print(f"{name:8s} {res['wall_s']:8.2f} {weights_mb / res['wall_s']:8.0f} {res['peak_mb']:12.0f} "
              f"{res['base_mb']:8.0f} {over:18.0f} {one:14.0f}")
    print(f"verify: {v['groups']} duplicate groups, {v['duplicate_bytes'] / 2**20:.0f} MB of duplicates")
    print(f"repair: merged {r['merged']} copies, left {r['skipped']}; {size:.0f} MB -> {out_size:.0f} MB "
          f"(duplicates after: {r['duplicate_bytes_after']} bytes)")
    print("goals: >= 200 MB/s; peak RSS at most about one weight above the mapped file")
    if not a.keep:
        for p in (src, dst):
            os.unlink(p)
        os.rmdir(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
