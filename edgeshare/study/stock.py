"""The stock converter, called as a user would: `tf.lite.TFLiteConverter.from_keras_model`.

The same modes as edgeshare's exports (tests/converters/conftest.py `stock_tflite` does the same): float32,
and full int8 calibrated on the same training samples, with int8 input and output for float tensors as
edgeshare's int8 export has. No repair: what the stock tool writes is what the user ships.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from typing import Any

import numpy as np


def stock_tflite(model: Any, mode: str, calibration: list[np.ndarray]) -> bytes:
    """The .tflite bytes TFLiteConverter writes for `model` in `mode` ("none" or "int8")."""
    if mode not in ("none", "int8"):
        raise ValueError(f"`mode` must be none or int8. Received: mode={mode!r}")
    from edgeshare.accounting import quiet_tensorflow

    tf = quiet_tensorflow()
    # Keras prints the SavedModel's endpoints ("Saved artifact at ...") on stdout for every conversion.
    # The converter warns "Statistics for quantized inputs were expected" for integer (token) inputs.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return _convert(tf, model, mode, calibration)


def _convert(tf: Any, model: Any, mode: str, calibration: list[np.ndarray]) -> bytes:
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode == "int8":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        n = len(calibration[0])
        conv.representative_dataset = lambda: ([x[i : i + 1] for x in calibration] for i in range(n))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if any(np.issubdtype(x.dtype, np.floating) for x in calibration):
            conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    return bytes(conv.convert())
