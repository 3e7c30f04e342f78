"""The one random-input generator (converters/runtime/inputs.py): what each kind of input gets."""

import numpy as np

from edgeshare.converters.runtime.base import TensorSpec
from edgeshare.converters.runtime.inputs import random_batch, random_feeds


def test_ids_stay_in_their_table_and_masks_are_prefixes():
    specs = [TensorSpec("token_ids", (-1, 16), "int32", index_bound=50),
             TensorSpec("padding_mask", (-1, 16), "int32"),
             TensorSpec("keep", (-1, 4, 16), "bool"),
             TensorSpec("x", (-1, 3), "float32")]
    b = random_batch(specs, 64, seed=0)
    assert b["token_ids"].dtype == np.int32 and b["token_ids"].min() >= 0 and b["token_ids"].max() < 50
    assert len(np.unique(b["token_ids"])) > 10
    for name in ("padding_mask", "keep"):
        m = b[name].astype(np.int64)
        assert set(np.unique(m)) <= {0, 1}
        assert np.all(m[..., 0] == 1)  # no row is masked whole
        assert np.all(np.diff(m, axis=-1) <= 0)  # ones, then zeros: never a hole
        lengths = m.sum(-1)
        assert lengths.min() < lengths.max()  # lengths vary
    assert b["keep"].dtype == np.bool_ and b["x"].dtype == np.float32


def test_feeds_are_seeded():
    specs = [TensorSpec("padding_mask", (1, 8), "int32")]
    a, b = random_feeds(specs, 3, seed=1), random_feeds(specs, 3, seed=1)
    assert all(np.array_equal(x["padding_mask"], y["padding_mask"]) for x, y in zip(a, b))
    assert random_feeds(specs, 1, seed=2)[0]["padding_mask"].shape == (1, 8)
