"""edgeshare.converters: export to TFLite and ONNX, verify sharing, repair files from any exporter.

One room per stage (see each package's docstring):
- `formats/`  read and write TFLite and ONNX bytes;
- `verify/`   find every copy of a weight by content; the report types; the numerics gate;
- `repair/`   merge the copies, one small rule per kind of copy;
- `runtime/`  run a file on the host behind one runner interface; the one input generator;
- `export/`   Keras -> file through one pipeline (the only room that imports TensorFlow or Keras).

`verify` and `repair` never import TensorFlow or Keras (unless `verify` is given a Keras model); the
exporters load behind a lazy import so that `import edgeshare.converters` stays light.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edgeshare.errors import EdgeshareError, InvalidInputError, VerificationError

from .formats.source import Source
from .repair import RepairReport, repair
from .repair.outlook import outlook
from .verify import VerifyReport, verify_file

__all__ = [
    "ONNX_MODES",
    "TFLITE_MODES",
    "EdgeshareError",
    "ExportReport",
    "InvalidInputError",
    "RepairReport",
    "VerificationError",
    "VerifyReport",
    "export_onnx",
    "export_tflite",
    "repair",
    "verify",
]


def verify(
    source: Source,
    model: Any = None,
    *,
    min_elements: int = 16,
    progress: Callable[[int, int], None] | None = None,
) -> VerifyReport:
    """Find every group of stored weights in a .tflite or .onnx that hold the same weight, and what a
    repair of the file reaches: `floor_bytes` keeps, in each group, the copy the repair keeps, and
    `repair_reaches_bytes` is the weight bytes the repair writes (its planner runs in memory).

    Args:
        source: a path to a .tflite or .onnx file, or its bytes.
        model: optional Keras model (object, .keras path or bytes) whose variables are mapped to the
            stored weights; a shared variable carried by more than one stored weight is flagged. Only this
            loads Keras.
        min_elements: smaller tensors are counted in the bytes but not matched.
        progress: called with (done, total) while comparing.

    Raises:
        InvalidInputError: the artifact is missing, empty, truncated or not TFLite/ONNX.
    """
    variables = None
    if model is not None:
        from .export.keras_variables import keras_variables

        variables = keras_variables(model)
    return verify_file(source, variables, min_elements=min_elements, progress=progress, outlook=outlook)


def __getattr__(name: str) -> Any:
    # The exporters live behind a lazy import so that `import edgeshare.converters` stays light.
    if name in ("export_tflite", "export_onnx", "ExportReport", "TFLITE_MODES", "ONNX_MODES"):
        from . import export

        return getattr(export, name)
    raise AttributeError(f"module 'edgeshare.converters' has no attribute {name!r}")
