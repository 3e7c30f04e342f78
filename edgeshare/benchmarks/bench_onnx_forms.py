"""Which ONNX form of a tied embedding keeps one copy in onnxruntime's memory?

Builds the same tied LM head three ways on a V x D table: (a) a transposed copy for MatMul, as
Keras' Model.export writes it; (b) one initializer read by Gather and by Gemm(transB=1), as
edgeshare's repair writes it; (c) one initializer and an explicit Transpose node before MatMul. Each
file is loaded in a fresh process, with onnxruntime's weight prepacking on (default) and off, and the
session's RSS growth, file size and p50 latency are printed side by side.

    python -m edgeshare.benchmarks.bench_onnx_forms [--vocab 32000] [--dim 256]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

from edgeshare.benchmarks._common import machine_line

CHILD = r"""
import sys, time, numpy as np, onnxruntime as ort
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
o = ort.SessionOptions(); o.log_severity_level = 3
if sys.argv[2] == "off":
    o.add_session_config_entry("session.disable_prepacking", "1")
base = rss()
s = ort.InferenceSession(sys.argv[1], o, providers=["CPUExecutionProvider"])
after = rss()
feeds = {"ids": np.zeros(8, np.int64), "h": np.zeros((8, int(sys.argv[3])), np.float32)}
for _ in range(5):
    s.run(None, feeds)
lat = []
for _ in range(50):
    t = time.perf_counter(); s.run(None, feeds); lat.append(time.perf_counter() - t)
print(after - base, sorted(lat)[25] * 1000)
"""


def build(kind: str, path: str, vocab: int, dim: int) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    table = np.random.default_rng(0).standard_normal((vocab, dim)).astype(np.float32)
    inits = [numpy_helper.from_array(table, "E")]
    nodes = [helper.make_node("Gather", ["E", "ids"], ["emb"], axis=0)]
    if kind == "transposed copy (Model.export)":
        inits.append(numpy_helper.from_array(np.ascontiguousarray(table.T), "E_T"))
        nodes.append(helper.make_node("MatMul", ["h", "E_T"], ["logits"]))
    elif kind == "Gemm(transB=1) (edgeshare)":
        nodes.append(helper.make_node("Gemm", ["h", "E"], ["logits"], transB=1))
    else:
        nodes += [helper.make_node("Transpose", ["E"], ["E_T"], perm=[1, 0]),
                  helper.make_node("MatMul", ["h", "E_T"], ["logits"])]
    graph = helper.make_graph(
        nodes, "tied_head",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, [8]),
         helper.make_tensor_value_info("h", TensorProto.FLOAT, [8, dim])],
        [helper.make_tensor_value_info("emb", TensorProto.FLOAT, [8, dim]),
         helper.make_tensor_value_info("logits", TensorProto.FLOAT, [8, vocab])],
        initializer=inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--dim", type=int, default=256)
    a = ap.parse_args()
    table_mb = a.vocab * a.dim * 4 / 2**20
    print(f"bench_onnx_forms: {a.vocab} x {a.dim} f32 table = {table_mb:.1f} MB  ({machine_line()})")
    print(f"{'form':34s} {'file MB':>8s} {'prepack':>8s} {'session RSS MB':>15s} {'x table':>8s} {'p50 ms':>8s}")
    kinds = ["transposed copy (Model.export)", "Gemm(transB=1) (edgeshare)", "Transpose node + MatMul"]
    with tempfile.TemporaryDirectory() as tmp:
        for i, kind in enumerate(kinds):
            path = os.path.join(tmp, f"form{i}.onnx")
            build(kind, path, a.vocab, a.dim)
            for prepack in ("on", "off"):
                out = subprocess.run([sys.executable, "-c", CHILD, path, prepack, str(a.dim)],
                                     capture_output=True, text=True, check=True)
                rss, p50 = (float(x) for x in out.stdout.split())
                print(f"{kind:34s} {os.path.getsize(path) / 2**20:8.1f} {prepack:>8s} {rss:15.1f} "
                      f"{rss / table_mb:8.2f} {p50:8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
