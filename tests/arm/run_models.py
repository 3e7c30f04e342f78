"""Run every reference export on this CPU, on inputs drawn once, for the cross-CPU comparison of
`make test-arm` (tests/arm/test_arm.sh runs it on x86_64 and inside the arm64 root).

It needs only the light runtime (numpy, ai-edge-litert, onnxruntime) and runs each file the way a user on
the board would (edgeshare.benchmarks.bench_cpu_numerics.run_file): the LiteRT Interpreter with its default
XNNPACK delegate, and onnxruntime's CPU provider, both with one thread. Inputs go in by name, one sample
(batch 1) at a time.

  python run_models.py make-inputs BUILD DEST   copy BUILD/<model>/*.tflite|*.onnx to DEST/<model>/ with
                                                DEST/<model>/inputs.npz: the first SAMPLES samples of the
                                                model's calibration.npz (written by `make export`)
  python run_models.py run DEST OUT.npz         run them all; OUT.npz holds each output and a JSON index
"""

from __future__ import annotations

import glob
import json
import os
import platform
import shutil
import sys
import time
from typing import Any

import numpy as np

from edgeshare.benchmarks.bench_cpu_numerics import run_file

SAMPLES = 4


def make_inputs(build: str, dest: str) -> int:
    models = sorted(os.path.dirname(p) for p in glob.glob(os.path.join(build, "*", "calibration.npz")))
    if not models:
        raise SystemExit(f"no reference exports in {build}/ (each model folder has a calibration.npz); "
                         f"run make export. Received: build={build}")
    for folder in models:
        out = os.path.join(dest, os.path.basename(folder))
        os.makedirs(out, exist_ok=True)
        with np.load(os.path.join(folder, "calibration.npz")) as cal:
            np.savez(os.path.join(out, "inputs.npz"), **{k: cal[k][:SAMPLES] for k in cal.files})
        for f in sorted(glob.glob(os.path.join(folder, "*.tflite")) + glob.glob(os.path.join(folder, "*.onnx"))):
            shutil.copyfile(f, os.path.join(out, os.path.basename(f)))
    return len(models)


def run(dest: str, out: str) -> int:
    arrays: dict[str, np.ndarray] = {}
    index: list[dict[str, Any]] = []
    files = sorted(glob.glob(os.path.join(dest, "*", "*.tflite")) + glob.glob(os.path.join(dest, "*", "*.onnx")))
    t0 = time.monotonic()
    for path in files:
        rel = os.path.relpath(path, dest)
        with np.load(os.path.join(os.path.dirname(path), "inputs.npz")) as f:
            inputs = {k: f[k] for k in f.files}
        entry: dict[str, Any] = {"file": rel, "outputs": []}
        t = time.monotonic()
        try:
            got, _ = run_file(path, inputs)
        except Exception as exc:  # recorded and reported by compare_outputs.py, not fatal here
            entry["error"] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        else:
            for name, (y, scale, zero) in got.items():
                key = f"{rel}::{name}"
                arrays[key] = y
                entry["outputs"].append({"key": key, "scale": scale, "zero_point": zero, "dtype": str(y.dtype)})
        entry["seconds"] = round(time.monotonic() - t, 2)
        index.append(entry)
    meta = {"machine": platform.machine(), "python": platform.python_version(), "samples": SAMPLES,
            "seconds": round(time.monotonic() - t0, 1), "files": index}
    arrays["__index__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(out, **arrays)  # type: ignore[arg-type]  # numpy's stub reads a key as allow_pickle
    bad = [e["file"] for e in index if "error" in e]
    print(f"run_models: {platform.machine()}: ran {len(files) - len(bad)} of {len(files)} files in "
          f"{meta['seconds']} s -> {out}" + (f"; errors in {bad}" if bad else ""))
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in ("make-inputs", "run"):
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "make-inputs":
        make_inputs(argv[1], argv[2])
        return 0
    return run(argv[1], argv[2])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
