"""tied_lm: a small causal LM whose output projection is its input embedding.

Built on `keras.layers.ReversibleEmbedding(tie_weights=True)` (Press & Wolf 2017, "Using the Output
Embedding to Improve Language Models"), with two pre-norm Transformer blocks. The embedding is 5000 x
128: the shape at which the stock converters were measured to store it twice.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeshare.models import ReferenceModel
from edgeshare.models._data import text_windows

VOCAB = 5000
DIM = 128
SEQ = 32
HEADS = 4
FFN = 256
BLOCKS = 2


def build(vocab_size: int = VOCAB, dim: int = DIM, seq_len: int = SEQ, blocks: int = BLOCKS) -> Any:
    import keras

    from edgeshare.layers import PositionEmbedding

    tokens = keras.Input((seq_len,), dtype="int32", name="tokens")
    embedding = keras.layers.ReversibleEmbedding(vocab_size, dim, tie_weights=True, name="embedding")
    x = embedding(tokens)
    x = keras.layers.Add(name="add_positions")([x, PositionEmbedding(seq_len, name="positions")(x)])
    for i in range(blocks):
        h = keras.layers.LayerNormalization(epsilon=1e-5, name=f"block{i}_ln1")(x)
        h = keras.layers.MultiHeadAttention(HEADS, dim // HEADS, name=f"block{i}_attention")(
            h, h, use_causal_mask=True
        )
        x = keras.layers.Add(name=f"block{i}_res1")([x, h])
        h = keras.layers.LayerNormalization(epsilon=1e-5, name=f"block{i}_ln2")(x)
        h = keras.layers.Dense(FFN, activation="gelu", name=f"block{i}_ffn_up")(h)
        h = keras.layers.Dense(dim, name=f"block{i}_ffn_down")(h)
        x = keras.layers.Add(name=f"block{i}_res2")([x, h])
    x = keras.layers.LayerNormalization(epsilon=1e-5, name="final_ln")(x)
    logits = embedding(x, reverse=True)  # [B, T, dim] @ [dim, vocab] through the same table
    return keras.Model(tokens, logits, name="tied_lm")


def sample_data(n: int) -> list[np.ndarray]:
    return [text_windows(VOCAB, SEQ, n, seed=0)[:, :-1]]


def train(model: Any, steps: int = 60) -> dict[str, float]:
    """Next-token prediction on the help-topics text for a few steps."""
    import keras

    w = text_windows(VOCAB, SEQ, 2048, seed=1)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    hist = model.fit(w[:, :-1], w[:, 1:], batch_size=32, epochs=1, steps_per_epoch=steps, verbose=0)
    return {"loss": float(hist.history["loss"][-1])}


REFERENCE = ReferenceModel(
    name="tied_lm",
    description="causal LM, 2 blocks, input and output embeddings tied (ReversibleEmbedding)",
    families=("weight tying",),
    build=build,
    sample_data=sample_data,
    train=train,
)
