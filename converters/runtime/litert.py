"""LiteRT's Interpreter as a `Runner`: one signature of a .tflite (or its primary subgraph when it has none).

`delegate="xnnpack"` is LiteRT's default CPU path (XNNPACK applied by default); `"cpu"` is the builtin
kernels without the default delegate.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from edgeshare._quiet import quiet_fds
from edgeshare.errors import InvalidInputError

from ..formats.source import open_source
from ..formats.tflite_file import read_tflite
from .base import Runner, TensorSpec, choose_signature

LITERT_DELEGATES = ("xnnpack", "cpu")


def gather_bounds(model: str | bytes) -> dict[tuple[int, int], int]:
    """(subgraph, tensor) -> table rows, for every integer tensor that indexes a GATHER or EMBEDDING_LOOKUP."""
    bounds: dict[tuple[int, int], int] = {}
    with open_source(model) as src:
        tfl = read_tflite(src)
        for sg in tfl.subgraphs:
            for op in sg.operators:
                if op.opcode in ("GATHER", "EMBEDDING_LOOKUP") and len(op.inputs) >= 2:
                    params, idx = op.inputs[0], op.inputs[1]
                    if op.opcode == "EMBEDDING_LOOKUP":
                        params, idx = idx, params
                    if params < 0 or idx < 0:
                        continue
                    shape = sg.tensors[params].shape
                    rows = int(shape[0]) if shape and shape[0] > 0 else 2
                    bounds[(sg.index, idx)] = min(rows, bounds.get((sg.index, idx), rows))
    return bounds


def _spec(name: str, d: dict[str, Any], bound: int | None) -> TensorSpec:
    sig = d.get("shape_signature")
    shape = tuple(int(x) for x in (sig if sig is not None and len(sig) == len(d["shape"]) else d["shape"]))
    scale, zero = d.get("quantization", (0.0, 0))
    return TensorSpec(name, shape, np.dtype(d["dtype"]).name, float(scale), int(zero), bound)


class LiteRTRunner(Runner):
    """One signature of a .tflite model on LiteRT's Interpreter.

    Args:
        model: a path or the file's bytes.
        signature: the signature key; default: the only one, or the primary subgraph when there is none.
        num_threads: the Interpreter's thread count (default: LiteRT's).
        delegate: "xnnpack" (LiteRT's default CPU path) or "cpu" (builtin kernels only).
    """

    runtime = "litert"

    def __init__(self, model: str | os.PathLike[str] | bytes, signature: str | None = None,
                 num_threads: int | None = None, delegate: str = "xnnpack") -> None:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        if delegate not in LITERT_DELEGATES:
            raise InvalidInputError(f"the LiteRT runner offers delegates {', '.join(LITERT_DELEGATES)}. "
                                    f"Received: delegate={delegate}")
        content = bytes(model) if isinstance(model, (bytes, bytearray)) else None
        self.label = "<bytes>" if content is not None else str(os.fspath(model))
        kwargs: dict[str, Any] = {"num_threads": num_threads} if num_threads else {}
        if delegate == "cpu":
            kwargs["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        try:
            # LiteRT announces its XNNPACK delegate on stderr; keep that off the CLI's output.
            with quiet_fds():
                if content is not None:
                    self.interpreter = Interpreter(model_content=content, **kwargs)
                else:
                    self.interpreter = Interpreter(model_path=self.label, **kwargs)
                self.interpreter.allocate_tensors()
        except ValueError as exc:
            raise InvalidInputError(f"LiteRT cannot load the model: {str(exc).splitlines()[0]}", self.label) from exc
        self.delegate = delegate
        self._wrapper = self.interpreter._interpreter
        sigs = self.interpreter.get_signature_list() or {}
        key = choose_signature(sigs, signature, self.label)
        self.signature = key
        bounds = gather_bounds(content if content is not None else self.label)
        if key is not None:
            sr = self.interpreter.get_signature_runner(key)
            self._sub = int(sr._subgraph_index)
            ins, outs = sr.get_input_details(), sr.get_output_details()
            in_names, out_names = list(sigs[key]["inputs"]), list(sigs[key]["outputs"])
        else:
            self._sub = 0
            ins = {d["name"]: d for d in self.interpreter.get_input_details()}
            outs = {d["name"]: d for d in self.interpreter.get_output_details()}
            in_names, out_names = list(ins), list(outs)
        if self._sub:
            self._wrapper.AllocateTensors(self._sub)
        self._in_index = {n: int(ins[n]["index"]) for n in in_names}
        self._out_index = [int(outs[n]["index"]) for n in out_names]
        self.inputs = [_spec(n, ins[n], bounds.get((self._sub, int(ins[n]["index"])))) for n in in_names]
        self.outputs = [_spec(n, outs[n], None) for n in out_names]
        self._shapes = {n: tuple(int(x) for x in ins[n]["shape"]) for n in in_names}

    def set_inputs(self, feeds: Mapping[str, np.ndarray]) -> None:
        w, sub = self._wrapper, self._sub
        resized = False
        for name, x in feeds.items():
            if tuple(x.shape) != self._shapes[name]:
                w.ResizeInputTensor(self._in_index[name], np.array(x.shape, np.int32), False, sub)
                self._shapes[name] = tuple(x.shape)
                resized = True
        if resized:
            w.AllocateTensors(sub)
        for name, x in feeds.items():
            w.SetTensor(self._in_index[name], np.ascontiguousarray(x), sub)

    def invoke(self) -> None:
        self._wrapper.Invoke(self._sub)

    def raw_outputs(self) -> list[np.ndarray]:
        return [self._wrapper.GetTensor(i, self._sub) for i in self._out_index]
