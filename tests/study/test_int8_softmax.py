"""The finding behind the study's int8 comparison, pinned on a causal TransformerBlock: traced as Keras
writes it, the masked attention scores get an int8 scale of about 1e36 per step (every score rounds to the
same level); edgeshare's int8 export traces the masked softmax in a form whose tensors keep the scores'
own range, and its output follows Keras."""

import numpy as np
import pytest


def largest_scale(path: str, name_part: str = "") -> float:
    """The largest int8 scale among the tensors whose name contains `name_part`."""
    from ai_edge_litert.interpreter import Interpreter

    scales = [d["quantization"][0] for d in Interpreter(model_path=path).get_tensor_details()
              if name_part in d["name"]]
    assert scales, f"no tensor named *{name_part}*: the attention graph changed"
    return max(scales)


@pytest.fixture(scope="module")
def causal_block():
    from edgeshare.accounting import quiet_tensorflow

    quiet_tensorflow()
    import keras

    from edgeshare.layers import TransformerBlock

    keras.utils.set_random_seed(0)
    x = keras.Input((8, 16), name="x")
    y = TransformerBlock(num_heads=2, key_dim=8, ffn_dim=32, causal=True, name="block")(x)
    model = keras.Model(x, y)
    calibration = [np.random.default_rng(0).standard_normal((16, 8, 16)).astype("float32")]
    return model, calibration


def test_keras_form_collapses_the_int8_scores_and_the_export_form_does_not(causal_block, tmp_path):
    from edgeshare.converters import export_tflite
    from edgeshare.study.stock import stock_tflite

    model, cal = causal_block
    keras_form = str(tmp_path / "keras_form.tflite")
    stock = tmp_path / "stock.tflite"
    default = str(tmp_path / "edgeshare.tflite")
    export_tflite(model, keras_form, "int8", calibration=cal, int8_softmax=False)
    stock.write_bytes(stock_tflite(model, "int8", cal))
    rep = export_tflite(model, default, "int8", calibration=cal)
    # -0.7 x float32 max spread over 255 steps, in edgeshare's file with Keras' form and in the stock file.
    assert largest_scale(keras_form, "SelectV2") > 1e35
    assert largest_scale(str(stock), "SelectV2") > 1e35
    # The export's form: no tensor of the file has a scale anywhere near that (the scores are within +-10).
    assert largest_scale(default) < 1.0
    assert rep.numerics is not None and rep.numerics.passed
    assert rep.numerics.cosine_similarity > 0.99


def test_the_float_export_keeps_keras_form(causal_block, tmp_path):
    """int8_softmax defaults to the int8 mode only: a float file has Keras' SELECT_V2 over the scores."""
    from edgeshare.converters import export_tflite

    model, cal = causal_block
    path = str(tmp_path / "f32.tflite")
    rep = export_tflite(model, path, "none", sample_inputs=cal)
    from ai_edge_litert.interpreter import Interpreter

    names = [d["name"] for d in Interpreter(model_path=path).get_tensor_details()]
    assert any("SelectV2" in n for n in names)
    assert rep.numerics is not None and rep.numerics.max_abs_error < 1e-4
