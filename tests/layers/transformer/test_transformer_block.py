import keras
import numpy as np
import pytest

from edgeshare.layers import FeedForward, SharedHeadAttention, TransformerBlock
from tests.layer_checks import run_layer_test
from tests.layers import reference

D, HEADS, KEY, FFN = 8, 2, 4, 16
MHA_PARAMS = 3 * (D * HEADS * KEY + HEADS * KEY) + HEADS * KEY * D + D  # q, k, v, then the output projection
FFN_PARAMS = D * FFN + FFN + FFN * D + D
NORM_PARAMS = 2 * 2 * D  # two layer norms, gamma and beta each


def _x(shape=(3, 5, D), seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def test_transformer_block_own_sublayers(tmp_path):
    x = _x()
    layer = run_layer_test(
        lambda dtype=None: TransformerBlock(HEADS, KEY, FFN, causal=True, dtype=dtype, name="block"),
        x,
        expected_num_trainable_weights=8 + 4 + 4,  # MHA 4 kernels + 4 biases, FFN 2 + 2, norms 2 + 2
        expected_params=MHA_PARAMS + FFN_PARAMS + NORM_PARAMS,
        tmp_path=tmp_path,
    )
    # float32 Keras against float64 NumPy through two residual sublayers: 1e-5.
    np.testing.assert_allclose(np.asarray(layer(x)), reference.block(x.astype("float64"), layer), atol=1e-5)


def test_transformer_block_attention_mask_and_no_bias_match_numpy():
    x = _x()
    mask = np.random.default_rng(1).random((3, 5, 5)) > 0.3
    mask[:, np.arange(5), np.arange(5)] = True  # every query keeps at least itself
    layer = TransformerBlock(HEADS, KEY, FFN, use_bias=False)
    out = np.asarray(layer(x, attention_mask=mask))
    assert layer.count_params() == 4 * D * HEADS * KEY + 2 * D * FFN + NORM_PARAMS  # kernels and norms only
    np.testing.assert_allclose(out, reference.block(x.astype("float64"), layer, mask), atol=1e-5)
    assert not np.allclose(out, np.asarray(layer(x)), atol=1e-3), "the mask had no effect"


def test_transformer_block_given_sublayers(tmp_path):
    x = _x()

    def check(block):
        assert block.attention_layer is block.attention
        assert block.feed_forward_layer is block.feed_forward

    layer = run_layer_test(
        lambda dtype=None: TransformerBlock(
            attention=SharedHeadAttention(HEADS, KEY, shared="qk", dtype=dtype, name="qk_attention"),
            feed_forward=FeedForward(FFN, dtype=dtype, name="ffn"),
            dtype=dtype,
            name="block",
        ),
        x,
        expected_num_trainable_weights=8 + 4 + 4,
        # shared-qk attention: one q and one k head, HEADS value heads, the output projection
        expected_params=2 * (D * KEY + KEY) + (D * HEADS * KEY + HEADS * KEY) + HEADS * KEY * D + D
        + FFN_PARAMS + NORM_PARAMS,
        check_sharing=check,
        tmp_path=tmp_path,
    )
    assert isinstance(layer.attention_layer, SharedHeadAttention)


def test_blocks_sharing_attention_and_ffn_survive_keras_reload(tmp_path):
    """Layer-wise head sharing and block-level FFN sharing: two blocks, one attention and one FFN."""
    x = _x()
    attention = keras.layers.MultiHeadAttention(HEADS, KEY, name="shared_attention")
    ffn = FeedForward(FFN, name="shared_ffn")
    inputs = keras.Input((5, D))
    first = TransformerBlock(attention=attention, feed_forward=ffn, name="first")
    second = TransformerBlock(attention=attention, feed_forward=ffn, causal=True, name="second")
    model = keras.Model(inputs, second(first(inputs)))

    def check(m):
        a, b = m.get_layer("first"), m.get_layer("second")
        assert a.attention_layer is b.attention_layer
        assert a.feed_forward_layer is b.feed_forward_layer
        assert a.attention_norm is not b.attention_norm
        assert len(m.trainable_weights) == 8 + 4 + 2 * 4
        assert m.count_params() == MHA_PARAMS + FFN_PARAMS + 2 * NORM_PARAMS

    check(model)
    expected = reference.block(reference.block(x.astype("float64"), first), second)
    np.testing.assert_allclose(np.asarray(model(x)), expected, atol=1e-5)
    path = tmp_path / "two_blocks.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    check(reloaded)
    np.testing.assert_allclose(np.asarray(reloaded(x)), np.asarray(model(x)), atol=1e-6)
    # The reloaded shared attention is trained once per step by both blocks: one variable, one update.
    kernel = reloaded.get_layer("first").attention_layer._query_dense.kernel
    assert sum(v is kernel for v in reloaded.trainable_weights) == 1


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"ffn_dim": 8}, ValueError,
         r"`num_heads` and `key_dim` are required when no `attention` layer is given. "
         r"Received: num_heads=None, key_dim=None, attention=None"),
        ({"num_heads": 2, "key_dim": 4}, ValueError,
         r"`ffn_dim` is required when no `feed_forward` layer is given. Received: ffn_dim=None"),
        ({"num_heads": 0, "key_dim": 4, "ffn_dim": 8}, ValueError,
         r"`num_heads` must be a positive integer or None. Received: num_heads=0"),
        ({"num_heads": 2, "key_dim": 4, "ffn_dim": 8, "dropout": -0.1}, ValueError,
         r"`dropout` must be in \[0, 1\). Received: dropout=-0.1"),
        ({"ffn_dim": 8, "attention": "mha"}, TypeError,
         r"`attention` must be a Keras layer instance or None. Received: attention='mha'"),
        ({"num_heads": 2, "key_dim": 4, "feed_forward": 3}, TypeError,
         r"`feed_forward` must be a Keras layer instance or None. Received: feed_forward=3"),
    ],
)
def test_transformer_block_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        TransformerBlock(**kwargs)
