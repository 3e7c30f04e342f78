"""The export report: sizes, the floor, duplicate groups, the numerics against Keras and what the repair
did, written to `<artifact>.report.json`."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from ..jsonsafe import finite
from ..verify.numerics import Numerics
from ..verify.ram import predict_ram
from ..verify.report import GroupReport, VerifyReport, WeightRow
from .prepare import Prepared


@dataclass
class ExportReport:
    artifact: str
    format: str
    quantize: str
    model: str
    file_bytes: int
    weight_bytes: int
    floor_bytes: int
    duplicate_bytes: int
    groups: list[GroupReport]
    largest: list[WeightRow]
    variables: list[Any] | None
    numerics: Numerics | None
    params_per_use: int
    unique_params: int
    inputs: list[dict[str, Any]]
    outputs: list[str]
    calibration: str
    route: str
    seconds: float
    versions: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    repair: dict[str, Any] | None = None  # what the repair pass merged, skipped and cost; None with --no-repair
    delegates: dict[str, Any] | None = None  # per-delegate op support (TFLite)
    signatures: list[dict[str, Any]] | None = None  # each signature (TFLite) or per-task file (ONNX)
    ram: dict[str, Any] | None = None  # predicted RAM per runtime (verify/ram.py): packed copies, ram_to_weight

    @property
    def ok(self) -> bool:
        return self.duplicate_bytes == 0 and (self.numerics is None or self.numerics.passed)

    @property
    def ratio(self) -> float:
        return self.weight_bytes / self.floor_bytes if self.floor_bytes else 1.0

    def problems(self) -> list[str]:
        out = []
        if self.duplicate_bytes:
            out.append(f"{len(self.groups)} duplicate group(s) waste {self.duplicate_bytes} bytes")
        if self.numerics is not None and not self.numerics.passed:
            out.append(self.numerics.failure() or "numerics off")
        return out

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        d["weight_to_floor"] = round(self.ratio, 4)
        d["problems"] = self.problems()
        return d

    def write_json(self, path: str | os.PathLike[str] | None = None) -> str:
        out = os.fspath(path) if path is not None else self.artifact + ".report.json"
        with open(out, "w") as fh:
            json.dump(finite(self.to_dict()), fh, indent=2)
        return out


def versions() -> dict[str, str]:
    out = {}
    for mod in ("tensorflow", "keras", "keras-hub", "tf2onnx", "onnx", "onnxruntime", "ai-edge-litert"):
        try:
            out[mod.replace("-", "_")] = version(mod)
        except PackageNotFoundError:
            continue
    return out


def build_report(p: Prepared, path: str, fmt: str, quantize: str, route: str, started: float,
                 vr: VerifyReport, numerics: Numerics | None, repair_info: dict[str, Any] | None) -> ExportReport:
    """The ExportReport of a written, verified artifact."""
    from edgeshare.accounting import inspect

    sharing = inspect(p.model)
    warnings = list(p.warnings) + (numerics.warnings if numerics is not None else [])
    return ExportReport(
        artifact=path,
        format=fmt,
        quantize=quantize,
        model=p.model.name,
        file_bytes=vr.file_bytes,
        weight_bytes=vr.weight_bytes,
        floor_bytes=vr.floor_bytes,
        duplicate_bytes=vr.duplicate_bytes,
        groups=vr.groups,
        largest=vr.largest,
        variables=vr.variables,
        numerics=numerics,
        params_per_use=sharing.params_per_use,
        unique_params=sharing.unique_params,
        inputs=[{"name": p.names[s.name], "keras_name": s.name, "shape": list(s.shape), "dtype": s.dtype}
                for s in p.inputs],
        outputs=p.output_names,
        calibration=p.calibration_source,
        route=route,
        seconds=round(time.perf_counter() - started, 3),
        versions=versions(),
        warnings=warnings,
        repair=repair_info,
        ram=predict_ram(path).summary(),
    )


def repair_summary(r: Any, earlier: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a repair pass did, for the report; `earlier` is the summary of a pass before it (ONNX repairs
    the float model, then the quantized one)."""
    d = r.to_dict()
    # A repair that wrote nothing (its outputs moved beyond its tolerance, not forced) changed nothing.
    unused = d.get("output") is None and r.data is None
    out = {
        "bytes_saved": 0 if unused else d["bytes_saved"],
        "duplicate_bytes_before": d["duplicate_bytes_before"],
        "merged": [] if unused else d["merged"],
        "skipped": d["skipped"],
        "numerics_vs_unrepaired": d["numerics"],
        "rejected": bool(d.get("rejected")),
        "culprits": d.get("culprits", []),
    }
    if earlier is not None:
        out.update({
            "bytes_saved": earlier["bytes_saved"] + out["bytes_saved"],
            "merged": earlier["merged"] + out["merged"],
            "skipped": earlier["skipped"] + out["skipped"],
            "float_stage": earlier,
        })
    return out
