"""shared_rnn_digits (unrolled GRU stack) plus the recurrent export findings, each pinned by a test."""

import os
import subprocess
import sys

import numpy as np
import pytest

from edgeshare.converters import export_onnx, export_tflite, verify
from edgeshare.converters.formats.source import open_source
from edgeshare.converters.formats.tflite_file import read_tflite
from tests.models.reference_exports import MODES, assert_accepted, export_reference

STEPS, SHARED_LAYERS = 8, 3  # layers 1-3 run the shared cell


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export_reference("shared_rnn_digits", str(tmp_path_factory.mktemp("shared_rnn_digits")))


def test_every_mode_is_accepted(exported):
    assert_accepted(exported["reports"])


@pytest.mark.parametrize("mode", MODES)
def test_shared_cell_is_stored_once_with_no_per_step_copies(exported, mode):
    vr = verify(exported["paths"][mode], model=exported["model"])
    shared = {v.path.split("/")[-1]: v for v in vr.variables if "/shared_cell/" in v.path}
    assert set(shared) == {"kernel", "recurrent_kernel", "bias"}
    for name in ("kernel", "recurrent_kernel"):
        assert len(shared[name].carriers) == 1, (name, shared[name].carriers)
    if mode == "none":
        carrier = shared["recurrent_kernel"].carriers[0]
        row = next(w for w in vr.largest if w.storage == carrier)
        # one buffer read at every unrolled step of every layer that runs the shared cell (step 0 has a
        # zero state, whose recurrent product the converter folds away)
        assert len(row.consumers) == SHARED_LAYERS * (STEPS - 1), row.consumers
        with open_source(exported["paths"][mode]) as src:
            ops = {o.opcode for o in read_tflite(src).subgraphs[0].operators}
        assert "WHILE" not in ops and "UNIDIRECTIONAL_SEQUENCE_LSTM" not in ops


@pytest.fixture(scope="module")
def rolled_lstm():
    import keras

    from edgeshare.models.shared_rnn_digits import build, sample_data

    keras.utils.set_random_seed(0)
    return build(cell="lstm", unroll=False), sample_data(16)


def test_rolled_lstm_has_no_fused_op_and_shares_weights_across_while_bodies(rolled_lstm, tmp_path):
    """Keras 3.15's LSTM carries no `api_implements` tag, so TF 2.21 emits WHILE loops, never the fused
    UNIDIRECTIONAL_SEQUENCE_LSTM; the loop bodies of the layers that share the cell read one buffer."""
    model, data = rolled_lstm
    path = str(tmp_path / "rolled.tflite")
    rep = export_tflite(model, path, "none", calibration=data)
    assert rep.numerics.passed and rep.duplicate_bytes == 0
    with open_source(path) as src:
        tfl = read_tflite(src)
        opcodes = {o.opcode for sg in tfl.subgraphs for o in sg.operators}
    assert "WHILE" in opcodes and "UNIDIRECTIONAL_SEQUENCE_LSTM" not in opcodes
    vr = verify(path, model=model)
    recurrent = next(v for v in vr.variables if v.path.endswith("shared_cell/recurrent_kernel"))
    assert len(recurrent.carriers) == 1
    row = next(w for w in vr.largest if w.storage == recurrent.carriers[0])
    bodies = {c.split("#")[1].split(".")[0] for c in row.consumers}
    assert len(bodies) == SHARED_LAYERS  # one WHILE body per layer, one buffer for all


def test_tf_int8_converter_crashes_on_a_rolled_rnn(tmp_path):
    """Why export refuses it: TF 2.21's int8 converter kills the process (SIGSEGV) on a rolled Keras 3
    RNN. Characterization of the upstream bug: if this starts passing conversion, lift the refusal in
    converters/export/to_tflite.py (check_int8_convertible)."""
    code = (
        "import edgeshare.converters.export as ex\n"
        "import edgeshare.converters.export.to_tflite as to_tflite\n"
        "from edgeshare.models.shared_rnn_digits import build, sample_data\n"
        "to_tflite.check_int8_convertible = lambda model: None  # what export would do without the refusal\n"
        f"ex.export_tflite(build(cell='gru', unroll=False), {str(tmp_path / 'r.tflite')!r}, 'int8', "
        "calibration=sample_data(8))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=600)
    assert proc.returncode < 0, proc.returncode  # killed by a signal: -11 (SIGSEGV) with TF 2.21


def test_rolled_rnn_int8_export_is_refused_with_one_line(tmp_path, capsys):
    from edgeshare.cli import main
    from edgeshare.models.shared_rnn_digits import build

    path = str(tmp_path / "rolled.keras")
    build(cell="gru", unroll=False).save(path)
    assert main(["export", path, "--quantize", "int8", "-o", str(tmp_path / "r.tflite")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "rolled RNN crashes TensorFlow 2.21's converter; build the RNN with unroll=True" in err


@pytest.mark.xfail(strict=True, reason="tf2onnx 1.17 turns the TFLite WHILE of a rolled Keras 3 RNN into an ONNX "
                                       "Loop that onnxruntime rejects (Gather on a rank-0 tensor list)")
def test_rolled_rnn_onnx_loads_in_onnxruntime(rolled_lstm, tmp_path):
    model, data = rolled_lstm
    rep = export_onnx(model, str(tmp_path / "rolled.onnx"), calibration=data)
    assert rep.numerics.passed


@pytest.mark.xfail(strict=True, reason="int8 TFLite requantizes the fused LSTM gate bias (int32, at input scale x "
                                       "weight scale) for each layer that runs the shared cell: stored 2-3 times")
def test_unrolled_lstm_int8_stores_each_bias_once(tmp_path):
    import keras

    from edgeshare.models.shared_rnn_digits import build, sample_data

    keras.utils.set_random_seed(0)
    model = build(cell="lstm", unroll=True)
    rep = export_tflite(model, str(tmp_path / "lstm_int8.tflite"), "int8", calibration=sample_data(32))
    assert rep.numerics.passed  # the file is correct; it is only larger than it needs to be
    assert rep.duplicate_bytes == 0, [(g.kind, [t.shape for t in g.tensors]) for g in rep.groups]


def test_the_model_shares_one_cell_above_the_first_layer(exported):
    rnn = exported["model"].get_layer("rnn")
    assert rnn.shared_cell is not rnn.first_cell
    assert [r.cell is rnn.shared_cell for r in rnn.rnns] == [False, True, True, True]
    cell = sum(int(np.prod(w.shape)) for w in rnn.shared_cell.weights)
    first = sum(int(np.prod(w.shape)) for w in rnn.first_cell.weights)
    assert exported["reports"]["none"].unique_params == first + cell + (64 * 10 + 10)
