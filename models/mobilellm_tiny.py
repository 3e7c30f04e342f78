"""mobilellm_tiny: a deep-and-thin causal LM in the MobileLLM recipe, at toy size.

MobileLLM (Liu et al. 2024): tied input and output embeddings (`keras.layers.ReversibleEmbedding`),
grouped-query attention (`keras.layers.GroupQueryAttention`, 4 query heads over 2 key/value heads),
SwiGLU feed-forwards without biases, and immediate block-wise repeat: 3 unique blocks, each run twice back to back for a
depth of 6 (`SharedTransformerStack(strategy="adjacent")`). Positions come from a learned
`PositionEmbedding` where MobileLLM uses RoPE.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeshare.models import ReferenceModel
from edgeshare.models._data import text_windows

VOCAB = 2000
DIM = 64
SEQ = 32
LAYERS = 6
UNIQUE = 3
HEADS = 4
KV_HEADS = 2
FFN = 128


def build(seq_len: int = SEQ) -> Any:
    import keras

    from edgeshare.layers import PositionEmbedding, SharedTransformerStack

    tokens = keras.Input((seq_len,), dtype="int32", name="tokens")
    embedding = keras.layers.ReversibleEmbedding(VOCAB, DIM, tie_weights=True, name="embedding")
    x = embedding(tokens)
    x = keras.layers.Add(name="add_positions")([x, PositionEmbedding(seq_len, name="positions")(x)])
    x = SharedTransformerStack(
        LAYERS, UNIQUE, "adjacent", num_heads=HEADS, key_dim=DIM // HEADS, ffn_dim=FFN,
        num_key_value_heads=KV_HEADS, activation="silu", gated_ffn=True, use_bias=False, causal=True,
        name="decoder",
    )(x)
    x = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")(x)
    logits = embedding(x, reverse=True)  # (batch, seq, dim) x (dim, vocab) through the same table
    return keras.Model(tokens, logits, name="mobilellm_tiny")


def sample_data(n: int) -> list[np.ndarray]:
    return [text_windows(VOCAB, SEQ, n, seed=0)[:, :-1]]


def train(model: Any, steps: int = 60) -> dict[str, float]:
    """Next-token prediction on the help-topics text."""
    import keras

    w = text_windows(VOCAB, SEQ, 32 * steps, seed=1)
    model.compile(optimizer=keras.optimizers.Adam(2e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    hist = model.fit(w[:, :-1], w[:, 1:], batch_size=32, epochs=1, verbose=0)
    return {"loss": float(hist.history["loss"][-1])}


REFERENCE = ReferenceModel(
    name="mobilellm_tiny",
    description="MobileLLM-style causal LM: tied embedding, GQA, SwiGLU, 3 blocks each repeated twice",
    families=("cross-layer sharing", "layer folding", "shared attention", "weight tying"),
    build=build,
    sample_data=sample_data,
    train=train,
)
