"""Formats: read and write TFLite and ONNX bytes (light: no Keras, no runtime).

- `source`: open a path, bytes or a memory map without copying; sniff the format;
- `weights`: the format-neutral view of a stored weight (`StoredWeight`, `Quantization`) the verifier matches;
- `tflite_file` / `tflite_writer`: the TFLite flatbuffer reader and writer (inline or offset layout);
- `onnx_file`: the ONNX reader (initializers, Constant nodes, external data, quantization parameters).
"""

from __future__ import annotations

from .onnx_file import OnnxFile, read_onnx
from .source import OpenedSource, Source, open_source, sniff_format
from .tflite_file import TFLiteFile, read_tflite
from .tflite_writer import copy_tflite, write_tflite
from .weights import Quantization, StoredWeight

__all__ = [
    "OnnxFile",
    "OpenedSource",
    "Quantization",
    "Source",
    "StoredWeight",
    "TFLiteFile",
    "copy_tflite",
    "open_source",
    "read_onnx",
    "read_tflite",
    "sniff_format",
    "write_tflite",
]
