"""Keras -> .onnx through the float .tflite: tf2onnx.convert.from_tflite, then onnxruntime's quantizers.

Measured with tf2onnx 1.17 at opsets 15-18, `Model.export(format="onnx")` and `tf2onnx.convert.from_keras`
both leave an unconverted StatefulPartitionedCall for a Keras 3 `Conv2D(groups=...)`, which onnxruntime
rejects; the TFLite route converts grouped convolutions to a native `Conv` with `group`. The graph's
inputs and outputs take the TFLite signature's names, so the file is fed by the model's input names.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from typing import Any

import numpy as np

from edgeshare._quiet import quiet_fds
from edgeshare.errors import InvalidInputError

from ..formats.source import open_source
from ..formats.tflite_file import read_tflite
from .prepare import Prepared


def onnx_from_tflite(tflite: bytes, opset: int, label: str) -> Any:
    """An onnx.ModelProto converted from float .tflite bytes, its I/O named as the TFLite signature's."""
    import tf2onnx

    from .onnx_handlers import CUSTOM_OP_HANDLERS

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.tflite")
        with open(path, "wb") as fh:
            fh.write(tflite)
        with open_source(path) as src:
            parsed = read_tflite(src)
            sig = parsed.signatures[0]
            sg = parsed.subgraphs[sig.subgraph]
            renames = {sg.tensors[v].name: k for k, v in {**sig.inputs, **sig.outputs}.items()}
        try:
            with quiet_fds():
                proto, _ = tf2onnx.convert.from_tflite(path, opset=opset, custom_op_handlers=CUSTOM_OP_HANDLERS)
        except Exception as exc:
            msg = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
            raise InvalidInputError(f"ONNX conversion failed: {msg[:300]}", label) from exc
    rename_io(proto, renames)
    return proto


def rename_io(model: Any, renames: dict[str, str]) -> None:
    """Rename graph inputs and outputs (and every node that reads or writes them)."""
    g = model.graph
    for coll in (g.input, g.output):
        for vi in coll:
            if vi.name in renames:
                vi.name = renames[vi.name]
    for node in g.node:
        for i, n in enumerate(node.input):
            if n in renames:
                node.input[i] = renames[n]
        for i, n in enumerate(node.output):
            if n in renames:
                node.output[i] = renames[n]


def ort_quantize(src: str, dst: str, mode: str, p: Prepared) -> None:
    """onnxruntime's `quantize_dynamic` (dynamic: int8 weights) or `quantize_static` (int8: QDQ, int8
    weights and activations, calibrated on `p.calibration` by input name), both with 7-bit weights so that
    the file computes the same on every CPU (see below)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    logging.getLogger().setLevel(logging.ERROR)  # the quantizer's "consider pre-processing" advice
    with quiet_fds():
        if mode == "dynamic":
            # 7-bit weights (reduce_range): onnxruntime's U8S8 kernels on x86 without VNNI add two u8 x s8
            # products in int16, which saturates with 8-bit weights; with 7 bits the file computes the same
            # on VNNI x86, AVX2 x86 and aarch64 (python -m edgeshare.benchmarks.bench_cpu_numerics).
            quantize_dynamic(src, dst, weight_type=QuantType.QInt8, reduce_range=True)
            return
        cal = p.calibration or {}
        n = next(iter(cal.values())).shape[0] if cal else 0

        class Reader(CalibrationDataReader):
            def __init__(self) -> None:
                self.items = iter([{p.names[k]: x[i : i + 1] for k, x in cal.items()} for i in range(n)])

            def get_next(self) -> dict[str, np.ndarray] | None:
                return next(self.items, None)

        quantize_static(src, dst, Reader(), quant_format=QuantFormat.QDQ, weight_type=QuantType.QInt8,
                        activation_type=QuantType.QInt8, per_channel=False, reduce_range=True)


def prune_onnx(model: Any, outputs: Sequence[str]) -> Any:
    """A copy of an ONNX ModelProto that computes only `outputs`: dead nodes and initializers removed."""
    import onnx

    pruned = onnx.ModelProto()
    pruned.CopyFrom(model)
    g = pruned.graph
    keep_out = [o for o in g.output if o.name in set(outputs)]
    if len(keep_out) != len(set(outputs)):
        missing = sorted(set(outputs) - {o.name for o in g.output})
        raise InvalidInputError(
            f"`outputs` must name outputs of the ONNX model {[o.name for o in g.output]}. Received: missing={missing}"
        )

    def reads(node: Any) -> set[str]:
        names = {i for i in node.input if i}
        for attr in node.attribute:  # names a subgraph (Loop, If) reads from the outer scope
            for sub in ([attr.g] if attr.type == attr.GRAPH else list(attr.graphs)):
                for n in sub.node:
                    names |= reads(n)
        return names

    needed = set(outputs)
    kept = []
    for node in reversed(list(g.node)):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed |= reads(node)
    kept.reverse()
    del g.node[:]
    g.node.extend(kept)
    del g.output[:]
    g.output.extend(keep_out)
    inits = [t for t in g.initializer if t.name in needed]
    del g.initializer[:]
    g.initializer.extend(inits)
    infos = [v for v in g.value_info if v.name in needed]
    del g.value_info[:]
    g.value_info.extend(infos)
    return pruned
