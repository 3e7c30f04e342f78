import keras
import numpy as np
import pytest

import edgeshare
from edgeshare.layers import FactorizedEmbedding
from tests.layer_checks import run_layer_test

V, E, H = 50, 4, 12


def _tokens(shape=(3, 6), seed=0):
    return np.random.default_rng(seed).integers(0, V, shape).astype("int32")


def _check_tied(layer):
    assert layer.token_embedding.tie_weights
    assert not hasattr(layer, "reverse_projection")
    assert sorted(v.path.split("/")[-1] for v in layer.trainable_weights) == ["embeddings", "projection"]


def test_factorized_embedding_forward(tmp_path):
    ids = _tokens()
    layer = run_layer_test(
        lambda dtype=None: FactorizedEmbedding(V, E, H, dtype=dtype, name="embedding"),
        ids,
        expected_num_trainable_weights=2,
        expected_params=V * E + E * H,  # the V x E table and the E x H projection, instead of V x H
        check_sharing=_check_tied,
        tmp_path=tmp_path,
    )
    table = layer.token_embedding.embeddings.numpy().astype("float64")
    projection = layer.projection.numpy().astype("float64")
    np.testing.assert_allclose(np.asarray(layer(ids)), table[ids] @ projection, atol=1e-6)


def test_factorized_embedding_reverse_is_tied_through_both_factors(tmp_path):
    hidden = np.random.default_rng(1).standard_normal((3, 6, H)).astype("float32")
    layer = run_layer_test(
        lambda dtype=None: FactorizedEmbedding(V, E, H, dtype=dtype, name="embedding"),
        hidden,
        call_kwargs={"reverse": True},
        expected_num_trainable_weights=2,
        expected_params=V * E + E * H,
        check_sharing=_check_tied,
        tmp_path=tmp_path,
    )
    table = layer.token_embedding.embeddings.numpy().astype("float64")
    projection = layer.projection.numpy().astype("float64")
    # (b, t, H) x (H, E) x (E, V): the transposed factors.
    np.testing.assert_allclose(np.asarray(layer(hidden, reverse=True)), hidden @ projection.T @ table.T, atol=1e-5)


def test_factorized_embedding_untied(tmp_path):
    hidden = np.random.default_rng(2).standard_normal((3, 6, H)).astype("float32")
    layer = run_layer_test(
        lambda dtype=None: FactorizedEmbedding(V, E, H, tie_weights=False, dtype=dtype, name="embedding"),
        hidden,
        call_kwargs={"reverse": True},
        expected_num_trainable_weights=4,  # forward table and projection, reverse projection and table
        expected_params=V * E + E * H + H * E + E * V,
        tmp_path=tmp_path,
        # A reverse-only model gives the forward factors no gradient; the training step of an untied model
        # using both directions is in test_model_uses_each_factor_per_direction.
        train=False,
    )
    expected = hidden @ layer.reverse_projection.numpy() @ layer.token_embedding.reverse_embeddings.numpy()
    np.testing.assert_allclose(np.asarray(layer(hidden, reverse=True)), expected, atol=1e-5)


