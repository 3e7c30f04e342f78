"""TFLite's sparse tensor format, densified as LiteRT's DENSIFY does (hand-built layouts, run in LiteRT), and
the errors for metadata that does not fit."""

from __future__ import annotations

import numpy as np
import pytest

from edgeshare.converters import verify
from edgeshare.converters.formats import open_source, read_tflite
from edgeshare.converters.formats.sparsity import DENSE, SPARSE_CSR, Level, Sparsity, densify, stored_count
from edgeshare.converters.runtime import LiteRTRunner
from edgeshare.errors import InvalidInputError
from tests.tflite_builder import TFLiteBuilder, block_sparsity, csr_sparsity

RNG = np.random.default_rng(17)


def _sparse_through_densify(dense: np.ndarray, layout: str) -> tuple[bytes, np.ndarray]:
    values, sp = csr_sparsity(dense) if layout == "csr" else block_sparsity(dense)
    b = TFLiteBuilder()
    w = b.tensor("w_sparse", dense.shape, data=values, sparsity=sp)
    y = b.tensor("w_dense", dense.shape)
    b.op("DENSIFY", [w], [y])
    b.io([], [y])
    return b.build(), values


@pytest.mark.parametrize("layout", ["csr", "block"])
def test_densify_matches_litert(layout):
    dense = RNG.standard_normal((6, 8)).astype("float32")
    dense[RNG.random((6, 8)) < 0.6] = 0.0
    if layout == "block":  # whole 1x4 blocks are zero or not
        dense = (dense.reshape(6, 2, 4) * (RNG.random((6, 2, 1)) < 0.5)).reshape(6, 8).astype("float32")
    data, values = _sparse_through_densify(dense, layout)
    litert = LiteRTRunner(data, delegate="cpu")({})[0]  # XNNPACK does not run a graph without inputs
    np.testing.assert_array_equal(litert, dense)
    with open_source(data) as src:
        f = read_tflite(src)
        [t] = [t for t in f.subgraphs[0].tensors if t.sparsity is not None]
        assert stored_count(t.sparsity) == values.size
        np.testing.assert_array_equal(f.buffer_array(t.buffer, "float32", t.shape, t.sparsity), litert)
        [w] = f.stored_weights()
        assert w.nbytes == values.nbytes and w.layout.startswith("sparse") and np.array_equal(w.load(), dense)


def test_verify_reads_a_sparse_file_it_used_to_reject():
    dense = np.where(RNG.random((6, 8)) < 0.5, 0.0, 1.0).astype("float32")
    data, _ = _sparse_through_densify(dense, "csr")
    assert verify(data).weight_bytes == int(np.count_nonzero(dense)) * 4


def _csr(segments: list[int], indices: list[int]) -> Sparsity:
    return Sparsity((0, 1), (), (Level(DENSE, 2, None, None),
                                 Level(SPARSE_CSR, 0, np.asarray(segments), np.asarray(indices))))


def test_densify_by_hand():
    out = densify(np.array([1.0, 2.0, 3.0]), _csr([0, 1, 3], [2, 0, 3]), (2, 4))
    np.testing.assert_array_equal(out, [[0, 0, 1, 0], [2, 0, 0, 3]])


@pytest.mark.parametrize(
    "sp, values, shape, match",
    [
        (_csr([0, 1, 3], [2, 0, 3]), [1.0, 2.0], (2, 4), "lists 3 values, the buffer holds 2"),
        (_csr([0, 1, 3], [2, 0, 9]), [1.0, 2.0, 3.0], (2, 4), r"indexes past the shape \[2, 4\]"),
        (_csr([0, 1, 5], [2, 0, 3]), [1.0, 2.0, 3.0], (2, 4), "segments run past its 3 indices"),
        (_csr([0, 1, 3], [2, 0, 3]), [1.0, 2.0, 3.0], (2, 4, 1), "2 levels .* for a rank-3 tensor"),
    ],
)
def test_metadata_that_does_not_fit_is_an_error(sp, values, shape, match):
    with pytest.raises(ValueError, match=match):
        densify(np.asarray(values), sp, shape)


def test_a_corrupt_sparse_tensor_is_bad_input():
    dense = np.where(RNG.random((6, 8)) < 0.5, 0.0, 1.0).astype("float32")
    values, sp = csr_sparsity(dense)
    sp.dimMetadata[1].arrayIndices.values[-1] = 99  # a column past the shape
    b = TFLiteBuilder()
    w = b.tensor("w_sparse", (6, 8), data=values, sparsity=sp)
    y = b.tensor("w_dense", (6, 8))
    b.op("DENSIFY", [w], [y])
    b.io([], [y])
    with pytest.raises(InvalidInputError, match=r"buffer 1: the sparsity metadata indexes past the shape \[6, 8\]"):
        verify(b.build())
