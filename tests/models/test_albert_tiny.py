import pytest

import edgeshare
from edgeshare.models import albert_tiny as m
from edgeshare.models import get
from tests.models import transformer_family_checks as checks

V = m.VOCAB + 1  # the words and [MASK]
TABLE = V * m.EMBED  # the V x E table, tied to the output
PROJECTIONS = 2 * m.EMBED * m.HIDDEN  # E x H going in, H x E coming out (ALBERT's MLM head keeps its own)
BLOCK = 4 * (m.HIDDEN * m.HIDDEN + m.HIDDEN) + (2 * m.HIDDEN * m.FFN + m.FFN + m.HIDDEN) + 4 * m.HIDDEN
NAMED = {"embedding table": (V, m.EMBED)}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import keras

    keras.utils.set_random_seed(0)
    ref = get("albert_tiny")
    model = ref.build()
    inputs, targets, weights = m.masked_batch(64, seed=7)
    before = checks.eager_loss(model, [inputs], targets, weights)
    ref.train(model, steps=6)
    after = checks.eager_loss(model, [inputs], targets, weights)
    reports = checks.export_all(model, ref.sample_data(64), tmp_path_factory.mktemp("albert_tiny"))
    return model, before, after, reports


def test_params_unique_and_per_use(trained):
    report = edgeshare.inspect(trained[0])
    positions, final_norm = m.SEQ * m.HIDDEN, 2 * m.HIDDEN
    assert report.unique_params == TABLE + PROJECTIONS + positions + BLOCK + final_norm
    # The table serves the input and the MLM output; the block serves the 4 depths.
    assert report.params_per_use == 2 * TABLE + PROJECTIONS + positions + m.LAYERS * BLOCK + final_norm
    uses = {s.path: s.uses for s in report.shared}
    assert uses["embedding/token_embedding/embeddings"] == 2 and "embedding/projection" not in uses
    assert uses["encoder/block_0/attention_0/query/kernel"] == m.LAYERS


def test_short_training_lowers_the_masked_lm_loss(trained):
    _, before, after, _ = trained
    assert after < before, (before, after)


@pytest.mark.parametrize("mode", checks.MODES)
def test_export_numerics_and_duplicates(trained, mode):
    report = trained[3][mode]
    assert report.numerics.passed, report.numerics
    # With the repair pass (issue 3) the tied table, and the shared block's int8 biases, are stored once.
    assert report.groups == [], checks.duplicate_kinds(report, NAMED)


@pytest.mark.parametrize("mode", checks.MODES)
def test_weight_to_floor_ratio(trained, mode):
    report = trained[3][mode]
    assert report.ratio <= checks.RATIO_GOAL, (report.ratio, report.groups)
