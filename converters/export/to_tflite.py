"""Keras -> .tflite bytes: one ExportArchive endpoint per signature, then TFLiteConverter.

The signatures' inputs carry the model's input names (made valid: `Prepared.names`) and their outputs
the model's output names (a dict output's keys, else output_0, output_1, ...), so that every later stage
feeds and reads the file by name.
"""

from __future__ import annotations

import hashlib
import tempfile
import weakref
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from edgeshare._quiet import quiet_fds
from edgeshare.errors import InvalidInputError

from .prepare import Prepared

SERVING = "serving_default"


def check_int8_convertible(model: Any) -> None:
    """TF 2.21's int8 converter crashes the process (SIGSEGV) on a Keras 3 RNN that runs as a loop:
    refuse it with a clear message instead (measured; pinned in tests/models/test_shared_rnn_digits.py)."""
    import keras

    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.RNN) and not getattr(layer, "unroll", False):
            raise InvalidInputError(
                f"full-integer (int8) TFLite conversion of a rolled RNN crashes TensorFlow 2.21's converter; "
                f"build the RNN with unroll=True (or export dynamic / fp16). Received: layer={layer.name}",
                getattr(model, "name", None),
            )


def tf_specs(p: Prepared, extra: Sequence[tuple[str, tuple[int, ...], str]] = ()) -> list[Any]:
    """TensorSpecs of the model's inputs (named as in the file), then of `extra` (name, shape, dtype)."""
    import tensorflow as tf

    specs = [tf.TensorSpec(s.shape, s.dtype, name=p.names[s.name]) for s in p.inputs]
    return specs + [tf.TensorSpec(shape, dtype, name=n) for n, shape, dtype in extra]


def tflite_bytes(p: Prepared, quantize: str, signatures: Mapping[str, Sequence[str]] | None = None,
                 extra_inputs: Sequence[tuple[str, tuple[int, ...], str]] = (),
                 around_call: Any = None, trace_key: Hashable | None = None) -> bytes:
    """Convert `p.model` with one endpoint per signature (signature -> output names; None: one
    "serving_default" signature with every output).

    `extra_inputs` are inputs appended after the model's own; `around_call(extra_values)` returns a
    context manager active while the model is traced (the kernel-mixing bank export uses both).
    `trace_key` names the trace-time forms in effect (layer export forms, the int8 masked softmax); with
    it, the traced SavedModel is reused by the next conversion of the same model, weights, inputs,
    signatures and forms (an export in several modes traces once per form; see `_TRACES`)."""
    import tensorflow as tf

    sigs = dict(signatures) if signatures is not None else {SERVING: p.output_names}
    key = None
    if trace_key is not None and not extra_inputs and around_call is None:
        key = (trace_key, tuple((k, tuple(v)) for k, v in sigs.items()),
               tuple((s.name, tuple(s.shape), s.dtype) for s in p.inputs), weights_digest(p.model))
    saved = _TRACES.get(p.model, key) if key is not None else None
    if saved is None:
        holder = tempfile.TemporaryDirectory()
        try:
            write_saved_model(p, sigs, holder.name, extra_inputs, around_call)
        except BaseException:
            holder.cleanup()
            raise
        saved = holder.name
        if key is not None:
            _TRACES.put(p.model, key, holder)
        else:
            try:
                with quiet_fds():
                    conv = tf.lite.TFLiteConverter.from_saved_model(saved, signature_keys=list(sigs))
                return convert(conv, p, quantize, list(sigs))
            finally:
                holder.cleanup()
    with quiet_fds():
        conv = tf.lite.TFLiteConverter.from_saved_model(saved, signature_keys=list(sigs))
    return convert(conv, p, quantize, list(sigs))


def write_saved_model(p: Prepared, sigs: Mapping[str, Sequence[str]], saved: str,
                      extra_inputs: Sequence[tuple[str, tuple[int, ...], str]] = (), around_call: Any = None) -> None:
    """Trace `p.model` into a SavedModel at `saved`, one endpoint per signature."""
    import contextlib

    import keras

    from edgeshare.accounting import call_model

    specs = tf_specs(p, extra_inputs)
    n_in = len(p.inputs)

    def endpoint(outputs: Sequence[str]) -> Any:
        def serve(*xs: Any) -> dict[str, Any]:
            feeds = {s.name: x for s, x in zip(p.inputs, xs[:n_in])}
            with around_call(xs[n_in:]) if around_call is not None else contextlib.nullcontext():
                y = call_model(p.model, feeds)
            return {o: y[o] for o in outputs}

        return serve

    with quiet_fds():
        # Through a SavedModel, as TFLiteConverter.from_keras_model does: from_concrete_functions
        # would keep Keras 3 variables as READ_VARIABLE ops instead of freezing them into buffers.
        archive = keras.export.ExportArchive()
        archive.track(p.model)
        for key, outputs in sigs.items():
            archive.add_endpoint(key, endpoint(outputs), input_signature=specs)
        archive.write_out(saved, verbose=False)


def weights_digest(model: Any) -> bytes:
    """A digest of every weight's value: a traced SavedModel freezes them, so new values need a new trace."""
    h = hashlib.sha1()
    for v in model.weights:
        a = np.ascontiguousarray(np.asarray(v.numpy()))
        h.update(f"{v.path}{a.dtype}{a.shape}".encode())
        h.update(a.data)
    return h.digest()


class _TraceCache:
    """The SavedModels of the last few traces, by model (weakly) and key. Tracing dominates a small
    model's export (measured on a keras-hub GPT-2 from config: about 9 s of a 14 s export on the 2-core
    VM), and an export in several modes or formats traces the same model again for each."""

    SIZE = 2

    def __init__(self) -> None:
        self.entries: list[tuple[weakref.ref[Any], Hashable, tempfile.TemporaryDirectory[str]]] = []

    def get(self, model: Any, key: Hashable) -> str | None:
        for ref, k, holder in self.entries:
            if ref() is model and k == key:
                return holder.name
        return None

    def put(self, model: Any, key: Hashable, holder: tempfile.TemporaryDirectory[str]) -> None:
        self.entries.append((weakref.ref(model), key, holder))
        while len(self.entries) > self.SIZE:
            self.entries.pop(0)[2].cleanup()

    def clear(self) -> None:
        while self.entries:
            self.entries.pop()[2].cleanup()


_TRACES = _TraceCache()


def convert(conv: Any, p: Prepared, quantize: str, signature_keys: list[str]) -> bytes:
    """Set `conv` (a TFLiteConverter) up for `quantize` and convert. int8 is full integer, calibrated on
    `p.calibration` (fed by name) for every signature, with int8 I/O for float inputs and outputs."""
    import tensorflow as tf

    if quantize == "int8":
        check_int8_convertible(p.model)
    if quantize != "none":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "fp16":
        conv.target_spec.supported_types = [tf.float16]
    if quantize == "int8":
        cal = p.calibration or {}
        n = next(iter(cal.values())).shape[0] if cal else 0
        several = len(signature_keys) > 1

        def representative() -> Any:
            # One signature: input dicts; several: (signature key, inputs) pairs.
            for key in signature_keys:
                for i in range(n):
                    sample = {p.names[k]: x[i : i + 1] for k, x in cal.items()}
                    yield (key, sample) if several else sample

        conv.representative_dataset = representative
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if any(np.issubdtype(np.dtype(s.dtype), np.floating) for s in p.inputs):
            conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    try:
        return bytes(conv.convert())
    except Exception as exc:
        msg = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
        raise InvalidInputError(f"TFLite conversion ({quantize}) failed: {msg[:300]}", p.model.name) from exc
