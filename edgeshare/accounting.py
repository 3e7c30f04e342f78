"""Sharing accounting for Keras models: `edgeshare.inspect(model)`.

Parameters are counted per use (every call of a shared layer counts again) and once per unique
variable. Uses are counted by tracing the model once with TensorFlow and recording, for each layer
call, the set of variables it reads. A layer called three times counts its kernel three times; a
variable read by several layers (a shared basis, a tied embedding) counts once per reading call.
An RNN's time steps count as the trace sees them: once per layer call when the steps run in a symbolic
loop (`unroll=False`), once per step when the layer is unrolled (`unroll=True` calls the cell per
step). A layer that applies a sublayer inside a while loop declares `traced_repeats` (see `Repeat`).
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgeshare.converters.errors import InvalidInputError


@dataclass
class SharedVariable:
    path: str
    shape: list[int]
    params: int
    uses: int


@dataclass
class SharingReport:
    name: str
    params_per_use: int
    unique_params: int
    trainable_params: int
    shared: list[SharedVariable]
    bytes_unique: dict[str, int]
    bytes_per_use: dict[str, int]
    unused: list[str] = field(default_factory=list)

    @property
    def sharing_factor(self) -> float:
        return self.params_per_use / self.unique_params if self.unique_params else 1.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["sharing_factor"] = round(self.sharing_factor, 4)
        return d


def quiet_tensorflow() -> Any:
    """Import TensorFlow with its start-up chatter silenced, and return it.

    TF 2.21 prints absl INFO lines (oneDNN, CUDA probing) at import even with TF_CPP_MIN_LOG_LEVEL=3,
    so the import runs with stdout and stderr redirected at the file-descriptor level.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import sys

    if "tensorflow" not in sys.modules:
        from edgeshare.converters._quiet import quiet_fds

        with quiet_fds():
            import tensorflow  # noqa: F401
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:
        pass
    return tf


def load_keras_model(path: Any) -> Any:
    """Load a .keras (or .h5) file with edgeshare's layers registered. Bad files raise InvalidInputError."""
    p = Path(os.fspath(path))
    label = str(path)
    if not p.exists():
        raise InvalidInputError("no such file", label)
    if p.is_dir():
        raise InvalidInputError("is a directory, expected a .keras file", label)
    if p.stat().st_size == 0:
        raise InvalidInputError("the file is empty (0 bytes)", label)
    if p.suffix == ".keras" and not zipfile.is_zipfile(p):
        raise InvalidInputError("not a .keras archive (expected a zip file written by model.save)", label)
    quiet_tensorflow()
    import keras

    import edgeshare.layers  # noqa: F401  (registers the custom layers for deserialization)

    try:
        model = keras.saving.load_model(p, compile=False)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InvalidInputError(f"cannot load the Keras model: {first[:240]}", label) from exc
    if not hasattr(model, "weights"):
        raise InvalidInputError("the file does not hold a Keras model", label)
    return model


def input_specs(model: Any, batch_size: int = 1) -> list[tuple[str, tuple[int, ...], str]]:
    """(name, shape with the batch fixed, dtype) for each model input, in call order."""
    inputs = getattr(model, "inputs", None)
    if not inputs:
        raise InvalidInputError(
            "the model has no defined inputs (a subclassed model that was never called); "
            "build it with keras.Input or call it once before saving",
            getattr(model, "name", None),
        )
    specs = []
    for i, t in enumerate(inputs):
        shape = tuple(batch_size if (d is None and j == 0) else d for j, d in enumerate(t.shape))
        if any(d is None for d in shape):
            raise InvalidInputError(
                f"input {i} ({t.name}) has an unknown non-batch dimension {list(t.shape)}; "
                "export needs static shapes. Received: shape=" + str(list(t.shape)),
                getattr(model, "name", None),
            )
        specs.append((t.name, shape, str(t.dtype)))
    return specs


def call_model(model: Any, xs: list[Any]) -> Any:
    """Call a Keras model with inputs in `model.inputs` order."""
    return model(xs[0] if len(xs) == 1 else list(xs), training=False)


def count_uses(model: Any) -> dict[int, int]:
    """id(variable) -> number of layer calls that read it, from one traced forward pass."""
    tf = quiet_tensorflow()
    from keras.src.backend.common import variables as kv
    from keras.src.layers.layer import Layer

    specs = input_specs(model)
    # One frame per active layer call: the variables it reads, and how many times its traced body runs
    # per call (a layer that loops over a sublayer in a while loop, like Repeat(mode="loop"), declares
    # `traced_repeats`; the trace sees its body once).
    frames: list[tuple[set[int], int]] = [(set(), 1)]
    counts: dict[int, int] = {}
    orig_value = kv.Variable.value
    orig_call = Layer.__call__

    def value(self: Any) -> Any:
        frames[-1][0].add(id(self))
        return orig_value.fget(self)

    def layer_call(self: Any, *args: Any, **kwargs: Any) -> Any:
        frames.append((set(), int(getattr(self, "traced_repeats", 1) or 1)))
        try:
            return orig_call(self, *args, **kwargs)
        finally:
            reads, _ = frames.pop()
            times = 1
            for _, repeats in frames:
                times *= repeats
            for vid in reads:
                counts[vid] = counts.get(vid, 0) + times

    tf_specs = [tf.TensorSpec(shape, dtype) for _, shape, dtype in specs]
    kv.Variable.value = property(value)
    Layer.__call__ = layer_call
    try:
        tf.function(lambda *xs: call_model(model, list(xs))).get_concrete_function(*tf_specs)
    finally:
        kv.Variable.value = orig_value
        Layer.__call__ = orig_call
    for vid in frames[0][0]:  # reads outside any layer call
        counts[vid] = counts.get(vid, 0) + 1
    return counts


def unique_variables(model: Any) -> list[Any]:
    seen: set[int] = set()
    out = []
    for v in model.weights:
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out


def inspect(model: Any) -> SharingReport:
    """Count parameters per use and per unique variable, and list the shared variables.

    Args:
        model: a built Keras model, or a path to a .keras file.

    Returns:
        A SharingReport. `bytes_unique` and `bytes_per_use` give the weight bytes at f32, f16 and int8.
    """
    if not hasattr(model, "weights"):
        model = load_keras_model(model)
    uses = count_uses(model)
    variables = unique_variables(model)
    per_use = 0
    unique = 0
    trainable = 0
    shared: list[SharedVariable] = []
    unused: list[str] = []
    for v in variables:
        n = 1
        for d in v.shape:
            n *= int(d)
        k = uses.get(id(v), 0)
        unique += n
        per_use += n * k
        if v.trainable:
            trainable += n
        if k > 1:
            shared.append(SharedVariable(v.path, [int(d) for d in v.shape], n, k))
        elif k == 0:
            unused.append(v.path)
    shared.sort(key=lambda s: -s.params * (s.uses - 1))
    return SharingReport(
        name=model.name,
        params_per_use=per_use,
        unique_params=unique,
        trainable_params=trainable,
        shared=shared,
        bytes_unique={"f32": unique * 4, "f16": unique * 2, "int8": unique},
        bytes_per_use={"f32": per_use * 4, "f16": per_use * 2, "int8": per_use},
        unused=unused,
    )
