"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import os
import platform
import sys


def machine_line() -> str:
    cpus = os.cpu_count()
    model = ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{platform.machine()} {cpus} CPUs {model} | Python {platform.python_version()}"


def reference_artifact(name: str, filename: str, build_dir: str = "build") -> str:
    """build/<name>/<filename>, exported on demand (with TensorFlow) when `make export` has not run."""
    path = os.path.join(build_dir, name, filename)
    if os.path.exists(path):
        return path
    print(f"{path} is missing; exporting the reference model {name} (make export does all of them)...",
          file=sys.stderr)
    from edgeshare.converters import export as ex
    from edgeshare.models import get

    ref = get(name)
    model = ref.build()
    if ref.train:
        ref.train(model)
    data = ref.sample_data(64)
    if filename.endswith(".onnx"):
        ex.export_onnx(model, path, calibration=data)
    else:
        mode = filename.rsplit("_", 1)[-1].removesuffix(".tflite")
        ex.export_tflite(model, path, mode, calibration=data)
    return path
