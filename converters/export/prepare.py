"""The first stage of every export: the model, its inputs by name, calibration and sample data, and the
Keras reference outputs the numerics gate compares against."""

from __future__ import annotations

import os
import re
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgeshare.errors import InvalidInputError

from ..runtime.base import TensorSpec
from ..runtime.inputs import random_batch
from .calibration import integer_input_bounds, named_inputs, read_npz, with_table_extremes

NUMERICS_SAMPLES = 16
CALIBRATION_SAMPLES = 64


@dataclass
class Prepared:
    model: Any
    inputs: list[TensorSpec]  # by Keras input name, batch fixed, in the model's own order
    names: dict[str, str]  # Keras input name -> the signature (file) input name
    positional: bool  # the model's inputs are a list or a single tensor (not a dict)
    calibration: dict[str, np.ndarray] | None
    calibration_source: str
    samples: dict[str, np.ndarray]
    reference: dict[str, np.ndarray]  # Keras outputs on `samples`, by output name
    class_outputs: list[str]
    warnings: list[str] = field(default_factory=list)

    @property
    def output_names(self) -> list[str]:
        return list(self.reference)

    def file_feeds(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Keras-named inputs renamed to the file's signature names."""
        return {self.names[k]: v for k, v in feeds.items()}


def resolve_model(model: Any) -> Any:
    """A Keras model from a model object, a .keras path or its bytes (a path is checked before TensorFlow
    loads)."""
    from edgeshare.accounting import load_keras_model, quiet_tensorflow

    if hasattr(model, "weights") and hasattr(model, "inputs"):
        quiet_tensorflow()
        return model
    if isinstance(model, (bytes, bytearray)):
        with tempfile.NamedTemporaryFile(suffix=".keras", delete=False) as fh:
            fh.write(model)
            tmp = fh.name
        try:
            return load_keras_model(tmp)
        finally:
            os.unlink(tmp)
    return load_keras_model(model)


def signature_names(names: list[str]) -> dict[str, str]:
    """A valid, unique signature input name for each Keras input name (the name itself when it is one)."""
    taken: set[str] = set()
    out = {}
    for i, name in enumerate(names):
        clean = re.sub(r"[^0-9A-Za-z_]", "_", name) or f"input_{i}"
        if clean[0].isdigit():
            clean = "x" + clean
        base, k = clean, 1
        while clean in taken:
            clean = f"{base}_{k}"
            k += 1
        taken.add(clean)
        out[name] = clean
    return out


def prepare(model: Any, calibration: Any, sample_inputs: Any, batch_size: int, need_calibration: bool,
            input_shapes: Mapping[str, Sequence[int]] | None = None) -> Prepared:
    from edgeshare.accounting import (
        call_model,
        class_outputs,
        input_structure,
        input_tensor_names,
        model_inputs,
    )

    m = resolve_model(model)
    try:
        positional = input_structure(m)[0] != "dict"
        bounds = integer_input_bounds(m, input_tensor_names(m))
        specs = [TensorSpec(i.name, tuple(int(d) for d in i.shape), i.dtype, index_bound=bounds.get(i.name))
                 for i in model_inputs(m, batch_size, input_shapes)]
    except InvalidInputError as exc:
        if not isinstance(model, (str, os.PathLike)):
            raise
        raise InvalidInputError(exc.message, os.fspath(model)) from exc  # name the file the user gave
    names = signature_names([s.name for s in specs])
    aliases = {v: k for k, v in names.items()}
    notes: list[str] = []
    cal: dict[str, np.ndarray] | None = None
    source = "none"
    if isinstance(calibration, (str, os.PathLike)):
        source = os.fspath(calibration)
        cal = named_inputs(read_npz(calibration), specs, source, positional, aliases)
    elif calibration is not None:
        cal, source = named_inputs(calibration, specs, "calibration", positional, aliases), "given arrays"
    if sample_inputs is not None:
        samples = named_inputs(sample_inputs, specs, "sample_inputs", positional, aliases)
    elif cal is not None:
        samples = cal
    else:
        samples = random_batch(specs, NUMERICS_SAMPLES, seed=0)
        notes.append("no sample inputs: numerics were checked on random inputs")
    if cal is None and need_calibration:
        cal = random_batch(specs, CALIBRATION_SAMPLES, seed=1)
        source = "random"
        notes.append(
            "int8 calibrated on RANDOM inputs: pass --calibration FILE.npz (or calibration=...) "
            "with real samples, or the quantization ranges will not fit real data"
        )
        warnings.warn(notes[-1], stacklevel=3)
    if cal is not None and need_calibration:
        cal = with_table_extremes(m, input_tensor_names(m), cal)
    samples = {k: v[:NUMERICS_SAMPLES] for k, v in samples.items()}
    reference = {k: np.asarray(v) for k, v in call_model(m, samples).items()}
    return Prepared(m, specs, names, positional, cal, source, samples, reference, class_outputs(m), notes)
