"""The traced SavedModel is reused across export modes of one model, and never after its weights change.
(It belongs with tests/converters/test_export.py; it sits here with the keras-hub work that added it.)"""

from __future__ import annotations

import numpy as np

from edgeshare.converters import export_onnx, export_tflite
from edgeshare.converters.export import to_tflite


def _model():
    from edgeshare.accounting import quiet_tensorflow

    quiet_tensorflow()
    import keras

    keras.utils.set_random_seed(0)
    x = keras.Input((12,), name="features")
    return keras.Model(x, keras.layers.Dense(4, name="out")(keras.layers.Dense(16, activation="relu")(x)))


def test_modes_share_one_trace_and_new_weights_trace_again(tmp_path, monkeypatch):
    traced: list[str] = []
    original = to_tflite.write_saved_model
    monkeypatch.setattr(to_tflite, "write_saved_model", lambda p, *a, **k: (traced.append(p.model.name),
                                                                             original(p, *a, **k))[1])
    model = _model()
    data = np.random.default_rng(0).standard_normal((16, 12)).astype(np.float32)
    for mode in ("none", "fp16", "dynamic"):
        assert export_tflite(model, str(tmp_path / f"m_{mode}.tflite"), mode, sample_inputs=data).ok
    assert export_onnx(model, str(tmp_path / "m.onnx"), sample_inputs=data).ok
    assert len(traced) == 1  # three TFLite modes and the ONNX route's float model: one trace
    assert export_tflite(model, str(tmp_path / "m_int8.tflite"), "int8", calibration=data).ok
    assert len(traced) == 2  # int8 traces its own form (the quantizable masked softmax)
    kernel = model.get_layer("out").kernel
    kernel.assign(kernel.numpy() * -3.0)
    rep = export_tflite(model, str(tmp_path / "m_new.tflite"), "none", sample_inputs=data)
    assert len(traced) == 3 and rep.ok  # a stale trace would fail the numerics against the new weights
