"""The text techniques: matched byte-level causal language models (vocabulary 256).

Every model: a byte embedding of width `dim`, a learned position embedding, a causal pre-norm Transformer
of depth `depth` (`heads` heads of `dim // heads`, a GELU feed-forward of `ffn`), a final layer norm and
an output layer over the 256 bytes. Only what is shared changes:

| technique | embedding / output | stack | unique blocks |
|---|---|---|---|
| `untied` | `Embedding` + its own `Dense(256)` | `depth` unshared blocks | depth |
| `tied` | `ReversibleEmbedding(tie_weights=True)` (Press & Wolf 2017) | `depth` unshared blocks | depth |
| `factorized` | `FactorizedEmbedding(256, factor_dim, dim)`, tied (ALBERT) | `depth` unshared blocks | depth |
| `half_depth` | tied | `unique` unshared blocks, depth `unique` | unique |
| `all` | tied | one block at every depth (ALBERT) | 1 |
| `sequence` | tied | [0, 0, 1, 1] (depth 4, 2 unique): MobileLLM's adjacent repeat is the same assignment | unique |
| `cycle` | tied | [0, 1, 0, 1] (Takase & Kiyono 2021) | unique |
| `cycle_rev` | tied | [0, 1, 1, 0] (Takase & Kiyono 2021) | unique |
| `universal` | tied | `UniversalTransformer(depth)`: one block + position/timestep signals, no ACT | 1 |
| `shared_attention` | tied | one attention for every depth, own FFNs and norms (ALBERT ablation) | - |
| `shared_ffn` | tied | one FFN for every depth, own attentions and norms (ALBERT ablation) | - |
| `repeat_loop` | tied | `Repeat(TransformerBlock, depth, mode="loop")`: `all` as a TFLite WHILE loop | 1 |

Every table starts from N(0, 1). Every technique after `untied` ties the embedding, so each is compared
with `tied`; `half_depth` is the equal-unique-parameter reference of `sequence` (MobileLLM compares a
repeated model with the model of the same unique blocks run once).
"""

from __future__ import annotations

from typing import Any

from edgeshare.study.config import TextSize

VOCAB = 256
STACKS = {  # technique -> (num_layers, num_unique, strategy, share) as functions of the size
    "tied": lambda s: (s.depth, s.depth, "sequence", "block"),
    "untied": lambda s: (s.depth, s.depth, "sequence", "block"),
    "factorized": lambda s: (s.depth, s.depth, "sequence", "block"),
    "half_depth": lambda s: (s.unique, s.unique, "sequence", "block"),
    "all": lambda s: (s.depth, 1, "all", "block"),
    "sequence": lambda s: (s.depth, s.unique, "sequence", "block"),
    "cycle": lambda s: (s.depth, s.unique, "cycle", "block"),
    "cycle_rev": lambda s: (s.depth, s.unique, "cycle_rev", "block"),
    "shared_attention": lambda s: (s.depth, 1, "all", "attention"),
    "shared_ffn": lambda s: (s.depth, 1, "all", "ffn"),
}


def stack_for(technique: str, size: TextSize, name: str = "stack") -> Any:
    """The technique's Transformer (a SharedTransformerStack, UniversalTransformer or Repeat)."""
    from edgeshare.layers import Repeat, SharedTransformerStack, TransformerBlock, UniversalTransformer

    key_dim = size.dim // size.heads
    if technique == "universal":
        return UniversalTransformer(size.depth, size.heads, key_dim, size.ffn, act=False, causal=True, name=name)
    if technique == "repeat_loop":
        block = TransformerBlock(num_heads=size.heads, key_dim=key_dim, ffn_dim=size.ffn, causal=True, name="block")
        return Repeat(block, size.depth, mode="loop", name=name)
    if technique not in STACKS:
        raise ValueError(f"not a text technique. Received: technique={technique!r}")
    layers, unique, strategy, share = STACKS[technique](size)
    return SharedTransformerStack(layers, unique, strategy, share=share, num_heads=size.heads, key_dim=key_dim,
                                  ffn_dim=size.ffn, causal=True, name=name)


def build(technique: str, size: TextSize, stack: Any = None) -> Any:
    """The technique's language model: (batch, seq_len) byte ids -> (batch, seq_len, 256) logits.

    `stack` replaces the Transformer (the remedy passes one with training-time noise between uses)."""
    import keras

    from edgeshare.layers import FactorizedEmbedding, PositionEmbedding

    tokens = keras.Input((size.seq_len,), dtype="int32", name="tokens")
    # N(0, 1) tables: with Keras' default uniform(-0.05, 0.05) the byte signal is small beside the position
    # signals, and in 200 steps a tied model often learned no more than byte frequencies (4.36 bpb for
    # `cycle` seed 1 at the full size; 3.44 with N(0, 1)).
    init = keras.initializers.RandomNormal(stddev=1.0)
    if technique == "untied":
        embedding: Any = keras.layers.Embedding(VOCAB, size.dim, embeddings_initializer=init, name="embedding")
    elif technique == "factorized":
        embedding = FactorizedEmbedding(VOCAB, size.factor_dim, size.dim, tie_weights=True,
                                        embeddings_initializer=init, name="embedding")
    else:
        embedding = keras.layers.ReversibleEmbedding(VOCAB, size.dim, tie_weights=True, embeddings_initializer=init,
                                                     name="embedding")
    x = embedding(tokens)
    if technique != "universal":  # the Universal Transformer adds its own position and timestep signals
        x = keras.layers.Add(name="add_positions")([x, PositionEmbedding(size.seq_len, name="positions")(x)])
    x = (stack if stack is not None else stack_for(technique, size))(x)
    x = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")(x)
    if technique == "untied":
        logits = keras.layers.Dense(VOCAB, name="output")(x)
    else:
        logits = embedding(x, reverse=True)  # (batch, seq, dim) -> (batch, seq, 256) through the table
    return keras.Model(tokens, logits, name=f"text_{technique}")
