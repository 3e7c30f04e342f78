"""edgeshare bench ARTIFACT... [--device host] [--threads N] [--warmup N] [--runs N] [--json [PATH]]"""

from __future__ import annotations

import argparse
from typing import Any

from edgeshare.cli._common import add_json_flag, emit_json, fmt_ms, human, out, progress_bar


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "bench",
        help="measure latency and memory of .tflite/.onnx files",
        description="Runs each file in a fresh process: .tflite on the LiteRT Interpreter (XNNPACK), .onnx on "
        "onnxruntime's CPU provider. Reports init, first inference, mean, std, p50/p90/p99 and peak RSS.",
    )
    p.add_argument("artifacts", nargs="+", metavar="ARTIFACT", help=".tflite or .onnx files")
    p.add_argument("--device", default="host", choices=("host",), help="where to run (default host)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: the runtime's own)")
    p.add_argument("--warmup", type=int, default=10, help="untimed runs first (default 10)")
    p.add_argument("--runs", type=int, default=100, help="timed runs (default 100)")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.table import Table

    from edgeshare.bench.host import bench_host

    results = []
    for path in args.artifacts:
        with progress_bar(f"bench {path}", total=args.warmup + args.runs) as (prog, task):

            def tick(done: int, total: int) -> None:
                prog.update(task, completed=done, total=total)

            results.append(bench_host(path, args.threads, args.warmup, args.runs, progress=tick))
    if human(args):
        t = Table(title=f"latency on {args.device} (ms; {args.runs} runs after {args.warmup} warm-up)",
                  title_justify="left")
        for c in ("artifact", "runtime", "init", "first", "mean", "std", "p50", "p90", "p99", "peak RSS MB"):
            t.add_column(c, justify="left" if c in ("artifact", "runtime") else "right", overflow="fold")
        for r in results:
            t.add_row(r["artifact"], f"{r['runtime']} ({r['delegate']})", fmt_ms(r["init_ms"]),
                      fmt_ms(r["first_ms"]), fmt_ms(r["mean_ms"]), fmt_ms(r["std_ms"]), fmt_ms(r["p50_ms"]),
                      fmt_ms(r["p90_ms"]), fmt_ms(r["p99_ms"]), f"{r['peak_rss_mb']:.1f}")
        out.print(t)
    emit_json(args.json, {"device": args.device, "results": results})
    return 0
