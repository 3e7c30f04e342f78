"""edgeshare.converters: export to TFLite and ONNX, verify sharing, check numerics.

`verify` and the readers never import TensorFlow or Keras; the exporters import them when called.
"""

from __future__ import annotations

from typing import Any

from .errors import EdgeshareError, InvalidInputError, VerificationError
from .verify import VerifyReport, verify

__all__ = [
    "EdgeshareError",
    "ExportReport",
    "InvalidInputError",
    "VerificationError",
    "VerifyReport",
    "export_onnx",
    "export_tflite",
    "verify",
]


def __getattr__(name: str) -> Any:
    # The exporters live behind a lazy import so that `import edgeshare.converters` stays light.
    if name in ("export_tflite", "export_onnx", "ExportReport", "TFLITE_MODES", "ONNX_MODES"):
        from . import export

        return getattr(export, name)
    raise AttributeError(f"module 'edgeshare.converters' has no attribute {name!r}")
