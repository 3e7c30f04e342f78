"""edgeshare bench ARTIFACT... [--device host|ssh:USER@HOST[:PORT]|adb|adb:SERIAL|adb:all] [--delegate D] ...

The same flow on every target (push, run, parse, pull, clean up). Results append to a JSON Lines
history (default build/bench_history.jsonl) for `edgeshare compare`.
"""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

from edgeshare.bench.names import DEFAULT_HISTORY, DELEGATES, DEVICE_HELP, LITERT_APIS, ON_OFF, history_path
from edgeshare.cli._common import add_json_flag, emit_json, fmt_ms, human, out, progress_bar


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "bench",
        help="measure latency and memory of .tflite/.onnx files on the host, SSH boards and Android phones",
        description="Benchmarks each file on each device and delegate with one flow (push, run, parse, pull, "
        "clean up). Host and SSH boards run `python -m edgeshare.bench.runner` (LiteRT's CompiledModel with "
        "XNNPACK's weight cache by default, or onnxruntime's CPU provider); Android phones run the TFLite "
        "benchmark_model binary over adb (with --xnnpack_weight_cache_file_path). Each result carries latency and "
        "RAM: ram_mb (steady RSS over a baseline process of the same runtime), peak_ram_mb (the first launch) and "
        "ram_to_weight. Every result is appended to a JSON Lines history for `edgeshare compare`.",
    )
    p.add_argument("artifacts", nargs="+", metavar="ARTIFACT", help=".tflite or .onnx files")
    p.add_argument("--device", action="append", default=None, metavar="DEVICE",
                   help=f"where to run, repeatable: {DEVICE_HELP}")
    p.add_argument("--delegate", action="append", default=None, choices=DELEGATES,
                   help="repeatable. Android: any (cpu = TFLite kernels without XNNPACK). Host/SSH: xnnpack "
                   "(default for .tflite) or cpu; .onnx runs on cpu")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: the runtime's own)")
    p.add_argument("--warmup", type=int, default=10, help="untimed runs first (default 10)")
    p.add_argument("--runs", type=int, default=100, help="timed runs (default 100)")
    p.add_argument("--cpu-mask", default=None, metavar="HEX",
                   help="pin with `taskset HEX` on the target, e.g. f0 for cores 4-7 (the big cores of many phones)")
    p.add_argument("--op-profile", action="store_true",
                   help="per-op timings (benchmark_model --enable_op_profiling=true; Android)")
    p.add_argument("--peak-memory", action="store_true",
                   help="benchmark_model --report_peak_memory_footprint=true (samples in a thread; Android)")
    p.add_argument("--benchmark-binary", default=None, metavar="PATH",
                   help="benchmark_model for Android: a file, or a folder with one per ABI "
                   "(default: $EDGESHARE_BENCHMARK_BINARY)")
    p.add_argument("--push-lib", action="append", default=[], metavar="PATH",
                   help="push a library beside benchmark_model (Hexagon skel, NPU dispatch library); repeatable")
    p.add_argument("--remote-dir", default=None, metavar="DIR",
                   help="where the work folder goes on the target (adb: /data/local/tmp; ssh: $TMPDIR or /tmp)")
    p.add_argument("--remote-python", default=None, metavar="PYTHON",
                   help="the Python with edgeshare installed on an SSH board (default python3)")
    p.add_argument("--ssh-config", default=None, metavar="PATH", help="an ssh_config file (ssh -F)")
    p.add_argument("--ssh-option", action="append", default=[], metavar="NAME=VALUE", help="ssh -o, repeatable")
    p.add_argument("--weight-cache", choices=ON_OFF, default=None,
                   help="XNNPACK's weight cache (default on): each weight buffer packed once, into a cache file in "
                   "the target's work folder; a first launch builds it and a second, measured launch maps it. off: a "
                   "packed copy per op, as LiteRT's Interpreter does by default")
    p.add_argument("--runtime", choices=LITERT_APIS, default=None,
                   help="the LiteRT API on the host and SSH boards (default compiled; interpreter with "
                   "--weight-cache off). On Android, compiled runs benchmark_litert_model and interpreter "
                   "benchmark_model (default: the binary's name decides)")
    p.add_argument("--ort-prepack", choices=ON_OFF, default="on",
                   help="onnxruntime's weight prepacking (default on: faster GEMMs, a packed copy per node that "
                   "reads a weight; off: each weight held once)")
    p.add_argument("--input-shape", action="append", default=[], metavar="NAME=1x16",
                   help="the shape of an input with dynamic dimensions (repeat per input); recorded in the result")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds one benchmark may take (default 900)")
    p.add_argument("--history", default=None, metavar="PATH",
                   help=f"JSON Lines file the results are appended to (default $EDGESHARE_HISTORY, else "
                   f"{DEFAULT_HISTORY}; an empty $EDGESHARE_HISTORY turns it off)")
    p.add_argument("--no-history", action="store_true", help="do not append to the history")
    p.add_argument("--plot", default=None, metavar="PNG", help="also draw the comparison chart (matplotlib)")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edgeshare.bench.flow import BenchOptions, bench_targets, error_row, plan_jobs
    from edgeshare.bench.history import append_history
    from edgeshare.bench.options import parse_input_shape
    from edgeshare.bench.transports.base import Transport
    from edgeshare.bench.transports.resolve import resolve_targets

    options = BenchOptions(warmup=args.warmup, runs=args.runs, threads=args.threads, cpu_mask=args.cpu_mask,
                           op_profile=args.op_profile, peak_memory=args.peak_memory,
                           benchmark_binary=args.benchmark_binary, push_libs=tuple(args.push_lib),
                           remote_python=args.remote_python, timeout=args.timeout,
                           input_shapes=dict(parse_input_shape(t) for t in args.input_shape),
                           weight_cache=args.weight_cache, runtime=args.runtime, ort_prepack=args.ort_prepack)
    options.validate()
    delegates = list(dict.fromkeys(args.delegate or []))
    specs = list(dict.fromkeys(args.device or ["host"]))
    # Every file is checked (and every job planned) before any device is touched.
    kinds = {s.partition(":")[0] if s != "host" else "host" for s in specs}
    plans = {k: plan_jobs(args.artifacts, delegates, k, options) for k in kinds}
    transports, not_ready = resolve_targets(specs, ssh_config=args.ssh_config, ssh_options=args.ssh_option,
                                            remote_dir=args.remote_dir)

    def jobs_for(t: Transport) -> list[tuple[str, str]]:
        return plans[t.kind]

    total = sum(len(jobs_for(t)) for t in transports) * 1000
    lock = threading.Lock()
    done: dict[str, int] = {}
    with progress_bar("bench", total=total) as (prog, task):

        def progress_for(t: Transport) -> Any:
            def tick(name: str, completed: int, _total: int) -> None:
                with lock:
                    done[t.label] = completed
                    prog.update(task, completed=sum(done.values()), description=f"bench {name}")
            return tick

        rows = bench_targets(transports, jobs_for, options, progress_for)
    for exc in not_ready:
        rows += [error_row(exc.device or "adb", a, d, exc) for a, d in plans["adb"]]
    results = [r for r in rows if "error" not in r]
    errors = [r for r in rows if "error" in r]
    history = None if args.no_history else history_path(args.history)
    if history:
        append_history(history, rows)
    if human(args):
        _print_results(results, args)
        if len(results) > 1:
            from edgeshare.bench.compare import compare_rows
            from edgeshare.cli.compare_cmd import print_compare_table, print_tradeoffs

            rows = compare_rows(results)
            print_compare_table(rows, "comparison (size from <artifact>.report.json when present)")
            print_tradeoffs(rows)
        if history:
            out.print(f"appended {len(rows)} result(s) to {history}; compare runs with `edgeshare compare {history}`",
                      markup=False)
    for e in errors:
        sys.stderr.write(f"edgeshare bench: error: {e['device']}: {e['artifact']} [{e['delegate']}]: {e['error']}\n")
    if args.plot and results:
        from edgeshare.bench.compare import compare_rows
        from edgeshare.bench.plot import plot_compare

        plot_compare(compare_rows(results), args.plot)
        if human(args):
            out.print(f"wrote {args.plot}", markup=False)
    emit_json(args.json, {"devices": specs, "results": results, "errors": errors})
    if errors and not results and all(e["error_kind"] == "input" for e in errors):
        return 2  # nothing ran, and only because of the input (e.g. no benchmark_model for the device)
    return 1 if errors else 0


