"""ONNX repair: the graph (`graph`), the rules (`rules/`) and the pass that applies them (`rewrite`)."""

from __future__ import annotations

from .rewrite import rewrite_onnx

__all__ = ["rewrite_onnx"]
