"""A transposed copy (tf2onnx and Keras fold the transposed table of a tied embedding for MatMul):
MatMul becomes `Gemm(transB=1)` on the kept initializer when the other operand is a matrix (through
Reshape views when it is N-D and static), Gemm flips transA/transB, and any other reader gets an
explicit Transpose node, so that the file stores the weight once. The kept copy is the one that needs
the fewest run-time Transposes (`cost`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...plan import Copy
from ..graph import Graph, attr, int64_initializer, set_attr, squeezed_view, static_nd


class TransposedReaders:
    name = "transposed_readers"

    def applies(self, copy: Copy, graph: Graph) -> bool:
        return copy.relation == "transposed"

    def obstacle(self, copy: Copy, graph: Graph) -> str | None:
        return None

    def cost(self, copy: Copy, graph: Graph) -> int:
        return runtime_transposes(graph, str(copy.member.ref), tuple(copy.perm or ()))

    def apply(self, copy: Copy, graph: Graph) -> list[str]:
        notes = rewrite_transposed_readers(graph, str(copy.kept.ref), str(copy.member.ref), tuple(copy.perm or ()))
        graph.remove_initializer(str(copy.member.ref))
        return notes


def rewrite_transposed_readers(m: Graph, k: str, mname: str, perm: tuple[int, ...]) -> list[str]:
    """Rewrite every reader of `mname` (== transpose(k, perm)) to read `k`."""
    from onnx import helper

    notes = []
    swap2 = tuple(perm) == (1, 0)
    transpose_out: str | None = None
    matrix: str | None = None  # k as a 2-D tensor (a Reshape view when k has size-1 axes)
    for g, node, slot in m.uses(mname):
        gemm_like = swap2 and ((node.op_type == "Gemm" and slot in (0, 1)) or (node.op_type == "MatMul" and slot == 1))
        if gemm_like and matrix is None:
            matrix = squeezed_view(m, k)
        if swap2 and node.op_type == "Gemm" and slot in (0, 1):
            key = "transB" if slot == 1 else "transA"
            set_attr(node, key, 1 - attr(node, key))
            node.input[slot] = matrix
            notes.append(f"{node.name or 'Gemm'}: {key} flipped to read {k}")
        elif swap2 and node.op_type == "MatMul" and slot == 1 and m.rank.get(node.input[0]) == 2:
            node.op_type = "Gemm"
            node.input[1] = matrix
            set_attr(node, "transB", 1)
            notes.append(f"{node.name or 'MatMul'}: MatMul -> Gemm(transB=1) reading {k}")
        elif swap2 and node.op_type == "MatMul" and slot == 1 and static_nd(m, node.input[0]):
            notes.append(_matmul_to_gemm_nd(m, g, node, matrix))  # type: ignore[arg-type]
        else:
            if transpose_out is None:
                # Transpose works on k's squeezed axes; reshape back to the copy's own shape if needed.
                src = squeezed_view(m, k)
                transpose_out = m.fresh(k + "_transposed")
                # M = transpose(K, perm): M's axis i is K's axis perm[i], which is what Transpose(K, perm) gives.
                nodes = [helper.make_node("Transpose", [src], [transpose_out], perm=list(perm),
                                          name=m.fresh("Transpose"))]
                want = [int(d or 0) for d in m.shape.get(mname) or []]
                if len(want) != len(perm):
                    shaped = m.fresh(k + "_transposed_shaped")
                    shape_name = int64_initializer(m, g, want)
                    nodes.append(helper.make_node("Reshape", [transpose_out, shape_name], [shaped],
                                                  name=m.fresh("Reshape")))
                    transpose_out = shaped
                for extra in nodes:
                    m.insert_before(g, node, extra)
            node.input[slot] = transpose_out
            notes.append(f"{node.op_type}: reads Transpose({k}) (transposed at run time)")
    return notes


def runtime_transposes(m: Graph, mname: str, perm: tuple[int, ...]) -> int:
    """How many readers of `mname` would need a Transpose node if it were replaced by its transpose."""
    swap2 = tuple(perm) == (1, 0)
    n = 0
    for _, node, slot in m.uses(mname):
        if swap2 and node.op_type == "Gemm" and slot in (0, 1):
            continue
        if swap2 and node.op_type == "MatMul" and slot == 1 and (
            m.rank.get(node.input[0]) == 2 or static_nd(m, node.input[0])
        ):
            continue
        n += 1
    return n


def _matmul_to_gemm_nd(m: Graph, g: Any, node: Any, k: str) -> str:
    """MatMul(A[..., K], W[K, N]) with W = k^T becomes Reshape -> Gemm(transB=1) -> Reshape. The
    reshapes are views; the weight is read in its stored [N, K] layout with no copy."""
    from onnx import helper, numpy_helper

    a = node.input[0]
    shape = [int(d) for d in m.shape[a]]  # type: ignore[arg-type]
    lead = int(np.prod(shape[:-1]))
    n_out = int((m.shape.get(k) or [0])[0] or 0)
    flat_shape = m.fresh("gemm_in_shape")
    out_shape = m.fresh("gemm_out_shape")
    g.initializer.append(numpy_helper.from_array(np.array([lead, shape[-1]], np.int64), flat_shape))
    g.initializer.append(numpy_helper.from_array(np.array([*shape[:-1], n_out], np.int64), out_shape))
    flat, res = m.fresh(a + "_2d"), m.fresh(node.output[0] + "_2d")
    reshape_in = helper.make_node("Reshape", [a, flat_shape], [flat], name=m.fresh("Reshape"))
    gemm = helper.make_node("Gemm", [flat, k], [res], transB=1, name=m.fresh("Gemm"))
    reshape_out = helper.make_node("Reshape", [res, out_shape], [node.output[0]], name=m.fresh("Reshape"))
    idx = list(g.node).index(node)
    g.node.remove(node)
    for j, new in enumerate((reshape_in, gemm, reshape_out)):
        g.node.insert(idx + j, new)
    return f"{node.name or 'MatMul'}: MatMul -> Reshape, Gemm(transB=1) reading {k}, Reshape"
