"""ONNX repairs across subgraph scopes and the static-QDQ transposed copy (hand-built, run in onnxruntime).

- An If whose two branches each hold a copy of one weight: the kept initializer moves to the graph that
  encloses both, so that every reader sees it (onnx's checker, and onnxruntime, reject the output otherwise).
- A name the move would shadow keeps the copy, with the reason.
- onnxruntime's static QDQ quantization of a tied head: a DequantizeLinear reads a transposed per-channel
  integer copy of the Gather table (rule transposed_dequantized).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edgeshare.converters import verify
from edgeshare.converters.repair import repair
from edgeshare.converters.runtime import OnnxRunner

RNG = np.random.default_rng(13)
W = RNG.standard_normal((8, 16)).astype("float32")
X = RNG.standard_normal((1, 8)).astype("float32")


def _vi(name: str, shape: list[int], t: int = TensorProto.FLOAT) -> object:
    return helper.make_tensor_value_info(name, t, shape)


def if_model(clash: bool = False) -> str:
    """y = x @ W in the then-branch, -(x @ W') in the else-branch, W' an exact copy of W in the branch's own
    initializers. `clash`: each branch also names an intermediate after the other branch's copy."""
    def branch(tag: str, sign: float) -> object:
        wname = f"W_{tag}"
        mid = ("W_else" if tag == "then" else "W_then") if clash else f"h_{tag}"
        nodes = [helper.make_node("MatMul", ["x", wname], [mid]),
                 helper.make_node("Mul", [mid, f"k_{tag}"], [f"y_{tag}"])]
        inits = [numpy_helper.from_array(W.copy(), wname),
                 numpy_helper.from_array(np.array(sign, np.float32), f"k_{tag}")]
        return helper.make_graph(nodes, tag, [], [_vi(f"y_{tag}", [1, 16])], initializer=inits)

    node = helper.make_node("If", ["cond"], ["y"], then_branch=branch("then", 1.0), else_branch=branch("else", -1.0))
    g = helper.make_graph([node], "main", [_vi("cond", [], TensorProto.BOOL), _vi("x", [1, 8])], [_vi("y", [1, 16])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(m)
    return m


def test_copies_in_two_branches_merge_into_the_enclosing_graph(tmp_path):
    src, out = tmp_path / "if.onnx", tmp_path / "fixed.onnx"
    onnx.save(if_model(), src)
    assert len(verify(str(src)).groups) == 1
    rep = repair(str(src), str(out))
    assert rep.ok, (rep.skipped, rep.notes)
    m = onnx.load(out)
    onnx.checker.check_model(m)  # every reader sees the kept initializer
    assert [t.name for t in m.graph.initializer] in (["W_then"], ["W_else"])
    for cond in (True, False):
        feeds = {"cond": np.array(cond), "x": X}
        np.testing.assert_array_equal(OnnxRunner(str(src))(feeds)[0], OnnxRunner(str(out))(feeds)[0])


def test_a_name_the_move_would_shadow_keeps_the_copy(tmp_path):
    src = tmp_path / "if.onnx"
    onnx.save(if_model(clash=True), src)
    rep = verify(str(src))
    [left] = rep.repair_leaves
    assert "different subgraphs" in left.reason and ("'W_then'" in left.reason or "'W_else'" in left.reason)
    fixed = repair(str(src), str(tmp_path / "fixed.onnx"))
    assert fixed.merged == [] and not fixed.ok


def static_qdq(copy: bool) -> str:
    """Gather on DequantizeLinear(table int8 per tensor) and MatMul on DequantizeLinear(its transpose, int8 per
    channel): the two copies a static QDQ quantization writes for a tied head (`copy`), or one table read
    by both through a Transpose (good)."""
    emb = RNG.standard_normal((50, 16)).astype("float32")
    s = np.float32(np.abs(emb).max() / 127)
    table = np.clip(np.round(emb / s), -127, 127).astype(np.int8)
    inits = [numpy_helper.from_array(table, "E_q"), numpy_helper.from_array(np.array(s), "E_s"),
             numpy_helper.from_array(np.array(0, np.int8), "E_z")]
    nodes = [helper.make_node("DequantizeLinear", ["E_q", "E_s", "E_z"], ["E"]),
             helper.make_node("Gather", ["E", "ids"], ["rows"], axis=0)]
    if copy:
        t = emb.T
        ts = (np.abs(t).max(axis=0) / 127).astype(np.float32)
        tq = np.clip(np.round(t / ts), -127, 127).astype(np.int8)
        inits += [numpy_helper.from_array(tq, "T_q"), numpy_helper.from_array(ts, "T_s"),
                  numpy_helper.from_array(np.zeros(50, np.int8), "T_z")]
        nodes.append(helper.make_node("DequantizeLinear", ["T_q", "T_s", "T_z"], ["T"], axis=1))
    else:
        nodes.append(helper.make_node("Transpose", ["E"], ["T"], perm=[1, 0]))
    nodes.append(helper.make_node("MatMul", ["h", "T"], ["logits"]))
    g = helper.make_graph(nodes, "qdq", [_vi("ids", [1, 4], TensorProto.INT64), _vi("h", [4, 16])],
                          [_vi("rows", [1, 4, 16]), _vi("logits", [4, 50])], initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(m)
    return m


def test_a_transposed_integer_copy_read_by_dequantize_merges(tmp_path):
    src, out = tmp_path / "qdq.onnx", tmp_path / "fixed.onnx"
    onnx.save(static_qdq(True), src)
    assert len(verify(str(src)).groups) == 1
    rep = repair(str(src), str(out))
    assert rep.ok, (rep.skipped, rep.notes)
    assert [m.rule for m in rep.merged] == ["transposed_dequantized"] and rep.merged[0].kept == "E_q"
    m = onnx.load(out)
    assert "T_q" not in {t.name for t in m.graph.initializer}
    assert [n.op_type for n in m.graph.node].count("Gemm") == 1  # the MatMul reads the table as Gemm(transB=1)
    feeds = {"ids": np.array([[0, 7, 49, 3]], np.int64), "h": RNG.standard_normal((4, 16)).astype("float32")}
    before, after = OnnxRunner(str(src))(feeds), OnnxRunner(str(out))(feeds)
    np.testing.assert_array_equal(before[0], after[0])  # the Gather path is untouched
    a, b = before[1].reshape(-1), after[1].reshape(-1)
    assert float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)) >= 0.999


def test_the_good_model_stores_the_table_once(tmp_path):
    src = tmp_path / "good.onnx"
    onnx.save(static_qdq(False), src)
    OnnxRunner(str(src))({"ids": np.zeros((1, 4), np.int64), "h": np.ones((4, 16), np.float32)})
    assert verify(str(src)).groups == []
