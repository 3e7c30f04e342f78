"""ALBERT's factorized embedding: a V x E table and an E x H projection, reversible through both."""

from __future__ import annotations

from typing import Any

import keras
from keras import KerasTensor, ops

from edgeshare.validation import check_positive_int


@keras.saving.register_keras_serializable(package="edgeshare")
class FactorizedEmbedding(keras.layers.Layer):
    """A token embedding factorized into a small table and a projection (family 9, and tying, family 1).

    The vocabulary table is V x E with E much smaller than the hidden size H, and a shared E x H projection
    lifts it to H: V*E + E*H parameters instead of V*H. The table is a `keras.layers.ReversibleEmbedding`.
    With `tie_weights=True`, `reverse=True` maps hidden states back to vocabulary logits through the same
    two factors (the transposed projection, then the transposed table), so the output layer costs nothing.
    With `tie_projection=False` only the table is tied and the reverse direction has its own H x E
    projection, as ALBERT's masked-LM head does. With `tie_weights=False` the reverse direction has its own
    H x E projection and E x V table.

    Export note: the tied projection is read as `x P` going in and `h P^T` coming out. TFLite runs the first
    as a BATCH_MATMUL on the stored (E, H) buffer and the second as a FULLY_CONNECTED on the same buffer,
    so float exports store it once; dynamic-range and int8 exports quantize it per tensor for the one and
    per channel for the other, a second 1-byte copy of E x H that the repair pass does not merge yet.

    Args:
        vocab_size: V, the number of tokens.
        embedding_dim: E, the width of the table.
        hidden_dim: H, the width of the hidden states.
        tie_weights: whether `reverse=True` reuses the input factors.
        tie_projection: whether `reverse=True` reuses the projection too; None follows `tie_weights`.
            `tie_weights=True, tie_projection=False` ties the table only.
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
        vocab_size: int,
        embedding_dim: int,
        hidden_dim: int,
        tie_weights: bool = True,
        tie_projection: bool | None = None,
        embeddings_initializer: Any = "uniform",
        projection_initializer: Any = "glorot_uniform",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_positive_int(vocab_size, "vocab_size")
        check_positive_int(embedding_dim, "embedding_dim")
        check_positive_int(hidden_dim, "hidden_dim")
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        if tie_projection and not tie_weights:
            raise ValueError(
                "`tie_projection=True` needs `tie_weights=True`: the projection is tied only when the table is. "
                f"Received: tie_weights={tie_weights}, tie_projection={tie_projection}"
            )
        self.tie_weights = tie_weights
        self.tie_projection = tie_projection
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.projection_initializer = keras.initializers.get(projection_initializer)

    def build(self, input_shape: Any = None) -> None:
        self.token_embedding = keras.layers.ReversibleEmbedding(
            self.vocab_size,
            self.embedding_dim,
            tie_weights=self.tie_weights,
            embeddings_initializer=self.embeddings_initializer,
            # Logits in the compute dtype, as every layer's output: an embedding layer does not autocast its
            # table, so under a mixed policy the reverse matmul would otherwise run and return in float32.
            reverse_dtype=self.compute_dtype,
            dtype=self.dtype_policy,
            name="token_embedding",
        )
        self.token_embedding.build()
        self.projection = self.add_weight(
            name="projection", shape=(self.embedding_dim, self.hidden_dim), initializer=self.projection_initializer
        )
        if not self._projection_tied:
            self.reverse_projection = self.add_weight(
                name="reverse_projection",
                shape=(self.hidden_dim, self.embedding_dim),
                initializer=self.projection_initializer,
            )

    @property
    def _projection_tied(self) -> bool:
        return self.tie_weights if self.tie_projection is None else self.tie_projection

    def call(self, inputs: Any, reverse: bool = False) -> Any:
        if not reverse:
            embedded = self.token_embedding(inputs)  # (batch, length) -> (batch, length, E)
            if len(embedded.shape) == 3:
                # (batch, length, E) x (1, E, H) -> (batch, length, H). A 3-D operand keeps TFLite's
                # BATCH_MATMUL reading the stored (E, H) buffer. A 2-D one becomes a FULLY_CONNECTED whose
                # (out, in) layout is (H, E): a transposed copy beside the (E, H) buffer of the reverse
                # direction (measured with TF 2.21: 1.05x the float floor for a 500 x 16 x 32 embedding).
                return ops.matmul(embedded, ops.expand_dims(self.projection, 0))
            return ops.matmul(embedded, self.projection)  # (..., E) x (E, H) -> (..., H)
        kernel = ops.transpose(self.projection) if self._projection_tied else self.reverse_projection
        reduced = ops.matmul(inputs, kernel)  # (..., H) x (H, E) -> (..., E)
        return self.token_embedding(reduced, reverse=True)  # (..., E) x (E, V) -> (..., V)

    def compute_output_shape(self, input_shape: Any, reverse: bool = False) -> tuple[Any, ...]:
        if reverse:
            return (*input_shape[:-1], self.vocab_size)
        return (*input_shape, self.hidden_dim)

    def compute_output_spec(self, inputs: Any, reverse: bool = False) -> Any:
        return KerasTensor(self.compute_output_shape(tuple(inputs.shape), reverse), dtype=self.compute_dtype)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "embedding_dim": self.embedding_dim,
            "hidden_dim": self.hidden_dim,
            "tie_weights": self.tie_weights,
            "tie_projection": self.tie_projection,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
            "projection_initializer": keras.initializers.serialize(self.projection_initializer),
        }
