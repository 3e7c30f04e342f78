"""A Model Explorer overlay of the duplicate groups: `model-explorer m.tflite --node_data_paths=overlay.json`.

Model Explorer (Google's graph viewer, `ai-edge-model-explorer` on PyPI) colours nodes from "node data"
files. The format (model_explorer/node_data_builder.py): a `ModelNodeData` is a JSON object keyed by
graph id, each value a `GraphNodeData` whose `results` map a node key to a `NodeDataResult`
(`value`: a number, optional `bgColor` / `textColor`: CSS colours). A node key is the node's id, or the
name of a tensor the node outputs (matched against `tensor_name` in its outputs' metadata).

Every op that reads a duplicated weight (directly, or through the DEQUANTIZE / DequantizeLinear that
expands it) and the weight's own constant node get the colour of their group and, as value, the bytes the
group wastes. Node ids follow Model Explorer's adapters:

- TFLite (its built-in flatbuffer adapter): one graph per subgraph, with the subgraph's name as id, else
  the key of a signature that runs it, else "main" for subgraph 0 and "subgraph_<i>"; an op's id is its
  index in the subgraph; a constant is found by its tensor name.
- ONNX (the `model-explorer-onnx` adapter): the main graph's name (or "<main>"); a node's id is its name,
  made unique per graph as onnx_ir's NameFixPass does ("node", "node_1", ... for unnamed nodes); the nodes
  of an If's branches move into the graph holding the If, as "<if id>/<branch>/<node id>"; a Loop or Scan
  body in the main graph is the graph "<node id>/<attribute>"; an initializer is the node "[value] <name>".

Light: no Model Explorer import (its adapters only read the JSON).
"""

from __future__ import annotations

import collections
import json
from collections.abc import Iterator
from typing import Any

from ..formats.onnx_file import read_onnx
from ..formats.source import Source, open_source, sniff_format
from ..formats.tflite_file import TFLiteFile, read_tflite
from .report import VerifyReport

# Distinct, readable on white and on Model Explorer's dark text: one per group, cycling.
PALETTE = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45",
           "#fabed4", "#469990", "#dcbeff", "#9a6324", "#fffac8", "#800000", "#aaffc3", "#808000")
NAME = "edgeshare duplicates (value: bytes the group wastes; colour: group)"

NodeKey = tuple[str, str]  # (graph id, node key)


def overlay(source: Source, report: VerifyReport) -> dict[str, Any]:
    """The node data (a Model Explorer `ModelNodeData`) that colours the readers of each duplicate group
    of `report`, a verify report of `source`."""
    members: list[tuple[int, str, int]] = []  # (group, storage key, wasted bytes)
    for gi, g in enumerate(report.groups):
        members += [(gi, t.storage, g.wasted_bytes) for t in g.tensors]
    with open_source(source) as src:
        fmt = sniff_format(src.data, src.path)
        if fmt == "tflite":
            locate = _tflite_nodes(read_tflite(src))
        else:
            onx = read_onnx(src, check=False)
            locate = _onnx_nodes(onx.model)
            onx.close()
    graphs: dict[str, dict[str, Any]] = {}
    for gi, storage, wasted in members:
        for graph_id, key in locate(storage):
            results = graphs.setdefault(graph_id, _graph_node_data())["results"]
            results.setdefault(key, {"value": wasted, "bgColor": PALETTE[gi % len(PALETTE)]})
    return graphs


def _graph_node_data() -> dict[str, Any]:
    """A GraphNodeData with every field Model Explorer's builder writes (its defaults), results to fill."""
    return {"results": {}, "name": NAME, "thresholds": [], "gradient": [], "hideInAggregatedStatsTable": False,
            "hideInChildrenStatsTable": False, "showExpandedSummaryOnGroupNode": False,
            "showLabelCountColumnsInChildrenStatsTable": False}


def write_overlay(source: Source, report: VerifyReport, path: str) -> None:
    with open(path, "w") as fh:
        json.dump(overlay(source, report), fh, indent=1)
        fh.write("\n")


# ---------------------------------------------------------------------------------------------- TFLite


def tflite_graph_ids(f: TFLiteFile) -> list[str]:
    """Model Explorer's graph id for each subgraph."""
    by_signature: dict[int, str] = {}
    for sd in f.signatures:
        by_signature.setdefault(sd.subgraph, sd.key)
    return [sg.name or by_signature.get(sg.index) or ("main" if sg.index == 0 else f"subgraph_{sg.index}")
            for sg in f.subgraphs]


