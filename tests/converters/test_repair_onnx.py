"""ONNX repair on hand-built graphs and on files from other exporters (Model.export, tf2onnx,
onnxruntime's quantizer)."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgeshare.converters import verify
from edgeshare.converters.repair import repair
from edgeshare.converters.runtime import OnnxRunner
from tests.converters.test_verify_onnx import E, X
from tests.converters.test_verify_onnx import tied as onnx_tied

IDS = np.array([0, 5, 7])


def _run(path):
    return OnnxRunner(path)(ids=IDS, h=X)


def _write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


@pytest.mark.parametrize(
    "copy, kind, kept, table_bytes",
    [
        ("exact", "exact", "E", E.nbytes),
        ("transposed", "transposed", "E", E.nbytes),  # MatMul(h, E^T) -> Gemm(h, E, transB=1)
        ("int8", "requantized", "E_q", E.size),  # the smallest copy stays; Gather reads its DequantizeLinear
        ("fp16", "requantized", "E", E.nbytes),  # the float copy stays; the fp16 copy and its Cast go
    ],
)
def test_copies_become_one_initializer(tmp_path, copy, kind, kept, table_bytes):
    src = _write(tmp_path, f"{copy}.onnx", onnx_tied(copy))
    out = str(tmp_path / f"{copy}_fixed.onnx")
    rep = repair(src, out)
    assert rep.ok, (rep.skipped, rep.numerics)
    assert [m.kind for m in rep.merged] == [kind]
    m = onnx.load(out)
    assert [t.name for t in m.graph.initializer if int(np.prod(t.dims)) >= 40 * 8] == [kept]
    after = verify(out)
    assert after.ok and max(w.bytes for w in after.largest) == table_bytes
    emb, logits = _run(out)
    tol = 0 if kind != "requantized" else 0.05  # int8 and fp16 readers see the rounded table
    np.testing.assert_allclose(emb, E[IDS], atol=tol)
    np.testing.assert_allclose(logits, X @ E.T, atol=1e-4 if kind != "requantized" else 0.1)


def test_transposed_matmul_on_a_3d_input_becomes_reshape_gemm_reshape(tmp_path):
    inits = [numpy_helper.from_array(E, "E"), numpy_helper.from_array(np.ascontiguousarray(E.T), "E_T")]
    nodes = [helper.make_node("Gather", ["E", "ids"], ["emb"], axis=0),
             helper.make_node("MatMul", ["h3", "E_T"], ["logits"])]
    g = helper.make_graph(nodes, "nd", [helper.make_tensor_value_info("ids", TensorProto.INT64, [3]),
                                        helper.make_tensor_value_info("h3", TensorProto.FLOAT, [1, 3, 8])],
                          [helper.make_tensor_value_info("emb", TensorProto.FLOAT, [3, 8]),
                           helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3, 40])], initializer=inits)
    src = str(tmp_path / "nd.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), src)
    out = str(tmp_path / "nd_fixed.onnx")
    rep = repair(src, out)
    assert rep.ok and rep.numerics.bitwise
    ops = [n.op_type for n in onnx.load(out).graph.node]
    assert ops == ["Gather", "Reshape", "Gemm", "Reshape"]


def test_a_reader_without_a_transposed_form_gets_a_transpose_node(tmp_path):
    """Add(E^T, bias) cannot read E in another layout: an explicit Transpose keeps the file small."""
    inits = [numpy_helper.from_array(E, "E"), numpy_helper.from_array(np.ascontiguousarray(E.T), "E_T")]
    nodes = [helper.make_node("Gather", ["E", "ids"], ["emb"], axis=0),
             helper.make_node("Add", ["E_T", "b"], ["shifted"])]
    g = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("ids", TensorProto.INT64, [3]),
                                       helper.make_tensor_value_info("b", TensorProto.FLOAT, [8, 40])],
                          [helper.make_tensor_value_info("emb", TensorProto.FLOAT, [3, 8]),
                           helper.make_tensor_value_info("shifted", TensorProto.FLOAT, [8, 40])], initializer=inits)
    src = str(tmp_path / "t.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), src)
    out = str(tmp_path / "t_fixed.onnx")
    rep = repair(src, out)
    assert rep.ok
    assert any("Transpose" in n for n in rep.merged[0].rewrites)
    _, shifted = OnnxRunner(out)(ids=IDS, b=np.ones((8, 40), np.float32))
    np.testing.assert_allclose(shifted, E.T + 1, atol=0)


def test_external_data_is_streamed_into_the_output(tmp_path):
    model = onnx.load_model_from_string(onnx_tied("transposed"))
    src = str(tmp_path / "ext.onnx")
    onnx.save(model, src, save_as_external_data=True, location="ext.onnx.data", size_threshold=64)
    out = str(tmp_path / "fixed" / "out.onnx")
    (tmp_path / "fixed").mkdir()
    rep = repair(src, out)
    assert rep.ok
    data = tmp_path / "fixed" / "out.onnx.data"
    assert data.exists() and E.nbytes <= data.stat().st_size < 2 * E.nbytes
    assert verify(out).weight_bytes == E.nbytes


@pytest.fixture(scope="module")
def stock_tied_onnx(tmp_path_factory, stock_tied):
    """The Model.export ONNX file and onnxruntime's dynamic quantization of the repaired one."""
    return stock_tied["onnx"]


