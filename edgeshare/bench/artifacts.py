"""The files the harness benchmarks: their format (checked by parsing them, without TensorFlow) and the
export report beside them."""

from __future__ import annotations

import json
import os
from typing import Any

from edgeshare.converters.formats.onnx_file import read_onnx
from edgeshare.converters.formats.source import open_source, sniff_format
from edgeshare.converters.formats.tflite_file import read_tflite
from edgeshare.errors import InvalidInputError


def artifact_format(path: str) -> str:
    """Open and parse the file without TensorFlow; returns its format or raises InvalidInputError."""
    with open_source(path) as src:
        fmt = sniff_format(src.data, src.path)
        if fmt == "tflite":
            read_tflite(src)
        else:
            read_onnx(src).close()
    return fmt


def weight_bytes(path: str) -> int | None:
    """Bytes of the weights stored in the file (float data and quantized integers), as `verify` counts them."""
    from edgeshare.converters.verify.verifier import is_weight, load_weights

    try:
        _fmt, _size, weights, handle = load_weights(path)
    except InvalidInputError:
        return None
    try:
        return sum(w.nbytes for w in weights if is_weight(w))
    finally:
        handle.source.close()


def load_report(artifact: str) -> dict[str, Any] | None:
    """`<artifact>.report.json` written by `edgeshare export`, when it is there."""
    path = f"{artifact}.report.json"
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as fh:
            rep = json.load(fh)
    except (OSError, json.JSONDecodeError):
        return None
    keys = ("model", "format", "quantize", "mode", "file_bytes", "weight_bytes", "floor_bytes", "duplicate_bytes")
    return {k: rep[k] for k in keys if k in rep} if isinstance(rep, dict) else None


def predicted_ram(artifact: str, result: dict[str, Any]) -> tuple[dict[str, Any] | None, list[str]]:
    """What `edgeshare verify --ram` predicts for the runtime setup a result ran with, and its notes."""
    from edgeshare.converters.verify import ram

    fmt = result.get("format")
    if fmt == "onnx":
        key = ram.ORT_PREPACK if result.get("ort_prepack") is not False else ram.ORT_NO_PREPACK
    elif result.get("weight_cache"):
        key = ram.LITERT_CACHE
    elif result.get("delegate") == "xnnpack":
        key = ram.LITERT_NO_CACHE
    else:
        return None, []  # built-in kernels, GPU, NPU: no XNNPACK packing to predict
    try:
        pred = ram.predict_ram(artifact, signature=result.get("signature") if fmt == "tflite" else None)
    except (InvalidInputError, KeyError, IndexError, ValueError):
        return None, []
    r = pred.runtime(key)
    copies = sum(p.copies_with_cache if key == ram.LITERT_CACHE else p.copies for p in r.packed)
    summary = {"runtime": key, "ram_mb": r.total_bytes / 2**20, "ram_to_weight": r.ram_to_weight,
               "packed_weights": len(r.packed), "packed_copies": copies}
    notes = [n for n in pred.notes if not n.startswith("signature ")]
    if key == ram.LITERT_CACHE:
        notes = []  # the cache is what removes the extra copies the notes count
    return summary, notes
