import numpy as np
import pytest

from tests.converters.test_bank_export import stacked_bank, stored_copies
from tests.models.reference_exports import MODES, assert_accepted, export_reference


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export_reference("bank_cnn_digits", str(tmp_path_factory.mktemp("bank_cnn_digits")))


def test_every_mode_is_accepted(exported):
    assert_accepted(exported["reports"])


@pytest.mark.parametrize("mode", MODES)
def test_each_bank_is_stored_once(exported, mode):
    model, path = exported["model"], exported["paths"][mode]
    soft_bank = model.get_layer("soft0").bank
    assert len(stored_copies(path, stacked_bank(soft_bank))) == 1  # bank_export="runtime"
    from edgeshare.models.bank_cnn_digits import SOFT_LAYERS

    for i in range(SOFT_LAYERS):
        layer = model.get_layer(f"soft{i}")
        kernel = np.tensordot(layer.coefficients.numpy(), soft_bank.templates.numpy(), axes=1)
        assert stored_copies(path, kernel) == []  # no per-layer materialized kernel
    hard = model.get_layer("hard0").bank.templates.numpy()
    assert len(stored_copies(path, hard[0])) == 1  # layers hard0 and hard2 share template 0
    assert len(stored_copies(path, hard[1])) == 1


def test_float_floor_is_each_parameter_once(exported):
    for mode in ("none", "onnx"):
        rep = exported["reports"][mode]
        assert rep.weight_bytes <= 1.01 * 4 * rep.unique_params
        assert rep.params_per_use > 3 * rep.unique_params  # the sharing the file keeps
