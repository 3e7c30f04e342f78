"""The verifier on hand-built .onnx files: good models against minimally broken ones, each run in
onnxruntime so that every case is a real model."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgeshare.converters import InvalidInputError, verify
from edgeshare.converters.runtime import OnnxRunner

RNG = np.random.default_rng(1)
E = RNG.standard_normal((40, 8)).astype("float32")  # a tied embedding [vocab, dim]
X = RNG.standard_normal((3, 8)).astype("float32")


def tied(copy: str) -> bytes:
    """ids -> Gather(E) and hidden -> logits through E^T. `copy` is how the output side stores E."""
    inits = [numpy_helper.from_array(E, "E")]
    nodes = [helper.make_node("Gather", ["E", "ids"], ["emb"], axis=0)]
    if copy == "shared":  # one initializer, Gemm reads it transposed
        nodes.append(helper.make_node("Gemm", ["h", "E"], ["logits"], transB=1))
    elif copy == "transposed":  # what Model.export writes: a constant-folded transpose for MatMul
        inits.append(numpy_helper.from_array(np.ascontiguousarray(E.T), "E_T"))
        nodes.append(helper.make_node("MatMul", ["h", "E_T"], ["logits"]))
    elif copy == "exact":
        inits.append(numpy_helper.from_array(E.copy(), "E_copy"))
        nodes.append(helper.make_node("Gemm", ["h", "E_copy"], ["logits"], transB=1))
    elif copy in ("int8", "int8_transposed"):
        w = E if copy == "int8" else np.ascontiguousarray(E.T)
        axis = 0 if copy == "int8" else 1
        scale = (np.abs(E).max(axis=1) / 127).astype(np.float32)
        shape = [-1, 1] if axis == 0 else [1, -1]
        q = np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8)
        inits += [numpy_helper.from_array(q, "E_q"), numpy_helper.from_array(scale, "E_scale"),
                  numpy_helper.from_array(np.zeros(40, np.int8), "E_zp")]
        nodes.append(helper.make_node("DequantizeLinear", ["E_q", "E_scale", "E_zp"], ["E_deq"], axis=axis))
        if copy == "int8":
            nodes.append(helper.make_node("Gemm", ["h", "E_deq"], ["logits"], transB=1))
        else:
            nodes.append(helper.make_node("MatMul", ["h", "E_deq"], ["logits"]))
    elif copy == "fp16":
        inits.append(numpy_helper.from_array(E.astype(np.float16), "E_half"))
        nodes += [helper.make_node("Cast", ["E_half"], ["E_f32"], to=TensorProto.FLOAT),
                  helper.make_node("Gemm", ["h", "E_f32"], ["logits"], transB=1)]
    elif copy == "other":
        inits.append(numpy_helper.from_array(RNG.standard_normal((40, 8)).astype("float32"), "E_other"))
        nodes.append(helper.make_node("Gemm", ["h", "E_other"], ["logits"], transB=1))
    graph = helper.make_graph(
        nodes,
        "tied",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, [3]),
         helper.make_tensor_value_info("h", TensorProto.FLOAT, [3, 8])],
        [helper.make_tensor_value_info("emb", TensorProto.FLOAT, [3, 8]),
         helper.make_tensor_value_info("logits", TensorProto.FLOAT, [3, 40])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    emb, logits = OnnxRunner(data)(ids=np.array([0, 5, 7]), h=X)
    np.testing.assert_allclose(emb, E[[0, 5, 7]], atol=0)
    if copy != "other":
        np.testing.assert_allclose(logits, X @ E.T, atol=0.05)
    return data


def test_shared_initializer_is_clean():
    rep = verify(tied("shared"))
    assert rep.format == "onnx"
    assert rep.groups == [] and rep.ok
    assert rep.weight_bytes == E.nbytes


@pytest.mark.parametrize(
    "copy, kind, kept, wasted, perm",
    [
        ("exact", "exact", "E", E.nbytes, None),
        ("transposed", "transposed", "E", E.nbytes, [1, 0]),
        # The floor keeps the copy a repair keeps: the int8 copy, which the float Gather reads dequantized.
        ("int8", "requantized", "E_q", E.nbytes, None),
        # Transposed and requantized at once: no rule merges it, so the smaller copy is the one listed as kept.
        ("int8_transposed", "requantized", "E_q", E.nbytes, [1, 0]),
        ("fp16", "requantized", "E", E.size * 2, None),  # Cast readers read the float32 copy instead
    ],
)
def test_broken_copy_is_found(copy, kind, kept, wasted, perm):
    rep = verify(tied(copy))
    assert len(rep.groups) == 1, rep.groups
    g = rep.groups[0]
    assert g.kind == kind
    assert g.wasted_bytes == wasted == rep.duplicate_bytes
    assert g.tensors[0].name == kept and g.tensors[0].relation == "kept"
    assert g.tensors[1].perm == perm
    assert not rep.ok


def test_a_float_copy_transposed_beside_an_int8_one_is_left_with_its_reason():
    """No rule reads an int8 copy dequantized and transposed at once (a Gather needs the table's layout):
    the repair leaves it and says so, rather than feed the Gather a transposed table."""
    rep = verify(tied("int8_transposed"))
    [left] = rep.repair_leaves
    assert left.reason == "transposed and requantized at once" and left.tensor == "E"
    assert rep.repair_reaches_bytes == rep.weight_bytes


def test_int8_copy_reports_its_dequantization():
    g = verify(tied("int8")).groups[0]
    q = next(t for t in g.tensors if t.dtype == "int8")
    assert q.quantization.startswith("per-channel (40 scales, axis 0)")
    assert any(c.startswith("DequantizeLinear") and c.endswith("Gemm") for c in q.consumers)


def test_different_weight_of_the_same_shape_is_not_grouped():
    rep = verify(tied("other"))
    assert rep.groups == [] and rep.ok


def test_external_data_is_read_from_disk(tmp_path):
    model = onnx.load_model_from_string(tied("transposed"))
    path = tmp_path / "ext.onnx"
    onnx.save(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
              location="ext.onnx.data", size_threshold=64)
    assert (tmp_path / "ext.onnx.data").stat().st_size >= 2 * E.nbytes
    rep = verify(str(path))
    assert [g.kind for g in rep.groups] == ["transposed"]
    assert rep.duplicate_bytes == E.nbytes
    # bytes alone cannot reach the external file: a clear error, not a crash
    with pytest.raises(InvalidInputError, match="uses external data; pass the model as a path, not bytes"):
        verify(path.read_bytes())
    (tmp_path / "ext.onnx.data").unlink()
    with pytest.raises(InvalidInputError, match=r"external data file 'ext\.onnx\.data' is missing"):
        verify(str(path))
