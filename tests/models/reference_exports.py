"""Export acceptance shared by the reference-model tests: TFLite none / dynamic / int8 and ONNX, each
with weight bytes within 1% of the floor, no duplicate group, and numerics inside the export's
tolerance (f32: max error <= 1e-4 x max(1, |y|); dynamic and int8: cosine >= 0.99)."""

from __future__ import annotations

import os
from typing import Any

MODES = ("none", "dynamic", "int8", "onnx")


def export_reference(name: str, folder: str, *, train: bool = False, **overrides: Any) -> dict[str, Any]:
    """Build the reference model (untrained unless `train`), export it in every mode with its
    export_options, and return {"model", "data", "reports": {mode: ExportReport}, "paths"}."""
    import keras

    from edgeshare.converters import export_onnx, export_tflite
    from edgeshare.models import get

    keras.utils.set_random_seed(0)
    ref = get(name)
    model = ref.build()
    if train and ref.train:
        ref.train(model, epochs=1)
    data = ref.sample_data(48)
    options = {**ref.export_options, **overrides}
    reports, paths = {}, {}
    for mode in MODES:
        path = os.path.join(folder, f"{name}.onnx" if mode == "onnx" else f"{name}_{mode}.tflite")
        if mode == "onnx":
            reports[mode] = export_onnx(model, path, calibration=data, **options)
        else:
            reports[mode] = export_tflite(model, path, mode, calibration=data, **options)
        paths[mode] = path
    return {"model": model, "data": data, "reports": reports, "paths": paths}


def assert_accepted(reports: dict[str, Any]) -> None:
    for mode, rep in reports.items():
        assert rep.numerics is not None and rep.numerics.passed, (mode, rep.numerics)
        assert rep.duplicate_bytes == 0, (mode, rep.groups)
        assert rep.weight_bytes <= 1.01 * rep.floor_bytes, (mode, rep.weight_bytes, rep.floor_bytes)
