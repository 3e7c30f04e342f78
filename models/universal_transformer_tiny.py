"""universal_transformer_tiny: a causal LM whose depth is one block applied recurrently, with ACT.

`UniversalTransformer` (Dehghani et al. 2018) applies one Transformer block for up to 4 steps, adding a
position and a timestep signal before each; adaptive computation time (Graves 2016) halts each position
on its own, with the 4 steps as the fixed maximum so that the graph is static and exports. The input and
output embeddings are tied (`keras.layers.ReversibleEmbedding`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeshare.models import ReferenceModel
from edgeshare.models._data import text_windows

VOCAB = 2000
DIM = 64
SEQ = 32
STEPS = 4
HEADS = 2
FFN = 128


def build(seq_len: int = SEQ) -> Any:
    import keras

    from edgeshare.layers import UniversalTransformer

    tokens = keras.Input((seq_len,), dtype="int32", name="tokens")
    embedding = keras.layers.ReversibleEmbedding(VOCAB, DIM, tie_weights=True, name="embedding")
    x = embedding(tokens)
    x = UniversalTransformer(
        STEPS, HEADS, DIM // HEADS, FFN, act=True, causal=True, name="universal_transformer"
    )(x)
    x = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")(x)
    logits = embedding(x, reverse=True)  # (batch, seq, dim) x (dim, vocab) through the same table
    return keras.Model(tokens, logits, name="universal_transformer_tiny")


def sample_data(n: int) -> list[np.ndarray]:
    return [text_windows(VOCAB, SEQ, n, seed=0)[:, :-1]]


def train(model: Any, steps: int = 60) -> dict[str, float]:
    """Next-token prediction on the help-topics text (the loss includes ACT's ponder cost)."""
    import keras

    w = text_windows(VOCAB, SEQ, 32 * steps, seed=1)
    model.compile(optimizer=keras.optimizers.Adam(2e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    hist = model.fit(w[:, :-1], w[:, 1:], batch_size=32, epochs=1, verbose=0)
    return {"loss": float(hist.history["loss"][-1])}


REFERENCE = ReferenceModel(
    name="universal_transformer_tiny",
    description="causal LM: one block applied for up to 4 steps with ACT halting, tied embedding",
    families=("transformer layer sharing", "layer folding", "weight tying"),
    build=build,
    sample_data=sample_data,
    train=train,
)
