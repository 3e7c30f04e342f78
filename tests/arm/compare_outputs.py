"""Compare the outputs of every reference export on two CPUs (written by tests/arm/run_models.py) and
print one table; exit 1 when a file is outside its tolerance or ran on one CPU only.

Tolerances, by how the file computes (the suffix export-reference gives it):
- float (`_none`, `_fp16` .tflite, float .onnx): max |a - b| <= FLOAT_RTOL * max(1, max |a|). Only the
  order of float operations differs between the CPUs' kernels.
- int8 (`_int8`): outputs are int8, compared in quantization steps: max |a - b| <= INT8_STEPS. An
  integer kernel can round an intermediate one step differently; the steps add up through a deep model.
- dynamic range (`_dynamic`): activations are quantized at run time by kernels that differ per CPU (on
  x86 without VNNI, onnxruntime's U8S8 path can saturate), so the outputs are compared by the worst
  per-sample cosine: >= DYNAMIC_MIN_COSINE.

Usage: python compare_outputs.py X86.npz AARCH64.npz
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np

FLOAT_RTOL = 1e-4
INT8_STEPS = 8
DYNAMIC_MIN_COSINE = 0.99


def _index(f: Any) -> dict[str, Any]:
    return json.loads(bytes(f["__index__"]).decode())


def kind_of(file: str) -> str:
    stem = file.rsplit("/", 1)[-1].split(".", 1)[0]  # multitask_digits_dynamic.digit.onnx: one task's file
    if stem.endswith("_int8"):
        return "int8"
    if stem.endswith("_dynamic"):
        return "dynamic"
    return "float"


def worst_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """The lowest cosine over samples (axis 0), each sample flattened."""
    a2 = a.reshape(len(a), -1).astype(np.float64)
    b2 = b.reshape(len(b), -1).astype(np.float64)
    num = (a2 * b2).sum(1)
    den = np.linalg.norm(a2, axis=1) * np.linalg.norm(b2, axis=1)
    cos = np.where(den > 0, num / np.where(den > 0, den, 1), np.where(np.abs(a2 - b2).max(1) == 0, 1.0, 0.0))
    return float(cos.min())


def compare(x86_path: str, arm_path: str) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    with np.load(x86_path) as fx, np.load(arm_path) as fa:
        ix, ia = _index(fx), _index(fa)
        arm_files = {e["file"]: e for e in ia["files"]}
        rows = []
        for ex in ix["files"]:
            ea = arm_files.get(ex["file"])
            row: dict[str, Any] = {"file": ex["file"], "kind": kind_of(ex["file"])}
            errors = [f"{m}: {e['error']}" for m, e in ((ix["machine"], ex), (ia["machine"], ea or {})) if "error" in e]
            if ea is None:
                errors.append(f"{ia['machine']}: not run")
            if errors:
                row.update(ok=False, note="; ".join(errors))
                rows.append(row)
                continue
            max_abs = max_steps = 0.0
            cos = 1.0
            ok = True
            for ox in ex["outputs"]:
                a, b = fx[ox["key"]], fa[ox["key"]]
                if a.shape != b.shape:
                    ok = False
                    row["note"] = f"{ox['key']}: shape {a.shape} on x86, {b.shape} on aarch64"
                    continue
                diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
                cos = min(cos, worst_cosine(a, b))
                if np.issubdtype(a.dtype, np.integer) and ox["scale"] > 0:
                    max_steps = max(max_steps, float(diff.max()))
                    max_abs = max(max_abs, float(diff.max()) * ox["scale"])
                    ok &= row["kind"] != "float" and diff.max() <= INT8_STEPS
                else:
                    max_abs = max(max_abs, float(diff.max()))
                    if row["kind"] != "float":  # float outputs of a quantized file
                        ok &= worst_cosine(a, b) >= DYNAMIC_MIN_COSINE
                    else:
                        ok &= float(diff.max()) <= FLOAT_RTOL * max(1.0, float(np.abs(a).max()))
            row.update(max_abs=max_abs, max_steps=max_steps if row["kind"] == "int8" else None, cosine=cos, ok=bool(ok))
            rows.append(row)
        for f in arm_files:
            if f not in {e["file"] for e in ix["files"]}:
                rows.append({"file": f, "kind": kind_of(f), "ok": False, "note": f"{ix['machine']}: not run"})
    return rows, ix, ia


TOLERANCE = {"float": f"|d| <= {FLOAT_RTOL:g}*max(1,|y|)", "int8": f"<= {INT8_STEPS} steps",
             "dynamic": f"cosine >= {DYNAMIC_MIN_COSINE}"}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    rows, ix, ia = compare(argv[0], argv[1])
    print(f"outputs on {ix['machine']} vs {ia['machine']} (emulated), {ix['samples']} seeded samples per file "
          f"(tests/arm/compare_outputs.py)")
    print(f"{'file':66} {'kind':8} {'max |d|':>10} {'steps':>5} {'min cos':>10}  {'tolerance':26} result")
    for r in rows:
        if "max_abs" in r:
            steps = "-" if r["max_steps"] is None else f"{r['max_steps']:.0f}"
            print(f"{r['file']:66} {r['kind']:8} {r['max_abs']:10.3g} {steps:>5} {r['cosine']:10.7f}  "
                  f"{TOLERANCE[r['kind']]:26} {'ok' if r['ok'] else 'OUTSIDE'}")
        else:
            print(f"{r['file']:66} {r['kind']:8} {'':10} {'':5} {'':10}  {TOLERANCE[r['kind']]:26} ERROR {r['note']}")
    bad = [r["file"] for r in rows if not r["ok"]]
    print(f"cross-CPU outputs: {len(rows) - len(bad)} of {len(rows)} files within tolerance"
          + (f"; outside: {', '.join(bad)}" if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
