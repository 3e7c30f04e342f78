"""onnxruntime's CPU provider as a `Runner`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from edgeshare.errors import InvalidInputError

from .base import Runner, TensorSpec

ORT_TYPES: dict[str, str] = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
    "tensor(int16)": "int16",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(bool)": "bool",
}


def gather_bounds(model: Any) -> dict[str, int]:
    """Graph input -> table rows, for every input that indexes a Gather of an initializer."""
    inits = {t.name: list(t.dims) for t in model.graph.initializer}
    bounds: dict[str, int] = {}
    for node in model.graph.node:
        if node.op_type == "Gather" and len(node.input) > 1 and node.input[0] in inits:
            axis = next((int(a.i) for a in node.attribute if a.name == "axis"), 0)
            dims = inits[node.input[0]]
            if dims:
                rows = int(dims[axis % len(dims)])
                bounds[node.input[1]] = min(rows, bounds.get(node.input[1], rows))
    return bounds


class OnnxRunner(Runner):
    """An onnxruntime CPU session.

    Args:
        model: a path or the file's bytes.
        num_threads: intra-op threads (default: onnxruntime's).
        prepack: onnxruntime prepacks constant GEMM weights (a packed copy per reader) unless False.
    """

    runtime = "onnxruntime"

    def __init__(self, model: str | os.PathLike[str] | bytes, num_threads: int | None = None,
                 prepack: bool = True) -> None:
        import onnx
        import onnxruntime as ort

        content = bytes(model) if isinstance(model, (bytes, bytearray)) else None
        self.label = "<bytes>" if content is not None else str(os.fspath(model))
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if num_threads:
            opts.intra_op_num_threads = num_threads
        if not prepack:
            opts.add_session_config_entry("session.disable_prepacking", "1")
        try:
            self.session = ort.InferenceSession(content if content is not None else self.label, sess_options=opts,
                                                providers=["CPUExecutionProvider"])
            graph = onnx.load_model_from_string(content) if content is not None else onnx.load(
                self.label, load_external_data=False)
        except Exception as exc:
            raise InvalidInputError(f"onnxruntime cannot load the model: {str(exc).splitlines()[0]}",
                                    self.label) from exc
        bounds = gather_bounds(graph)
        self.inputs = [_spec(i, bounds.get(i.name)) for i in self.session.get_inputs()]
        self.outputs = [_spec(o, None) for o in self.session.get_outputs()]
        self._feeds: dict[str, np.ndarray] = {}
        self._last: list[np.ndarray] = []

    def set_inputs(self, feeds: Mapping[str, np.ndarray]) -> None:
        self._feeds = dict(feeds)

    def invoke(self) -> None:
        self._last = self.session.run(None, self._feeds)

    def raw_outputs(self) -> list[np.ndarray]:
        return [np.asarray(y) for y in self._last]


def _spec(meta: Any, bound: int | None) -> TensorSpec:
    shape = tuple(d if isinstance(d, int) and d >= 0 else -1 for d in (meta.shape or []))
    return TensorSpec(meta.name, shape, ORT_TYPES.get(meta.type, "float32"), 0.0, 0, bound)
