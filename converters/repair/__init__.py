"""Repair: rewrite a .tflite or .onnx from any exporter so that each shared weight is stored once (light).

- `driver`: `repair()`: verify, rewrite, check the outputs before and after, retry without the guarded
  rules that cost accuracy;
- `plan`: the rule interfaces (`CopyRule`, `Copy`) and what a pass decides (`Plan`, `MergedCopy`,
  `SkippedCopy`);
- `tflite/`, `onnx/`: each format's graph, its rules (`rules/`, one module per rule, registered in the
  package) and the pass that applies them.
"""

from __future__ import annotations

from .driver import RepairNumerics, RepairReport, repair
from .plan import Copy, MergedCopy, Plan, SkippedCopy

__all__ = ["Copy", "MergedCopy", "Plan", "RepairNumerics", "RepairReport", "SkippedCopy", "repair"]
