"""Grouped convolutions: native by default (TFLite CONV_2D with a grouped filter, ONNX Conv with
`group`), lowered to split / conv / concat with `lower_grouped_conv=True`."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from edgeshare.converters import export_onnx, export_tflite
from edgeshare.converters.export.grouped_conv import grouped_conv_layers, lowered_grouped_convs
from edgeshare.converters.formats.source import open_source
from edgeshare.converters.formats.tflite_file import read_tflite

G, C = 3, 24  # the unit's bottleneck has 6 channels: 2 per group


@pytest.fixture(scope="module")
def shuffle_model():
    """Grouped convs nested inside a ShuffleUnit, plus a top-level grouped Conv2D."""
    import keras

    from edgeshare.layers import ShuffleUnit

    keras.utils.set_random_seed(0)
    image = keras.Input((8, 8, C), name="image")
    x = ShuffleUnit(C, groups=G, name="unit")(image)
    x = keras.layers.Conv2D(2 * C, 3, padding="same", groups=G, name="top_grouped")(x)
    model = keras.Model(image, x, name="grouped")
    data = np.random.default_rng(0).standard_normal((16, 8, 8, C)).astype("float32")
    return model, data


def _tflite_convs(path):
    with open_source(path) as src:
        tfl = read_tflite(src)
        sg = tfl.subgraphs[0]
        ops = [o.opcode for o in sg.operators]
        # (input channels, filter input channels) of every CONV_2D
        convs = [(sg.tensors[o.inputs[0]].shape[-1], sg.tensors[o.inputs[1]].shape[-1])
                 for o in sg.operators if o.opcode == "CONV_2D"]
    return ops, convs


def _onnx_convs(path):
    """(group, input channels per group) of every ONNX Conv; depthwise convs read 1 channel per group."""
    g = onnx.load(path).graph
    dims = {t.name: list(t.dims) for t in g.initializer}
    return [(next((a.i for a in n.attribute if a.name == "group"), 1), dims[n.input[1]][1])
            for n in g.node if n.op_type == "Conv"]


def test_grouped_convs_are_found_inside_custom_layers(shuffle_model):
    model, _ = shuffle_model
    names = sorted(layer.name for layer in grouped_conv_layers(model))
    assert names == ["group_conv1", "group_conv2", "top_grouped"]


def test_native_by_default(shuffle_model, tmp_path):
    model, data = shuffle_model
    path = str(tmp_path / "native.tflite")
    rep = export_tflite(model, path, "none", calibration=data)
    assert rep.numerics.passed and rep.ok
    ops, convs = _tflite_convs(path)
    assert "SPLIT" not in ops and "CONCATENATION" not in ops
    assert len(convs) == 3 and all(cin == G * fin for cin, fin in convs)  # one grouped CONV_2D each
    onnx_path = str(tmp_path / "native.onnx")
    rep = export_onnx(model, onnx_path, calibration=data)
    assert rep.numerics.passed and rep.ok
    convs = _onnx_convs(onnx_path)
    # three native grouped Convs (group=3, several channels per group) plus the depthwise Conv
    assert sorted(g for g, per_group in convs if per_group > 1) == [G, G, G] and len(convs) == 4
    assert {n.op_type for n in onnx.load(onnx_path).graph.node}.isdisjoint({"Split", "Concat"})


def test_lowered_on_request(shuffle_model, tmp_path):
    model, data = shuffle_model
    native = export_tflite(model, str(tmp_path / "n.tflite"), "none", sample_inputs=data)
    path = str(tmp_path / "lowered.tflite")
    rep = export_tflite(model, path, "none", calibration=data, lower_grouped_conv=True)
    assert rep.numerics.passed and rep.ok
    ops, convs = _tflite_convs(path)
    assert ops.count("SPLIT") == 3 and ops.count("CONCATENATION") >= 3
    assert len(convs) == 3 * G and all(cin == fin for cin, fin in convs)  # dense convs only
    # the same numbers, sliced: within 1% of the native file's weight bytes
    assert abs(rep.weight_bytes - native.weight_bytes) <= 0.01 * native.weight_bytes
    onnx_path = str(tmp_path / "lowered.onnx")
    rep = export_onnx(model, onnx_path, calibration=data, lower_grouped_conv=True)
    assert rep.numerics.passed and rep.ok
    assert all(g == 1 or per_group == 1 for g, per_group in _onnx_convs(onnx_path))  # dense or depthwise
    # lowering is undone after the export
    assert all("convolution_op" not in vars(layer) for layer in grouped_conv_layers(model))


def test_lowering_rejects_channels_first():
    import keras

    conv = keras.layers.Conv2D(4, 3, groups=2, data_format="channels_first", name="cf")
    conv.build((None, 4, 8, 8))
    with pytest.raises(ValueError, match=r"supports channels_last only. Received: layer='cf', "
                                         r"data_format='channels_first'"), lowered_grouped_convs(conv):
        pass
