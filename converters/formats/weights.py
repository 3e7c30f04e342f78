"""A format-neutral view of the weights stored in an artifact.

Both readers (TFLite and ONNX) produce `StoredWeight`s: one per stored blob (a TFLite buffer, an ONNX
initializer), with the tensors that view it and the ops that consume them. The matcher works on these
and never looks at names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

FLOAT_DTYPES = ("float32", "float16", "bfloat16", "float64")

# Relative precision of a value stored in a float format (half a unit in the last place).
_FLOAT_HALF_ULP = {"float32": 2.0**-24, "float16": 2.0**-11, "bfloat16": 2.0**-8, "float64": 2.0**-53}


@dataclass
class Quantization:
    """Affine quantization: real = (q - zero_point) * scale, per tensor or along `axis`."""

    scale: np.ndarray
    zero_point: np.ndarray
    axis: int | None = None

    def key(self) -> tuple[bytes, bytes, int | None]:
        return (
            np.ascontiguousarray(self.scale, dtype=np.float64).tobytes(),
            np.ascontiguousarray(self.zero_point, dtype=np.int64).tobytes(),
            self.axis if self.scale.size > 1 else None,
        )

    def broadcast_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape to which `scale` reshapes so that it broadcasts against a tensor of `shape`."""
        if self.scale.size <= 1 or self.axis is None:
            return (1,) * len(shape)
        axis = self.axis % len(shape)
        return tuple(shape[i] if i == axis else 1 for i in range(len(shape)))


@dataclass
class StoredWeight:
    """One stored blob of weight data and everything that reads it."""

    key: str  # unique within the artifact, e.g. "buffer 12" or "initializer 'W'"
    name: str  # a tensor name, for display only
    shape: tuple[int, ...]
    dtype: str
    nbytes: int
    load: Callable[[], np.ndarray]  # the raw stored values (a view where possible)
    quant: Quantization | None = None
    tensors: list[str] = field(default_factory=list)  # every tensor that views this blob
    consumers: list[str] = field(default_factory=list)  # ops reading it, e.g. "FULLY_CONNECTED#7"
    scale_known: bool = True  # False for integer weights whose scale the graph hides (ONNX MatMulInteger)
    ref: int | str | None = None  # format handle: the TFLite buffer index or the ONNX initializer name
    layout: str | None = None  # a storage layout other than dense, e.g. TFLite sparse; `load` densifies

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= int(d)
        return n

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOAT_DTYPES

    @property
    def precision_rank(self) -> int:
        """Bytes per element, used to keep the highest-precision copy of a group."""
        return max(1, self.nbytes // max(1, self.numel))

    def dequantized(self, values: np.ndarray | None = None) -> np.ndarray:
        """Real values as float32 (float64 for float64 storage)."""
        q = self.load() if values is None else values
        if self.quant is None:
            return q.astype(np.float64 if self.dtype == "float64" else np.float32, copy=False)
        bshape = self.quant.broadcast_shape(tuple(q.shape))
        scale = self.quant.scale.astype(np.float32).reshape(bshape)
        zp = self.quant.zero_point.astype(np.float32).reshape(bshape) if self.quant.zero_point.size else 0.0
        return (q.astype(np.float32) - zp) * scale

    def error_bound(self, deq: np.ndarray) -> np.ndarray | float:
        """Half a quantization step per element: how far a stored value may sit from the real one."""
        if self.quant is not None:
            bshape = self.quant.broadcast_shape(tuple(deq.shape))
            return 0.5 * np.abs(self.quant.scale.astype(np.float32)).reshape(bshape)
        return np.abs(deq) * _FLOAT_HALF_ULP.get(self.dtype, 0.0)


def is_candidate(w: StoredWeight, min_elements: int) -> bool:
    """Weights worth matching: float or quantized data with at least `min_elements` values."""
    if w.numel < min_elements:
        return False
    return w.is_float or w.quant is not None or not w.scale_known


def is_constant_valued(values: np.ndarray) -> bool:
    """All elements equal: zero-initialized biases, unit LayerNorm gains. Such tensors carry no
    evidence of sharing, so two of them are never reported as one weight."""
    flat = values.reshape(-1)
    if flat.size == 0:
        return True
    first = flat[0]
    if flat.size > 1024 and not np.all(flat[:: max(1, flat.size // 1024)] == first):
        return False  # the usual case, decided on a strided sample
    step = 1 << 20
    return all(bool(np.all(flat[i : i + step] == first)) for i in range(0, flat.size, step))
