import onnx
import pytest

from edgeshare.converters.formats.source import open_source
from edgeshare.converters.formats.tflite_file import read_tflite
from tests.models.reference_exports import assert_accepted, export_reference


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export_reference("shufflenet_tiny_digits", str(tmp_path_factory.mktemp("shufflenet")))


def test_every_mode_is_accepted(exported):
    assert_accepted(exported["reports"])


@pytest.mark.parametrize("mode", ["none", "int8"])
def test_grouped_convs_stay_grouped_in_tflite(exported, mode):
    with open_source(exported["paths"][mode]) as src:
        sg = read_tflite(src).subgraphs[0]
        grouped = [o for o in sg.operators if o.opcode == "CONV_2D"
                   and sg.tensors[o.inputs[0]].shape[-1] == 3 * sg.tensors[o.inputs[1]].shape[-1]]
        assert len(grouped) == 6  # two grouped 1x1 convs per unit, three units
        assert all(o.opcode != "SPLIT" for o in sg.operators)


def test_grouped_convs_are_native_onnx_convs_with_group(exported):
    g = onnx.load(exported["paths"]["onnx"]).graph
    dims = {t.name: list(t.dims) for t in g.initializer}
    grouped = [n for n in g.node if n.op_type == "Conv" and dims[n.input[1]][1] > 1
               and next((a.i for a in n.attribute if a.name == "group"), 1) == 3]
    assert len(grouped) == 6


def test_xnnpack_takes_every_op_on_the_host(exported):
    summary = exported["reports"]["none"].delegates["summary"]
    assert summary["xnnpack"]["unsupported"] == 0 and summary["xnnpack"]["supported"] > 0
