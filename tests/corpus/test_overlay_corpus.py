"""`verify --model-explorer` on every corpus file with duplicates: the overlay's keys are nodes of the graphs
Model Explorer's own adapters build from the same file (ai-edge-model-explorer's TFLite flatbuffer adapter,
model-explorer-onnx)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.converters.test_overlay import _adapter_keys, _as_model_explorer
from tests.corpus.test_corpus import _case_ids, _verify, corpus  # noqa: F401 (the session fixture)

pytest.importorskip("model_explorer", reason="ai-edge-model-explorer (dev extras) is not installed")
pytest.importorskip("model_explorer_onnx", reason="model-explorer-onnx (dev extras) is not installed")


@pytest.mark.parametrize("case", _case_ids())
def test_overlay_keys_are_model_explorer_nodes(case: str, corpus: dict[str, Path]) -> None:  # noqa: F811
    from edgeshare.converters import verify
    from edgeshare.converters.verify.overlay import overlay

    path = corpus[case]
    code, err, report = _verify(str(path))
    assert code in (0, 1) and report is not None, err
    if not report["groups"]:
        pytest.skip("no duplicates: an empty overlay")
    data = overlay(str(path), verify(str(path)))
    assert data and _as_model_explorer(data) == data
    keys = _adapter_keys(path)
    for gid, g in data.items():
        assert gid in keys and set(g["results"]) <= keys[gid], (gid, sorted(set(g["results"]) - keys.get(gid, set())))