def _tflite_nodes(f: TFLiteFile) -> Any:
    ids = tflite_graph_ids(f)
    readers: dict[tuple[int, int], list[int]] = collections.defaultdict(list)
    for sg in f.subgraphs:
        for op in sg.operators:
            for ti in set(op.inputs):
                if ti >= 0:
                    readers[(sg.index, ti)].append(op.index)

    def locate(storage: str) -> Iterator[NodeKey]:
        buffer = int(storage.split()[-1])
        for sg in f.subgraphs:
            graph_id = ids[sg.index]
            for t in sg.tensors:
                if t.buffer != buffer:
                    continue
                yield graph_id, t.name  # the constant's node, by the tensor it outputs
                for oi in readers[(sg.index, t.index)]:
                    yield graph_id, str(oi)
                    op = sg.operators[oi]
                    if op.opcode in ("DEQUANTIZE", "DENSIFY") and op.outputs:
                        yield from ((graph_id, str(x)) for x in readers[(sg.index, op.outputs[0])])

    return locate


# ------------------------------------------------------------------------------------------------ ONNX


GraphPath = tuple[Any, ...]  # from the main graph: (node index, attribute name, graph index) per level


def _subgraphs(node: Any) -> list[tuple[str, int, Any]]:
    out = []
    for a in node.attribute:
        if a.type == a.GRAPH:
            out.append((a.name, 0, a.g))
        elif a.type == a.GRAPHS:
            out += [(a.name, k, g) for k, g in enumerate(a.graphs)]
    return out


def onnx_node_ids(model: Any) -> tuple[dict[tuple[GraphPath, int], NodeKey], dict[GraphPath, str]]:
    """((graph path, node index) -> (graph id, node id), graph path -> graph id for the graphs Model Explorer
    draws), as model-explorer-onnx names them. Protobuf wrappers are not stable objects, hence paths."""
    counter: collections.Counter[str] = collections.Counter()
    fixed: dict[tuple[GraphPath, int], str] = {}

    def unique(preferred: str, used: set[str]) -> str:
        name = preferred
        while name in used:
            counter[preferred] += 1
            name = f"{preferred}_{counter[preferred]}"
        used.add(name)
        return name

    def fix(graph: Any, path: GraphPath) -> None:  # onnx_ir's NameFixPass: unique per graph, depth first
        used: set[str] = set()
        for i, node in enumerate(graph.node):
            if not node.name or node.name in used:
                fixed[(path, i)] = unique(node.name or "node", used)
            else:
                fixed[(path, i)] = node.name
                used.add(node.name)
            for attr, k, sub in _subgraphs(node):
                fix(sub, (*path, i, attr, k))

    fix(model.graph, ())
    nodes: dict[tuple[GraphPath, int], NodeKey] = {}
    graphs: dict[GraphPath, str] = {}

    def place(graph: Any, path: GraphPath, graph_id: str, prefix: str, top: bool) -> None:
        if not prefix:  # a graph of its own (an If branch is drawn inside its parent, without initializers)
            graphs[path] = graph_id
        for i, node in enumerate(graph.node):
            node_id = prefix + fixed[(path, i)]
            nodes[(path, i)] = (graph_id, node_id)
            for attr, k, sub in _subgraphs(node):
                inner = (*path, i, attr, k)
                if node.op_type == "If" and node.domain in ("", "ai.onnx"):
                    place(sub, inner, graph_id, f"{node_id}/{attr}/", False)
                elif top and any(a.name == attr and a.type == a.GRAPH for a in node.attribute):
                    place(sub, inner, f"{node_id}/{attr}", "", False)  # a Loop or Scan body

    place(model.graph, (), model.graph.name or "<main>", "", True)
    return nodes, graphs


def _onnx_nodes(model: Any) -> Any:
    import ast

    nodes, graph_ids = onnx_node_ids(model)
    readers: dict[str, list[tuple[tuple[GraphPath, int], Any]]] = collections.defaultdict(list)
    initializer_home: dict[str, GraphPath] = {}
    constant_node: dict[str, tuple[GraphPath, int]] = {}
    stack: list[tuple[GraphPath, Any]] = [((), model.graph)]
    while stack:
        path, g = stack.pop()
        for t in g.initializer:
            initializer_home[t.name] = path
        for i, n in enumerate(g.node):
            if n.op_type == "Constant" and n.output:
                constant_node[n.output[0]] = (path, i)
            for x in set(n.input):
                if x:
                    readers[x].append(((path, i), n))
            stack += [((*path, i, attr, k), sub) for attr, k, sub in _subgraphs(n)]

    def locate(storage: str) -> Iterator[NodeKey]:
        name = str(ast.literal_eval(storage.split(" ", 1)[1]))
        if initializer_home.get(name) in graph_ids:
            yield graph_ids[initializer_home[name]], f"[value] {name}"  # an initializer's own node
        elif constant_node.get(name) in nodes:
            yield nodes[constant_node[name]]
        for at, n in readers[name]:
            if at in nodes:
                yield nodes[at]
                if n.op_type == "DequantizeLinear" and n.output:
                    yield from (nodes[a] for a, _ in readers[n.output[0]] if a in nodes)

    return locate
