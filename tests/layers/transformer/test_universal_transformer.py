import math

import numpy as np
import pytest

from edgeshare.layers import UniversalTransformer
from tests.layer_checks import run_layer_test
from tests.layers import reference

D, HEADS, KEY, FFN, STEPS = 8, 2, 4, 16, 3
BLOCK = 3 * (D * HEADS * KEY + HEADS * KEY) + HEADS * KEY * D + D + D * FFN + FFN + FFN * D + D + 4 * D


def _timing(n, channels):
    half = channels // 2
    inv = np.exp(np.arange(half) * -(math.log(1.0e4) / max(half - 1, 1)))
    scaled = np.arange(n)[:, None] * inv[None, :]
    signal = np.concatenate([np.sin(scaled), np.cos(scaled)], axis=1)
    return np.pad(signal, [[0, 0], [0, channels % 2]])


def _reference(layer, x, training_losses=False):
    """The Universal Transformer in NumPy: the block from reference.block, ACT as Graves 2016 / tensor2tensor."""
    x = x.astype("float64")
    positions, steps = _timing(x.shape[1], x.shape[2]), _timing(layer.num_steps, x.shape[2])
    state = x
    if not layer.act:
        for s in range(layer.num_steps):
            state = reference.block(state + positions + steps[s], layer.block)
        return state
    halting = np.zeros(x.shape[:2])
    halted = np.zeros_like(halting)
    remainders = np.zeros_like(halting)
    n_updates = np.zeros_like(halting)
    output = np.zeros_like(x)
    for s in range(layer.num_steps):
        state = state + positions + steps[s]
        p = 1.0 / (1.0 + np.exp(-reference.dense(state, layer.halting)[..., 0]))
        running = 1.0 - halted
        if s < layer.num_steps - 1:
            new_halted = (halting + p * running > layer.act_threshold) * running
            running = running - new_halted
        else:
            new_halted, running = running, np.zeros_like(running)
        halting = halting + p * running
        remainders = remainders + new_halted * (1.0 - halting)
        halting = halting + new_halted * remainders
        halted = halted + new_halted
        n_updates = n_updates + running + new_halted
        weights = (p * running + new_halted * remainders)[..., None]
        state = reference.block(state, layer.block)
        output = state * weights + output * (1.0 - weights)
    np.testing.assert_allclose(halting, 1.0, atol=1e-9)  # every position's weights sum to one
    if training_losses:
        return output, layer.ponder_cost_weight * np.mean(n_updates + remainders), n_updates
    return output


@pytest.mark.parametrize("act", [False, True])
def test_universal_transformer_shared_checks_and_numerics(tmp_path, act):
    x = np.random.default_rng(0).standard_normal((2, 5, D)).astype("float32")

    def check(layer):
        # One block for every step: its variables are the layer's, once.
        block_ids = {id(v) for v in layer.block.trainable_weights}
        assert block_ids <= {id(v) for v in layer.trainable_weights}
        assert len(layer.block.trainable_weights) == 16

    layer = run_layer_test(
        lambda dtype=None: UniversalTransformer(
            STEPS, HEADS, KEY, FFN, act=act, causal=True, halting_bias_init=-1.0, dtype=dtype, name="ut"
        ),
        x,
        expected_num_trainable_weights=16 + (2 if act else 0),
        expected_params=BLOCK + (D + 1 if act else 0),  # the block, plus the halting unit with ACT
        check_sharing=check,
        tmp_path=tmp_path,
    )
    # float32 Keras against float64 NumPy over 3 applications of the block: 1e-5.
    np.testing.assert_allclose(np.asarray(layer(x)), _reference(layer, x), atol=1e-5)


def test_act_halts_per_position_and_adds_the_ponder_cost():
    x = np.random.default_rng(1).standard_normal((3, 6, D)).astype("float32") * 3
    layer = UniversalTransformer(4, HEADS, KEY, FFN, act=True, halting_bias_init=0.0, act_threshold=0.9)
    layer(x)
    # Spread the halting logits so that positions halt at different steps.
    kernel = np.random.default_rng(2).standard_normal((D, 1)).astype("float32")
    layer.halting.kernel.assign(kernel)
    out = layer(x, training=True)
    expected, ponder, n_updates = _reference(layer, x, training_losses=True)
    assert len(np.unique(n_updates)) >= 3, f"positions should halt at different steps: {np.unique(n_updates)}"
    np.testing.assert_allclose(np.asarray(out), expected, atol=1e-5)
    assert len(layer.losses) == 1
    np.testing.assert_allclose(float(layer.losses[0]), ponder, rtol=1e-5)
    layer(x, training=False)
    assert layer.losses == []  # the ponder cost is a training loss only


def test_act_with_early_halting_equals_one_step():
    """A halting unit that says 'stop' at once gives the output of the first step alone."""
    x = np.random.default_rng(3).standard_normal((2, 5, D)).astype("float32")
    layer = UniversalTransformer(STEPS, HEADS, KEY, FFN, act=True, halting_bias_init=20.0)
    out = np.asarray(layer(x))
    one_step = reference.block(x.astype("float64") + _timing(5, D) + _timing(STEPS, D)[0], layer.block)
    np.testing.assert_allclose(out, one_step, atol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_steps": 0}, r"`num_steps` must be a positive integer. Received: num_steps=0"),
        ({"num_steps": 2, "act_threshold": 1.5}, r"`act_threshold` must be in \(0, 1\]. Received: act_threshold=1.5"),
        ({"num_steps": 2, "ponder_cost_weight": -1},
         r"`ponder_cost_weight` must be 0 or more. Received: ponder_cost_weight=-1"),
    ],
)
def test_universal_transformer_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        UniversalTransformer(num_heads=HEADS, key_dim=KEY, ffn_dim=FFN, **kwargs)
