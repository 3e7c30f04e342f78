"""Layer folding: one layer (or block) applied N times, its weights stored once."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from edgeshare.layers._shared_sublayer import check_sublayer, sublayer_config, sublayer_from_config
from edgeshare.validation import check_choice, check_positive_int

MODES = ("unrolled", "loop")


@keras.saving.register_keras_serializable(package="edgeshare")
class Repeat(keras.layers.Layer):
    """Applies `layer` to its own output `num_repeats` times: `layer(layer(...layer(x)))`.

    The depth grows while the parameters stay those of one layer (family 10, layer folding). `mode` decides
    the exported graph; both store the weights once, in TFLite and in ONNX:

    - `"unrolled"` writes the calls out one after the other: a flat graph of the layer's own ops, which
      any delegate that supports those ops can take whole (XNNPACK, GPU, NNAPI...). The graph grows with
      `num_repeats`, the weight bytes do not.
    - `"loop"` writes one call inside `keras.ops.fori_loop`: a TFLite `WHILE` op whose body subgraph holds
      the layer (an ONNX `Loop`). The graph stays the size of one layer. The TFLite GPU delegate has no
      `WHILE` kernel (it is not in its supported-op list), so the loop stays on the CPU interpreter, and a
      model with a loop in the middle is split into GPU and CPU partitions. The host CPU (LiteRT's default
      XNNPACK set-up) runs it. Use `"unrolled"` for the GPU delegate, and check any other accelerator with
      `edgeshare bench` on the device before choosing `"loop"`.

    The layer must map its input shape to itself. It can also be used elsewhere in the model; it stays one
    instance after a `.keras` save and reload.

    Args:
        layer: the Keras layer (or block) to repeat.
        num_repeats: how many times to apply it.
        mode: `"unrolled"` or `"loop"`.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: the input of the first application; any shape the layer maps to itself.
        training: passed on to the layer through the call context.

    Returns:
        The output of the last application, with the shape of `inputs`.

    Example:
        >>> block = TransformerBlock(num_heads=2, key_dim=8, ffn_dim=32)
        >>> tuple(Repeat(block, 4, mode="loop")(keras.ops.ones((2, 10, 16))).shape)
        (2, 10, 16)

    References:
        Dehghani et al. 2018, "Universal Transformers" (one block over depth).
        Liu et al. 2024, "MobileLLM: Optimizing Sub-billion Parameter Language Models for On-Device Use
        Cases" (block-wise repeat).
    """

    def __init__(self, layer: keras.layers.Layer, num_repeats: int, mode: str = "unrolled", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        layer = sublayer_from_config(layer)
        check_sublayer(layer, "layer", allow_none=False)
        check_positive_int(num_repeats, "num_repeats")
        check_choice(mode, "mode", MODES)
        self.layer = layer
        self.num_repeats = num_repeats
        self.mode = mode

    def build(self, input_shape: Any) -> None:
        if not self.layer.built:
            self.layer.build(input_shape)
        output_shape = self.layer.compute_output_shape(input_shape)
        if tuple(output_shape)[1:] != tuple(input_shape)[1:]:
            raise ValueError(
                "`layer` must map its input shape to itself to be repeated. "
                f"Received: input_shape={tuple(input_shape)}, output_shape={tuple(output_shape)}"
            )

    @property
    def traced_repeats(self) -> int:
        """How many applications one traced call stands for (edgeshare.inspect counts uses from a trace,
        which sees a loop body once)."""
        return self.num_repeats if self.mode == "loop" else 1

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if self.mode == "loop":
            # One traced call inside a while loop: TFLite WHILE (ONNX Loop) with the body holding the layer.
            return ops.fori_loop(0, self.num_repeats, lambda _, x: self.layer(x, training=training), inputs)
        x = inputs
        for _ in range(self.num_repeats):
            x = self.layer(x, training=training)
        return x

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "layer": sublayer_config(self.layer),
            "num_repeats": self.num_repeats,
            "mode": self.mode,
        }
