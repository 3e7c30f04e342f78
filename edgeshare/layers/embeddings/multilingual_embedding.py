"""One token table shared by every language, plus a small per-language embedding (XLM)."""

from __future__ import annotations

from typing import Any

import keras
from keras import KerasTensor, ops

from edgeshare.validation import check_positive_int


@keras.saving.register_keras_serializable(package="edgeshare")
class MultilingualEmbedding(keras.layers.Layer):
    """A token table shared by all languages, plus a learned language embedding added per token.

    Every language reads the same (vocab_size, embedding_dim) table (a `keras.layers.ReversibleEmbedding`
    over a joint vocabulary); the only per-language parameters are one embedding_dim vector per language,
    added to the token vectors as XLM does. `reverse=True` maps hidden states to logits over the joint
    vocabulary through the same shared table, so the output layer is tied for every language.

    Args:
        vocab_size: size of the joint vocabulary.
        embedding_dim: width of the embeddings.
        num_languages: number of languages (language ids are 0..num_languages-1).
        embeddings_initializer: initializer of the token table.
        language_initializer: initializer of the language embeddings.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: `[token_ids, language_ids]`: token ids of shape (batch, length) and language ids of shape
            (batch,) (one language per sequence) or (batch, length) (one per token). With `reverse=True`,
            hidden states of shape (batch, length, embedding_dim).
        reverse: whether to map hidden states to logits.

    Returns:
        (batch, length, embedding_dim) embeddings, or with `reverse=True` (batch, length, vocab_size) logits.

    Example:
        >>> embedding = MultilingualEmbedding(1000, 32, num_languages=3)
        >>> tokens = keras.ops.ones((2, 16), dtype="int32")
        >>> x = embedding([tokens, keras.ops.array([0, 2])])
        >>> tuple(x.shape), tuple(embedding(x, reverse=True).shape)
        ((2, 16, 32), (2, 16, 1000))

    References:
        Lample & Conneau 2019, "Cross-lingual Language Model Pretraining" (XLM: shared vocabulary and
        language embeddings).
        Press & Wolf 2017, "Using the Output Embedding to Improve Language Models" (tying).
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int,
        num_languages: int,
        embeddings_initializer: Any = "uniform",
        language_initializer: Any = "uniform",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_positive_int(vocab_size, "vocab_size")
        check_positive_int(embedding_dim, "embedding_dim")
        check_positive_int(num_languages, "num_languages")
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.num_languages = num_languages
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.language_initializer = keras.initializers.get(language_initializer)

    def build(self, input_shape: Any = None) -> None:
        self.token_embedding = keras.layers.ReversibleEmbedding(
            self.vocab_size,
            self.embedding_dim,
            tie_weights=True,
            embeddings_initializer=self.embeddings_initializer,
            # Logits in the compute dtype (see FactorizedEmbedding: an embedding does not autocast its table).
            reverse_dtype=self.compute_dtype,
            dtype=self.dtype_policy,
            name="token_embedding",
        )
        self.token_embedding.build()
        self.language_embedding = keras.layers.Embedding(
            self.num_languages,
            self.embedding_dim,
            embeddings_initializer=self.language_initializer,
            dtype=self.dtype_policy,
            name="language_embedding",
        )
        self.language_embedding.build()

    def _split(self, inputs: Any) -> Any:
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(
                "MultilingualEmbedding expects `inputs=[token_ids, language_ids]` unless `reverse=True`. "
                f"Received: inputs={inputs!r}"
            )
        return inputs

    def call(self, inputs: Any, reverse: bool = False) -> Any:
        if reverse:
            return self.token_embedding(inputs, reverse=True)  # (..., D) x (D, V) -> (..., V)
        tokens, languages = self._split(inputs)
        embedded = self.token_embedding(tokens)  # (batch, length) -> (batch, length, D)
        language = self.language_embedding(languages)  # (batch,) -> (batch, D) or (batch, length, D)
        if len(language.shape) == len(embedded.shape) - 1:
            language = ops.expand_dims(language, 1)  # (batch, D) -> (batch, 1, D), broadcast over length
        return embedded + language

    def compute_output_shape(self, input_shape: Any, reverse: bool = False) -> tuple[Any, ...]:
        if reverse:
            return (*input_shape[:-1], self.vocab_size)
        token_shape, _ = self._split(input_shape)
        return (*token_shape, self.embedding_dim)

    def compute_output_spec(self, inputs: Any, reverse: bool = False) -> Any:
        shape = tuple(inputs.shape) if reverse else [tuple(x.shape) for x in self._split(inputs)]
        return KerasTensor(self.compute_output_shape(shape, reverse), dtype=self.compute_dtype)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "embedding_dim": self.embedding_dim,
            "num_languages": self.num_languages,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
            "language_initializer": keras.initializers.serialize(self.language_initializer),
        }