def test_model_export_onnx_is_repaired_bitwise(stock_tied_onnx, tmp_path):
    out = str(tmp_path / "fixed.onnx")
    rep = repair(stock_tied_onnx, out)
    assert rep.ok and rep.numerics.bitwise
    assert rep.weight_bytes_after == rep.weight_bytes_before - rep.duplicate_bytes_before
    assert verify(out).ok


def test_onnxruntime_dynamic_quantization_becomes_qgemm(stock_tied_onnx, tmp_path):
    """quantize_dynamic writes the tied table twice: uint8 for Gather and a transposed int8 copy for
    MatMulInteger. The repair keeps one and reads it with QGemm(transB=1)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from edgeshare._quiet import quiet_fds

    f32 = str(tmp_path / "f32.onnx")
    repair(stock_tied_onnx, f32)
    q = str(tmp_path / "q.onnx")
    with quiet_fds():
        quantize_dynamic(f32, q, weight_type=QuantType.QInt8)
    before = verify(q)
    assert [g.kind for g in before.groups] == ["requantized"]
    assert before.groups[0].tensors[1].perm == [1, 0]
    out = str(tmp_path / "q_fixed.onnx")
    rep = repair(q, out)
    assert rep.ok, (rep.skipped, rep.numerics)
    fixed = onnx.load(out)
    qgemm = [n for n in fixed.graph.node if n.op_type == "QGemm"]
    assert len(qgemm) == 1
    inits = {t.name: t for t in fixed.graph.initializer}
    b = inits[qgemm[0].input[3]]
    # the kept table is the symmetric int8 copy (onnxruntime's fast int8 GEMM path), not the uint8 one
    assert b.data_type == TensorProto.INT8
    assert int(numpy_helper.to_array(inits[qgemm[0].input[5]])) == 0
    assert rep.numerics.cosine_similarity >= 0.999


def test_integer_readers_switch_weight_and_downstream_scale(tmp_path):
    """A shared Conv1D whose two calls differ by an (untrained, nearly identity) BatchNorm folded into
    one of them: onnxruntime's dynamic quantization writes two int8 kernels with their own scales, read by
    ConvInteger with the scale applied after (Cast -> Mul). The repair has both ConvIntegers read one
    kernel and swaps the downstream scale with it."""
    import keras

    from edgeshare.converters import export_onnx

    keras.utils.set_random_seed(0)
    a, b = keras.Input((12, 16), name="seq_a"), keras.Input((12, 16), name="seq_b")
    conv = keras.layers.Conv1D(16, 3, padding="same", name="shared_conv1d")
    left = keras.layers.BatchNormalization(name="bn")(conv(a))
    pool = keras.layers.GlobalAveragePooling1D
    model = keras.Model([a, b], [pool()(left), pool()(conv(b))])
    rng = np.random.default_rng(0)
    data = {"seq_a": rng.standard_normal((16, 12, 16)).astype("float32"),
            "seq_b": rng.standard_normal((16, 12, 16)).astype("float32")}
    raw = export_onnx(model, str(tmp_path / "raw.onnx"), "dynamic", calibration=data, repair=False)
    assert [g.kind for g in raw.groups] == ["requantized"]
    rep = export_onnx(model, str(tmp_path / "fixed.onnx"), "dynamic", calibration=data)
    assert rep.duplicate_bytes == 0 and rep.numerics.passed
    notes = [n for m in rep.repair["merged"] for n in m["rewrites"]]
    assert any("ConvInteger: reads" in n and "downstream scale" in n for n in notes), notes
    kernels = [n.input[1] for n in onnx.load(str(tmp_path / "fixed.onnx")).graph.node if n.op_type == "ConvInteger"]
    assert len(kernels) == 2 and len(set(kernels)) == 1
