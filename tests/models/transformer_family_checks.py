"""Shared checks for the transformer-family reference models (albert_tiny, universal_transformer_tiny,
mobilellm_tiny, multilingual_lm_tiny): one real export per mode, loss before and after a short training,
and a classification of every duplicate group the verifier reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

MODES = ("none", "dynamic", "int8", "onnx")
RATIO_GOAL = 1.01


def eager_loss(model: Any, inputs: list[np.ndarray], targets: np.ndarray, weights: np.ndarray | None = None) -> float:
    import keras

    logits = model(inputs if len(inputs) > 1 else inputs[0], training=False)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return float(loss(targets, logits, sample_weight=weights))


def export_all(model: Any, data: list[np.ndarray], folder: Path) -> dict[str, Any]:
    """Export to TFLite none, dynamic and int8 (calibrated on `data`) and to ONNX."""
    from edgeshare.converters import export_onnx, export_tflite

    reports = {}
    for mode in MODES[:3]:
        reports[mode] = export_tflite(model, folder / f"{model.name}_{mode}.tflite", mode, calibration=data)
    reports["onnx"] = export_onnx(model, folder / f"{model.name}.onnx", calibration=data)
    return reports


def group_kind(group: Any, named_shapes: dict[str, tuple[int, ...]]) -> str:
    """Name a duplicate group: a named weight (matched by its shape, in any orientation, unit axes
    dropped), an int32 bias requantized per use, or 'unexpected ...'."""
    shapes = {tuple(sorted(d for d in t.shape if d != 1)) for t in group.tensors}
    for name, shape in named_shapes.items():
        if shapes == {tuple(sorted(shape))}:
            return name
    if all(t.dtype == "int32" and len([d for d in t.shape if d != 1]) == 1 for t in group.tensors):
        return "int32 bias"
    return f"unexpected {group.kind} group of shapes {sorted(shapes)}"


def duplicate_kinds(report: Any, named_shapes: dict[str, tuple[int, ...]]) -> set[str]:
    return {group_kind(g, named_shapes) for g in report.groups}
