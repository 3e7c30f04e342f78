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
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgeshare.errors import InvalidInputError


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
        from edgeshare._quiet import quiet_fds

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


def check_keras_file(path: Any) -> Path:
    """The file checks that need no TensorFlow: it exists, is a file, is not empty, and a .keras is a zip.
    Raises InvalidInputError naming the file."""
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
    return p


# Packages whose classes a .keras config can name (`"module": "keras_hub.src..."`, `"registered_name":
# "keras_hub>GPT2CausalLM"`) and that must be imported before loading so that the classes register:
# import name -> pip name. keras-nlp was keras-hub's name before 0.18 and registers under it.
REGISTERING_PACKAGES = {"keras_hub": "keras-hub", "keras_nlp": "keras-hub"}


def packages_needed(path: Path) -> dict[str, list[str]]:
    """Import name -> the class names that need it, read from a .keras archive's config.json (no Keras
    import). Only the packages of REGISTERING_PACKAGES are looked for."""
    import json

    if not zipfile.is_zipfile(path):
        return {}
    try:
        with zipfile.ZipFile(path) as zf:
            config = json.loads(zf.read("config.json"))
    except (KeyError, ValueError, OSError, zipfile.BadZipFile):
        return {}  # keras.saving.load_model says what is wrong with the archive
    found: dict[str, list[str]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            module = node.get("module")
            if isinstance(module, str) and module.split(".")[0] in REGISTERING_PACKAGES:
                names = found.setdefault(module.split(".")[0], [])
                name = str(node.get("class_name", "?"))
                if name not in names:
                    names.append(name)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(config)
    return found


def import_custom_objects(modules: Any) -> None:
    """Import modules that register a user's Keras classes (`--custom-objects MODULE`): a module name
    (`my_pkg.layers`) or a .py file. Raises InvalidInputError naming a module that does not import."""
    import importlib
    import importlib.util
    import sys

    if not modules:
        return
    quiet_tensorflow()
    for module in modules:
        try:
            if str(module).endswith(".py"):
                if not os.path.isfile(module):
                    raise InvalidInputError("no such file for --custom-objects", str(module))
                name = Path(module).stem
                loaded = sys.modules.get(name)
                if loaded is not None and os.path.abspath(getattr(loaded, "__file__", "") or "") == os.path.abspath(
                        module):
                    continue  # already imported (registering its classes twice is harmless but slow)
                spec = importlib.util.spec_from_file_location(name, module)
                if spec is None or spec.loader is None:
                    raise ImportError(f"cannot load {module}")
                mod = importlib.util.module_from_spec(spec)
                sys.modules[name] = mod
                spec.loader.exec_module(mod)
            else:
                importlib.import_module(str(module))
        except InvalidInputError:
            raise
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:240]
            raise InvalidInputError(
                f"the --custom-objects module does not import ({type(exc).__name__}: {first}); give an importable "
                f"module name or a .py file that registers your classes. Received: module={module!r}") from exc


def import_registering_packages(path: Path, label: str) -> None:
    """Import the packages (keras-hub) whose classes the archive names, only those: plain loads stay fast.
    A package that is not installed raises InvalidInputError naming it."""
    import importlib

    from edgeshare._quiet import quiet_fds

    for package, classes in packages_needed(path).items():
        try:
            with quiet_fds():
                importlib.import_module(package)
        except ImportError as exc:
            pip_name = REGISTERING_PACKAGES[package]
            raise InvalidInputError(
                f"the model is built from {pip_name} classes ({', '.join(classes[:3])}), and {pip_name} is not "
                f"installed: pip install {pip_name}", label) from exc


