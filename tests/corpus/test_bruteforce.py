"""The corpus tests' brute-force duplicate finder, checked on hand-built cases before it judges the verifier."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.corpus import bruteforce as bf
from tests.tflite_builder import TFLiteBuilder, quantize_per_channel, quantize_per_tensor


def _float(key: str, w: np.ndarray, dtype: str = "float32") -> bf.Weight:
    v = w.astype(dtype).astype(np.float64)
    return bf.Weight(key, key, w.shape, dtype, v, bf._float_step(v, dtype))


def _int8(key: str, q: np.ndarray, scale: np.ndarray | float, axis: int | None = 0) -> bf.Weight:
    v, step = bf._dequantize(q, np.atleast_1d(scale), np.zeros(1), axis)
    return bf.Weight(key, key, q.shape, "int8", v, step)


@pytest.fixture
def w() -> np.ndarray:
    return np.random.default_rng(1).normal(0, 0.05, size=(500, 128)).astype(np.float32)


def test_exact_copy_is_a_pair(w):
    m = bf.compare(_float("a", w), _float("b", w.copy()))
    assert m is not None and m.relation == "same order" and m.within == 1.0 and m.cosine > 0.9999


def test_transposed_copy_is_a_pair(w):
    m = bf.compare(_float("a", w), _float("b", np.ascontiguousarray(w.T)))
    assert m is not None and m.relation == "transposed" and m.outside == 0
    # Not in C order: the same values read as a reshape are a different weight.
    assert bf._judge(w.reshape(-1), 0 * w.reshape(-1), w.T.reshape(-1), 0 * w.reshape(-1), "")[0] < 0.5


def test_size_one_axes_are_squeezed(w):
    m = bf.compare(_float("a", w[None, :, None, :]), _float("b", np.ascontiguousarray(w.T)[:, None]))
    assert m is not None and m.relation == "transposed"


def test_requantized_copy_with_53_saturated_values_is_a_pair(w):
    """Per-channel int8 against a per-tensor int8 copy whose scale clips the 53 largest magnitudes."""
    q_pc, s_pc = quantize_per_channel(w, axis=0)
    top = np.sort(np.abs(w).reshape(-1))
    scale = float(top[-54] + top[-53]) / 2 / 127.5  # the 53 largest |w| saturate at the int8 limits
    q_pt = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
    assert int(np.count_nonzero(np.abs(q_pt) == 127)) >= 53
    clipped = np.abs(w) > 127.5 * scale
    assert int(clipped.sum()) == 53
    a, b = _int8("pc", q_pc, s_pc, axis=0), _int8("pt", q_pt, scale, axis=None)
    m = bf.compare(a, b)
    assert m is not None and m.relation == "same order"
    # The clipped values are the only ones allowed outside the combined step, and some are.
    assert 0 < m.outside <= 53
    assert [(p.a, p.b) for p in bf.find_pairs(bf.Scan("x", "tflite", [a, b]))] == [("pc", "pt")]


def test_float_and_int8_copies_are_a_pair(w):
    q, s = quantize_per_tensor(w)
    m = bf.compare(_float("f", w), _int8("q", q, s, axis=None))
    assert m is not None and m.within == 1.0


def test_float16_copy_is_a_pair(w):
    assert bf.compare(_float("f32", w), _float("f16", w, "float16")) is not None


def test_two_different_weights_of_one_shape_are_not_a_pair(w):
    other = np.random.default_rng(2).normal(0, 0.05, size=w.shape).astype(np.float32)
    assert bf.compare(_float("a", w), _float("b", other)) is None
    assert bf.compare(_float("a", w), _float("b", np.ascontiguousarray(other.T))) is None
    assert bf.find_pairs(bf.Scan("x", "onnx", [_float("a", w), _float("b", other)])) == []


def test_near_constant_biases_with_a_high_cosine_are_not_a_pair():
    """Two different folded biases near 1.0: cosine > 0.999, but most elements differ by far more than a step."""
    rng = np.random.default_rng(3)
    a, b = 1 + 0.01 * rng.normal(size=64), 1 + 0.01 * rng.normal(size=64)
    assert float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)) > 0.999
    assert bf.compare(_float("a", a), _float("b", b)) is None


def test_a_copy_off_by_more_than_one_percent_is_not_a_pair(w):
    noisy = w.copy().reshape(-1)
    noisy[: noisy.size // 50] += 0.01  # 2% of the elements moved by several steps
    q, s = quantize_per_tensor(noisy.reshape(w.shape))
    q0, s0 = quantize_per_tensor(w)
    assert bf.compare(_int8("a", q0, s0, None), _int8("b", q, s, None)) is None


def test_tiny_and_constant_tensors_are_ignored():
    ones = [_float(k, np.full((8, 8), 0.5, np.float32)) for k in "ab"]
    tiny = [_float(k, np.arange(15, dtype=np.float32)) for k in "cd"]
    assert bf.compare(*ones) is not None  # the same values, but no evidence of one weight:
    assert bf.find_pairs(bf.Scan("x", "onnx", ones + tiny)) == []


def test_unscaled_integer_copy_is_fitted_to_the_scaled_one(w):
    """MatMulInteger's weight: its scale is applied downstream, so one positive factor is fitted."""
    q, s = quantize_per_tensor(w)
    scaled = _int8("s", q, s, None)
    unscaled = bf.Weight("u", "u", q.shape, "int8", q.astype(np.float64), np.ones(1), scale_known=False)
    assert bf.compare(scaled, unscaled) is not None
    assert bf.compare(unscaled, scaled) is not None


