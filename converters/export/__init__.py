"""Export: Keras -> .tflite / .onnx through one pipeline (prepare, convert, repair, write, verify, numerics).

The only room of `converters` that imports TensorFlow or Keras:
- `pipeline`: `export_tflite`, `export_onnx`;
- `prepare`: the model, its inputs by name, calibration and samples, the Keras reference outputs;
- `to_tflite`, `to_onnx`: the conversions (ExportArchive + TFLiteConverter; tf2onnx + onnxruntime's quantizers);
- `signatures`: multi-task exports (a signature per task); `bank_export`, `grouped_conv`: layers' export forms;
- `masked_softmax`: Keras' masked softmax traced in a form int8 keeps (attention in keras-hub models);
- `calibration`: inputs by name from an .npz, a dict or arrays; `keras_variables`: variables for `verify --model`;
- `report`: `ExportReport`, written to `<artifact>.report.json`.
"""

from __future__ import annotations

from .keras_variables import keras_variables
from .pipeline import ONNX_MODES, TFLITE_MODES, export_onnx, export_tflite
from .report import ExportReport

__all__ = ["ONNX_MODES", "TFLITE_MODES", "ExportReport", "export_onnx", "export_tflite", "keras_variables"]
