"""keras-hub models built from config (seeded random weights): inspect counts their sharing, and every
TFLite and ONNX mode stores each shared weight once with numerics that pass.

The files are also read by the independent brute-force duplicate finder of tests/corpus (no code shared
with the verifier), and for the tied LMs the vocabulary table must be one stored tensor.
Measurements: `python -m tests.hub.measure`.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgeshare.accounting import inspect
from edgeshare.cli import main
from tests.corpus.bruteforce import find_pairs, read
from tests.hub.builders import BUILDERS, EXPORTS, SHARED_USES, VOCAB, export_one

pytest.importorskip("keras_hub")

TIED_LMS = ("gpt2", "gemma", "llama_tied")


@pytest.fixture(scope="module")
def models() -> dict:
    cache: dict = {}

    def get(name: str):
        if name not in cache:
            cache[name] = BUILDERS[name]()
        return cache[name]

    return get


@pytest.mark.parametrize("name", list(BUILDERS))
def test_inspect_counts_the_sharing(models, name):
    model = models(name)
    rep = inspect(model)
    expected = SHARED_USES[name]
    # Every shared variable lies under an expected prefix with the expected number of uses ...
    for s in rep.shared:
        prefix = next((p for p in expected if s.path.startswith(p)), None)
        assert prefix is not None, s
        assert s.uses == expected[prefix], s
    # ... and every variable under such a prefix is shared (the whole block repeats, not part of it).
    for prefix in expected:
        under = [v for v in model.weights if v.path.startswith(prefix)]
        assert under and {v.path for v in under} == {s.path for s in rep.shared if s.path.startswith(prefix)}
    # Parameters per use = unique + each shared variable's extra uses (a formula, not the tool's own sum).
    extra = sum(int(np.prod(v.shape)) * (expected[p] - 1) for p in expected for v in model.weights
                if v.path.startswith(p))
    unique = sum(int(np.prod(v.shape)) for v in model.weights)
    assert rep.unique_params == unique
    assert rep.params_per_use == unique + extra
    assert rep.unused == []


def test_inspect_cli_on_a_saved_keras_hub_model(models, tmp_path, capsys):
    path = str(tmp_path / "albert.keras")
    models("albert").save(path)
    assert main(["inspect", path, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert {s["path"].split("/")[0] for s in d["shared"]} == {"group_0_inner_layer_0", "group_1_inner_layer_0"}
    assert all(s["uses"] == 2 for s in d["shared"])


@pytest.mark.parametrize(("fmt", "mode"), EXPORTS, ids=[f"{f}-{m}" for f, m in EXPORTS])
@pytest.mark.parametrize("name", list(BUILDERS))
def test_every_mode_stores_each_weight_once_and_matches_keras(models, name, fmt, mode, tmp_path):
    model = models(name)
    rep = export_one(model, name, fmt, mode, str(tmp_path))
    assert rep.duplicate_bytes == 0 and rep.weight_bytes <= 1.01 * rep.floor_bytes, rep.groups
    assert rep.numerics.passed, rep.numerics.failure()
    if name in TIED_LMS or name == "llama_untied":
        assert rep.numerics.top1_agreement is not None  # the logits are judged on their class axis
    scan = read(rep.artifact)
    assert find_pairs(scan) == []  # the independent finder sees no copy either
    if name in TIED_LMS:
        tables = [w for w in scan.weights if sorted(d for d in w.shape if d != 1) == sorted((VOCAB, 64))]
        assert len(tables) == 1, [(w.key, w.shape, w.dtype) for w in tables]
