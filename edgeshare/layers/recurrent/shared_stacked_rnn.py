"""A stack of recurrent layers that share one cell's weights across depth."""

from __future__ import annotations

from typing import Any

import keras

from edgeshare.validation import check_choice, check_positive_int

CELLS = ("lstm", "gru")
SHARES = ("all", "above_first")


@keras.saving.register_keras_serializable(package="edgeshare")
class SharedStackedRNN(keras.layers.Layer):
    """`num_layers` stacked LSTM or GRU layers whose weights are shared across depth.

    Every recurrent layer already shares its weights across time steps (temporal sharing). This layer
    also shares them across the layers of a stack (layer-wise sharing): each of the `num_layers`
    `keras.layers.RNN` layers runs the same cell object. With `share="all"` one cell serves every layer,
    so the input width must equal `units`. With `share="above_first"` layer 0 has its own cell, since its
    input width differs, and every layer above it uses one second cell. Layer `i` reads the full output
    sequence of layer `i - 1`.

    Exporting: `unroll=True` writes the time steps out (a fixed sequence length is then needed). Measured
    with TF 2.21 and tf2onnx 1.17, the rolled form converts to TFLite WHILE loops that read the shared
    weights from one buffer, but its int8 conversion crashes the converter and its ONNX Loop is rejected
    by onnxruntime; the unrolled form exports everywhere, with the weights stored once (no per-step
    copies). See BENCHMARKS.md.

    Args:
        units: hidden size of every layer.
        num_layers: number of stacked layers.
        cell: `"lstm"` or `"gru"` (Keras' LSTMCell / GRUCell with their defaults).
        share: `"all"` or `"above_first"`.
        return_sequences: return the last layer's whole sequence instead of its last output.
        unroll: unroll the time loop (see Exporting).
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: a tensor of shape `(batch, timesteps, features)`.
        training: passed to the cells.

    Returns:
        `(batch, units)`, or `(batch, timesteps, units)` with `return_sequences=True`.

    Example:
        >>> rnn = SharedStackedRNN(32, num_layers=4, cell="gru", share="above_first")
        >>> tuple(rnn(keras.ops.ones((2, 8, 8))).shape)
        (2, 32)

    References:
        Graves et al. 2013, "Speech Recognition with Deep Recurrent Neural Networks" (stacked RNNs);
        Dehghani et al. 2019, "Universal Transformers" (the same weights applied at every depth).
    """

    def __init__(
        self,
        units: int,
        num_layers: int,
        cell: str = "lstm",
        share: str = "all",
        return_sequences: bool = False,
        unroll: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_positive_int(units, "units")
        check_positive_int(num_layers, "num_layers")
        check_choice(cell, "cell", CELLS)
        check_choice(share, "share", SHARES)
        self.units = units
        self.num_layers = num_layers
        self.cell = cell
        self.share = share
        self.return_sequences = return_sequences
        self.unroll = unroll

    def _make_cell(self, name: str) -> keras.layers.Layer:
        cls = keras.layers.LSTMCell if self.cell == "lstm" else keras.layers.GRUCell
        return cls(self.units, dtype=self.dtype_policy, name=name)

    def build(self, input_shape: Any) -> None:
        if len(input_shape) != 3:
            raise ValueError(
                f"SharedStackedRNN expects inputs of shape (batch, timesteps, features). "
                f"Received: input_shape={tuple(input_shape)}"
            )
        features = input_shape[-1]
        if self.share == "all" and features != self.units:
            raise ValueError(
                "share='all' runs one cell at every depth, so the input width must equal `units`; "
                "use share='above_first' to give layer 0 its own cell. "
                f"Received: features={features}, units={self.units}"
            )
        self.shared_cell = self._make_cell("shared_cell")
        self.first_cell = self.shared_cell if self.share == "all" else self._make_cell("first_cell")
        self.rnns = []
        shape = tuple(input_shape)
        for i in range(self.num_layers):
            last = i == self.num_layers - 1
            rnn = keras.layers.RNN(
                self.first_cell if i == 0 else self.shared_cell,
                return_sequences=self.return_sequences or not last,
                unroll=self.unroll,
                dtype=self.dtype_policy,
                name=f"rnn_{i}",
            )
            rnn.build(shape)
            shape = (shape[0], shape[1], self.units)
            self.rnns.append(rnn)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        x = inputs
        for rnn in self.rnns:
            x = rnn(x, training=training)
        return x

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        if self.return_sequences:
            return (input_shape[0], input_shape[1], self.units)
        return (input_shape[0], self.units)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "num_layers": self.num_layers,
            "cell": self.cell,
            "share": self.share,
            "return_sequences": self.return_sequences,
            "unroll": self.unroll,
        }
