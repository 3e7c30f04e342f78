"""edgeshare.inspect: parameters per use against unique parameters, shared variables, bytes."""

import json

import pytest

from edgeshare import inspect
from edgeshare.cli import main
from edgeshare.converters import InvalidInputError
from tests.converters.conftest import DIM, VOCAB, build_tied_lm, build_unshared


def test_tied_lm_counts_the_embedding_per_use():
    model = build_tied_lm()
    rep = inspect(model)
    dense = DIM * DIM + DIM
    assert rep.unique_params == VOCAB * DIM + dense == model.count_params()
    assert rep.params_per_use == 2 * VOCAB * DIM + dense  # input lookup and output projection
    assert [(s.path, s.uses, s.params) for s in rep.shared] == [("embedding/embeddings", 2, VOCAB * DIM)]
    assert rep.bytes_unique == {"f32": 4 * rep.unique_params, "f16": 2 * rep.unique_params, "int8": rep.unique_params}
    assert rep.bytes_per_use["f32"] == 4 * rep.params_per_use


def test_layer_called_three_times_counts_three_times():
    import keras

    x_in = keras.Input((6, 6, 4))
    conv = keras.layers.Conv2D(4, 3, padding="same", name="shared")
    x = x_in
    for _ in range(3):
        x = conv(x)
    model = keras.Model(x_in, x)
    rep = inspect(model)
    k = 3 * 3 * 4 * 4
    assert rep.unique_params == k + 4
    assert rep.params_per_use == 3 * (k + 4)
    assert {s.path: s.uses for s in rep.shared} == {"shared/kernel": 3, "shared/bias": 3}
    assert rep.sharing_factor == pytest.approx(3.0)


def test_unshared_model_has_no_shared_variables():
    rep = inspect(build_unshared())
    assert rep.shared == [] and rep.params_per_use == rep.unique_params


def test_cli_inspect_json(tmp_path, capsys):
    path = str(tmp_path / "m.keras")
    build_tied_lm().save(path)
    assert main(["inspect", path, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["params_per_use"] - d["unique_params"] == VOCAB * DIM
    assert d["shared"][0]["uses"] == 2
    assert d["sharing_factor"] > 1


def test_inspect_rejects_a_file_that_is_not_a_model(tmp_path):
    bad = tmp_path / "m.keras"
    bad.write_text("not a zip")
    with pytest.raises(InvalidInputError, match=r"not a \.keras archive"):
        inspect(str(bad))


@pytest.mark.parametrize("mode", ["unrolled", "loop"])
def test_repeat_counts_every_application_in_either_mode(mode):
    import keras

    from edgeshare.layers import Repeat

    x_in = keras.Input((6,))
    dense = keras.layers.Dense(6, activation="tanh", name="folded")
    model = keras.Model(x_in, Repeat(dense, 4, mode=mode, name="repeat")(x_in))
    rep = inspect(model)
    assert rep.unique_params == 6 * 6 + 6
    assert rep.params_per_use == 4 * (6 * 6 + 6)  # the while loop's body is traced once, applied 4 times
    assert sorted((s.path.split("/")[-1], s.uses) for s in rep.shared) == [("bias", 4), ("kernel", 4)]