def load_keras_model(path: Any) -> Any:
    """Load a .keras (or .h5) file with edgeshare's layers registered, and keras-hub's when the archive
    names its classes. Bad files raise InvalidInputError."""
    label = str(path)
    p = check_keras_file(path)
    quiet_tensorflow()
    import keras

    import edgeshare.layers  # noqa: F401  (registers the custom layers for deserialization)

    import_registering_packages(p, label)
    try:
        with warnings.catch_warnings():
            # keras-hub tasks override compile(); Keras warns that it did not call it, which compile=False asks
            warnings.filterwarnings("ignore", message=r".*`compile\(\)` was not called")
            model = keras.saving.load_model(p, compile=False)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InvalidInputError(f"cannot load the Keras model: {first[:240]}", label) from exc
    if not hasattr(model, "weights"):
        raise InvalidInputError("the file does not hold a Keras model", label)
    return model


@dataclass(frozen=True)
class ModelInput:
    """One input of a Keras model, named as callers feed it: the dict key for dict inputs (keras-hub
    backbones take `{"token_ids", "padding_mask"}`), else the Input's own name."""

    name: str
    shape: tuple[Any, ...]  # the batch dimension fixed (ints; None only where static=False left one unknown)
    dtype: str


def input_structure(model: Any) -> tuple[str, list[tuple[str, Any]]]:
    """("dict" | "list" | "single", [(name, KerasTensor), ...]) in the order the model is called with."""
    struct = getattr(model, "_inputs_struct", None)
    if struct is None:
        struct = getattr(model, "inputs", None)
    if struct is None or (isinstance(struct, (list, tuple, dict)) and len(struct) == 0):
        raise InvalidInputError(
            "the model has no defined inputs (a subclassed model that was never called); "
            "build it with keras.Input or call it once before saving",
            getattr(model, "name", None),
        )
    if isinstance(struct, dict):
        items = list(struct.items())
        kind = "dict"
    elif isinstance(struct, (list, tuple)):
        items = [(getattr(t, "name", f"input_{i}"), t) for i, t in enumerate(struct)]
        kind = "list"
    else:
        items = [(getattr(struct, "name", "input_0"), struct)]
        kind = "single"
    if any(not hasattr(t, "shape") for _, t in items):
        raise InvalidInputError(
            "nested input structures are not supported: use a dict, a list or a single input. "
            f"Received: inputs={type(struct).__name__}", getattr(model, "name", None))
    names = [str(n) for n, _ in items]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InvalidInputError(f"input names must be unique to be fed by name. Received: duplicates={dupes}",
                                getattr(model, "name", None))
    return kind, [(str(n), t) for n, t in items]


def model_inputs(model: Any, batch_size: int = 1, shapes: Mapping[str, Sequence[int]] | None = None,
                 static: bool = True) -> list[ModelInput]:
    """The model's inputs, by name, in the order of its own input structure, with the batch fixed.

    Args:
        shapes: full shapes (batch first) for inputs with unknown dimensions, by input name: keras-hub
            backbones take `(None, None)` token ids, and export needs static shapes. A given shape must
            agree with every dimension the model fixes.
        static: raise on a dimension that stays unknown (False keeps it None, for tracing).
    """
    _, items = input_structure(model)
    given = {str(k): tuple(int(d) for d in v) for k, v in (shapes or {}).items()}
    names = [n for n, _ in items]
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise InvalidInputError(f"input shapes must name inputs of the model {names}. Received: names={unknown}",
                                getattr(model, "name", None))
    out = []
    for name, t in items:
        declared = list(t.shape)
        if name in given:
            want = given[name]
            clash = len(want) != len(declared) or any(d is not None and d != w for d, w in zip(declared, want))
            if clash:
                raise InvalidInputError(
                    f"the shape given for input {name!r} must keep the model's fixed dimensions "
                    f"{['?' if d is None else d for d in declared]}. Received: shape={list(want)}",
                    getattr(model, "name", None))
            shape: tuple[Any, ...] = want
        else:
            shape = tuple(batch_size if (d is None and j == 0) else d for j, d in enumerate(declared))
        if static and any(d is None for d in shape):
            example = "x".join(["1"] + [str(d or 128) for d in shape[1:]])
            raise InvalidInputError(
                f"input {name!r} has an unknown non-batch dimension; export needs static shapes: give one with "
                f"input_shapes={{{name!r}: ({example.replace('x', ', ')})}} (CLI: --input-shape {name}={example}) "
                "or build the model with a fixed sequence length. Received: shape=" + str(declared),
                getattr(model, "name", None),
            )
        out.append(ModelInput(name, shape, str(t.dtype)))
    return out


