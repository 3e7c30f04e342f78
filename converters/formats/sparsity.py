"""TFLite's sparse tensor format (`Tensor.sparsity`): parse the metadata and densify the stored values.

A sparse constant stores only the values its sparsity metadata lists, in traversal order; LiteRT's DENSIFY
op (or the kernel itself) expands them before use. The verifier compares weights by their dense values, so
two copies of one weight match whether either is stored sparse or dense.

The layout (tensorflow/lite/schema/schema.fbs, `SparsityParameters`): the tensor's dimensions, plus one
extra dimension per entry of `block_map` (the inner size of a blocked dimension), are visited in
`traversal_order`; level k of `dim_metadata` describes the k-th visited dimension, either DENSE (every
index 0..dense_size-1) or SPARSE_CSR (for each position of the previous levels, `array_segments` gives the
range of `array_indices` that are present). Unlisted elements are 0, as LiteRT's densify writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

DENSE = 0
SPARSE_CSR = 1


@dataclass(frozen=True)
class Level:
    format: int  # DENSE or SPARSE_CSR
    dense_size: int
    segments: np.ndarray | None  # SPARSE_CSR only
    indices: np.ndarray | None


@dataclass(frozen=True)
class Sparsity:
    traversal_order: tuple[int, ...]
    block_map: tuple[int, ...]
    levels: tuple[Level, ...]

    def describe(self) -> str:
        kinds = "".join("D" if lv.format == DENSE else "S" for lv in self.levels)
        block = f", blocks on axes {list(self.block_map)}" if self.block_map else ""
        return f"sparse ({kinds} levels{block})"


def _index_vector(kind: int, get: Any) -> np.ndarray | None:
    """A SparseIndexVector union (Int32Vector, Uint16Vector or Uint8Vector) as an int64 array."""
    if kind == 0:
        return None
    from ai_edge_litert import schema_py_generated as s

    table = get()
    if table is None:
        return None
    cls = {1: s.Int32Vector, 2: s.Uint16Vector, 3: s.Uint8Vector}.get(kind)
    if cls is None:
        raise ValueError(f"unknown sparse index vector type {kind}")
    vec = cls()
    vec.Init(table.Bytes, table.Pos)
    return np.asarray(vec.ValuesAsNumpy() if vec.ValuesLength() else np.zeros(0), np.int64)


def read_sparsity(tensor: Any) -> Sparsity | None:
    """The sparsity metadata of a schema `Tensor` (flatbuffer accessor), or None for a dense tensor."""
    sp = tensor.Sparsity()
    if sp is None:
        return None
    order = tuple(int(x) for x in sp.TraversalOrderAsNumpy()) if sp.TraversalOrderLength() else ()
    block_map = tuple(int(x) for x in sp.BlockMapAsNumpy()) if sp.BlockMapLength() else ()
    levels = []
    for i in range(sp.DimMetadataLength()):
        dm = sp.DimMetadata(i)
        levels.append(Level(int(dm.Format()), int(dm.DenseSize()),
                            _index_vector(dm.ArraySegmentsType(), dm.ArraySegments),
                            _index_vector(dm.ArrayIndicesType(), dm.ArrayIndices)))
    return Sparsity(order, block_map, tuple(levels))


def stored_count(sp: Sparsity) -> int:
    """How many values the metadata lists (the length the buffer must have)."""
    paths = 1
    for lv in sp.levels:
        if lv.format == DENSE:
            paths *= lv.dense_size
        else:
            if lv.segments is None or lv.segments.size == 0:
                return 0
            paths = int(lv.segments[-1])
    return paths


def densify(values: np.ndarray, sp: Sparsity, shape: tuple[int, ...]) -> np.ndarray:
    """The dense array of `shape` whose listed elements are `values` (in traversal order), others 0.

    Raises ValueError when the metadata does not fit the shape or the number of values."""
    rank = len(shape)
    n_levels = len(sp.levels)
    if len(sp.traversal_order) != n_levels or n_levels != rank + len(sp.block_map):
        raise ValueError(f"sparsity has {n_levels} levels and traversal order {list(sp.traversal_order)} "
                         f"for a rank-{rank} tensor with {len(sp.block_map)} blocked axes")
    # Walk the levels breadth-first, keeping the paths in depth-first order (the order of the values):
    # `prev` is each path's position in the last level (what the next CSR level's segments index), `coords`
    # its index at each level.
    prev = np.zeros(1, np.int64)
    coords = np.zeros((1, n_levels), np.int64)
    for k, lv in enumerate(sp.levels):
        if lv.format == DENSE:
            size = lv.dense_size
            child = np.tile(np.arange(size, dtype=np.int64), prev.size)
            parent = np.repeat(np.arange(prev.size), size)
            prev = prev[parent] * size + child
        else:
            if lv.segments is None or lv.indices is None:
                raise ValueError(f"level {k} is SPARSE_CSR without segments or indices")
            if prev.size and int(prev.max()) + 1 >= lv.segments.size:
                raise ValueError(f"level {k} has {lv.segments.size} segments for {int(prev.max()) + 2} positions")
            starts, ends = lv.segments[prev], lv.segments[prev + 1]
            counts = ends - starts
            if np.any(counts < 0) or (ends.size and int(ends.max()) > lv.indices.size):
                raise ValueError(f"level {k} segments run past its {lv.indices.size} indices")
            parent = np.repeat(np.arange(prev.size), counts)
            offset = np.arange(parent.size, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
            pos = starts[parent] + offset
            child = lv.indices[pos]
            prev = pos
        coords = coords[parent]
        coords[:, k] = child
    if coords.shape[0] != values.size:
        raise ValueError(f"the sparsity metadata lists {coords.shape[0]} values, the buffer holds {values.size}")
    # Level i indexes expanded dimension traversal_order[i] (as LiteRT's sparsity format converter reads
    # it); a blocked dimension d = block_map[j] has index outer * block_size + inner, where inner is the
    # index of expanded dimension rank + j and block_size the dense size of the level that visits it.
    dense_idx = np.zeros((coords.shape[0], rank), np.int64)
    inner: dict[int, np.ndarray] = {}
    for level, dim in enumerate(sp.traversal_order):
        if dim < rank:
            dense_idx[:, dim] = coords[:, level]
        else:
            inner[dim - rank] = coords[:, level]
    for j, dim in enumerate(sp.block_map):
        if not 0 <= dim < rank or j not in inner:
            raise ValueError(f"block map {list(sp.block_map)} does not fit a rank-{rank} tensor")
        dense_idx[:, dim] = dense_idx[:, dim] * sp.levels[sp.traversal_order.index(rank + j)].dense_size + inner[j]
    if rank and np.any(dense_idx >= np.asarray(shape, np.int64)):
        raise ValueError(f"the sparsity metadata indexes past the shape {list(shape)}")
    out = np.zeros(shape, values.dtype)
    if rank:
        out[tuple(dense_idx.T)] = values.reshape(-1)
    elif values.size:
        out[()] = values.reshape(-1)[0]
    return out
