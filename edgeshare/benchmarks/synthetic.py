"""Small .tflite files with one shared weight, written with LiteRT's schema (no TensorFlow): the shapes the RAM
benchmark (bench_ram.py) and the tests measure packing on.

- `write_shared_dense`: one (dim, dim) weight read by `uses` FULLY_CONNECTED ops, stored once or (distinct=True)
  as `uses` byte-identical buffers, which is what a converter that loses sharing writes;
- `write_tied_lm`: a tied LM head, GATHER and FULLY_CONNECTED reading one (vocab, dim) table (float32 or int8).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def finish_tflite(model: object, path: str) -> str:
    import flatbuffers

    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")  # type: ignore[attr-defined]
    with open(path, "wb") as fh:
        fh.write(b.Output())
    return path


def op_code(builtin: int, version: int = 1) -> Any:
    """An OperatorCodeT for a builtin op (both the old and the new code field set, as converters write)."""
    from ai_edge_litert import schema_py_generated as s

    code = s.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = builtin
    code.version = version
    return code


def tensor(name: str, shape: tuple[int, ...], buffer: int, ttype: int | None = None, scale: float | None = None
           ) -> Any:
    """A TensorT (float32 unless `ttype`), per-tensor quantized with zero point 0 when `scale` is given."""
    from ai_edge_litert import schema_py_generated as s

    t = s.TensorT()
    t.name, t.shape, t.buffer = name, list(shape), buffer
    t.type = s.TensorType.FLOAT32 if ttype is None else ttype
    if scale is not None:
        q = s.QuantizationParametersT()
        q.scale, q.zeroPoint = [scale], [0]
        t.quantization = q
    return t


def fully_connected(opcode_index: int, x: int, w: int, y: int, keep_num_dims: bool = False) -> Any:
    """A FULLY_CONNECTED OperatorT, y = x @ w.T, without bias."""
    from ai_edge_litert import schema_py_generated as s

    op = s.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = opcode_index, [x, w, -1], [y]  # -1: no bias
    op.builtinOptionsType = s.BuiltinOptions.FullyConnectedOptions
    op.builtinOptions = s.FullyConnectedOptionsT()
    op.builtinOptions.keepNumDims = keep_num_dims
    return op


def write_shared_dense(path: str, dim: int = 1024, uses: int = 8, distinct: bool = False, seed: int = 0) -> str:
    """`uses` FULLY_CONNECTED ops in a chain, (1, dim) -> (1, dim), all reading ONE (dim, dim) float32 buffer
    (or, with `distinct`, each its own byte-identical copy: what a converter that loses sharing writes)."""
    from ai_edge_litert import schema_py_generated as s

    w = (np.random.default_rng(seed).standard_normal((dim, dim)) / np.sqrt(dim)).astype(np.float32)
    model = s.ModelT()
    model.version = 3
    empty = s.BufferT()
    empty.data = []
    copies = uses if distinct else 1
    buffers = [empty]
    for _ in range(copies):
        b = s.BufferT()
        b.data = np.frombuffer(w.tobytes(), np.uint8)
        buffers.append(b)
    model.buffers = buffers
    model.operatorCodes = [op_code(s.BuiltinOperator.FULLY_CONNECTED)]
    tensors = [tensor("x", (1, dim), 0), *[tensor(f"w{i}", (dim, dim), 1 + i) for i in range(copies)]]
    ops = []
    current = 0
    for k in range(uses):
        tensors.append(tensor(f"h{k}", (1, dim), 0))
        ops.append(fully_connected(0, current, 1 + (k if distinct else 0), len(tensors) - 1))
        current = len(tensors) - 1
    graph = s.SubGraphT()
    graph.name = "main"
    graph.tensors, graph.inputs, graph.outputs, graph.operators = tensors, [0], [current], ops
    model.subgraphs = [graph]
    return finish_tflite(model, path)


def write_tied_lm(path: str, vocab: int = 20000, dim: int = 128, seq: int = 8, int8: bool = False,
                  seed: int = 0) -> str:
    """A tied LM head without TensorFlow: GATHER(table, ids) -> (1, seq, dim) -> FULLY_CONNECTED(table) ->
    (1, seq, vocab) logits, one (vocab, dim) table in one buffer. `int8`: int8 table, activations and logits
    (per-tensor scales), the layout of a full-integer export."""
    from ai_edge_litert import schema_py_generated as s

    rng = np.random.default_rng(seed)
    table = (rng.standard_normal((vocab, dim)) * 0.1).astype(np.float32)
    model = s.ModelT()
    model.version = 3
    empty, weights = s.BufferT(), s.BufferT()
    empty.data = []
    dtype = s.TensorType.INT8 if int8 else s.TensorType.FLOAT32
    w_scale = float(np.abs(table).max() / 127)
    stored = np.clip(np.round(table / w_scale), -127, 127).astype(np.int8) if int8 else table
    weights.data = np.frombuffer(stored.tobytes(), np.uint8)
    model.buffers = [empty, weights]
    version = 2 if int8 else 1
    model.operatorCodes = [op_code(s.BuiltinOperator.GATHER, version),
                           op_code(s.BuiltinOperator.FULLY_CONNECTED, version)]
    q = int8 or None
    tensors = [
        tensor("tokens", (1, seq), 0, s.TensorType.INT32),
        tensor("table", (vocab, dim), 1, dtype, w_scale if q else None),
        tensor("hidden", (1, seq, dim), 0, dtype, w_scale if q else None),
        tensor("logits", (1, seq, vocab), 0, dtype, (w_scale * w_scale * dim * 127 / 8) if q else None),
    ]
    gather = s.OperatorT()
    gather.opcodeIndex, gather.inputs, gather.outputs = 0, [1, 0], [2]
    gather.builtinOptionsType = s.BuiltinOptions.GatherOptions
    gather.builtinOptions = s.GatherOptionsT()
    fc = fully_connected(1, 2, 1, 3, keep_num_dims=True)
    graph = s.SubGraphT()
    graph.name = "main"
    graph.tensors, graph.inputs, graph.outputs, graph.operators = tensors, [0], [3], [gather, fc]
    model.subgraphs = [graph]
    return finish_tflite(model, path)

