"""Small keras-hub models built from config with seeded random weights (presets need the network).

Each builder returns a functional model with static inputs (`SEQ` tokens, batch free): keras-hub
backbones declare `(None,)` sequence inputs, and export needs static shapes, so the keras-hub task or
backbone is called on fixed-length `keras.Input`s under the same dict keys, in the backbone's own key
order (`token_ids` before `padding_mask`: not sorted).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

VOCAB = 512
SEQ = 16


def _keras_hub() -> Any:
    from edgeshare.accounting import quiet_tensorflow

    quiet_tensorflow()
    import keras_hub

    return keras_hub


def static_model(hub_model: Any, name: str, seq: int = SEQ) -> Any:
    """`hub_model` called on fixed-length inputs under its own dict keys, in its own key order."""
    import keras

    inputs = {k: keras.Input((seq,), dtype="int32", name=k) for k in hub_model.input}
    return keras.Model(inputs, hub_model(inputs), name=name)


def gpt2() -> Any:
    """GPT-2 causal LM: the token embedding is tied to the output projection; learned positions."""
    kh = _keras_hub()
    import keras

    keras.utils.set_random_seed(0)
    backbone = kh.models.GPT2Backbone(vocabulary_size=VOCAB, num_layers=2, num_heads=2, hidden_dim=64,
                                      intermediate_dim=128, max_sequence_length=SEQ, dropout=0.0)
    return static_model(kh.models.GPT2CausalLM(backbone=backbone, preprocessor=None), "hub_gpt2")


def gemma() -> Any:
    """Gemma causal LM: tied embedding, scaled by sqrt(hidden_dim) on the way in; RMSNorm, GeGLU, RoPE."""
    kh = _keras_hub()
    import keras

    keras.utils.set_random_seed(0)
    backbone = kh.models.GemmaBackbone(vocabulary_size=VOCAB, num_layers=2, num_query_heads=2,
                                       num_key_value_heads=1, hidden_dim=64, intermediate_dim=128, head_dim=32)
    return static_model(kh.models.GemmaCausalLM(backbone=backbone, preprocessor=None), "hub_gemma")


def llama(tied: bool) -> Any:
    """Llama causal LM with `tie_word_embeddings` on or off (GQA, RoPE, SwiGLU)."""
    kh = _keras_hub()
    import keras

    keras.utils.set_random_seed(0)
    backbone = kh.models.LlamaBackbone(vocabulary_size=VOCAB, num_layers=2, num_query_heads=4,
                                       num_key_value_heads=2, hidden_dim=64, intermediate_dim=128,
                                       tie_word_embeddings=tied)
    if not tied:
        # keras-hub initializes both tables with one initializer object, which draws the same stream for
        # each: the untied output table would be the input table's values reshaped (64 x 512). Fresh
        # values make the untied control really untied.
        emb = backbone.token_embedding
        rng = np.random.default_rng(1)
        std = float(np.std(emb.embeddings.numpy()))
        emb.reverse_embeddings.assign(rng.normal(0.0, std, emb.reverse_embeddings.shape).astype("float32"))
    return static_model(kh.models.LlamaCausalLM(backbone=backbone, preprocessor=None),
                        "hub_llama_tied" if tied else "hub_llama_untied")


def albert() -> Any:
    """ALBERT backbone: 4 layers over 2 shared encoder blocks; a factorized embedding (32 -> 64)."""
    kh = _keras_hub()
    import keras

    keras.utils.set_random_seed(0)
    backbone = kh.models.AlbertBackbone(vocabulary_size=VOCAB, num_layers=4, num_heads=2, embedding_dim=32,
                                        hidden_dim=64, intermediate_dim=128, num_groups=2, num_inner_repetitions=1,
                                        max_sequence_length=SEQ)
    return static_model(backbone, "hub_albert")


def bert() -> Any:
    """BERT backbone: no sharing (the control)."""
    kh = _keras_hub()
    import keras

    keras.utils.set_random_seed(0)
    backbone = kh.models.BertBackbone(vocabulary_size=VOCAB, num_layers=2, num_heads=2, hidden_dim=64,
                                      intermediate_dim=128, max_sequence_length=SEQ, dropout=0.0)
    return static_model(backbone, "hub_bert")


BUILDERS: dict[str, Callable[[], Any]] = {
    "gpt2": gpt2,
    "gemma": gemma,
    "llama_tied": lambda: llama(True),
    "llama_untied": lambda: llama(False),
    "albert": albert,
    "bert": bert,
}


def sample_inputs(model: Any, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Token ids over the vocabulary, all-ones padding masks (with a padded tail on odd samples), segment
    ids 0/1: by the model's input names."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for name in model.input:
        if name == "token_ids":
            out[name] = rng.integers(0, VOCAB, size=(n, SEQ)).astype(np.int32)
        elif name == "padding_mask":
            mask = np.ones((n, SEQ), np.int32)
            mask[1::2, SEQ - 4:] = 0
            out[name] = mask
        elif name == "segment_ids":
            out[name] = (np.arange(SEQ)[None, :] >= SEQ // 2).astype(np.int32).repeat(n, axis=0)
        else:
            raise ValueError(f"unexpected input {name!r}")
    return out


# The variables each model shares, and how many layer calls read each (what `inspect` must count).
TIED = {"token_embedding/embeddings": 2}
SHARED_USES: dict[str, dict[str, int]] = {
    "gpt2": TIED,
    "gemma": TIED,
    "llama_tied": TIED,
    "llama_untied": {},
    "bert": {},
    # 4 layers over 2 groups: each group's encoder block runs twice (every kernel, bias and norm in it).
    "albert": {"group_0_inner_layer_0": 2, "group_1_inner_layer_0": 2},
}

EXPORTS = [("tflite", m) for m in ("none", "fp16", "dynamic", "int8")] + [("onnx", m) for m in ("none", "dynamic")]


def export_one(model: Any, name: str, fmt: str, mode: str, out_dir: str) -> Any:
    """Export `model` (a keras-hub builder's model) calibrated and checked on seeded inputs."""
    from edgeshare.converters import export_onnx, export_tflite

    export = export_tflite if fmt == "tflite" else export_onnx
    cal = sample_inputs(model, 32)
    return export(model, f"{out_dir}/{name}_{mode}.{fmt}", mode, calibration=cal)
