"""The image techniques: matched digits classifiers that differ only in how their layers share weights.

Every CNN has the same skeleton: a 3x3 stem conv to `channels`, `body_layers` residual 3x3 layers
(x + relu(layer(x))) at `channels` wide, global average pooling and a Dense(10) head. Only the body layer
changes:

- `cnn`: `Conv2D`; nothing shared (the baseline).
- `bank_hard`: `BankConv2D(mixing="hard")` over a 2-template `FilterBank`; layers use templates
  0, 1, 0, 1, ...: each template is the kernel of half the layers.
- `bank_soft`: `BankConv2D(mixing="soft")` over a 3-template `FilterBank`; every layer mixes the same 3
  templates with its own coefficients (Savarese & Maire 2019); exported with `bank_export="runtime"` so
  that the bank is stored once.
- `grouped`: `Conv2D(groups=4)`; each filter sees 1/4 of the channels.
- `grouped_shuffle`: `Conv2D(groups=4)` then `ChannelShuffle(4)`; as grouped, with the channels shuffled
  across groups (the same parameters).
- `shuffle_unit`: `ShuffleUnit(groups=4)`, a ShuffleNet unit (grouped 1x1, shuffle, depthwise 3x3,
  grouped 1x1, its own residual).
- `cp` / `tucker`: `CPConv2D(rank)` with one `CPFactors` / `TuckerConv2D(ranks)` with one
  `TuckerFactors`; the channel factors are shared by all body layers.

The recurrent pair reads each image as 8 rows of 8 pixels: `rnn` is `rnn_layers` stacked GRUs,
`rnn_shared` a `SharedStackedRNN(share="above_first")` whose layers above the first run one cell; both
unrolled so that they export in every mode. `multitask` is one CNN encoder (the `cnn` trunk) with three
heads (the digit, its parity, digit > 4); `separate_tasks` is three `cnn` models, one per task.
"""

from __future__ import annotations

from typing import Any

from edgeshare.study.config import DigitsSize

TASKS = ("digit", "parity", "above4")
CLASSES = {"digit": 10, "parity": 2, "above4": 2}
BN_MOMENTUM = 0.9  # short runs on 1437 images: 0.99 leaves the moving statistics behind the weights


def labels(y: Any) -> dict[str, Any]:
    """The three tasks' labels from the digit labels."""
    return {"digit": y, "parity": y % 2, "above4": (y > 4).astype(y.dtype)}


def _split_grouped(i: int, size: DigitsSize) -> Any:
    """Conv2D(groups=g) written as g convolutions on channel slices and a concatenation: the same function
    and parameters, trained about 10x faster by TensorFlow on CPU, whose grouped-conv gradient is slow
    (measured: 12 to 22 s per epoch against 3 s for the plain CNN). `to_native` folds it back."""
    import keras

    per = size.channels // size.groups

    def apply(x: Any) -> Any:
        parts = [keras.layers.Conv2D(per, 3, padding="same", activation="relu", name=f"gconv{i}_{j}")(
            x[..., j * per : (j + 1) * per]) for j in range(size.groups)]  # (b, 8, 8, C/g) each
        return keras.layers.Concatenate(name=f"gconv{i}_concat")(parts)  # (b, 8, 8, C)

    return apply


def _body(technique: str, size: DigitsSize, split_groups: bool = False) -> Any:
    """A function x -> x' applying the technique's body layers (the shared objects live in its closure)."""
    import keras

    from edgeshare.layers import (
        BankConv2D,
        ChannelShuffle,
        CPConv2D,
        CPFactors,
        FilterBank,
        ShuffleUnit,
        TuckerConv2D,
        TuckerFactors,
    )

    c, n = size.channels, size.body_layers
    make: Any
    if technique in ("cnn", "multitask", "separate_tasks"):
        def make(i: int) -> Any:
            return keras.layers.Conv2D(c, 3, padding="same", activation="relu", name=f"conv{i}")
    elif technique == "bank_hard":
        hard = FilterBank(2, 3, c, name="hard_bank")

        def make(i: int) -> Any:
            return BankConv2D(hard, mixing="hard", template=i % 2, activation="relu", name=f"hard{i}")
    elif technique == "bank_soft":
        soft = FilterBank(3, 3, c, name="soft_bank")

        def make(i: int) -> Any:
            return BankConv2D(soft, mixing="soft", activation="relu", name=f"soft{i}")
    elif technique in ("grouped", "grouped_shuffle") and split_groups:
        def make(i: int) -> Any:
            conv = _split_grouped(i, size)
            if technique == "grouped":
                return conv
            shuffle = ChannelShuffle(size.groups, name=f"shuffle{i}")
            return lambda x: shuffle(conv(x))
    elif technique == "grouped":
        def make(i: int) -> Any:
            return keras.layers.Conv2D(c, 3, padding="same", groups=size.groups, activation="relu", name=f"gconv{i}")
    elif technique == "grouped_shuffle":
        def make(i: int) -> Any:
            return keras.Sequential([
                keras.layers.Conv2D(c, 3, padding="same", groups=size.groups, activation="relu", name=f"gconv{i}"),
                ChannelShuffle(size.groups, name=f"shuffle{i}"),
            ], name=f"gshuffle{i}")
    elif technique == "shuffle_unit":
        units = [ShuffleUnit(c, groups=size.groups, bn_momentum=BN_MOMENTUM, name=f"unit{i}") for i in range(n)]

        def body(x: Any) -> Any:
            for u in units:
                x = u(x)  # the unit has its own residual
            return x

        return body
    elif technique == "cp":
        cp = CPFactors(c, c, size.cp_rank, name="cp_factors")

        def make(i: int) -> Any:
            return CPConv2D(c, 3, size.cp_rank, factors=cp, activation="relu", name=f"cp{i}")
    elif technique == "tucker":
        tucker = TuckerFactors(c, c, size.tucker_ranks, name="tucker_factors")

        def make(i: int) -> Any:
            return TuckerConv2D(c, 3, size.tucker_ranks, factors=tucker, activation="relu", name=f"tucker{i}")
    else:
        raise ValueError(f"not a CNN technique. Received: technique={technique!r}")
    layers = [make(i) for i in range(n)]

    def residual(x: Any) -> Any:
        for i, layer in enumerate(layers):
            x = keras.layers.Add(name=f"residual{i}")([x, layer(x)])
        return x

    return residual