# ------------------------------------------------------------------------------------ the file readers


def test_tflite_reader_dequantizes_and_pairs_the_copies(tmp_path, w):
    b = TFLiteBuilder()
    q_pc, s_pc = quantize_per_channel(w, axis=0)
    q_pt, s_pt = quantize_per_tensor(w)
    t_f = b.tensor("float", w.shape, "float32", w)
    t_pc = b.tensor("per_channel", w.shape, "int8", q_pc, scale=s_pc, axis=0)
    t_pt = b.tensor("per_tensor_T", w.T.shape, "int8", np.ascontiguousarray(q_pt.T), scale=s_pt)
    b.tensor("same_buffer", w.shape, "float32", buffer=b.buffer_of(t_f))  # one stored copy, two tensors
    other = np.random.default_rng(5).normal(size=w.shape).astype(np.float32)
    b.tensor("other", w.shape, "float32", other)
    b.tensor("indices", (32,), "int32", np.arange(32, dtype=np.int32))  # integers without scale: no weight
    path = tmp_path / "m.tflite"
    path.write_bytes(b.build())
    scan = bf.read(path)
    names = {x.key: x.name for x in scan.weights}
    assert sorted(names.values()) == ["float", "other", "per_channel", "per_tensor_T"]
    pairs = {frozenset((names[m.a], names[m.b])): m.relation for m in bf.find_pairs(scan)}
    assert pairs == {
        frozenset(("float", "per_channel")): "same order",
        frozenset(("float", "per_tensor_T")): "transposed",
        frozenset(("per_channel", "per_tensor_T")): "transposed",
    }
    assert bf.groups(bf.find_pairs(scan)) == [{f"buffer {b.buffer_of(t)}" for t in (t_f, t_pc, t_pt)}]


def test_tflite_reader_densifies_sparse_tensors_as_litert_does(tmp_path):
    """A 1x4-block CSR float tensor (the format of MediaPipe's *_sparse models), densified by LiteRT's
    DENSIFY op as the reference."""
    from ai_edge_litert import schema_py_generated as s
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    rng = np.random.default_rng(6)
    dense = rng.normal(size=(6, 8)).astype(np.float32)
    keep = rng.random((6, 2)) < 0.5  # which 1x4 blocks are stored
    keep[0] = True
    dense *= np.repeat(keep, 4, axis=1)
    seg, idx, vals = [0], [], []
    for r in range(6):
        for c in range(2):
            if keep[r, c]:
                idx.append(c)
                vals.append(dense[r, 4 * c : 4 * c + 4])
        seg.append(len(idx))
    b = TFLiteBuilder()
    t = b.tensor("sparse", (6, 8), "float32", np.concatenate(vals))
    sp = s.SparsityParametersT()
    sp.traversalOrder, sp.blockMap = [0, 1, 2], [1]
    d0, d1, d2 = s.DimensionMetadataT(), s.DimensionMetadataT(), s.DimensionMetadataT()
    d0.format, d0.denseSize = s.DimensionType.DENSE, 6
    d1.format = s.DimensionType.SPARSE_CSR
    d1.arraySegmentsType, d1.arraySegments = s.SparseIndexVector.Int32Vector, s.Int32VectorT()
    d1.arraySegments.values = seg
    d1.arrayIndicesType, d1.arrayIndices = s.SparseIndexVector.Int32Vector, s.Int32VectorT()
    d1.arrayIndices.values = idx
    d2.format, d2.denseSize = s.DimensionType.DENSE, 4
    sp.dimMetadata = [d0, d1, d2]
    b.sg.tensors[t].sparsity = sp
    out = b.tensor("dense", (6, 8), "float32")
    b.op("DENSIFY", [t], [out])
    b.io([], [out])
    path = tmp_path / "sparse.tflite"
    path.write_bytes(b.build())
    # XNNPACK does not take a DENSIFY of a constant: the builtin kernels are the reference.
    builtin = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interp = Interpreter(model_path=str(path), experimental_op_resolver_type=builtin)
    interp.allocate_tensors()
    interp.invoke()
    reference = interp.get_tensor(interp.get_output_details()[0]["index"])
    np.testing.assert_array_equal(reference, dense)
    (sparse,) = [x for x in bf.read(path).weights if x.name == "sparse"]
    np.testing.assert_array_equal(sparse.values, dense)


