"""The finding behind the study's int8 remedy, pinned: Keras' causal mask value takes the int8 scale of the
masked attention scores to about 1e36 per step; the bounded mask keeps it near the scores' own range."""

import numpy as np
import pytest

from edgeshare.study.bounded_mask import bounded_mask


def masked_scores_scale(path: str) -> float:
    """The int8 scale of the tensor that holds the masked attention scores (TFLite's SELECT_V2 output)."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=path)
    scales = [d["quantization"][0] for d in interp.get_tensor_details() if d["name"].endswith("SelectV2")]
    assert scales, "no SELECT_V2 tensor: the attention graph changed"
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


def test_keras_mask_collapses_the_int8_scores_and_the_bounded_mask_does_not(causal_block, tmp_path):
    from edgeshare.converters import export_tflite

    model, cal = causal_block
    plain = str(tmp_path / "plain.tflite")
    bounded = str(tmp_path / "bounded.tflite")
    export_tflite(model, plain, "int8", calibration=cal)
    with bounded_mask():
        rep = export_tflite(model, bounded, "int8", calibration=cal)
    # -0.7 x float32 max spread over 255 steps.
    assert masked_scores_scale(plain) > 1e35
    # [-30, max score] over 255 steps: about 0.12 to 0.2.
    assert masked_scores_scale(bounded) < 0.5
    assert rep.numerics is not None and rep.numerics.cosine_similarity > 0.99


def test_bounded_mask_leaves_float_outputs_unchanged_and_restores_keras(causal_block):
    from keras.src.backend.tensorflow import nn as tf_nn

    model, cal = causal_block
    before = np.asarray(model(cal[0][:4]))
    original = tf_nn._get_large_negative
    with bounded_mask():
        inside = np.asarray(model(cal[0][:4]))
    assert tf_nn._get_large_negative is original
    np.testing.assert_allclose(inside, before, atol=1e-6)  # masked weights below e^-20: float32 noise only


def test_bounded_mask_must_be_negative():
    with pytest.raises(ValueError, match=r"must be negative to mask a score\. Received: value=0\.0"), bounded_mask(0.0):
        pass
