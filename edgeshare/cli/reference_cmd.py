"""edgeshare export-reference: build, train briefly, export, verify and bench every reference model.

This is `make export`. It writes build/<model>/ with the .keras file, calibration.npz, the exported
files with their .report.json, and build/summary.json, and prints one table.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from edgeshare.cli._common import add_json_flag, emit_json, fmt_bytes, fmt_ms, human, out, progress_bar

TFLITE_MODES = ("none", "fp16", "dynamic", "int8")


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "export-reference",
        help="build, export, verify and bench the built-in reference models (make export)",
    )
    p.add_argument("--out", default="build", help="output folder (default build/)")
    p.add_argument("--models", default=None, help="comma-separated subset of reference models")
    p.add_argument("--modes", default=",".join(TFLITE_MODES), help="TFLite modes (default all)")
    p.add_argument("--onnx-modes", default="none,dynamic",
                   help="ONNX modes (default none,dynamic; int8 also works; empty for no ONNX)")
    p.add_argument("--no-onnx", action="store_true", help="skip the ONNX export")
    p.add_argument("--no-repair", action="store_true", help="keep the stock converters' output (shows duplicates)")
    p.add_argument("--no-train", action="store_true", help="skip the short training run")
    p.add_argument("--no-bench", action="store_true", help="skip the host benchmark")
    p.add_argument("--runs", type=int, default=50, help="timed benchmark runs per file (default 50)")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.table import Table

    from edgeshare.accounting import quiet_tensorflow
    from edgeshare.errors import InvalidInputError

    quiet_tensorflow()
    import numpy as np

    from edgeshare.accounting import model_inputs
    from edgeshare.bench.host import bench_host
    from edgeshare.converters import export as ex
    from edgeshare.models import reference_models

    refs = reference_models()
    if args.models:
        wanted = [m.strip() for m in args.models.split(",") if m.strip()]
        unknown = [m for m in wanted if m not in refs]
        if unknown:
            raise InvalidInputError(f"unknown reference model(s) {unknown}; available: {', '.join(refs)}")
        refs = {k: refs[k] for k in wanted}
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [m for m in modes if m not in TFLITE_MODES]
    if bad:
        raise InvalidInputError(f"unknown mode(s) {bad}; expected a subset of {', '.join(TFLITE_MODES)}")
    onnx_modes = [] if args.no_onnx else [m.strip() for m in args.onnx_modes.split(",") if m.strip()]
    bad = [m for m in onnx_modes if m not in ("none", "dynamic", "int8")]
    if bad:
        raise InvalidInputError(f"unknown ONNX mode(s) {bad}; expected a subset of none, dynamic, int8")
    jobs = [(name, "tflite", m) for name in refs for m in modes]
    jobs += [(name, "onnx", m) for name in refs for m in onnx_modes]
    rows: list[dict[str, Any]] = []
    failed = 0
    with progress_bar("reference models", total=len(jobs) + len(refs)) as (prog, task):
        for name, ref in refs.items():
            prog.update(task, description=f"{name}: build and train")
            folder = os.path.join(args.out, name)
            os.makedirs(folder, exist_ok=True)
            model = ref.build()
            metrics = ref.train(model) if (ref.train and not args.no_train) else {}
            keras_path = os.path.join(folder, f"{name}.keras")
            model.save(keras_path)
            # sample_data lists the arrays in the model's own input order; from here on they go by name.
            data = dict(zip([i.name for i in model_inputs(model)], ref.sample_data(128)))
            cal_path = os.path.join(folder, "calibration.npz")
            np.savez(cal_path, **data)
            prog.advance(task)
            for job_name, fmt, mode in jobs:
                if job_name != name:
                    continue
                prog.update(task, description=f"{name}: {fmt} {mode}")
                suffix = f"_{mode}" if (fmt == "tflite" or mode != "none") else ""
                path = os.path.join(folder, f"{name}{suffix}.{fmt}")
                opts = dict(ref.export_options)
                opts["repair"] = not args.no_repair
                if fmt == "tflite":
                    rep = ex.export_tflite(model, path, mode, calibration=data, **opts)
                else:
                    rep = ex.export_onnx(model, path, mode, calibration=data, **opts)
                row: dict[str, Any] = {
                    "model": name,
                    "format": fmt,
                    "mode": mode,
                    "artifact": path,
                    "params_per_use": rep.params_per_use,
                    "unique_params": rep.unique_params,
                    "floor_bytes": rep.floor_bytes,
                    "weight_bytes": rep.weight_bytes,
                    "duplicate_bytes": rep.duplicate_bytes,
                    "weight_to_floor": round(rep.ratio, 4),
                    "max_abs_error": rep.numerics.max_abs_error if rep.numerics else None,
                    "cosine": rep.numerics.cosine_similarity if rep.numerics else None,
                    "numerics_ok": rep.numerics.passed if rep.numerics else None,
                    "metrics": metrics,
                    "p50_ms": None,
                }
                if rep.numerics is not None and not rep.numerics.passed:
                    failed += 1
                if rep.duplicate_bytes and not args.no_repair:
                    reasons = sorted({s["reason"] for s in (rep.repair or {}).get("skipped", [])})
                    row["left_duplicates_because"] = reasons
                if not args.no_bench:
                    b = bench_host(path, warmup=5, runs=args.runs)
                    row["p50_ms"] = b["p50_ms"]
                    row["peak_rss_mb"] = b["peak_rss_mb"]
                rows.append(row)
                prog.advance(task)
    if human(args):
        t = Table(title=f"reference models -> {args.out}/", title_justify="left")
        for c in ("model", "format", "mode", "params (use/unique)", "floor", "weights", "duplicates",
                  "max error", "cosine", "p50 ms"):
            t.add_column(c, justify="left" if c in ("model", "format", "mode") else "right")
        for r in rows:
            dup = fmt_bytes(r["duplicate_bytes"])
            t.add_row(
                r["model"], r["format"], r["mode"],
                f"{r['params_per_use']:,}/{r['unique_params']:,}",
                fmt_bytes(r["floor_bytes"]), fmt_bytes(r["weight_bytes"]),
                f"[red]{dup}[/]" if r["duplicate_bytes"] else dup,
                "-" if r["max_abs_error"] is None else f"{r['max_abs_error']:.2g}",
                _cosine_cell(r),
                fmt_ms(r["p50_ms"]),
            )
        out.print(t)
        dups = sum(1 for r in rows if r["duplicate_bytes"])
        off = sum(1 for r in rows if r["numerics_ok"] is False)
        out.print(f"{len(rows)} files; {dups} with duplicate weights; {off} with numerics outside tolerance. "
                  f"Per-file reports: {args.out}/<model>/<file>.report.json")
        for r in rows:
            for why in r.get("left_duplicates_because", []):
                out.print(f"[yellow]{r['artifact']}[/]: copies left by the repair: {why}")
    summary = {"out": args.out, "rows": rows}
    emit_json(args.json, summary)
    emit_json(os.path.join(args.out, "summary.json"), summary)
    return 1 if failed else 0


def _cosine_cell(r: dict[str, Any]) -> str:
    if r["cosine"] is None:
        return "-"
    return f"{r['cosine']:.5f}" if r["numerics_ok"] else f"[red]{r['cosine']:.5f}[/]"
