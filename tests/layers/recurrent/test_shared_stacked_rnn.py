import keras
import numpy as np
import pytest

from edgeshare.layers import SharedStackedRNN
from tests.layer_checks import run_layer_test

U, STEPS = 6, 5


def _x(features):
    return np.random.default_rng(0).standard_normal((3, STEPS, features)).astype("float32")


def _cell_params(cell, features):
    # Keras' LSTMCell: kernel, recurrent kernel, bias for 4 gates. GRUCell (reset_after): 3 gates, 2 biases.
    return 4 * U * (features + U + 1) if cell == "lstm" else 3 * U * (features + U + 2)


def _unshared_reference(layer, x):
    """The unshared equivalent: a plain stack of keras LSTM/GRU layers, each given the weights of the
    cell that layer runs."""
    cls = keras.layers.LSTM if layer.cell == "lstm" else keras.layers.GRU
    h = x
    for i, rnn in enumerate(layer.rnns):
        last = i == layer.num_layers - 1
        plain = cls(U, return_sequences=layer.return_sequences or not last)
        plain.build(h.shape)
        plain.set_weights([w.numpy() for w in rnn.cell.weights])
        h = np.asarray(plain(h))
    return h


@pytest.mark.parametrize(
    ("cell", "share", "features", "layers", "sequences"),
    [("lstm", "all", U, 3, False), ("gru", "above_first", 4, 3, True), ("lstm", "above_first", 4, 2, False)],
)
def test_shared_stacked_rnn_shared_checks(tmp_path, cell, share, features, layers, sequences):
    x = _x(features)
    cells = 1 if share == "all" else 2
    params = _cell_params(cell, U) if share == "all" else _cell_params(cell, features) + _cell_params(cell, U)

    def check(layer):
        assert all(rnn.cell is layer.shared_cell for rnn in layer.rnns[1:])
        assert (layer.rnns[0].cell is layer.shared_cell) == (share == "all")

    layer = run_layer_test(
        lambda dtype=None: SharedStackedRNN(
            U, layers, cell=cell, share=share, return_sequences=sequences, dtype=dtype, name="rnn"
        ),
        x,
        expected_num_trainable_weights=3 * cells,  # kernel, recurrent kernel and bias per distinct cell
        # Not "bfloat16": Keras' LSTM and GRU cells cannot hold bfloat16 variables on TensorFlow's CPU (their
        # orthogonal initializer runs a QR decomposition, which has no bfloat16 kernel).
        precision_policies=("mixed_float16", "mixed_bfloat16"),
        expected_params=params,  # independent of num_layers
        check_sharing=check,
        tmp_path=tmp_path,
        atol=1e-5,
    )
    np.testing.assert_allclose(np.asarray(layer(x)), _unshared_reference(layer, x), atol=1e-5)


def test_unrolled_equals_rolled():
    x = _x(U)
    rolled = SharedStackedRNN(U, 3, cell="gru")
    unrolled = SharedStackedRNN(U, 3, cell="gru", unroll=True)
    rolled(x)
    unrolled(x)
    unrolled.set_weights(rolled.get_weights())
    np.testing.assert_allclose(np.asarray(unrolled(x)), np.asarray(rolled(x)), atol=1e-5)


def test_shared_stacked_rnn_errors():
    with pytest.raises(ValueError, match=r"`cell` must be one of lstm, gru. Received: cell='rnn'"):
        SharedStackedRNN(U, 2, cell="rnn")
    with pytest.raises(ValueError, match=r"`share` must be one of all, above_first. Received: share='none'"):
        SharedStackedRNN(U, 2, share="none")
    with pytest.raises(ValueError, match=r"`num_layers` must be a positive integer. Received: num_layers=0"):
        SharedStackedRNN(U, 0)
    with pytest.raises(ValueError, match=r"use share='above_first' to give layer 0 its own cell. "
                                         r"Received: features=4, units=6"):
        SharedStackedRNN(U, 2)(_x(4))
    with pytest.raises(ValueError, match=r"expects inputs of shape \(batch, timesteps, features\). "
                                         r"Received: input_shape=\(3, 6\)"):
        SharedStackedRNN(U, 2)(np.zeros((3, 6), "float32"))
