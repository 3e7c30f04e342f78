import keras
import numpy as np
import pytest

from edgeshare.layers import MultilingualEmbedding
from tests.layer_checks import run_layer_test

V, D, L = 40, 6, 3


@pytest.mark.parametrize("per_token", [False, True])
def test_multilingual_embedding_shared_checks_and_numerics(tmp_path, per_token):
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, V, (4, 5)).astype("int32")
    languages = rng.integers(0, L, (4, 5) if per_token else (4,)).astype("int32")

    def check(layer):
        assert layer.token_embedding.tie_weights  # one table for every language, tied to the output
        assert tuple(layer.language_embedding.embeddings.shape) == (L, D)

    layer = run_layer_test(
        lambda dtype=None: MultilingualEmbedding(V, D, L, dtype=dtype, name="embedding"),
        [tokens, languages],
        expected_num_trainable_weights=2,
        expected_params=V * D + L * D,  # the shared table plus one vector per language
        check_sharing=check,
        tmp_path=tmp_path,
    )
    table = layer.token_embedding.embeddings.numpy()
    lang = layer.language_embedding.embeddings.numpy()[languages]
    expected = table[tokens] + (lang if per_token else lang[:, None])
    np.testing.assert_allclose(np.asarray(layer([tokens, languages])), expected, atol=1e-6)


def test_multilingual_embedding_reverse_uses_the_shared_table():
    layer = MultilingualEmbedding(V, D, L)
    hidden = np.random.default_rng(1).standard_normal((2, 5, D)).astype("float32")
    layer([np.zeros((2, 5), "int32"), np.zeros((2,), "int32")])
    logits = np.asarray(layer(hidden, reverse=True))
    np.testing.assert_allclose(logits, hidden @ layer.token_embedding.embeddings.numpy().T, atol=1e-5)
    symbolic = layer(keras.Input((5, D)), reverse=True)
    assert tuple(symbolic.shape) == (None, 5, V) == (None, *logits.shape[1:])
    assert layer.compute_output_shape((2, 5, D), reverse=True) == (2, 5, V)


def test_same_token_differs_only_by_the_language_vector():
    layer = MultilingualEmbedding(V, D, L)
    tokens = np.full((3, 2), 7, "int32")
    out = np.asarray(layer([tokens, np.array([0, 1, 2], "int32")]))
    lang = layer.language_embedding.embeddings.numpy()
    np.testing.assert_allclose(out[1] - out[0], np.broadcast_to(lang[1] - lang[0], (2, D)), atol=1e-6)


def test_multilingual_embedding_errors():
    with pytest.raises(ValueError, match=r"`num_languages` must be a positive integer. Received: num_languages=0"):
        MultilingualEmbedding(V, D, 0)
    layer = MultilingualEmbedding(V, D, L)
    with pytest.raises(ValueError, match=r"MultilingualEmbedding expects `inputs=\[token_ids, language_ids\]` "
                                         r"unless `reverse=True`. Received: inputs="):
        layer(np.zeros((2, 5), "int32"))
