import pytest

import edgeshare
from edgeshare.models import get
from edgeshare.models import mobilellm_tiny as m
from edgeshare.models._data import text_windows
from tests.models import transformer_family_checks as checks

EMBEDDING = m.VOCAB * m.DIM
KEY = m.DIM // m.HEADS
# No biases (MobileLLM): GQA q, k, v and output kernels; SwiGLU gate, up and down kernels; two layer norms.
BLOCK = (m.DIM * m.HEADS * KEY + 2 * m.DIM * m.KV_HEADS * KEY + m.HEADS * KEY * m.DIM) + 3 * m.DIM * m.FFN + 4 * m.DIM
NAMED = {"embedding table": (m.VOCAB, m.DIM)}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import keras

    keras.utils.set_random_seed(0)
    ref = get("mobilellm_tiny")
    model = ref.build()
    held = text_windows(m.VOCAB, m.SEQ, 64, seed=7)
    before = checks.eager_loss(model, [held[:, :-1]], held[:, 1:])
    ref.train(model, steps=6)
    after = checks.eager_loss(model, [held[:, :-1]], held[:, 1:])
    reports = checks.export_all(model, ref.sample_data(64), tmp_path_factory.mktemp("mobilellm_tiny"))
    return model, before, after, reports


def test_params_unique_and_per_use(trained):
    model = trained[0]
    report = edgeshare.inspect(model)
    positions, final_norm = m.SEQ * m.DIM, 2 * m.DIM
    assert report.unique_params == EMBEDDING + positions + m.UNIQUE * BLOCK + final_norm
    assert report.params_per_use == 2 * EMBEDDING + positions + m.LAYERS * BLOCK + final_norm
    stack = model.get_layer("decoder")
    assert stack.layer_assignment == (0, 0, 1, 1, 2, 2)  # each block twice, back to back
    attention = stack.blocks[0].attention_layer
    assert type(attention).__name__ == "GroupedQueryAttention" and attention.num_key_value_heads == m.KV_HEADS
    uses = {s.path: s.uses for s in report.shared}
    assert uses["embedding/embeddings"] == 2
    assert all(uses[f"decoder/block_{j}/attention_{j}/query/kernel"] == 2 for j in range(m.UNIQUE))


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
