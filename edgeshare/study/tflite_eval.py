"""Run an exported .tflite file on a whole evaluation set with LiteRT, one sample at a time.

The exports have a static batch of 1. Integer inputs and outputs of a full-int8 file are quantized and
dequantized here with the file's own scale and zero point, as an app on a phone would.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np


def quantize(x: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    dtype = detail["dtype"]
    scale, zero = detail["quantization"]
    if np.issubdtype(dtype, np.integer) and np.issubdtype(x.dtype, np.floating) and scale:
        info = np.iinfo(dtype)
        return np.clip(np.round(x / scale + zero), info.min, info.max).astype(dtype)
    return x.astype(dtype)


def dequantize(y: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    scale, zero = detail["quantization"]
    if np.issubdtype(y.dtype, np.integer) and scale:
        return (y.astype(np.float32) - zero) * scale
    return y.astype(np.float32)


def _output_order(names: list[str]) -> list[str]:
    """output_0, output_1, ... in numeric order (output_10 after output_9)."""
    def key(n: str) -> tuple[int, str]:
        tail = n.rsplit("_", 1)[-1]
        return (int(tail), n) if tail.isdigit() else (1 << 30, n)

    return sorted(names, key=key)


def run_tflite(path: str | os.PathLike[str], inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Outputs (float, stacked over the samples) of the file's single signature, in output_i order.

    `inputs` maps each signature input name to an array with the samples on axis 0."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=os.fspath(path))
    keys = list(interp.get_signature_list())
    if len(keys) != 1:
        raise ValueError(f"expected a file with one signature. Received: path={os.fspath(path)}, signatures={keys}")
    runner = interp.get_signature_runner(keys[0])
    in_details = runner.get_input_details()
    out_details = runner.get_output_details()
    missing = sorted(set(in_details) - set(inputs))
    if missing:
        raise ValueError(f"inputs are missing for the file's signature. Received: missing={missing}")
    order = _output_order(list(out_details))
    n = len(next(iter(inputs.values())))
    outs: list[list[np.ndarray]] = [[] for _ in order]
    for i in range(n):
        feed = {k: quantize(inputs[k][i : i + 1], in_details[k]) for k in in_details}
        got = runner(**feed)
        for j, name in enumerate(order):
            outs[j].append(dequantize(np.asarray(got[name]), out_details[name]))
    return [np.concatenate(o, axis=0) for o in outs]


def match_outputs(reference: dict[str, np.ndarray], outputs: list[np.ndarray]) -> dict[str, int]:
    """Which file output answers which task: each task's Keras logits against the float file's outputs,
    by the smallest mean absolute difference (the float file matches Keras to about 1e-5)."""
    mapping: dict[str, int] = {}
    for task, ref in reference.items():
        errs = [float(np.mean(np.abs(o - ref))) if o.shape == ref.shape else np.inf for o in outputs]
        best = int(np.argmin(errs))
        if not np.isfinite(errs[best]) or best in mapping.values():
            raise ValueError(
                f"no file output matches task {task!r} alone. Received: mean_abs_errors={errs}, taken={mapping}"
            )
        mapping[task] = best
    return mapping