@pytest.mark.parametrize(("tie_weights", "tie_projection"), [(True, None), (True, False), (False, None)])
def test_model_uses_each_factor_per_direction(tie_weights, tie_projection):
    inputs = keras.Input((6,), dtype="int32")
    embedding = FactorizedEmbedding(V, E, H, tie_weights=tie_weights, tie_projection=tie_projection,
                                    name="embedding")
    hidden = keras.layers.Dense(H, activation="tanh", name="mix")(embedding(inputs))
    model = keras.Model(inputs, embedding(hidden, reverse=True))
    report = edgeshare.inspect(model)
    factors = V * E + E * H
    unique = {(True, None): factors, (True, False): factors + H * E, (False, None): 2 * factors}
    assert report.unique_params == unique[(tie_weights, tie_projection)] + H * H + H
    assert report.params_per_use == 2 * factors + H * H + H
    shared = {s.path.split("/")[-1]: s.uses for s in report.shared}
    expected = {(True, None): {"embeddings": 2, "projection": 2}, (True, False): {"embeddings": 2}, (False, None): {}}
    assert shared == expected[(tie_weights, tie_projection)]
    # Training reaches every factor, and the loss goes down.
    ids = _tokens((64, 6), seed=3)
    model.compile(optimizer=keras.optimizers.Adam(0.02),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    start = [v.numpy().copy() for v in embedding.trainable_weights]
    losses = model.fit(ids, ids, epochs=5, batch_size=64, verbose=0).history["loss"]
    assert losses[-1] < losses[0]
    assert not [v.path for v, s0 in zip(embedding.trainable_weights, start) if np.array_equal(v.numpy(), s0)]


def test_tie_projection_needs_tie_weights():
    with pytest.raises(ValueError, match=r"`tie_projection=True` needs `tie_weights=True`: the projection is tied only "
                                         r"when the table is. Received: tie_weights=False, tie_projection=True"):
        FactorizedEmbedding(V, E, H, tie_weights=False, tie_projection=True)


def test_table_only_tying(tmp_path):
    hidden = np.random.default_rng(4).standard_normal((3, 6, H)).astype("float32")

    def check(layer):
        assert layer.token_embedding.tie_weights and not hasattr(layer.token_embedding, "reverse_embeddings")

    layer = run_layer_test(
        lambda dtype=None: FactorizedEmbedding(V, E, H, tie_projection=False, dtype=dtype, name="embedding"),
        hidden,
        call_kwargs={"reverse": True},
        expected_num_trainable_weights=3,  # the table (tied), the projection and the reverse projection
        expected_params=V * E + E * H + H * E,
        check_sharing=check,
        tmp_path=tmp_path,
        # A reverse-only model gives the forward projection no gradient; the training step of a model using
        # both directions is in test_model_uses_each_factor_per_direction.
        train=False,
    )
    table = layer.token_embedding.embeddings.numpy()
    np.testing.assert_allclose(np.asarray(layer(hidden, reverse=True)),
                               hidden @ layer.reverse_projection.numpy() @ table.T, atol=1e-5)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0, E, H), r"`vocab_size` must be a positive integer. Received: vocab_size=0"),
        ((V, 0, H), r"`embedding_dim` must be a positive integer. Received: embedding_dim=0"),
        ((V, E, 2.5), r"`hidden_dim` must be a positive integer. Received: hidden_dim=2.5"),
    ],
)
def test_factorized_embedding_errors(args, match):
    with pytest.raises(ValueError, match=match):
        FactorizedEmbedding(*args)


@pytest.mark.parametrize("mode", ["none", "dynamic"])
def test_onnx_export_of_a_tied_factorized_embedding(tmp_path, mode):
    """tokens -> FactorizedEmbedding -> the same layer reversed: the forward MatMul reads the projection as
    a (1, E, H) initializer and the reverse one a transposed (H, E) copy. The repair reads one copy through
    a squeezing Reshape into Gemm(transB=1) (once a rank-3 Gemm input onnxruntime rejected); in dynamic
    mode the float reader dequantizes the int8 copy that MatMulInteger reads."""
    from edgeshare.converters import export_onnx

    keras.utils.set_random_seed(0)
    tokens = keras.Input((8,), dtype="int32")
    embedding = FactorizedEmbedding(V, E, H)
    model = keras.Model(tokens, embedding(embedding(tokens), reverse=True))
    report = export_onnx(model, tmp_path / "factorized.onnx", mode, calibration=[_tokens((16, 8))])
    assert report.numerics.passed and report.duplicate_bytes == 0


@pytest.mark.parametrize("mode", ["dynamic", "int8"])
def test_dynamic_export_stores_the_tied_projection_once(tmp_path, mode):
    """Quantized TFLite stores the E x H projection per tensor for the forward BATCH_MATMUL ([1, E, H]) and
    per channel for the reverse FULLY_CONNECTED ([E, H]); the repair has FULLY_CONNECTED read the
    per-tensor copy, whose shape differs only by a size-1 axis."""
    from edgeshare.converters import export_tflite

    keras.utils.set_random_seed(0)
    tokens = keras.Input((8,), dtype="int32")
    embedding = FactorizedEmbedding(200, 32, 64)  # a 32 x 64 projection: big enough to be quantized
    model = keras.Model(tokens, embedding(embedding(tokens), reverse=True))
    data = np.random.default_rng(0).integers(0, 200, (16, 8)).astype("int32")
    report = export_tflite(model, tmp_path / f"factorized_{mode}.tflite", mode, calibration=data)
    assert report.numerics.passed
    assert report.duplicate_bytes == 0, [(g.kind, [t.shape for t in g.tensors]) for g in report.groups]
