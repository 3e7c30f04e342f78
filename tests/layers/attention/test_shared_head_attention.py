import keras
import numpy as np
import pytest

from edgeshare.layers import SharedHeadAttention, TransformerBlock
from tests.layer_checks import run_layer_test
from tests.layers import reference

D, HEADS, KEY = 8, 4, 3
ONE = D * KEY + KEY  # one head's projection: kernel and bias
ALL = HEADS * ONE  # a projection for every head
OUT = HEADS * KEY * D + D
PARAMS = {"kv": ALL + 2 * ONE + OUT, "qk": 2 * ONE + ALL + OUT, "v": 2 * ALL + ONE + OUT}


def _numpy(layer, query, value, mask=None, causal=False):
    query, value = query.astype("float64"), value.astype("float64")
    if causal:
        cm = reference.causal_mask(query.shape[1], value.shape[1])[None]
        mask = cm if mask is None else np.logical_and(mask, cm)
    if layer.shared == "kv":
        parts = (layer.attention._query_dense, layer.attention._key_dense, layer.attention._value_dense)
        out_dense = layer.attention._output_dense
    else:
        parts = (layer.query_dense, layer.key_dense, layer.value_dense)
        out_dense = layer.output_dense
    q, k, v = (reference.dense(x, p) for x, p in zip((query, value, value), parts))
    # A shared projection is one head that every head reads: broadcast it to HEADS heads.
    q, k, v = (np.broadcast_to(a, (*a.shape[:2], HEADS, KEY)) for a in (q, k, v))
    heads = reference.attention(q, k, v, mask)
    return np.tensordot(heads, np.asarray(out_dense.kernel), axes=([2, 3], [0, 1])) + np.asarray(out_dense.bias)


@pytest.mark.parametrize("shared", ["kv", "qk", "v"])
def test_shared_head_attention_shared_checks_and_numerics(tmp_path, shared):
    rng = np.random.default_rng(0)
    query = rng.standard_normal((2, 5, D)).astype("float32")
    value = rng.standard_normal((2, 7, D)).astype("float32")

    def check(layer):
        if shared == "kv":  # multi-query attention through keras' GroupQueryAttention
            assert isinstance(layer.attention, keras.layers.GroupQueryAttention)
            assert layer.attention.num_key_value_heads == 1
            assert tuple(layer.attention._key_dense.kernel.shape) == (D, 1, KEY)
        else:
            heads = {"query_dense": HEADS, "key_dense": HEADS, "value_dense": HEADS}
            for name in ("query_dense", "key_dense") if shared == "qk" else ("value_dense",):
                heads[name] = 1
            for name, h in heads.items():
                assert tuple(getattr(layer, name).kernel.shape) == (D, h, KEY), name

    layer = run_layer_test(
        lambda dtype=None: SharedHeadAttention(HEADS, KEY, shared=shared, dtype=dtype, name="attention"),
        [query, value],
        unpack_inputs=True,
        expected_num_trainable_weights=8,
        expected_params=PARAMS[shared],
        check_sharing=check,
        tmp_path=tmp_path,
    )
    # float32 against float64 NumPy: 1e-5.
    np.testing.assert_allclose(np.asarray(layer(query, value)), _numpy(layer, query, value), atol=1e-5)
    mask = rng.random((2, 5, 7)) > 0.4
    mask[:, :, 0] = True  # every query sees at least one key
    np.testing.assert_allclose(
        np.asarray(layer(query, value, attention_mask=mask, use_causal_mask=True)),
        _numpy(layer, query, value, mask, causal=True),
        atol=1e-5,
    )


def test_shared_qk_heads_share_one_attention_map():
    """With shared="qk", swapping two heads' value projections only swaps their slices of the output."""
    x = np.random.default_rng(1).standard_normal((1, 4, D)).astype("float32")
    layer = SharedHeadAttention(HEADS, KEY, shared="qk")
    layer(x, x)
    v = layer.value_dense.kernel.numpy()
    layer.value_dense.kernel.assign(v[:, [1, 0, 2, 3]])
    out_kernel = layer.output_dense.kernel.numpy()
    bias = layer.value_dense.bias.numpy()
    layer.value_dense.bias.assign(bias[[1, 0, 2, 3]])
    before = np.asarray(layer(x, x))
    layer.output_dense.kernel.assign(out_kernel[[1, 0, 2, 3]])
    layer.value_dense.kernel.assign(v)
    layer.value_dense.bias.assign(bias)
    np.testing.assert_allclose(np.asarray(layer(x, x)), before, atol=1e-6)


def test_layer_wise_head_sharing_survives_reload(tmp_path):
    attention = SharedHeadAttention(HEADS, KEY, shared="v", name="shared_attention")
    inputs = keras.Input((5, D))
    first = TransformerBlock(ffn_dim=16, attention=attention, name="first")
    second = TransformerBlock(ffn_dim=16, attention=attention, name="second")
    model = keras.Model(inputs, second(first(inputs)))
    model.save(tmp_path / "heads.keras")
    reloaded = keras.saving.load_model(tmp_path / "heads.keras")
    assert reloaded.get_layer("first").attention_layer is reloaded.get_layer("second").attention_layer
    assert reloaded.count_params() == model.count_params() == PARAMS["v"] + 2 * (D * 16 + 16 + 16 * D + D + 4 * D)
    x = np.random.default_rng(2).standard_normal((2, 5, D)).astype("float32")
    np.testing.assert_allclose(np.asarray(reloaded(x)), np.asarray(model(x)), atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"shared": "q"}, r"`shared` must be one of kv, qk, v. Received: shared='q'"),
        ({"num_heads": 0}, r"`num_heads` must be a positive integer. Received: num_heads=0"),
        ({"key_dim": 0}, r"`key_dim` must be a positive integer. Received: key_dim=0"),
        ({"dropout": 1.5}, r"`dropout` must be in \[0, 1\). Received: dropout=1.5"),
    ],
)
def test_shared_head_attention_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SharedHeadAttention(**{"num_heads": HEADS, "key_dim": KEY, **kwargs})