def _delegation_cell(r: dict[str, Any]) -> str:
    from rich.markup import escape as esc

    d = r.get("delegation")
    if not d:
        return esc(r.get("delegate_detail") or "-")
    parts = []
    if d.get("status"):
        parts.append({"full": "all ops delegated", "partial": f"partial ({d.get('delegate_kernels')} kernels)",
                      "none": "[red]not applied (ran on CPU)[/]"}.get(d["status"], d["status"]))
    for p in d.get("partitions", []):
        parts.append(esc(f"{p['delegate']}: {p['nodes']}/{p['of_nodes']} nodes, {p['partitions']} partition(s)"))
    if d.get("fallback_ops"):
        parts.append(esc("CPU fallback: " + ", ".join(o["op"] for o in d["fallback_ops"])))
    return "; ".join(parts) or "-"


def _print_results(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    from rich.markup import escape as esc
    from rich.table import Table

    from edgeshare.cli.compare_cmd import fmt_mb, fmt_ratio

    if not results:
        return
    t = Table(title=f"latency (ms; {args.runs} runs after {args.warmup} warm-up) and RAM (MiB)", title_justify="left")
    cols = ["variant", "device", "delegate", "runtime", "init", "first", "p50", "p90", "mean", "std", "RAM",
            "x weight", "first launch"]
    for c in cols:
        left = c in ("variant", "device", "delegate", "runtime")
        t.add_column(c, justify="left" if left else "right", overflow="fold", no_wrap=c in ("variant", "device"))
    for r in results:
        launch = r.get("first_launch") or {}
        first = "-" if not launch else f"{fmt_ms(launch.get('init_ms'))} ms, peak {fmt_mb(r.get('peak_ram_mb'))}"
        t.add_row(esc(r["variant"]), esc(r["device"]), r["delegate"], esc(str(r.get("setup") or "-")),
                  fmt_ms(r.get("init_ms")), fmt_ms(r.get("first_ms")),
                  fmt_ms(r.get("p50_ms")), fmt_ms(r.get("p90_ms")), fmt_ms(r.get("mean_ms")),
                  fmt_ms(r.get("std_ms")), fmt_mb(r.get("ram_mb")), fmt_ratio(r.get("ram_to_weight")), first)
    out.print(t)
    # Only benchmark_model (Android) reports how the delegate applied; the runner's delegate is its name.
    for r in results:
        if r.get("delegation"):
            out.print(f"{esc(r['variant'])} on {esc(r['device'])} [{r['delegate']}]: {_delegation_cell(r)}")
    out.print("RAM: steady RSS after load and the first inference, over a baseline process of the same runtime "
              "(anonymous pages + the model and weight-cache file pages); x weight: over the weights stored in the "
              "file; first launch: the launch that builds the weight cache (init, peak RAM)", markup=False)
    for r in results:
        for note in r.get("ram_notes") or []:
            out.print(esc(f"{r['variant']} [{r.get('setup')}]: {note}"))
    for r in results:
        prof = r.get("op_profile")
        if not prof:
            continue
        ops = sorted(prof["run_order"], key=lambda x: -(x.get("avg_ms") or 0.0))[:10]
        pt = Table(title=esc(f"op profile: {r['variant']} on {r['device']} [{r['delegate']}] "
                             f"(top {len(ops)} by avg ms)"), title_justify="left")
        for c in ("node type", "avg ms", "%", "times called", "name"):
            pt.add_column(c, justify="left" if c in ("node type", "name") else "right", overflow="fold")
        for op in ops:
            kind = esc(str(op.get("node_type")))
            if op["delegated"]:
                kind += " [cyan](delegated partition)[/]"
            pt.add_row(kind, fmt_ms(op.get("avg_ms")), f"{op.get('percent', 0):.1f}",
                       str(op.get("times_called", "-")), esc(str(op.get("name", ""))))
        out.print(pt)
