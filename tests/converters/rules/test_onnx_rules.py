"""Each ONNX repair rule on a good model and on a minimally broken one (hand-built, run in onnxruntime).

The broken model holds exactly the kind of copy the rule exists for: the repair must merge it with that
rule (MergedCopy.rule), leave no duplicate and keep the outputs; the good model stores the weight once and
the repair finds nothing to do. `constant_node` is the rule that keeps a copy, with its reason.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgeshare.converters.repair import repair
from edgeshare.converters.repair.onnx.rules import COPY_RULES
from edgeshare.converters.repair.onnx.rules.constant_node import REASON
from edgeshare.converters.runtime import OnnxRunner
from tests.converters.test_onnx_repair_scopes import static_qdq
from tests.converters.test_verify_onnx import E
from tests.converters.test_verify_onnx import tied as onnx_tied

RNG = np.random.default_rng(3)
W = RNG.standard_normal((8, 16)).astype("float32")  # a MatMul weight [in, out]


def _model(nodes: list, inits: list, inputs: list, outputs: list) -> bytes:
    graph = helper.make_graph(nodes, "rule", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _x(name: str, shape: list[int]) -> object:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _two_dequantized(copy: str) -> bytes:
    """x1 @ W and x2 @ W through DequantizeLinear of int8 copies of W: one copy (good), or a second copy
    with another scale ("other_scale")."""
    s = np.float32(np.abs(W).max() / 127)
    q1 = np.clip(np.round(W / s), -127, 127).astype(np.int8)
    inits = [numpy_helper.from_array(q1, "W_q"), numpy_helper.from_array(np.array(s), "W_scale"),
             numpy_helper.from_array(np.array(0, np.int8), "W_zp")]
    nodes = [helper.make_node("DequantizeLinear", ["W_q", "W_scale", "W_zp"], ["W_deq"]),
             helper.make_node("MatMul", ["x1", "W_deq"], ["y1"])]
    if copy == "shared":
        nodes.append(helper.make_node("MatMul", ["x2", "W_deq"], ["y2"]))
    else:
        s2 = np.float32(np.abs(W).max() / 100)
        q2 = np.clip(np.round(W / s2), -127, 127).astype(np.int8)
        inits += [numpy_helper.from_array(q2, "W_q2"), numpy_helper.from_array(np.array(s2), "W_scale2"),
                  numpy_helper.from_array(np.array(0, np.int8), "W_zp2")]
        nodes += [helper.make_node("DequantizeLinear", ["W_q2", "W_scale2", "W_zp2"], ["W_deq2"]),
                  helper.make_node("MatMul", ["x2", "W_deq2"], ["y2"])]
    return _model(nodes, inits, [_x("x1", [1, 8]), _x("x2", [1, 8])], [_x("y1", [1, 16]), _x("y2", [1, 16])])


def _integer_matmuls(copy: str) -> bytes:
    """onnxruntime's dynamic quantization pattern on two inputs: DynamicQuantizeLinear -> MatMulInteger ->
    Cast -> Mul(_, Mul(x_scale, w_scale)), reading one int8 W (good) or two quantizations of it."""
    scales = [np.float32(np.abs(W).max() / 127), np.float32(np.abs(W).max() / 110)]
    inits, nodes = [], []
    for i in (1, 2):
        k = 0 if copy == "shared" else i - 1
        wq, ws = f"W_q{k}", f"W_scale{k}"
        if not any(t.name == wq for t in inits):
            q = np.clip(np.round(W / scales[k]), -127, 127).astype(np.int8)
            inits += [numpy_helper.from_array(q, wq), numpy_helper.from_array(np.array(scales[k]), ws),
                      numpy_helper.from_array(np.array(0, np.int8), f"W_zp{k}")]
        nodes += [
            helper.make_node("DynamicQuantizeLinear", [f"x{i}"], [f"x{i}_q", f"x{i}_s", f"x{i}_zp"]),
            helper.make_node("MatMulInteger", [f"x{i}_q", wq, f"x{i}_zp", f"W_zp{k}"], [f"m{i}"]),
            helper.make_node("Cast", [f"m{i}"], [f"m{i}_f"], to=TensorProto.FLOAT),
            helper.make_node("Mul", [f"x{i}_s", ws], [f"scale{i}"]),
            helper.make_node("Mul", [f"m{i}_f", f"scale{i}"], [f"y{i}"]),
        ]
    return _model(nodes, inits, [_x("x1", [1, 8]), _x("x2", [1, 8])], [_x("y1", [1, 16]), _x("y2", [1, 16])])


def _float_transposed_and_int8(copy: str) -> bytes:
    """A tied table read by Gather (E), by MatMul through a transposed float copy (E_T), and by Gemm
    through an int8 copy with its DequantizeLinear: the float table must stay (the transposed copy cannot
    read an integer one), so the int8 copy's DequantizeLinear goes. Good: one table, Gemm(transB=1) twice."""
    inits = [numpy_helper.from_array(E, "E")]
    nodes = [helper.make_node("Gather", ["E", "ids"], ["emb"], axis=0)]
    if copy == "shared":
        nodes += [helper.make_node("Gemm", ["h", "E"], ["logits"], transB=1),
                  helper.make_node("Gemm", ["h2", "E"], ["logits2"], transB=1)]
    else:
        scale = (np.abs(E).max(axis=1) / 127).astype(np.float32)
        q = np.clip(np.round(E / scale[:, None]), -127, 127).astype(np.int8)
        inits += [numpy_helper.from_array(np.ascontiguousarray(E.T), "E_T"), numpy_helper.from_array(q, "E_q"),
                  numpy_helper.from_array(scale, "E_scale"), numpy_helper.from_array(np.zeros(40, np.int8), "E_zp")]
        nodes += [helper.make_node("MatMul", ["h", "E_T"], ["logits"]),
                  helper.make_node("DequantizeLinear", ["E_q", "E_scale", "E_zp"], ["E_deq"], axis=0),
                  helper.make_node("Gemm", ["h2", "E_deq"], ["logits2"], transB=1)]
    ids = helper.make_tensor_value_info("ids", TensorProto.INT64, [3])
    return _model(nodes, inits, [ids, _x("h", [3, 8]), _x("h2", [3, 8])],
                  [_x("emb", [3, 8]), _x("logits", [3, 40]), _x("logits2", [3, 40])])


