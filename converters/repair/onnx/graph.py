"""The ONNX graph that the repair rules edit, with the lookups they share."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...formats.onnx_file import OnnxFile

# Why a rule that reads the kept copy in its own layout cannot take a copy stored transposed.
TRANSPOSED_AND_REQUANTIZED = "transposed and requantized at once"


def all_graphs(g: Any) -> list[Any]:
    out = [g]
    for n in g.node:
        for a in n.attribute:
            if a.type == a.GRAPH:
                out += all_graphs(a.g)
            elif a.type == a.GRAPHS:
                for sub in a.graphs:
                    out += all_graphs(sub)
    return out


class Graph:
    def __init__(self, f: OnnxFile) -> None:
        import onnx

        self.f = f
        self.model = f.model
        self.graphs = all_graphs(self.model.graph)
        self.inits = {t.name: (g, t) for g in self.graphs for t in g.initializer}
        try:
            inferred = onnx.shape_inference.infer_shapes(self.model, strict_mode=False)
            vis = list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)
        except Exception:
            vis = list(self.model.graph.value_info) + list(self.model.graph.input)
        self.rank: dict[str, int] = {}
        self.shape: dict[str, list[int | None]] = {}
        for vi in vis:
            tt = vi.type.tensor_type
            if tt.HasField("shape"):
                self.rank[vi.name] = len(tt.shape.dim)
                self.shape[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        for name, (_, t) in self.inits.items():
            self.rank[name] = len(t.dims)
            self.shape[name] = [int(d) for d in t.dims]
        self.counter = 0

    def uses(self, name: str) -> list[tuple[Any, Any, int]]:
        return [(g, n, k) for g in self.graphs for n in g.node for k, x in enumerate(n.input) if x == name]

    def fresh(self, base: str) -> str:
        self.counter += 1
        return f"{base}__edgeshare{self.counter}"

    def remove_initializer(self, name: str) -> None:
        g, t = self.inits.pop(name)
        g.initializer.remove(t)
        for coll in (g.input, g.value_info):
            for vi in list(coll):
                if vi.name == name:
                    coll.remove(vi)

    def parent_of(self, g: Any) -> Any | None:
        """The graph whose node holds `g` as an attribute (None for the main graph)."""
        for outer in self.graphs:
            for n in outer.node:
                for a in n.attribute:
                    if (a.type == a.GRAPH and a.g is g) or (a.type == a.GRAPHS and any(x is g for x in a.graphs)):
                        return outer
        return None

    def scope(self, g: Any) -> list[Any]:
        """`g` and the graphs that enclose it, innermost first."""
        out = [g]
        while (p := self.parent_of(out[-1])) is not None:
            out.append(p)
        return out

    def make_visible(self, kept: str, member: str) -> str | None:
        """Make the initializer `kept` visible to every reader of `member` (ONNX scoping: a graph sees its
        own names and those of the graphs enclosing it). When the two sit in different subgraphs (the two
        branches of an If), `kept` moves to the innermost graph enclosing both, with the other initializers
        its readers take (scales, zero points). Returns why it cannot, or None."""
        gk, gm = self.inits[kept][0], self.inits[member][0]
        outer_of_member = [id(x) for x in self.scope(gm)]
        target = next(x for x in self.scope(gk) if id(x) in outer_of_member)
        if target is gk:
            return None
        if target is self.model.graph and self.model.ir_version < 4:
            return "the copies sit in different subgraphs and IR version < 4 needs main-graph initializers as inputs"
        names = [kept, *sorted({x for _, n, _ in self.uses(kept) for x in n.input
                                if x in self.inits and x != kept and self.inits[x][0] is gk})]
        inner = all_graphs(gk)  # kept alive while ids are compared: protobuf wrappers are reused by identity
        inner_ids = {id(x) for x in inner}
        around = [x for x in all_graphs(target) if id(x) not in inner_ids]
        elsewhere = {x for g in around
                     for x in [*(t.name for t in g.initializer), *(o for n in g.node for o in n.output),
                               *(i.name for i in g.input)]}
        clash = [x for x in names if x in elsewhere]
        if clash:
            return f"the copies sit in different subgraphs and {clash[0]!r} is defined in both"
        for name in names:
            g, t = self.inits[name]
            g.initializer.remove(t)
            for coll in (g.input, g.value_info):
                for vi in list(coll):
                    if vi.name == name:
                        coll.remove(vi)
            target.initializer.append(t)
            self.inits[name] = (target, t)
        return None

    def insert_before(self, g: Any, node: Any, new: Any) -> None:
        nodes = list(g.node)
        idx = nodes.index(node)
        g.node.insert(idx, new)


def attr(node: Any, name: str, default: int = 0) -> int:
    for a in node.attribute:
        if a.name == name:
            return int(a.i)
    return default


def set_attr(node: Any, name: str, value: int) -> None:
    from onnx import helper

    for a in list(node.attribute):
        if a.name == name:
            node.attribute.remove(a)
    node.attribute.append(helper.make_attribute(name, value))


def int64_initializer(m: Graph, g: Any, values: list[int]) -> str:
    from onnx import numpy_helper

    name = m.fresh("shape")
    g.initializer.append(numpy_helper.from_array(np.array(values, np.int64), name))
    return name


def squeezed_view(m: Graph, k: str) -> str:
    """k itself when it has no size-1 axes, else a Reshape of it without them (a view)."""
    from onnx import helper

    shape = [int(d or 0) for d in m.shape.get(k) or []]
    squeezed = [d for d in shape if d != 1]
    if squeezed == shape:
        return k
    g0 = m.inits[k][0]
    out = m.fresh(k + "_squeezed")
    g0.node.insert(0, helper.make_node("Reshape", [k, int64_initializer(m, g0, squeezed)], [out],
                                       name=m.fresh("Reshape")))
    m.shape[out] = list(squeezed)
    m.rank[out] = len(squeezed)
    return out


def static_nd(m: Graph, name: str) -> bool:
    shape = m.shape.get(name)
    return shape is not None and len(shape) > 2 and all(isinstance(d, int) and d > 0 for d in shape)


def non_dq_readers(m: Graph, name: str) -> list[Any]:
    return [n for _, n, slot in m.uses(name) if not (n.op_type == "DequantizeLinear" and slot == 0)]


def qparams(m: Graph, name: str) -> tuple[str, str, str | None, int | None] | None:
    """(weight, scale, zero point, axis) initializer names an integer weight is dequantized with:
    by a DequantizeLinear reading it, or by one after a Gather of it."""
    for _, node, slot in m.uses(name):
        dq = None
        if node.op_type == "DequantizeLinear" and slot == 0:
            dq = node
        elif node.op_type == "Gather" and slot == 0:
            dq = next((n for _, n, s2 in m.uses(node.output[0]) if n.op_type == "DequantizeLinear" and s2 == 0), None)
        if dq is not None and len(dq.input) > 1 and dq.input[1] in m.inits:
            zp = dq.input[2] if len(dq.input) > 2 and dq.input[2] in m.inits else None
            axis = None
            if int(np.prod([d or 1 for d in m.shape.get(dq.input[1]) or [1]])) > 1:
                axis = attr(dq, "axis", 1)
            return name, dq.input[1], zp, axis
    return None


def integer_reader_scales(m: Graph, name: str) -> list[tuple[Any, Any, int | None, str]] | None:
    """For a weight read only as input 1 of MatMulInteger / ConvInteger, whose scale onnxruntime's
    quantizer applies downstream (-> Cast -> Mul(_, Mul(a_scale, b_scale))): per reader, (the node, the
    Mul holding b_scale, the zero-point input slot, b_scale's initializer name). None otherwise."""
    out = []
    for _, node, slot in m.uses(name):
        if node.op_type not in ("MatMulInteger", "ConvInteger") or slot != 1:
            return None
        chain = rescale_chain(m, node)
        if chain is None or chain[2] is None:
            return None
        mul = chain[2]
        inits = [x for x in mul.input if x in m.inits]
        if len(inits) == 2:
            inits = [mul.input[1]]  # onnxruntime writes Mul(a_scale, b_scale)
        if len(inits) != 1 or len(m.uses(inits[0])) != 1:
            return None  # a scale shared with other readers cannot be swapped for one of them
        zp = node.input[3] if len(node.input) > 3 and node.input[3] else None
        out.append((node, mul, 3 if zp else None, inits[0]))
    if not out:
        return None
    zp_names = {n.input[3] if len(n.input) > 3 and n.input[3] else None for n, _, _, _ in out}
    return out if len(zp_names) == 1 else None


def asymmetric(m: Graph, name: str) -> bool:
    params = qparams(m, name)
    if params is None:
        return False
    _, _, zp, _ = params
    t = m.inits[name][1]
    if t.data_type == onnx_uint8():
        return True
    return bool(zp is not None and np.any(m.f.tensor_array(m.inits[zp][1]) != 0))


def onnx_uint8() -> int:
    import onnx

    return int(onnx.TensorProto.UINT8)


def producer(m: Graph, name: str) -> tuple[Any, Any] | None:
    for g in m.graphs:
        for n in g.node:
            if name in n.output:
                return g, n
    return None


def rescale_chain(m: Graph, node: Any) -> tuple[Any, Any, Any | None] | None:
    """An integer op's output as onnxruntime's quantizer rescales it: -> Cast -> Mul(_, scale), the scale
    usually a Mul(a_scale, b_scale). Returns (cast, mul, the scale's Mul or None), or None."""
    if not node.output:
        return None
    readers = m.uses(node.output[0])
    if len(readers) != 1 or readers[0][1].op_type != "Cast":
        return None
    cast = readers[0][1]
    readers = m.uses(cast.output[0])
    if len(readers) != 1 or readers[0][1].op_type != "Mul":
        return None
    mul = readers[0][1]
    other = [x for x in mul.input if x != cast.output[0]]
    sp = producer(m, other[0]) if len(other) == 1 else None
    return cast, mul, (sp[1] if sp is not None and sp[1].op_type == "Mul" else None)


def qgemm_chain(m: Graph, node: Any) -> tuple[Any, Any, Any, Any] | None:
    """MatMulInteger(A_q, B, a_zp, b_zp) -> Cast -> Mul(_, scale product), with A_q from a
    DynamicQuantizeLinear of a matrix: returns (dql, cast, mul, scale_mul) or None."""
    if len(node.input) < 3:
        return None
    prod = producer(m, node.input[0])
    if prod is None or prod[1].op_type != "DynamicQuantizeLinear":
        return None
    a = prod[1].input[0]
    if m.rank.get(a) != 2 and not static_nd(m, a):
        return None
    chain = rescale_chain(m, node)
    return None if chain is None else (prod[1], *chain)


def drop_unused(m: Graph, name: str) -> None:
    """Remove an initializer and, recursively, scale/zero-point initializers nothing reads any more."""
    if m.uses(name):
        return
    if name in m.inits:
        m.remove_initializer(name)
    used = {x for g in m.graphs for n in g.node for x in n.input}
    for other in list(m.inits):
        if other not in used and not any(o.name == other for o in m.model.graph.output):
            m.remove_initializer(other)
