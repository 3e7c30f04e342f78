"""Which file an export keeps when the repair is judged against Keras (`_repair_judged`): the repair when it
passes, a repair without a value-rewriting rule or the unrepaired file when only they pass, and, when no
candidate passes, the first within NEAR of the best (a repair that costs nothing measurable keeps its
sharing). The repair passes and the judge are stand-ins here; the real ones run in test_export.py and the
hub tests."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from edgeshare.converters.export import pipeline
from edgeshare.converters.verify.numerics import Numerics


def numerics(cos: float, passed: bool) -> Numerics:
    return Numerics(samples=16, max_abs_error=0.1, cosine_similarity=cos, top1_agreement=None, criterion="test",
                    passed=passed, cpu="test")


@pytest.fixture
def judged(tmp_path, monkeypatch):
    """Runs `_repair_judged` with `scores` = {"repair": (cos, passed), "avoid": ..., "unrepaired": ...}."""

    def run(scores: dict[str, tuple[float, bool]]) -> tuple[str, dict]:
        stage = tmp_path / "unrepaired.tflite"
        stage.write_bytes(b"stage")
        fixed = str(tmp_path / "repaired.tflite")

        def fake_repair(src, out, force=False, avoid=()):
            with open(out, "wb") as fh:
                fh.write(b"repaired")
            return SimpleNamespace(merged=[SimpleNamespace(rule="requantized_integer")])

        def judge(path):
            key = "unrepaired" if path == str(stage) else "avoid" if ".avoid" in path else "repair"
            cos, ok = scores[key]
            return numerics(cos, ok), []

        monkeypatch.setattr(pipeline, "run_repair", fake_repair)
        monkeypatch.setattr(pipeline, "repair_summary", lambda rr, earlier=None: {"bytes_saved": 10, "merged": ["m"]})
        chosen, _, _, info = pipeline._repair_judged(str(stage), fixed, judge)
        names = {str(stage): "unrepaired", fixed: "repair"}
        return names.get(chosen, "avoid" if ".avoid" in chosen else chosen), info

    return run


def test_a_passing_repair_is_kept(judged):
    chosen, info = judged({"repair": (0.99, True), "avoid": (0.999, True), "unrepaired": (0.999, True)})
    assert chosen == "repair" and not info["rejected"]


def test_the_first_passing_candidate_wins(judged):
    chosen, info = judged({"repair": (0.97, False), "avoid": (0.985, True), "unrepaired": (0.999, True)})
    assert chosen == "avoid"
    assert [t["candidate"] for t in info["against_keras"]] == ["repair", "repair without requantized_integer"]
    chosen, info = judged({"repair": (0.97, False), "avoid": (0.97, False), "unrepaired": (0.99, True)})
    assert chosen == "unrepaired" and info["rejected"] and info["merged"] == []


def test_when_none_passes_a_repair_within_near_keeps_its_sharing(judged):
    # unrepaired better by 0.003 < NEAR: the same accuracy; the repair stays
    chosen, info = judged({"repair": (0.9710, False), "avoid": (0.9704, False), "unrepaired": (0.9740, False)})
    assert pipeline.NEAR > 0.003
    assert chosen == "repair" and not info["rejected"]
    assert [t["candidate"] for t in info["against_keras"]] == ["repair", "repair without requantized_integer",
                                                              "unrepaired"]


def test_when_none_passes_a_clearly_better_candidate_wins(judged):
    chosen, info = judged({"repair": (0.90, False), "avoid": (0.91, False), "unrepaired": (0.96, False)})
    assert chosen == "unrepaired" and info["rejected"]
    chosen, _ = judged({"repair": (0.90, False), "avoid": (0.95, False), "unrepaired": (0.952, False)})
    assert chosen == "avoid"


def test_files_left_behind_are_only_the_candidates(judged, tmp_path):
    judged({"repair": (0.99, True), "avoid": (0.99, True), "unrepaired": (0.99, True)})
    assert sorted(os.listdir(tmp_path)) == ["repaired.tflite", "unrepaired.tflite"]


def test_when_none_passes_the_first_within_near_of_the_best_is_kept(judged):
    # the best is the unrepaired file (0.908); the rule-avoiding repair (0.904) is within NEAR of it and
    # comes first, so it is kept, though the repair itself (0.900) is not
    chosen, info = judged({"repair": (0.900, False), "avoid": (0.904, False), "unrepaired": (0.908, False)})
    assert chosen == "avoid" and not info["rejected"]
