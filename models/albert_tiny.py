"""albert_tiny: a tiny ALBERT, a masked-LM encoder with a factorized embedding and one shared layer.

ALBERT's two parameter savings (Lan et al. 2019): a factorized embedding (a V x E table and an E x H
projection, `FactorizedEmbedding`), and all-shared cross-layer parameters
(`SharedTransformerStack(strategy="all")`: one block serves the four depths). As in ALBERT's masked-LM
head, the output maps H back to E with its own projection and then through the tied V x E table
(`tie_projection=False`). Trained for a few steps of masked-token prediction on Python's bundled help text.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeshare.models import ReferenceModel
from edgeshare.models._data import text_windows

VOCAB = 2000  # word ids 0..VOCAB-1 from the help text; id VOCAB is [MASK]
MASK_ID = VOCAB
EMBED = 32  # E
HIDDEN = 64  # H
SEQ = 32
LAYERS = 4
HEADS = 2
FFN = 128
MASK_RATE = 0.15


def build(seq_len: int = SEQ) -> Any:
    import keras

    from edgeshare.layers import FactorizedEmbedding, PositionEmbedding, SharedTransformerStack

    tokens = keras.Input((seq_len,), dtype="int32", name="tokens")
    embedding = FactorizedEmbedding(VOCAB + 1, EMBED, HIDDEN, tie_weights=True, tie_projection=False,
                                    name="embedding")
    x = embedding(tokens)  # (batch, seq) -> (batch, seq, H) through the V x E table and the E x H projection
    x = keras.layers.Add(name="add_positions")([x, PositionEmbedding(seq_len, name="positions")(x)])
    x = SharedTransformerStack(
        LAYERS, 1, "all", num_heads=HEADS, key_dim=HIDDEN // HEADS, ffn_dim=FFN, name="encoder"
    )(x)
    x = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")(x)
    logits = embedding(x, reverse=True)  # (batch, seq, H) -> (batch, seq, E) -> (batch, seq, V + 1), tied table
    return keras.Model(tokens, logits, name="albert_tiny")


def masked_batch(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n windows with MASK_RATE of the tokens replaced by [MASK]: (inputs, targets, weights on masked)."""
    targets = text_windows(VOCAB, SEQ, n, seed=seed)[:, :SEQ]
    masked = np.random.default_rng(seed + 100).random(targets.shape) < MASK_RATE
    inputs = np.where(masked, MASK_ID, targets).astype(np.int32)
    return inputs, targets, masked.astype(np.float32)


def sample_data(n: int) -> list[np.ndarray]:
    return [masked_batch(n, seed=0)[0]]


def train(model: Any, steps: int = 60) -> dict[str, float]:
    """Masked-token prediction on the help-topics text: only the masked positions carry weight.

    Returns Keras' loss (averaged over all positions, so scaled by about MASK_RATE) and the cross-entropy
    per masked token on 256 held-out windows.
    """
    import keras

    inputs, targets, weights = masked_batch(32 * steps, seed=1)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss=loss)
    hist = model.fit(inputs, targets, sample_weight=weights, batch_size=32, epochs=1, verbose=0)
    held_inputs, held_targets, held_weights = masked_batch(256, seed=2)
    per_token = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")
    masked = keras.ops.convert_to_numpy(per_token(held_targets, model(held_inputs, training=False)))
    return {
        "loss": float(hist.history["loss"][-1]),
        "masked_token_loss": float((masked * held_weights).sum() / held_weights.sum()),
    }


REFERENCE = ReferenceModel(
    name="albert_tiny",
    description="ALBERT-style MLM encoder: factorized embedding, table tied to the output, one block for 4 depths",
    families=("factorized sharing", "transformer layer sharing", "weight tying"),
    build=build,
    sample_data=sample_data,
    train=train,
)