def test_tflite_reader_lists_what_it_skips(tmp_path):
    from ai_edge_litert import schema_py_generated as s

    b = TFLiteBuilder()
    v = b.tensor("state", (4, 8), "float32", np.ones((4, 8), np.float32))
    b.sg.tensors[v].isVariable = True
    i4 = b.tensor("packed", (8, 8), "int8", np.zeros(32, np.int8), scale=0.1)
    b.sg.tensors[i4].type = s.TensorType.INT4
    path = tmp_path / "skip.tflite"
    path.write_bytes(b.build())
    scan = bf.read(path)
    assert scan.weights == []
    assert sorted(x.reason for x in scan.skipped) == ["type INT4 not compared", "variable tensor (state, not a weight)"]


def test_onnx_reader_follows_dequantize_and_integer_readers(tmp_path, w):
    q_pc, s_pc = quantize_per_channel(w, axis=1)
    q_pt, s_pt = quantize_per_tensor(w)
    inits = [
        numpy_helper.from_array(np.ascontiguousarray(w.T), "W_T"),
        numpy_helper.from_array(q_pc, "W_q"),
        numpy_helper.from_array(s_pc, "W_scale"),
        numpy_helper.from_array(np.zeros(s_pc.size, np.int8), "W_zp"),
        numpy_helper.from_array(q_pt, "W_mmi"),
        numpy_helper.from_array(np.int8(0).reshape(()), "W_mmi_zp"),
        numpy_helper.from_array((q_pt.astype(np.int16) + 128).astype(np.uint8), "W_table"),
        numpy_helper.from_array(np.float32(s_pt).reshape(()), "T_scale"),
        numpy_helper.from_array(np.uint8(128).reshape(()), "T_zp"),
        numpy_helper.from_array(np.random.default_rng(7).normal(size=w.shape).astype(np.float32), "Other"),
    ]
    nodes = [
        helper.make_node("Transpose", ["W_T"], ["W"], perm=[1, 0]),
        helper.make_node("MatMul", ["x", "W"], ["y0"]),
        helper.make_node("DequantizeLinear", ["W_q", "W_scale", "W_zp"], ["W_dq"], axis=1),
        helper.make_node("MatMul", ["x", "W_dq"], ["y1"]),
        helper.make_node("MatMulInteger", ["xq", "W_mmi", "", "W_mmi_zp"], ["y2"]),
        helper.make_node("Gather", ["W_table", "ids"], ["rows"]),  # Gather then DequantizeLinear, as ORT writes
        helper.make_node("DequantizeLinear", ["rows", "T_scale", "T_zp"], ["emb"]),
        helper.make_node("MatMul", ["x", "Other"], ["y3"]),
    ]
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 500]),
         helper.make_tensor_value_info("xq", TensorProto.INT8, [1, 500]),
         helper.make_tensor_value_info("ids", TensorProto.INT64, [3])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("y0", "y1", "y3", "emb")]
        + [helper.make_tensor_value_info("y2", TensorProto.INT32, None)],
        inits,
    )  # fmt: skip
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph), str(path))
    scan = bf.read(path)
    # Float scales are constants too; integer zero points and indices are not weights.
    assert sorted(x.key for x in scan.weights) == ["Other", "T_scale", "W_T", "W_mmi", "W_q", "W_scale", "W_table"]
    assert {x.key: x.scale_known for x in scan.weights}["W_mmi"] is False
    (group,) = bf.groups(bf.find_pairs(scan))
    assert group == {"W_T", "W_q", "W_mmi", "W_table"}


def test_onnx_reader_loads_external_data_and_subgraphs(tmp_path, w):
    then = helper.make_graph(
        [helper.make_node("MatMul", ["x", "Inner"], ["t"])], "then", [],
        [helper.make_tensor_value_info("t", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w, "Inner")],
    )  # fmt: skip
    other = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["e"])], "else", [],
        [helper.make_tensor_value_info("e", TensorProto.FLOAT, None)],
    )  # fmt: skip
    graph = helper.make_graph(
        [helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other),
         helper.make_node("MatMul", ["x", "Outer"], ["z"])],
        "g",
        [helper.make_tensor_value_info("c", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 500])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("z", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w, "Outer")],
    )  # fmt: skip
    path = tmp_path / "ext.onnx"
    onnx.save(helper.make_model(graph), str(path), save_as_external_data=True, location="ext.data", size_threshold=0)
    assert (tmp_path / "ext.data").stat().st_size >= 2 * w.nbytes
    scan = bf.read(path)
    assert bf.groups(bf.find_pairs(scan)) == [{"Inner", "Outer"}]
    (tmp_path / "ext.data").unlink()
    missing = bf.read(path)
    assert missing.weights == [] and {x.key for x in missing.skipped} == {"Inner", "Outer"}


def test_storage_keys_map_to_scan_keys():
    assert bf.storage_key("buffer 12") == "buffer 12"
    assert bf.storage_key("initializer 'a/b:0'") == "a/b:0"
