"""The export numerics gate sees each sample: one cosine over a flattened batch can pass a wrong model."""

from __future__ import annotations

import numpy as np
import pytest

from edgeshare.converters.verify.numerics import CRITERIA, compare, cosine


def _reversed_logits(n: int = 16, classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Logits that share a large offset, and the same logits with every sample's class order reversed."""
    rng = np.random.default_rng(0)
    offset = 8.0 + rng.standard_normal(classes) * 0.1
    logits = offset + rng.standard_normal((n, classes)) * 0.5
    return logits, logits[:, ::-1] - offset[::-1] + offset


@pytest.mark.parametrize("mode", ["fp16", "dynamic", "int8"])
def test_reversed_class_order_fails_the_gate(mode):
    ref, wrong = _reversed_logits()
    assert cosine(ref, wrong) > 0.99  # what a single flattened cosine would have passed
    num = compare({"logits": ref}, {"logits": wrong}, mode, class_outputs=["logits"])
    assert not num.passed
    [out] = num.outputs
    assert out.top1_agreement is not None and out.top1_agreement < 0.2
    assert "numerics off on output 'logits'" in (num.failure() or "")


def test_a_faithful_int8_artifact_passes_and_reports_every_figure():
    ref, _ = _reversed_logits()
    noisy = ref + np.random.default_rng(1).standard_normal(ref.shape) * 0.01
    num = compare({"logits": ref}, {"logits": noisy}, "int8", class_outputs=["logits"])
    assert num.passed and num.top1_agreement is not None and num.top1_agreement >= CRITERIA["int8"].top1
    [out] = num.outputs
    assert out.samples == 16 and 0 <= out.worst_sample < 16
    assert 0.99 < out.worst_sample_cosine <= 1.0
    assert num.max_abs_error == pytest.approx(float(np.abs(ref - noisy).max()))


def test_one_bad_sample_fails_even_when_the_batch_cosine_is_high():
    rng = np.random.default_rng(2)
    ref = rng.standard_normal((64, 32))
    got = ref.copy()
    got[5] = rng.standard_normal(32)  # one sample entirely wrong
    assert cosine(ref, got) > 0.98
    num = compare({"h": ref}, {"h": got}, "dynamic")  # no class axis: judged on the worst sample
    assert not num.passed and num.outputs[0].worst_sample == 5 and num.outputs[0].top1_agreement is None


def test_constant_keras_outputs_warn():
    ref = np.ones((8, 4))
    num = compare({"y": ref}, {"y": ref}, "none")
    assert num.passed
    assert any("the same for every input sample" in w for w in num.warnings)


def test_class_outputs_are_logits_not_hidden_states():
    from edgeshare.accounting import class_outputs, quiet_tensorflow

    quiet_tensorflow()
    import keras

    x = keras.Input((8,), name="x")
    hidden = keras.layers.Dense(16, activation="tanh", name="pooler")(x)
    logits = keras.layers.Dense(5, name="classifier")(hidden)
    probs = keras.layers.Softmax(name="probs")(logits)
    model = keras.Model(x, {"pooled": hidden, "logits": logits, "probs": probs})
    assert sorted(class_outputs(model)) == ["logits", "probs"]