def _trunk(technique: str, size: DigitsSize, image: Any, split_groups: bool = False) -> Any:
    """Stem, body and pooling: (batch, 8, 8, 1) -> (batch, channels)."""
    import keras

    x = keras.layers.Conv2D(size.channels, 3, padding="same", activation="relu", name="stem")(image)
    x = _body(technique, size, split_groups)(x)
    return keras.layers.GlobalAveragePooling2D(name="pool")(x)


def _rnn(technique: str, size: DigitsSize, image: Any) -> Any:
    import keras

    from edgeshare.layers import SharedStackedRNN

    rows = keras.layers.Reshape((8, 8), name="rows")(image)  # (batch, 8 steps, 8 features)
    if technique == "rnn_shared":
        return SharedStackedRNN(size.rnn_units, size.rnn_layers, cell="gru", share="above_first", unroll=True,
                                name="rnn")(rows)
    x = rows
    for i in range(size.rnn_layers):
        x = keras.layers.GRU(size.rnn_units, return_sequences=i < size.rnn_layers - 1, unroll=True,
                             name=f"gru{i}")(x)
    return x


def build(technique: str, size: DigitsSize, split_groups: bool = False) -> dict[str, Any]:
    """The technique's model(s): {"digit": model}, one model per task for `separate_tasks`, or
    {"tasks": model} (dict outputs by task) for `multitask`. With `split_groups`, grouped convolutions are
    built as slices, convolutions and a concatenation for training (see `to_native`)."""
    import keras

    from edgeshare.layers import MultiTaskModel

    def image() -> Any:
        return keras.Input((8, 8, 1), name="image")

    if technique == "separate_tasks":
        out = {}
        for task in TASKS:
            x = image()
            logits = keras.layers.Dense(CLASSES[task], name=task)(_trunk("cnn", size, x))
            out[task] = keras.Model(x, logits, name=f"digits_{task}_only")
        return out
    if technique == "multitask":
        enc_in = image()
        encoder = keras.Model(enc_in, _trunk("cnn", size, enc_in), name="encoder")
        heads = {t: keras.layers.Dense(CLASSES[t], name=t) for t in TASKS}
        x = image()
        return {"tasks": keras.Model(x, MultiTaskModel(encoder, heads, name="tasks")(x), name="digits_multitask")}
    x = image()
    features = (_rnn(technique, size, x) if technique in ("rnn", "rnn_shared")
                else _trunk(technique, size, x, split_groups))
    return {"digit": keras.Model(x, keras.layers.Dense(10, name="classifier")(features), name=f"digits_{technique}")}


def to_native(models: dict[str, Any], technique: str, size: DigitsSize) -> dict[str, Any]:
    """The models with native `Conv2D(groups=g)` layers and the weights of their split-trained twins: the
    kernel of group j is output channels [j C/g, (j + 1) C/g), so the native (3, 3, C/g, C) kernel is the
    groups' (3, 3, C/g, C/g) kernels concatenated on the last axis. Other techniques pass through."""
    if technique not in ("grouped", "grouped_shuffle"):
        return models
    import numpy as np

    native = build(technique, size)
    for key, model in native.items():
        split = models[key]
        for layer in model._flatten_layers(include_self=False):
            if not layer.weights or isinstance(layer, type(model)) or layer.name.startswith("gshuffle"):
                continue
            if layer.name.startswith("gconv"):
                parts = [split.get_layer(f"{layer.name}_{j}").get_weights() for j in range(size.groups)]
                layer.set_weights([np.concatenate([p[0] for p in parts], axis=-1),
                                   np.concatenate([p[1] for p in parts], axis=-1)])
            else:
                layer.set_weights(split.get_layer(layer.name).get_weights())
    return native


def export_options(technique: str) -> dict[str, Any]:
    """Options for edgeshare's export_tflite: the soft bank is stored once (`bank_export="runtime"`)."""
    return {"bank_export": "runtime"} if technique == "bank_soft" else {}
