"""ALBERT's factorized embedding: a V x E table and an E x H projection, reversible through both."""

from __future__ import annotations

import keras
from keras import KerasTensor, ops

from edgeshare.layers.transformer._common import check_positive


@keras.saving.register_keras_serializable(package="edgeshare")
class FactorizedEmbedding(keras.layers.Layer):
    """A token embedding factorized into a small table and a projection (family 9, and tying, family 1).

    The vocabulary table is V x E with E much smaller than the hidden size H, and a shared E x H projection
    lifts it to H: V*E + E*H parameters instead of V*H. The table is a `keras.layers.ReversibleEmbedding`.
    With `tie_weights=True`, `reverse=True` maps hidden states back to vocabulary logits through the same
    two factors (the transposed projection, then the transposed table), so the output layer costs nothing.
    With `tie_weights=False` the reverse direction has its own H x E projection and E x V table.

    Args:
        vocab_size: V, the number of tokens.
        embedding_dim: E, the width of the table.
        hidden_dim: H, the width of the hidden states.
        tie_weights: whether `reverse=True` reuses the input factors.
        embeddings_initializer: initializer of the table.
        projection_initializer: initializer of the projection.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: token ids of shape (batch, length), or with `reverse=True` hidden states of shape
            (batch, length, hidden_dim).
        reverse: whether to map hidden states to logits instead of tokens to hidden states.

    Returns:
        (batch, length, hidden_dim) hidden states, or with `reverse=True` (batch, length, vocab_size) logits.

    Example:
        >>> embedding = FactorizedEmbedding(1000, 32, 128)
        >>> hidden = embedding(keras.ops.ones((2, 16), dtype="int32"))
        >>> tuple(hidden.shape), tuple(embedding(hidden, reverse=True).shape)
        ((2, 16, 128), (2, 16, 1000))

    References:
        Lan et al. 2019, "ALBERT: A Lite BERT for Self-supervised Learning of Language Representations"
        (factorized embedding parameterization).
        Press & Wolf 2017, "Using the Output Embedding to Improve Language Models" (tying).
    """

    def __init__(
        self,
        vocab_size,
        embedding_dim,
        hidden_dim,
        tie_weights=True,
        embeddings_initializer="uniform",
        projection_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive(vocab_size, "vocab_size")
        check_positive(embedding_dim, "embedding_dim")
        check_positive(hidden_dim, "hidden_dim")
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.tie_weights = tie_weights
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.projection_initializer = keras.initializers.get(projection_initializer)

    def build(self, input_shape=None):
        self.token_embedding = keras.layers.ReversibleEmbedding(
            self.vocab_size,
            self.embedding_dim,
            tie_weights=self.tie_weights,
            embeddings_initializer=self.embeddings_initializer,
            dtype=self.dtype_policy,
            name="token_embedding",
        )
        self.token_embedding.build()
        self.projection = self.add_weight(
            name="projection", shape=(self.embedding_dim, self.hidden_dim), initializer=self.projection_initializer
        )
        if not self.tie_weights:
            self.reverse_projection = self.add_weight(
                name="reverse_projection",
                shape=(self.hidden_dim, self.embedding_dim),
                initializer=self.projection_initializer,
            )

    def call(self, inputs, reverse=False):
        if not reverse:
            embedded = self.token_embedding(inputs)  # (batch, length) -> (batch, length, E)
            if len(embedded.shape) == 3:
                # (batch, length, E) x (1, E, H) -> (batch, length, H). A 3-D operand keeps TFLite's
                # BATCH_MATMUL reading the stored (E, H) buffer. A 2-D one becomes a FULLY_CONNECTED whose
                # (out, in) layout is (H, E): a transposed copy beside the (E, H) buffer of the reverse
                # direction (measured with TF 2.21: 1.05x the float floor for a 500 x 16 x 32 embedding).
                return ops.matmul(embedded, ops.expand_dims(self.projection, 0))
            return ops.matmul(embedded, self.projection)  # (..., E) x (E, H) -> (..., H)
        kernel = ops.transpose(self.projection) if self.tie_weights else self.reverse_projection
        reduced = ops.matmul(inputs, kernel)  # (..., H) x (H, E) -> (..., E)
        return self.token_embedding(reduced, reverse=True)  # (..., E) x (E, V) -> (..., V)

    def compute_output_shape(self, input_shape, reverse=False):
        if reverse:
            return (*input_shape[:-1], self.vocab_size)
        return (*input_shape, self.hidden_dim)

    def compute_output_spec(self, inputs, reverse=False):
        return KerasTensor(self.compute_output_shape(tuple(inputs.shape), reverse), dtype=self.compute_dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "embedding_dim": self.embedding_dim,
            "hidden_dim": self.hidden_dim,
            "tie_weights": self.tie_weights,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
            "projection_initializer": keras.initializers.serialize(self.projection_initializer),
        }
