"""multilingual_lm_tiny: a causal LM over two languages that share one vocabulary and one tied table.

The two "languages" ship with Python, so nothing is downloaded: English prose (the `pydoc_data` help
topics) and Python source code (a fixed set of standard-library modules). Both are tokenized into one
joint vocabulary. `MultilingualEmbedding` (XLM, Lample & Conneau 2019) gives every language the same
token table plus a learned language vector, selected by the `language` input, and the output logits go
through the same shared table. Two causal Transformer blocks sit between.
"""

from __future__ import annotations

import importlib.util
import re
from collections import Counter
from functools import lru_cache
from typing import Any

import numpy as np

from edgeshare.models import ReferenceModel
from edgeshare.models._data import _words

VOCAB = 2000
DIM = 64
SEQ = 32
LAYERS = 2
HEADS = 2
FFN = 128
LANGUAGES = ("english", "python")
PYTHON_MODULES = ("argparse", "textwrap", "difflib", "string", "fractions", "heapq", "calendar", "csv", "shlex")


@lru_cache(maxsize=1)
def corpora() -> tuple[np.ndarray, ...]:
    """Token ids per language over the joint vocabulary: the VOCAB-1 most common words, 0 for the rest."""
    english = _words()
    python: list[str] = []
    for name in PYTHON_MODULES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        with open(spec.origin, encoding="utf-8") as fh:
            python += re.findall(r"[a-z]+|[0-9]+|[^\sa-z0-9]", fh.read().lower())
    common = [w for w, _ in (Counter(english) + Counter(python)).most_common(VOCAB - 1)]
    index = {w: i + 1 for i, w in enumerate(common)}
    return tuple(np.array([index.get(w, 0) for w in words], dtype=np.int32) for words in (english, python))


def windows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n windows of SEQ + 1 tokens, alternating languages, and their language ids."""
    rng = np.random.default_rng(seed)
    texts = corpora()
    languages = (np.arange(n) % len(texts)).astype(np.int32)
    out = np.empty((n, SEQ + 1), dtype=np.int32)
    for i, lang in enumerate(languages):
        start = rng.integers(0, len(texts[lang]) - SEQ - 1)
        out[i] = texts[lang][start : start + SEQ + 1]
    return out, languages


def build(seq_len: int = SEQ) -> Any:
    import keras

    from edgeshare.layers import MultilingualEmbedding, PositionEmbedding, TransformerBlock

    tokens = keras.Input((seq_len,), dtype="int32", name="tokens")
    language = keras.Input((), dtype="int32", name="language")
    embedding = MultilingualEmbedding(VOCAB, DIM, len(LANGUAGES), name="embedding")
    x = embedding([tokens, language])  # the shared table plus the language's vector
    x = keras.layers.Add(name="add_positions")([x, PositionEmbedding(seq_len, name="positions")(x)])
    for i in range(LAYERS):
        x = TransformerBlock(HEADS, DIM // HEADS, FFN, causal=True, name=f"block_{i}")(x)
    x = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")(x)
    logits = embedding(x, reverse=True)  # (batch, seq, dim) x (dim, vocab) through the shared table
    return keras.Model([tokens, language], logits, name="multilingual_lm_tiny")


def sample_data(n: int) -> list[np.ndarray]:
    w, languages = windows(n, seed=0)
    return [w[:, :-1], languages]


def train(model: Any, steps: int = 60) -> dict[str, float]:
    """Next-token prediction on both languages, alternating within each batch."""
    import keras

    w, languages = windows(32 * steps, seed=1)
    model.compile(optimizer=keras.optimizers.Adam(2e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    hist = model.fit([w[:, :-1], languages], w[:, 1:], batch_size=32, epochs=1, verbose=0)
    return {"loss": float(hist.history["loss"][-1])}


REFERENCE = ReferenceModel(
    name="multilingual_lm_tiny",
    description="causal LM over English and Python: one shared tied table plus a vector per language",
    families=("weight tying",),
    build=build,
    sample_data=sample_data,
    train=train,
)
