"""TFLite repair: the object-API graph (`graph`), the rules (`rules/`) and the pass that applies them
(`rewrite`)."""

from __future__ import annotations

from .rewrite import rewrite_tflite

__all__ = ["rewrite_tflite"]
