"""Tiny .tflite and .onnx files built without TensorFlow, for the harness tests."""

from __future__ import annotations

import numpy as np

# The weight-sharing shapes the RAM benchmark also uses live in the package (no TensorFlow either).
from edgeshare.benchmarks.synthetic import (  # noqa: F401
    finish_tflite,
    fully_connected,
    op_code,
    tensor,
    write_shared_dense,
    write_tied_lm,
)


def write_tiny_tflite(path: str, n_in: int = 16, n_out: int = 8, input_features: int | None = None) -> str:
    """One FULLY_CONNECTED op, (1, n_in) -> (1, n_out), written with the schema ai-edge-litert ships.

    `input_features` different from `n_in` makes a file that parses but that no runtime can prepare.
    """
    from ai_edge_litert import schema_py_generated as s

    w = np.random.default_rng(0).standard_normal((n_out, n_in)).astype(np.float32)
    model = s.ModelT()
    model.version = 3
    model.description = "edgeshare harness test"
    empty, weights = s.BufferT(), s.BufferT()
    empty.data = []
    weights.data = list(w.tobytes())
    model.buffers = [empty, weights]
    model.operatorCodes = [op_code(s.BuiltinOperator.FULLY_CONNECTED)]

    graph = s.SubGraphT()
    graph.name = "main"
    graph.tensors = [tensor("x", (1, input_features or n_in), 0), tensor("w", (n_out, n_in), 1),
                     tensor("y", (1, n_out), 0)]
    graph.inputs, graph.outputs = [0], [2]
    graph.operators = [fully_connected(0, 0, 1, 2)]
    model.subgraphs = [graph]
    return finish_tflite(model, path)


def write_tiny_onnx(path: str, n_in: int = 16, n_out: int = 8) -> str:
    """MatMul + Relu, (1, n_in) -> (1, n_out)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.random.default_rng(1).standard_normal((n_in, n_out)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Relu", ["h"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n_in])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n_out])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def write_tied_onnx(path: str, vocab: int = 20000, dim: int = 128, seq: int = 8, seed: int = 0) -> str:
    """The ONNX form of a tied LM head: Gather(E, ids) -> (seq, dim) -> Gemm(transB=1) with the same E ->
    (seq, vocab). One initializer, read by two nodes."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    table = (np.random.default_rng(seed).standard_normal((vocab, dim)) * 0.1).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gather", ["E", "tokens"], ["hidden"], axis=0),
         helper.make_node("Gemm", ["hidden", "E"], ["logits"], transB=1)],
        "tied",
        [helper.make_tensor_value_info("tokens", TensorProto.INT64, [seq])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [seq, vocab])],
        [numpy_helper.from_array(table, "E")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path
