import pytest

import edgeshare
from edgeshare.models import get
from edgeshare.models import universal_transformer_tiny as m
from edgeshare.models._data import text_windows
from tests.models import transformer_family_checks as checks

EMBEDDING = m.VOCAB * m.DIM
BLOCK = 4 * (m.DIM * m.DIM + m.DIM) + (2 * m.DIM * m.FFN + m.FFN + m.DIM) + 4 * m.DIM
HALTING = m.DIM + 1
NAMED = {"embedding table": (m.VOCAB, m.DIM)}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import keras

    keras.utils.set_random_seed(0)
    ref = get("universal_transformer_tiny")
    model = ref.build()
    held = text_windows(m.VOCAB, m.SEQ, 64, seed=7)
    before = checks.eager_loss(model, [held[:, :-1]], held[:, 1:])
    ref.train(model, steps=6)
    after = checks.eager_loss(model, [held[:, :-1]], held[:, 1:])
    reports = checks.export_all(model, ref.sample_data(64), tmp_path_factory.mktemp("universal_transformer_tiny"))
    return model, before, after, reports


def test_params_unique_and_per_use(trained):
    report = edgeshare.inspect(trained[0])
    final_norm = 2 * m.DIM
    assert report.unique_params == EMBEDDING + BLOCK + HALTING + final_norm
    # The block and the halting unit run at each of the 4 steps; the table is read twice (tied).
    assert report.params_per_use == 2 * EMBEDDING + m.STEPS * (BLOCK + HALTING) + final_norm
    uses = {s.path: s.uses for s in report.shared}
    assert uses["universal_transformer/block/attention/query/kernel"] == m.STEPS
    assert uses["embedding/embeddings"] == 2


def test_short_training_lowers_the_loss(trained):
    _, before, after, _ = trained
    assert after < before, (before, after)


@pytest.mark.parametrize("mode", checks.MODES)
def test_export_numerics_and_duplicates(trained, mode):
    report = trained[3][mode]
    assert report.numerics.passed, report.numerics
    # With the repair pass (issue 3) the tied table, and the shared biases in int8, are stored once.
    assert report.groups == [], checks.duplicate_kinds(report, NAMED)


@pytest.mark.parametrize("mode", checks.MODES)
def test_weight_to_floor_ratio(trained, mode):
    report = trained[3][mode]
    assert report.ratio <= checks.RATIO_GOAL, (report.ratio, report.groups)