def call_model(model: Any, feeds: Mapping[str, Any], training: bool = False) -> dict[str, Any]:
    """Call a Keras model with inputs given by name; returns its outputs by name (a dict output's keys,
    else output_0, output_1, ...)."""
    kind, items = input_structure(model)
    names = [n for n, _ in items]
    missing = [n for n in names if n not in feeds]
    if missing:
        raise InvalidInputError(f"the model takes inputs {names}. Received: names={sorted(feeds)}",
                                getattr(model, "name", None))
    if kind == "dict":
        x: Any = {n: feeds[n] for n in names}
    elif kind == "list":
        x = [feeds[n] for n in names]
    else:
        x = feeds[names[0]]
    return named_outputs(model(x, training=training))


def input_tensor_names(model: Any) -> dict[str, str]:
    """Input name -> the name of its KerasTensor (they differ for dict inputs keyed otherwise)."""
    return {name: str(t.name) for name, t in input_structure(model)[1]}


def class_outputs(model: Any) -> list[str]:
    """The outputs that carry class scores on their last axis (classifier and LM logits or probabilities),
    by the layer that produces them: a linear or softmax Dense/EinsumDense, a Softmax, or an embedding
    read in reverse (a layer whose vocabulary size is the output's last axis)."""
    import keras

    struct = getattr(model, "_outputs_struct", None)
    if struct is None:
        return []
    tensors = named_outputs(struct)
    out = []
    for name, t in tensors.items():
        layer = producing_layer(t)
        shape: tuple[Any, ...] = tuple(getattr(t, "shape", ()))
        if layer is None or len(shape) < 2 or not shape[-1] or shape[-1] < 2:
            continue
        activation = getattr(getattr(layer, "activation", None), "__name__", "linear")
        dense = (isinstance(layer, (keras.layers.Dense, keras.layers.EinsumDense))
                 and activation in ("linear", "softmax"))
        softmax = isinstance(layer, keras.layers.Softmax) or (
            isinstance(layer, keras.layers.Activation) and activation == "softmax")
        # An embedding read in reverse: its last axis is the vocabulary.
        vocab = shape[-1] in {getattr(layer, a, None) for a in ("input_dim", "vocab_size", "vocabulary_size")}
        if dense or softmax or vocab:
            out.append(name)
    return out


def producing_layer(tensor: Any) -> Any:
    """The layer that computes a symbolic output, looking through nested functional models (a keras-hub
    task called on new inputs produces its logits in its ReversibleEmbedding, not in the task itself)."""
    from keras.src.models.functional import Functional

    history = getattr(tensor, "_keras_history", None)
    layer = getattr(history, "operation", None)
    while history is not None and isinstance(layer, Functional):
        inner_outputs = list(getattr(layer, "outputs", None) or [])
        index = int(getattr(history, "tensor_index", 0))
        if index >= len(inner_outputs):
            break
        history = getattr(inner_outputs[index], "_keras_history", None)
        layer = getattr(history, "operation", None)
    return layer


def named_outputs(y: Any) -> dict[str, Any]:
    if isinstance(y, dict):
        return dict(y)
    ys = list(y) if isinstance(y, (list, tuple)) else [y]
    return {f"output_{i}": t for i, t in enumerate(ys)}


def count_uses(model: Any) -> dict[int, int]:
    """id(variable) -> number of layer calls that read it, from one traced forward pass."""
    tf = quiet_tensorflow()
    from keras.src.backend.common import variables as kv
    from keras.src.layers.layer import Layer

    specs = model_inputs(model, static=False)  # unknown dimensions stay symbolic in the trace
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

    tf_specs = {s.name: tf.TensorSpec(s.shape, s.dtype) for s in specs}
    kv.Variable.value = property(value)
    Layer.__call__ = layer_call
    try:
        tf.function(lambda feeds: call_model(model, feeds)).get_concrete_function(tf_specs)
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
