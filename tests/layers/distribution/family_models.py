"""One small model per layer family, and a one-step training run under a distribution strategy.

Run as a script in a fresh process (the backend and the devices must be set before Keras is imported):
`python family_models.py jax|mirrored` prints one JSON line with what every family's step did.

- jax: `keras.distribution.DataParallel` over 2 host devices (XLA_FLAGS=--xla_force_host_platform_device_count=2);
- mirrored: `tf.distribute.MirroredStrategy` over 2 logical CPUs (tf.config.set_logical_device_configuration).
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

BATCH = 8  # 4 samples per replica
FAMILIES = ("embeddings", "recurrent", "transformer", "universal", "repeat", "attention", "conv", "factorized",
            "multitask")


def build(family):
    """(model, x, y, shared): a compiled-later model of the family, its data and the shared variables'
    paths (each must stay one variable)."""
    import keras

    import edgeshare.layers as L

    rng = np.random.default_rng(0)
    if family == "embeddings":
        tokens = keras.Input((6,), dtype="int32")
        lang = keras.Input((), dtype="int32")
        tied = keras.layers.ReversibleEmbedding(50, 16, tie_weights=True, name="tied")
        fact = L.FactorizedEmbedding(50, 8, 16, name="factorized")
        multi = L.MultilingualEmbedding(50, 16, num_languages=2, name="multilingual")
        h = tied(tokens) + fact(tokens) + multi([tokens, lang])
        logits = tied(h, reverse=True) + fact(h, reverse=True) + multi(h, reverse=True)
        model = keras.Model([tokens, lang], logits)
        x = [rng.integers(0, 50, (BATCH * 4, 6)).astype("int32"), rng.integers(0, 2, (BATCH * 4,)).astype("int32")]
        y = rng.integers(0, 50, (BATCH * 4, 6)).astype("int32")
        return model, x, y, "sparse"
    if family == "recurrent":
        inp = keras.Input((5, 8))
        h = L.SharedStackedRNN(8, 3, cell="gru", share="all", name="rnn")(inp)
        model = keras.Model(inp, keras.layers.Dense(3)(h))
    elif family in ("transformer", "universal", "repeat", "attention"):
        inp = keras.Input((6, 16))
        if family == "transformer":
            h = L.SharedTransformerStack(4, 2, "cycle_rev", num_heads=2, key_dim=8, ffn_dim=32, causal=True,
                                         name="stack")(inp)
        elif family == "universal":
            h = L.UniversalTransformer(3, 2, 8, 32, act=True, name="ut")(inp)
        elif family == "repeat":
            ffn = L.FeedForward(32, name="ffn")
            block = L.TransformerBlock(num_heads=2, key_dim=8, feed_forward=ffn, name="block")
            h = L.Repeat(block, 3, name="repeat")(inp)
        else:
            att = L.SharedHeadAttention(num_heads=4, key_dim=4, shared="kv", name="mqa")
            h = att(inp, inp)
        model = keras.Model(inp, keras.layers.Dense(3)(keras.layers.GlobalAveragePooling1D()(h)))
    elif family == "conv":
        inp = keras.Input((8, 8, 8))
        bank = L.FilterBank(2, 3, 8, name="bank")
        h = L.BankConv2D(bank, mixing="soft", activation="relu", name="soft0")(inp)
        h = L.BankConv2D(bank, mixing="hard", template=1, activation="relu", name="hard1")(h)
        h = L.ShuffleUnit(8, groups=2, name="unit")(h)
        h = L.ChannelShuffle(2, name="shuffle")(h)
        model = keras.Model(inp, keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(h)))
    elif family == "factorized":
        inp = keras.Input((8, 8, 8))
        cp = L.CPFactors(8, 8, 4, name="cp_factors")
        tucker = L.TuckerFactors(8, 8, (4, 4), name="tucker_factors")
        h = L.CPConv2D(8, 3, 4, factors=cp, name="cp0")(inp)
        h = L.CPConv2D(8, 3, 4, factors=cp, name="cp1")(h)
        h = L.TuckerConv2D(8, 3, (4, 4), factors=tucker, name="tucker0")(h)
        h = L.TuckerConv2D(8, 3, (4, 4), factors=tucker, name="tucker1")(h)
        v = keras.layers.GlobalAveragePooling2D()(h)
        basis = L.SharedBasis(4, name="basis")
        v = L.SharedBasisDense(8, basis, name="up")(v)
        v = L.SharedBasisDense(8, basis, name="gate")(v)
        model = keras.Model(inp, keras.layers.Dense(3)(v))
    elif family == "multitask":
        inp = keras.Input((8,))
        encoder = keras.Sequential([keras.layers.Dense(16, activation="relu")], name="encoder")
        proj = keras.layers.Dense(8, activation="relu", name="proj")
        heads = {"a": keras.layers.Dense(3, name="a"), "b": keras.layers.Dense(3, name="b")}
        tasks = L.MultiTaskModel(encoder, heads, shared_heads={"a": proj, "b": proj}, name="tasks")
        model = keras.Model(inp, tasks(inp))
        x = rng.standard_normal((BATCH * 4, 8)).astype("float32")
        y = {t: rng.integers(0, 3, (BATCH * 4,)).astype("int32") for t in ("a", "b")}
        return model, x, y, "sparse"
    else:
        raise ValueError(f"unknown family. Received: family={family!r}")
    shape = (BATCH * 4, *model.inputs[0].shape[1:])
    x = rng.standard_normal(shape).astype("float32")
    y = rng.integers(0, 3, (BATCH * 4,)).astype("int32")
    return model, x, y, "sparse"


def train_one_step(family, scope):
    """Build under `scope`, take one optimizer step on one global batch, report what changed."""
    import keras

    keras.utils.set_random_seed(0)
    with scope():
        model, x, y, _ = build(family)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        model.compile(optimizer=keras.optimizers.Adam(1e-2),
                      loss={k: loss for k in y} if isinstance(y, dict) else loss)
    before = [np.array(v.numpy() if hasattr(v, "numpy") else v) for v in model.trainable_weights]

    def take(a):
        return a[:BATCH]

    xb = [take(a) for a in x] if isinstance(x, list) else take(x)
    yb = {k: take(v) for k, v in y.items()} if isinstance(y, dict) else take(y)
    history = model.fit(xb, yb, batch_size=BATCH, epochs=1, verbose=0)
    after = [np.array(v.numpy()) for v in model.trainable_weights]
    changed = sum(int(not np.allclose(a, b)) for a, b in zip(before, after))
    return model, {
        "loss": float(history.history["loss"][0]),
        "trainable": len(model.trainable_weights),
        "unique": len({id(v) for v in model.trainable_weights}),
        "changed": changed,
        "params": int(model.count_params()),
    }


def main(kind):
    if kind == "jax":
        os.environ["KERAS_BACKEND"] = "jax"
        os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
        import jax
        import keras

        devices = jax.devices("cpu")
        dist = keras.distribution.DataParallel(devices=devices)
        keras.distribution.set_distribution(dist)
        import contextlib

        out = {"devices": len(devices), "families": {}}
        for family in FAMILIES:
            model, info = train_one_step(family, contextlib.nullcontext)
            shardings = {len(v.value.sharding.device_set) for v in model.trainable_weights}
            info["variable_devices"] = sorted(shardings)
            out["families"][family] = info
    elif kind == "mirrored":
        os.environ["KERAS_BACKEND"] = "tensorflow"
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        out = {"devices": strategy.num_replicas_in_sync, "families": {}}
        for family in FAMILIES:
            model, info = train_one_step(family, strategy.scope)
            kinds = {type(v.value).__name__ for v in model.trainable_weights}
            info["variable_types"] = sorted(kinds)
            synced = True
            for v in model.trainable_weights:
                replicas = v.value.values
                synced &= all(np.array_equal(replicas[0].numpy(), r.numpy()) for r in replicas[1:])
            info["replicas_equal"] = bool(synced)
            out["families"][family] = info
    else:
        raise ValueError(f"expected jax or mirrored. Received: kind={kind!r}")
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
