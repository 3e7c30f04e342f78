"""Decompose a trained digits CNN's convolutions into CP and Tucker-2 layers with shared factors.

A plain CNN (a stem and three 32->32 3x3 convolutions with residual adds) is trained on digits; its
three convolutions are then replaced, jointly, by `cp_conv2d_from_conv2d` or `tucker_conv2d_from_conv2d`
layers that share one set of channel factors. For each rank the script prints the parameters of the
three layers, the recorded reconstruction errors, the test accuracy right after decomposition and after
a short fine-tuning run.

    python -m edgeshare.benchmarks.bench_decomposition [--epochs 15] [--finetune 3] [--finetune-lr 3e-4]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

CHANNELS = 32
LAYERS = 3


def build(convs: list[Any] | None = None) -> Any:
    import keras

    keras.utils.set_random_seed(0)
    image = keras.Input((8, 8, 1), name="image")
    x = keras.layers.Conv2D(CHANNELS, 3, padding="same", activation="relu", name="stem")(image)
    for i in range(LAYERS):
        conv = convs[i] if convs else keras.layers.Conv2D(CHANNELS, 3, padding="same", activation="relu",
                                                          name=f"conv{i}")
        x = keras.layers.Add(name=f"res{i}")([x, conv(x)])
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(image, keras.layers.Dense(10, name="classifier")(x))


def fit(model: Any, epochs: int, lr: float = 2e-3) -> float:
    import keras

    from edgeshare.models._data import digits_split

    xtr, ytr, xte, yte = digits_split()
    model.compile(optimizer=keras.optimizers.Adam(lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    if epochs:
        model.fit(xtr, ytr, batch_size=64, epochs=epochs, verbose=0)
    return float(model.evaluate(xte, yte, verbose=0)[1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--finetune", type=int, default=3)
    ap.add_argument("--finetune-lr", type=float, default=3e-4)
    a = ap.parse_args()

    from edgeshare.accounting import quiet_tensorflow

    quiet_tensorflow()
    from edgeshare.layers.factorized import cp_conv2d_from_conv2d, tucker_conv2d_from_conv2d

    dense = build()
    accuracy = fit(dense, a.epochs)
    convs = [dense.get_layer(f"conv{i}") for i in range(LAYERS)]
    dense_params = sum(c.count_params() for c in convs)
    print(f"bench_decomposition: a digits CNN with {LAYERS} 3x3 {CHANNELS}->{CHANNELS} convolutions "
          f"({dense_params:,} parameters), trained {a.epochs} epochs: test accuracy {accuracy:.3f}")
    print(f"decomposed jointly (one shared set of channel factors), fine-tuned {a.finetune} epochs at "
          f"learning rate {a.finetune_lr}\n")
    print("| layers | rank | parameters of the 3 layers | vs dense | reconstruction error per layer "
          "| accuracy, decomposed | after fine-tuning |")
    print("|---|---|---:|---:|---|---:|---:|")
    plans: tuple[tuple[str, tuple[Any, ...]], ...] = (("CPConv2D", (8, 16, 32)), ("TuckerConv2D", ((8, 8), (16, 16))))
    for kind, ranks in plans:
        for rank in ranks:
            if kind == "CPConv2D":
                layers = cp_conv2d_from_conv2d(convs, rank)
            else:
                layers = tucker_conv2d_from_conv2d(convs, rank)
            model = build(layers)
            for name in ("stem", "classifier"):
                model.get_layer(name).set_weights(dense.get_layer(name).get_weights())
            params = sum(v.numpy().size for v in {id(w): w for layer in layers for w in layer.weights}.values())
            before = fit(model, 0)
            # A small learning rate: CP layers are unstable to fine-tune at the training rate (Lebedev 2015).
            after = fit(model, a.finetune, a.finetune_lr)
            errors = ", ".join(f"{layer.reconstruction_error:.3f}" for layer in layers)
            print(f"| {kind} | {rank} | {params:,} | {params / dense_params:.2f} | {errors} | {before:.3f} "
                  f"| {after:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
