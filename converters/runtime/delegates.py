"""Which ops of a .tflite each delegate takes: XNNPACK measured on the host, GPU from LiteRT's analyzer.

* `xnnpack`: the model is loaded in LiteRT's Interpreter, which applies its default XNNPACK delegate.
  Each `DELEGATE` node that XNNPACK inserts lists the tensors entering and leaving its partition; the ops
  of the partition are found by walking back from its outputs to its inputs. So the verdict is what the
  runtime itself did on this machine, op by op (primary subgraph only: the Python API lists no other).
* `gpu`: LiteRT's model analyzer (`ai_edge_litert._pywrap_analyzer_wrapper.ModelAnalyzer` with
  `gpu_compatibility=True`) prints a `GPU COMPATIBILITY WARNING` under each op that the GPU delegate
  cannot take; every other op counts as supported. Measured with ai-edge-litert 2.3 (and TF 2.21's own
  analyzer), the check flagged nothing even on RFFT2D, SEGMENT_SUM or a 6-D TRANSPOSE (see
  tests/converters/test_delegates.py), so on these versions a GPU "supported" is the analyzer's word,
  not evidence; an unsupported verdict would be. Run the file on a phone (`edgeshare bench --device`) to
  know.

No TensorFlow is imported.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from typing import Any

GPU_SOURCE = "LiteRT ModelAnalyzer(gpu_compatibility=True)"
XNNPACK_SOURCE = "LiteRT Interpreter with its default XNNPACK delegate, on this host"
GPU_NOTE = (
    "ai-edge-litert 2.3's GPU compatibility check flagged no op in our probes (RFFT2D, SEGMENT_SUM, "
    "6-D TRANSPOSE included): a supported verdict is the analyzer's word, not evidence"
)


@dataclass
class OpSupport:
    subgraph: int
    index: int
    op: str
    xnnpack: bool | None  # None: not known (ops outside the primary subgraph)
    gpu: bool | None
    gpu_warning: str | None = None


@dataclass
class DelegateReport:
    ops: list[OpSupport]
    sources: dict[str, str]
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for name in ("xnnpack", "gpu"):
            verdicts = [(o, getattr(o, name)) for o in self.ops]
            out[name] = {
                "supported": sum(1 for _, v in verdicts if v is True),
                "unsupported": sum(1 for _, v in verdicts if v is False),
                "unknown": sum(1 for _, v in verdicts if v is None),
                "unsupported_ops": sorted({o.op for o, v in verdicts if v is False}),
            }
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "sources": self.sources,
            "notes": self.notes,
            "ops": [asdict(o) for o in self.ops],
        }


def xnnpack_partition(model_path: str) -> tuple[list[tuple[int, str]], set[int]]:
    """(ops of the primary subgraph as (index, name), indices of the ops XNNPACK took) on this host."""
    from ai_edge_litert.interpreter import Interpreter

    from edgeshare._quiet import quiet_fds

    with quiet_fds():
        interp = Interpreter(model_path=model_path)
        interp.allocate_tensors()
    details = interp._get_ops_details()
    ops = [(int(d["index"]), str(d["op_name"])) for d in details if d["op_name"] != "DELEGATE"]
    producer: dict[int, dict[str, Any]] = {}
    for d in details:
        if d["op_name"] != "DELEGATE":
            for t in d["outputs"]:
                producer[int(t)] = d
    taken: set[int] = set()
    for d in details:
        if d["op_name"] != "DELEGATE":
            continue
        boundary = {int(t) for t in d["inputs"]}
        stack = [int(t) for t in d["outputs"]]
        seen: set[int] = set()
        while stack:  # walk back from the partition's outputs to its inputs
            t = stack.pop()
            if t in seen or t in boundary or t not in producer:
                continue
            seen.add(t)
            node = producer[t]
            taken.add(int(node["index"]))
            stack.extend(int(x) for x in node["inputs"] if int(x) >= 0)
    return ops, taken


_SUBGRAPH = re.compile(r"^Subgraph#(\d+)")
_OP = re.compile(r"^\s+Op#(\d+) ([A-Z0-9_:]+)\(")
_WARNING = re.compile(r"^GPU COMPATIBILITY WARNING: (.*)$")


def gpu_analysis(model_path: str) -> list[OpSupport]:
    """Every op of every subgraph with the analyzer's GPU verdict (xnnpack left unknown)."""
    from ai_edge_litert import _pywrap_analyzer_wrapper

    from edgeshare._quiet import quiet_fds

    with quiet_fds():
        text = _pywrap_analyzer_wrapper.ModelAnalyzer(model_path, True, True)
    ops: list[OpSupport] = []
    subgraph = 0
    last: OpSupport | None = None
    for line in text.splitlines():
        m = _SUBGRAPH.match(line)
        if m:
            subgraph, last = int(m.group(1)), None
            continue
        m = _OP.match(line)
        if m:
            last = OpSupport(subgraph, int(m.group(1)), m.group(2), None, True)
            ops.append(last)
            continue
        m = _WARNING.match(line)
        if m and last is not None and not m.group(1).startswith("Subgraph#"):
            last.gpu = False
            last.gpu_warning = m.group(1).strip()
    return ops


def delegate_support(source: str | os.PathLike[str] | bytes) -> DelegateReport:
    """Per-op XNNPACK and GPU support of a .tflite file (path or bytes)."""
    if isinstance(source, (bytes, bytearray)):
        with tempfile.NamedTemporaryFile(suffix=".tflite", delete=False) as fh:
            fh.write(source)
            path = fh.name
        try:
            return delegate_support(path)
        finally:
            os.unlink(path)
    path = os.fspath(source)
    ops = gpu_analysis(path)
    primary, taken = xnnpack_partition(path)
    by_index = {i: name for i, name in primary}
    notes = [GPU_NOTE]
    for o in ops:
        if o.subgraph == 0 and o.index in by_index:
            o.xnnpack = o.index in taken
    if any(o.subgraph != 0 for o in ops):
        notes.append("XNNPACK verdicts cover the primary subgraph only (LiteRT's Python API lists no other)")
    return DelegateReport(ops, {"xnnpack": XNNPACK_SOURCE, "gpu": GPU_SOURCE}, notes)
