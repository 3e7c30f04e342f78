import pytest

from edgeshare.converters import verify
from tests.models.reference_exports import MODES, assert_accepted, export_reference


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export_reference("cp_cnn_digits", str(tmp_path_factory.mktemp("cp_cnn_digits")))


def test_every_mode_is_accepted(exported):
    assert_accepted(exported["reports"])


@pytest.mark.parametrize("mode", MODES)
def test_shared_factors_are_stored_once(exported, mode):
    vr = verify(exported["paths"][mode], model=exported["model"])
    factors = {v.path: v for v in vr.variables if "_factors/" in v.path}
    assert sorted(p.split("/")[-1] for p in factors) == ["input_factor", "input_factor", "output_factor",
                                                        "output_factor"]
    for v in factors.values():
        assert len(v.carriers) == 1, (v.path, v.carriers)  # once, whatever the number of layers using it
    assert factors["cp_factors/input_factor"].uses == 3 and factors["tucker_factors/output_factor"].uses == 2
    assert vr.ok
