"""The one runner interface: a loaded model (or one signature of it) called with inputs by name.

Every runtime (LiteRT's Interpreter, onnxruntime, and any other) implements `Runner`. Values cross the
interface in the model's own terms: an int8 input or output of a full-integer model is quantized and
dequantized here with its tensor's own scale and zero point, so callers always see real values.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeshare.errors import InvalidInputError


@dataclass(frozen=True)
class TensorSpec:
    """One input or output: its name, shape (-1 for a dynamic dimension), dtype and quantization."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: float = 0.0  # non-zero: an integer tensor that carries real values (int8 I/O)
    zero_point: int = 0
    index_bound: int | None = None  # an integer input that indexes a table: ids in [0, index_bound)

    @property
    def dynamic_axes(self) -> list[int]:
        return [i for i, d in enumerate(self.shape) if d < 0]

    def to_stored(self, x: np.ndarray) -> np.ndarray:
        """A real-valued array in the tensor's stored dtype (quantized for int8 I/O)."""
        dt = np.dtype(self.dtype)
        if self.scale == 0 or np.issubdtype(np.asarray(x).dtype, np.integer) or not np.issubdtype(dt, np.integer):
            return np.asarray(x).astype(dt, copy=False)
        info = np.iinfo(dt)
        return np.clip(np.round(np.asarray(x) / self.scale + self.zero_point), info.min, info.max).astype(dt)

    def to_real(self, y: np.ndarray) -> np.ndarray:
        """The stored array as real values (dequantized for int8 I/O)."""
        if self.scale == 0 or not np.issubdtype(y.dtype, np.integer):
            return y
        return (y.astype(np.float32) - self.zero_point) * self.scale


def choose_signature(available: Iterable[str], signature: str | None, label: str = "<model>") -> str | None:
    """The signature a runner uses: the one asked for (it must exist), else the only one, else "all" in a
    multi-task file, else the first by name; None for a file without signatures."""
    keys = sorted(available)
    if signature is not None:
        if signature not in keys:
            raise InvalidInputError(f"no signature {signature!r}; the model has {keys}. "
                                    f"Received: signature={signature}", label)
        return signature
    if len(keys) <= 1:
        return keys[0] if keys else None
    return "all" if "all" in keys else keys[0]


class Runner(ABC):
    """A model ready to run on the host. Subclasses fill `inputs` and `outputs` and implement the three
    methods; `__call__` and `run` feed inputs by name and return outputs in `output_names` order."""

    runtime: str = ""
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    label: str = "<model>"

    @property
    def input_names(self) -> list[str]:
        return [s.name for s in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [s.name for s in self.outputs]

    @abstractmethod
    def set_inputs(self, feeds: Mapping[str, np.ndarray]) -> None:
        """Bind stored-dtype arrays to the inputs (shapes may resize dynamic dimensions)."""

    @abstractmethod
    def invoke(self) -> None:
        """Run once on the bound inputs: the call a timing loop repeats."""

    @abstractmethod
    def raw_outputs(self) -> list[np.ndarray]:
        """The outputs of the last invoke, in stored dtype, in `output_names` order."""

    def run(self, feeds: Mapping[str, Any]) -> list[np.ndarray]:
        """Real-valued outputs for real-valued inputs given by name."""
        names = self.input_names
        unknown = sorted(set(feeds) - set(names))
        missing = [n for n in names if n not in feeds]
        if unknown or missing:
            raise InvalidInputError(
                f"inputs are fed by name: the model takes {names}. Received: names={sorted(feeds)}", self.label
            )
        self.set_inputs({s.name: s.to_stored(np.asarray(feeds[s.name])) for s in self.inputs})
        self.invoke()
        return [s.to_real(np.asarray(y)) for s, y in zip(self.outputs, self.raw_outputs())]

    def __call__(self, feeds: Mapping[str, Any] | None = None, /, **by_name: Any) -> list[np.ndarray]:
        if feeds is not None and not isinstance(feeds, Mapping):
            raise InvalidInputError(f"inputs are fed by name: pass a dict keyed by {self.input_names}. "
                                    f"Received: {type(feeds).__name__}", self.label)
        return self.run({**(feeds or {}), **by_name})