def _constant_node(copy: str) -> bytes:
    """W as an initializer and, for the second MatMul, the same values in a Constant node (good: the
    initializer twice)."""
    inits = [numpy_helper.from_array(W, "W")]
    nodes = [helper.make_node("MatMul", ["x1", "W"], ["y1"])]
    if copy == "shared":
        nodes.append(helper.make_node("MatMul", ["x2", "W"], ["y2"]))
    else:
        nodes += [helper.make_node("Constant", [], ["W_const"], value=numpy_helper.from_array(W.copy(), "W_c")),
                  helper.make_node("MatMul", ["x2", "W_const"], ["y2"])]
    return _model(nodes, inits, [_x("x1", [1, 8]), _x("x2", [1, 8])], [_x("y1", [1, 16]), _x("y2", [1, 16])])


def _quantized_tied(tmp_path) -> bytes:
    """onnxruntime's quantize_dynamic of a tied model: a uint8 Gather table and a transposed int8 copy for
    MatMulInteger (the good model is the float file it came from)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from edgeshare._quiet import quiet_fds

    src, out = tmp_path / "tied_f32.onnx", tmp_path / "tied_q.onnx"
    src.write_bytes(onnx_tied("shared"))
    with quiet_fds():
        quantize_dynamic(str(src), str(out), weight_type=QuantType.QInt8)
    return out.read_bytes()


# rule -> (good model, broken model); each builder takes tmp_path
CASES = {
    "constant_node": (lambda t: _constant_node("shared"), lambda t: _constant_node("constant")),
    "exact_initializer": (lambda t: onnx_tied("shared"), lambda t: onnx_tied("exact")),
    "transposed_readers": (lambda t: onnx_tied("shared"), lambda t: onnx_tied("transposed")),
    "qgemm_transposed_integer": (lambda t: onnx_tied("shared"), _quantized_tied),
    "integer_reader_scale_swap": (lambda t: _integer_matmuls("shared"), lambda t: _integer_matmuls("two")),
    "dequantize_kept_params": (lambda t: _two_dequantized("shared"), lambda t: _two_dequantized("other_scale")),
    "drop_integer_dequantize": (lambda t: _float_transposed_and_int8("shared"),
                                lambda t: _float_transposed_and_int8("int8")),
    "float_reads_dequantized": (lambda t: onnx_tied("shared"), lambda t: onnx_tied("int8")),
    "float16_cast": (lambda t: onnx_tied("shared"), lambda t: onnx_tied("fp16")),
    "transposed_dequantized": (lambda t: static_qdq(False).SerializeToString(),
                               lambda t: static_qdq(True).SerializeToString()),
}


def test_every_registered_rule_has_a_case():
    assert sorted(CASES) == sorted(r.name for r in COPY_RULES)


def _outputs(path: str) -> list[np.ndarray]:
    runner = OnnxRunner(path)
    rng = np.random.default_rng(0)
    feeds = {s.name: (rng.integers(0, 40, size=s.shape) if "int" in s.dtype else
                      rng.standard_normal(s.shape).astype(np.float32)) for s in runner.inputs}
    return runner(feeds)


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_on_good_and_broken_model(rule, tmp_path):
    good, broken = tmp_path / "good.onnx", tmp_path / "broken.onnx"
    good.write_bytes(CASES[rule][0](tmp_path))
    broken.write_bytes(CASES[rule][1](tmp_path))
    clean = repair(str(good), str(tmp_path / "good_fixed.onnx"))
    assert clean.merged == [] and clean.skipped == [] and clean.duplicate_bytes_before == 0
    out = str(tmp_path / "fixed.onnx")
    rep = repair(str(broken), out)
    assert rep.duplicate_bytes_before > 0
    if rule == "constant_node":  # the copy stays, with the reason
        assert rep.merged == [] and [s.reason for s in rep.skipped] == [REASON] and not rep.ok
        return
    assert rep.ok, (rep.skipped, rep.numerics)
    assert rule in {m.rule for m in rep.merged}
    assert {m.rule for m in rep.merged} <= {rule, "transposed_readers"}  # drop_integer_dequantize's group
    assert rep.weight_bytes_after < rep.weight_bytes_before
    for a, b in zip(_outputs(str(broken)), _outputs(out)):
        a, b = a.astype(np.float64).reshape(-1), b.astype(np.float64).reshape(-1)
        assert float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))) > 0.99
