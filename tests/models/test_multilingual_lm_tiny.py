import numpy as np
import pytest

import edgeshare
from edgeshare.models import get
from edgeshare.models import multilingual_lm_tiny as m
from tests.models import transformer_family_checks as checks

EMBEDDING = m.VOCAB * m.DIM
LANGUAGE = len(m.LANGUAGES) * m.DIM
BLOCK = 4 * (m.DIM * m.DIM + m.DIM) + (2 * m.DIM * m.FFN + m.FFN + m.DIM) + 4 * m.DIM
NAMED = {"embedding table": (m.VOCAB, m.DIM)}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import keras

    keras.utils.set_random_seed(0)
    ref = get("multilingual_lm_tiny")
    model = ref.build()
    held, languages = m.windows(64, seed=7)
    before = checks.eager_loss(model, [held[:, :-1], languages], held[:, 1:])
    ref.train(model, steps=6)
    after = checks.eager_loss(model, [held[:, :-1], languages], held[:, 1:])
    reports = checks.export_all(model, ref.sample_data(64), tmp_path_factory.mktemp("multilingual_lm_tiny"))
    return model, before, after, reports


def test_two_languages_share_one_vocabulary():
    english, python = m.corpora()
    assert len(english) > 50_000 and len(python) > 50_000
    shared = np.intersect1d(np.unique(english), np.unique(python))
    assert len(shared) > 0.3 * m.VOCAB  # many token ids occur in both languages
    _, languages = m.windows(8, seed=0)
    assert sorted(set(languages.tolist())) == [0, 1]


def test_params_unique_and_per_use(trained):
    report = edgeshare.inspect(trained[0])
    positions, final_norm = m.SEQ * m.DIM, 2 * m.DIM
    assert report.unique_params == EMBEDDING + LANGUAGE + positions + m.LAYERS * BLOCK + final_norm
    assert report.params_per_use == 2 * EMBEDDING + LANGUAGE + positions + m.LAYERS * BLOCK + final_norm
    assert {s.path: s.uses for s in report.shared} == {"embedding/token_embedding/embeddings": 2}


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
