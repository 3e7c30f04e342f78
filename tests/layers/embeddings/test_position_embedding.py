import numpy as np
import pytest

from edgeshare.layers import PositionEmbedding
from tests.layer_checks import run_layer_test


def test_position_embedding_shared_checks(tmp_path):
    x = np.random.default_rng(0).standard_normal((3, 10, 8)).astype("float32")
    layer = run_layer_test(
        lambda dtype=None: PositionEmbedding(16, dtype=dtype, name="pos"),
        x,
        expected_num_trainable_weights=1,
        expected_params=16 * 8,  # one (sequence_length, dim) table
        tmp_path=tmp_path,
    )
    # Numerics: the first `length` rows of the table, the same for every batch element.
    out = np.asarray(layer(x))
    table = layer.table.numpy()
    np.testing.assert_allclose(out, np.broadcast_to(table[None, :10], x.shape), atol=0)


def test_position_embedding_rejects_bad_length():
    with pytest.raises(ValueError, match=r"`sequence_length` must be a positive integer. Received: sequence_length=0"):
        PositionEmbedding(0)
