"""`verify --model-explorer overlay.json`: node data in Model Explorer's per-node format, on the node ids that
Model Explorer's own adapters give the ops (its built-in TFLite flatbuffer adapter, model-explorer-onnx).

Checked against the installed packages (dev extras): the JSON rebuilds through Model Explorer's node-data
dataclasses unchanged, and every key names a node of the graph its adapter builds from the same file."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import onnx
import pytest

from edgeshare.converters import verify
from edgeshare.converters.verify.overlay import PALETTE, overlay
from tests.converters.test_onnx_repair_scopes import if_model, static_qdq
from tests.converters.test_repair_guard import cli
from tests.converters.test_tflite_schema import sparse_model
from tests.converters.test_verify_tflite import tied_embedding

me = pytest.importorskip("model_explorer", reason="ai-edge-model-explorer (dev extras) is not installed")


def _as_model_explorer(data: dict[str, Any]) -> dict[str, Any]:
    """The overlay rebuilt with Model Explorer's ModelNodeData / GraphNodeData / NodeDataResult."""
    from model_explorer.node_data_builder import GraphNodeData, ModelNodeData, NodeDataResult

    graphs = {gid: GraphNodeData(**{**g, "results": {k: NodeDataResult(**v) for k, v in g["results"].items()}})
              for gid, g in data.items()}
    return json.loads(ModelNodeData(graphsData=graphs).to_json_string())


def _adapter_keys(path: Path) -> dict[str, set[str]]:
    """graph id -> the keys a node data result may use: node ids, and the tensor names nodes output."""
    if path.suffix == ".tflite":
        from model_explorer.builtin_tflite_flatbuffer_adapter import BuiltinTfliteFlatbufferAdapter

        graphs = [g for c in BuiltinTfliteFlatbufferAdapter().convert(str(path), {})["graphCollections"]
                  for g in c.graphs]
        keys = {}
        for g in graphs:
            names = {a["value"] for n in g["nodes"] for m in n["outputsMetadata"] for a in m["attrs"]
                     if a["key"] == "tensor_name"}
            keys[g["id"]] = {n["id"] for n in g["nodes"]} | names
        return keys
    from model_explorer_onnx.main import ONNXAdapter

    logging.disable(logging.WARNING)  # the adapter warns about every unnamed value
    try:
        graphs = ONNXAdapter().convert(str(path), {})["graphs"]
    finally:
        logging.disable(logging.NOTSET)
    return {g.id: {n.id for n in g.nodes} for g in graphs}


def _check(path: Path, readers: int) -> dict[str, Any]:
    rep = verify(str(path))
    data = overlay(str(path), rep)
    assert data and "results" not in data  # a ModelNodeData: one GraphNodeData per graph id
    assert _as_model_explorer(data) == data
    keys = _adapter_keys(path)
    colored = 0
    for gid, g in data.items():
        assert gid in keys, (gid, sorted(keys))
        assert set(g["results"]) <= keys[gid], sorted(set(g["results"]) - keys[gid])
        colored += len(g["results"])
        for r in g["results"].values():
            assert r["value"] == rep.groups[0].wasted_bytes and r["bgColor"] == PALETTE[0]
    assert colored >= readers
    return data


def test_tflite_readers_and_constants_are_colored(tmp_path):
    path = tmp_path / "tied.tflite"
    path.write_bytes(tied_embedding("requantized"))
    data = _check(path, readers=4)  # GATHER, FULLY_CONNECTED and the two tables
    assert set(data) == {"main"}
    assert {"emb_gather", "emb_fc"} <= set(data["main"]["results"])  # the constants, by the tensor they output


def test_tflite_densify_readers_are_followed(tmp_path):
    path = tmp_path / "sparse.tflite"
    path.write_bytes(sparse_model("dense"))
    _check(path, readers=3)


def test_onnx_if_branches_are_drawn_inline(tmp_path):
    path = tmp_path / "if.onnx"
    onnx.save(if_model(), path)
    data = _check(path, readers=2)
    assert set(data) == {"main"} and all("/then_branch/" in k or "/else_branch/" in k for k in data["main"]["results"])


def test_onnx_dequantize_readers_are_followed(tmp_path):
    path = tmp_path / "qdq.onnx"
    onnx.save(static_qdq(True), path)
    data = _check(path, readers=6)
    assert {"[value] E_q", "[value] T_q"} <= set(data["qdq"]["results"])


def test_the_cli_writes_the_overlay(tmp_path):
    path, js = tmp_path / "tied.tflite", tmp_path / "overlay.json"
    path.write_bytes(tied_embedding("requantized"))
    code, _, _ = cli("verify", str(path), "--model-explorer", str(js))
    assert code == 1 and json.loads(js.read_text()) == overlay(str(path), verify(str(path)))


def test_a_clean_file_gets_an_empty_overlay(tmp_path):
    path = tmp_path / "clean.tflite"
    path.write_bytes(tied_embedding("shared"))
    assert overlay(str(path), verify(str(path))) == {}
