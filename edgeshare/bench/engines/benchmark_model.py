"""The TFLite/LiteRT `benchmark_model` binary: choosing it, its command line, and reading its output.

The flag names are the tool's own (tensorflow/lite/tools/benchmark/README.md and LiteRT's
litert/tools/benchmark_model): `--graph`, `--num_threads`, `--warmup_runs`, `--num_runs`,
`--use_xnnpack`, `--use_gpu`, `--use_nnapi`, `--use_hexagon` (+ `--hexagon_lib_path`), `--use_npu`
(+ `--dispatch_library_path`, LiteRT's build only), `--enable_op_profiling`,
`--report_peak_memory_footprint`.

The parser reads the tool's documented log lines:

    INFO: Inference timings in us: Init: 3337, First inference: 81913, Warmup (avg): 58984.7, Inference (avg): 56265.8
    INFO: count=1061 first=56576 curr=56299 min=54669 max=60236 avg=56265.8 std=982 [p5=... median=... p95=...]
    INFO: Memory footprint delta from the start of the tool (MB): init=8.97 overall=18.72
    INFO: Overall peak memory footprint (MB) via periodic monitoring: 93.2383
    VERBOSE: Replacing 58 out of 58 node(s) with delegate (TfLiteXNNPackDelegate) node, yielding 1 partitions ...
    INFO: Explicitly applied GPU delegate, and the model graph will be completely executed by the delegate.

and, with `--enable_op_profiling=true`, the "Operator-wise Profiling Info for Regular Benchmark Runs"
tables ("Run Order", "Top by Computation Time", "Summary by node type"), where a delegated partition
is one row whose node type is the delegate kernel (TfLiteXNNPackDelegate, TfLiteGpuDelegateV2, ...).
"""

from __future__ import annotations

import os
import re
from typing import Any

from edgeshare.bench.engines.base import BenchmarkRunError, Engine, Invocation, ProgressFn, Session
from edgeshare.bench.names import DELEGATES
from edgeshare.bench.transports.base import CommandResult, TargetError
from edgeshare.errors import InvalidInputError

# cpu = TFLite's built-in kernels alone: benchmark_model applies XNNPACK by default, so it is switched off.
DELEGATE_FLAGS: dict[str, list[str]] = {
    "cpu": ["--use_xnnpack=false"],
    "xnnpack": ["--use_xnnpack=true"],
    "gpu": ["--use_gpu=true"],
    "nnapi": ["--use_nnapi=true"],
    "hexagon": ["--use_hexagon=true"],
    "npu": ["--use_npu=true"],
}

WHERE_TO_GET = (
    "get the TFLite benchmark tool for the device: the prebuilt nightly `benchmark_model` "
    "(android_aarch64_benchmark_model for arm64-v8a, android_arm_benchmark_model for armeabi-v7a; linked from "
    "the TensorFlow Lite 'Performance measurement' page, or LiteRT's prebuilt android_arm64/benchmark_model, "
    "which also has --use_npu), or build it with bazel: `bazel build -c opt --config=android_arm64 "
    "//tensorflow/lite/tools/benchmark:benchmark_model`. Then pass --benchmark-binary PATH (a file, or a "
    "folder with one binary per ABI) or set EDGESHARE_BENCHMARK_BINARY"
)

# ELF e_machine values and the ABI names that run them (Android ABIs and `uname -m` names).
_ELF_MACHINES = {3: "x86", 40: "arm", 62: "x86_64", 183: "arm64", 243: "riscv64"}
_ABI_ARCH = {
    "arm64-v8a": "arm64", "aarch64": "arm64", "arm64": "arm64",
    "armeabi-v7a": "arm", "armeabi": "arm", "armv7l": "arm", "armv8l": "arm", "armv7": "arm",
    "x86": "x86", "i686": "x86", "i386": "x86",
    "x86_64": "x86_64", "amd64": "x86_64",
    "riscv64": "riscv64",
}
# File names to look for in a --benchmark-binary folder, per architecture (nightly and bazel names).
_NAMES = {
    "arm64": ["arm64-v8a/benchmark_model", "android_aarch64_benchmark_model", "android_arm64/benchmark_model",
              "android_arm64_benchmark_model", "linux_aarch64_benchmark_model", "linux_arm64/benchmark_model",
              "aarch64/benchmark_model"],
    "arm": ["armeabi-v7a/benchmark_model", "android_arm_benchmark_model", "linux_arm_benchmark_model"],
    "x86_64": ["x86_64/benchmark_model", "android_x86_64_benchmark_model", "linux_x86-64_benchmark_model",
               "linux_x86_64/benchmark_model"],
    "x86": ["x86/benchmark_model", "android_x86_benchmark_model"],
    "riscv64": ["riscv64/benchmark_model"],
}


def _names(arch: str, tool: str) -> list[str]:
    """File names to look for in a --benchmark-binary folder for `tool` on `arch`."""
    return [n.replace("benchmark_model", tool) for n in _NAMES.get(arch, [])]


def abi_arch(abi: str) -> str | None:
    return _ABI_ARCH.get(abi.strip().lower())


def elf_arch(path: str) -> str | None:
    """The architecture an ELF executable is built for, "script" for a `#!` script, None otherwise."""
    with open(path, "rb") as fh:
        head = fh.read(20)
    if head[:2] == b"#!":
        return "script"
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return None
    machine = int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")
    return _ELF_MACHINES.get(machine, f"elf-machine-{machine}")


def select_benchmark_binary(path: str | None, abi: str, abilist: str | None = None, device: str = "",
                            tool: str = "benchmark_model") -> str:
    """Pick the benchmark tool (`tool`: benchmark_model or benchmark_litert_model) that runs on a device with
    this ABI (`getprop ro.product.cpu.abi`).

    `path` is a binary or a folder of binaries (see `_NAMES`); a binary built for another architecture
    is refused before anything is pushed.
    """
    path = path or os.environ.get("EDGESHARE_BENCHMARK_BINARY") or ""
    if not path:
        raise InvalidInputError(f"{tool} is needed to bench on {device or 'this device'} ({abi}): "
                                f"{WHERE_TO_GET}. Received: benchmark_binary=None")
    accepted = [a for a in [abi, *(abilist or "").split(",")] if a.strip()]
    archs = list(dict.fromkeys(a for a in (abi_arch(x) for x in accepted) if a))
    if not archs:
        raise InvalidInputError(f"unknown device ABI {abi!r}; expected one of {', '.join(sorted(_ABI_ARCH))}. "
                                f"Received: abi={abi}")
    if os.path.isdir(path):
        for arch in archs:
            for name in [*_names(arch, tool), tool]:
                cand = os.path.join(path, name)
                if os.path.isfile(cand) and elf_arch(cand) in (arch, "script"):
                    return cand
        raise InvalidInputError(f"no {tool} for {abi} in {path} (looked for "
                                f"{', '.join(_names(archs[0], tool))}): {WHERE_TO_GET}. "
                                f"Received: benchmark_binary={path}")
    if not os.path.isfile(path):
        raise InvalidInputError(f"the benchmark binary does not exist: {WHERE_TO_GET}. "
                                f"Received: benchmark_binary={path}")
    built = elf_arch(path)
    if built is None:
        raise InvalidInputError(f"not an executable (no ELF header, no #! line): {WHERE_TO_GET}. "
                                f"Received: benchmark_binary={path}")
    if built != "script" and built not in archs:
        raise InvalidInputError(f"{tool} is built for {built} but {device or 'the device'} is {abi} "
                                f"(runs {', '.join(archs)}): {WHERE_TO_GET}. Received: benchmark_binary={path}")
    return path


def benchmark_model_argv(binary: str, graph: str, *, delegate: str, threads: int | None, warmup: int, runs: int,
                         op_profile: bool = False, peak_memory: bool = False, lib_dir: str | None = None,
                         weight_cache: str | None = None, flags: dict[str, list[str]] | None = None) -> list[str]:
    """The benchmark_model command line, with the tool's own flag names (`flags`: delegate -> flags, for
    another tool of the same family)."""
    flags = flags or DELEGATE_FLAGS
    if delegate not in flags:
        raise InvalidInputError(f"unknown delegate; expected one of {', '.join(d for d in DELEGATES if d in flags)}. "
                                f"Received: delegate={delegate}")
    argv = [binary, f"--graph={graph}"]
    if threads:
        argv.append(f"--num_threads={threads}")
    argv += [f"--warmup_runs={warmup}", f"--num_runs={runs}", *flags[delegate]]
    if weight_cache:
        # XNNPACK's weight cache (tensorflow/lite/tools/delegates/xnnpack_delegate_provider.cc): a file path.
        argv.append(f"--xnnpack_weight_cache_file_path={weight_cache}")
    if delegate == "hexagon" and lib_dir:
        argv.append(f"--hexagon_lib_path={lib_dir}")
    if delegate == "npu" and lib_dir:
        argv.append(f"--dispatch_library_path={lib_dir}")
    if op_profile:
        argv.append("--enable_op_profiling=true")
    if peak_memory:
        argv.append("--report_peak_memory_footprint=true")
    return argv


# ---------------------------------------------------------------------------------------------------
# Output parsing

_PREFIX = re.compile(r"^(?:INFO|ERROR|WARNING|WARN|VERBOSE|DEBUG|FATAL): ?")
_NUM = r"([-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?)"
_TIMINGS = re.compile(r"Inference timings in us: Init: " + _NUM + r", First inference: " + _NUM +
                      r", Warmup \(avg\): " + _NUM + r", Inference \(avg\): " + _NUM)
# Before TF 2.3 the tool printed "Average inference timings in us: Warmup: W, Init: I, Inference: X".
_OLD_TIMINGS = re.compile(r"Average inference timings in us: Warmup: " + _NUM + r", Init: " + _NUM +
                          r", (?:Inference|no stats): " + _NUM)
_STAT = re.compile(r"^count=\d+")
_MEM_DELTA = re.compile(r"(?:Memory footprint delta from the start of the tool|Peak memory footprint) \(MB\): "
                        r"init=" + _NUM + r" overall=" + _NUM)
_MEM_PEAK = re.compile(r"Overall peak memory footprint \(MB\) via periodic monitoring: " + _NUM)
_MODEL_MB = re.compile(r"The input model file size \(MB\): " + _NUM)
_REPLACING = re.compile(r"Replacing (\d+) out of (\d+) node\(s\) with delegate \(([^)]+)\) node, yielding (\d+) "
                        r"partitions")
_APPLIED = re.compile(r"Explicitly applied (.+?) delegate, and the model graph will be (completely|partially) "
                      r"executed by the delegate(?: w/ (\d+) delegate kernels)?")
_NOT_APPLIED = re.compile(r"Though (.+?) delegate is explicitly applied, the model graph will not be executed")
_FAILED_APPLY = re.compile(r"Failed to apply (.+?) delegate")
_UNSUPPORTED = [
    re.compile(r"Didn't find op for builtin opcode '([^']+)' version '(\d+)'"),
    re.compile(r"Encountered unresolved custom op: ([^\s.]+)"),
    re.compile(r"Op type not registered '([^']+)'"),
]
_NODE_FAILED = re.compile(r"Node number (\d+) \(([^)]+)\) failed to (prepare|invoke)")
_FALLBACK_HEAD = re.compile(r"(?:Following|Next) operations are not supported by (\w+) delegate:")
_FALLBACK_TAIL = re.compile(r"(\d+) operations will run on the (\w+), and the remaining (\d+) on the CPU")
_FATAL = [
    "Failed to allocate tensors!", "Failed to initialize the interpreter", "Failed to load model",
    "Failed to mmap model", "Failed to compile model", "Failed to invoke", "Disallowed CPU fallback detected",
    "Benchmarking failed.",
]


def _clean(line: str) -> str:
    return _PREFIX.sub("", line.rstrip("\r\n").strip())


def _stat_fields(line: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in re.findall(r"(\w+)=" + _NUM, line):
        out[key] = float(value)
    return out


def parse_benchmark_output(text: str, returncode: int = 0) -> dict[str, Any]:
    """Read benchmark_model's log into edgeshare's result fields (times in ms, memory in MB).

    Raises BenchmarkRunError when the tool did not benchmark: a delegate that failed to apply, an op
    the runtime does not have, or any other failure it reports.
    """
    lines = [_clean(ln) for ln in text.splitlines()]
    delegation: dict[str, Any] = {"status": None, "delegate_kernels": None, "partitions": [], "fallback_ops": []}
    timings: tuple[float, float, float, float] | None = None
    stats: list[dict[str, float]] = []
    mem: dict[str, float] = {}
    model_mb = None
    unsupported: list[str] = []
    fatal: list[str] = []
    failed_delegate = None
    in_fallback = None
    for ln in lines:
        if not ln:
            continue
        if in_fallback is not None:
            tail = _FALLBACK_TAIL.search(ln)
            if tail:
                delegation["fallback_summary"] = {"delegate": tail.group(2), "delegated_ops": int(tail.group(1)),
                                                  "cpu_ops": int(tail.group(3))}
                in_fallback = None
                continue
            op, sep, why = ln.partition(":")
            if sep and re.fullmatch(r"[A-Z0-9_]+", op.strip()):
                delegation["fallback_ops"].append({"op": op.strip(), "reason": why.strip()})
                continue
            in_fallback = None
        if m := _TIMINGS.search(ln):
            timings = (float(m.group(1)), float(m.group(2)), float(m.group(3)), float(m.group(4)))
        elif m := _OLD_TIMINGS.search(ln):
            timings = (float(m.group(2)), float("nan"), float(m.group(1)), float(m.group(3)))
        elif _STAT.match(ln):
            stats.append(_stat_fields(ln))
        elif m := _MEM_DELTA.search(ln):
            mem["init"], mem["overall"] = float(m.group(1)), float(m.group(2))
        elif m := _MEM_PEAK.search(ln):
            mem["peak"] = float(m.group(1))
        elif m := _MODEL_MB.search(ln):
            model_mb = float(m.group(1))
        elif m := _REPLACING.search(ln):
            delegation["partitions"].append({"delegate": m.group(3), "nodes": int(m.group(1)),
                                             "of_nodes": int(m.group(2)), "partitions": int(m.group(4))})
        elif m := _APPLIED.search(ln):
            delegation["delegate"] = m.group(1)
            delegation["status"] = "full" if m.group(2) == "completely" else "partial"
            delegation["delegate_kernels"] = int(m.group(3)) if m.group(3) else 1
        elif m := _NOT_APPLIED.search(ln):
            delegation["delegate"] = m.group(1)
            delegation["status"] = "none"
            delegation["delegate_kernels"] = 0
        elif m := _FAILED_APPLY.search(ln):
            failed_delegate = m.group(1)
        elif m := _FALLBACK_HEAD.search(ln):
            in_fallback = m.group(1)
        elif m := _NODE_FAILED.search(ln):
            fatal.append(f"node {m.group(1)} ({m.group(2)}) failed to {m.group(3)}")
        elif any(p.search(ln) for p in _UNSUPPORTED):
            for p in _UNSUPPORTED:
                if um := p.search(ln):
                    unsupported.append(um.group(1) + (f" (version {um.group(2)})" if um.lastindex == 2 else ""))
        elif any(f in ln for f in _FATAL):
            fatal.append(ln)
    context = [ln for ln in lines if ln][-3:]
    if failed_delegate:
        extra = "; unsupported: " + ", ".join(o["op"] for o in delegation["fallback_ops"]) \
            if delegation["fallback_ops"] else ""
        raise BenchmarkRunError(f"the {failed_delegate} delegate failed to apply to this model{extra}",
                                "delegate_failed", {"delegate": failed_delegate, "delegation": delegation})
    if unsupported:
        raise BenchmarkRunError(f"the runtime on the device does not support op {', '.join(unsupported)} "
                                "(the benchmark binary is older than the converter, or the op needs the Flex "
                                "delegate)", "unsupported_op", {"ops": unsupported})
    if timings is None or returncode != 0 or "Benchmarking failed." in fatal:
        why = "; ".join(dict.fromkeys(f for f in fatal if f != "Benchmarking failed.")) or " | ".join(context) \
            or f"exit status {returncode}"
        raise BenchmarkRunError(f"benchmark_model failed: {why}", "failed", {"returncode": returncode})
    init_us, first_us, warm_us, inf_us = timings
    regular = stats[-1] if stats else {}
    warm = stats[-2] if len(stats) >= 2 else {}

    def ms(d: dict[str, float], key: str) -> float | None:
        return d[key] / 1000.0 if key in d else None

    res: dict[str, Any] = {
        "init_ms": init_us / 1000.0,
        "first_ms": first_us / 1000.0,
        "warmup_mean_ms": warm_us / 1000.0,
        "mean_ms": inf_us / 1000.0,
        "std_ms": ms(regular, "std"),
        "min_ms": ms(regular, "min"),
        "max_ms": ms(regular, "max"),
        "p5_ms": ms(regular, "p5"),
        "p50_ms": ms(regular, "median"),
        "p90_ms": None,  # benchmark_model does not print it
        "p95_ms": ms(regular, "p95"),
        "p99_ms": None,
        "measured_runs": int(regular["count"]) if "count" in regular else None,
        "measured_warmup_runs": int(warm["count"]) if "count" in warm else None,
        "mem_init_mb": mem.get("init"),
        "mem_overall_mb": mem.get("overall"),
        "peak_mem_mb": mem.get("peak", mem.get("overall")),
        "mem_source": ("periodic peak footprint" if "peak" in mem else
                       "footprint delta from tool start" if "overall" in mem else None),
        "model_file_mb": model_mb,
        "delegation": delegation,
    }
    profile = parse_op_profile(text)
    if profile:
        res["op_profile"] = profile
    return res


_SECTION = re.compile(r"^(Profiling Info for Benchmark Initialization|Operator-wise Profiling Info for Regular "
                      r"Benchmark Runs):")
_TABLE = re.compile(r"^=+ (Run Order|Top by Computation Time|Summary by node type) =+$")
_COLUMN_KEYS = {"node type": "node_type", "start": "start_ms", "first": "first_ms", "avg ms": "avg_ms",
                "%": "percent", "cdf%": "cdf_percent", "mem kb": "mem_kb", "times called": "times_called",
                "name": "name", "count": "count", "avg %": "percent", "cdf %": "cdf_percent"}


def is_delegate_row(node_type: str, name: str = "") -> bool:
    """A row that is a delegated partition (one kernel standing for many ops), or an op inside one."""
    return bool(re.search(r"Delegate", node_type)) or name.startswith("Delegate/")


def _split_row(line: str) -> list[str]:
    parts = line.split("\t") if "\t" in line else re.split(r"\s{2,}", line)
    return [p.strip() for p in parts if p.strip()]


def _value(key: str, raw: str) -> Any:
    if key in ("node_type", "name"):
        return raw
    try:
        v = float(raw.rstrip("%"))
    except ValueError:
        return raw
    return int(v) if key in ("count", "times_called") else v


def parse_op_profile(text: str) -> dict[str, Any] | None:
    """The op-profiling tables (`--enable_op_profiling=true`), or None when there are none.

    Returns {"run_order": rows, "top": rows, "by_node_type": rows, "init": rows, "delegated": rows}, each
    row a dict (node_type, avg_ms, percent, times_called, name, delegated, ...), for the regular runs.
    """
    sections: dict[str, dict[str, list[dict[str, Any]]]] = {}
    section = table = None
    columns: list[str] = []
    for raw in text.splitlines():
        stripped = _PREFIX.sub("", raw.strip())
        if m := _SECTION.match(stripped):
            section = "init" if m.group(1).startswith("Profiling Info for Benchmark") else "regular"
            sections.setdefault(section, {})
            table, columns = None, []
            continue
        if section is None:
            continue
        if m := _TABLE.match(stripped):
            table = {"Run Order": "run_order", "Top by Computation Time": "top",
                     "Summary by node type": "by_node_type"}[m.group(1)]
            columns = []
            continue
        if table is None:
            continue
        if not stripped or stripped.startswith(("Timings (microseconds)", "Memory (bytes)", "Number of nodes")) \
                or re.match(r"^\d+ nodes observed", stripped):
            if stripped.startswith("Timings") or stripped.startswith("Number of nodes"):
                table = None if stripped.startswith("Timings") else table
            continue
        if stripped.startswith("["):
            columns = [_COLUMN_KEYS.get(c.strip().lower(), c.strip().lower())
                       for c in re.findall(r"\[([^\]]+)\]", stripped)]
            continue
        if not columns:
            continue
        cells = _split_row(raw.rstrip("\r\n") if "\t" in raw else stripped)
        if len(cells) < len(columns):
            continue
        if len(cells) > len(columns):  # a name with a double space: keep it whole
            cells = [*cells[: len(columns) - 1], "  ".join(cells[len(columns) - 1:])]
        row = {k: _value(k, v) for k, v in zip(columns, cells)}
        row["delegated"] = is_delegate_row(str(row.get("node_type", "")), str(row.get("name", "")))
        sections[section].setdefault(table, []).append(row)
    regular = sections.get("regular")
    if not regular:
        return None
    run_order = regular.get("run_order", [])
    return {
        "run_order": run_order,
        "top": regular.get("top", []),
        "by_node_type": regular.get("by_node_type", []),
        "init": sections.get("init", {}).get("run_order", []),
        "delegated": [r for r in run_order if r["delegated"]],
    }


class BenchmarkModelEngine(Engine):
    """TFLite's `benchmark_model` binary on an Android phone: pushed once per session (the one built for
    the phone's ABI), run per model and delegate; its log is parsed (`parse_benchmark_output`).

    On XNNPACK with the weight cache on (the default), each model runs twice with
    `--xnnpack_weight_cache_file_path=<work folder>/<model stem>.xnnpack_cache`: the first launch packs the
    weights into the cache (it must leave the file there and non-empty), the second maps it and is the one
    reported; the first is reported as the first launch. RAM is the tool's own footprint delta from its start
    (`Memory footprint delta from the start of the tool`): the measured run's is `ram_mb`, the first
    launch's is `peak_ram_mb`.
    """

    name = "benchmark_model"
    tool = "benchmark_model"  # the file name on the device and in --benchmark-binary folders

    def __init__(self) -> None:
        self.binary: str | None = None
        self.remote_binary: str | None = None
        self._label = self.name

    def open(self, session: Session) -> None:
        t, o = session.transport, session.options
        # Chosen before anything is pushed: a wrong binary is an input error, not a device one.
        self.binary = select_benchmark_binary(o.benchmark_binary, session.info.get("abi") or "",
                                              session.info.get("abilist"), t.label, tool=self.tool)
        self.remote_binary = f"{session.workdir}/{self.tool}"
        t.push(self.binary, self.remote_binary)
        res = t.run(["chmod", "755", self.remote_binary], timeout=60)
        if res.returncode != 0:
            raise TargetError(f"could not make {self.tool} executable: {res.last_error_line()}. "
                              f"Received: device={t.label}", t.label)
        for lib in o.push_libs:
            t.push(lib, f"{session.workdir}/{os.path.basename(lib)}")

    def argv(self, session: Session, remote_model: str, delegate: str, weight_cache: str | None) -> list[str]:
        """The tool's command line for one run."""
        o = session.options
        if self.remote_binary is None:
            raise RuntimeError(f"{self.tool} was not pushed: open the session first")
        return [*session.prefix(), *benchmark_model_argv(
            self.remote_binary, remote_model, delegate=delegate, threads=o.threads, warmup=o.warmup, runs=o.runs,
            op_profile=o.op_profile, peak_memory=o.peak_memory, lib_dir=session.workdir if o.push_libs else None,
            weight_cache=weight_cache)]

    def invocation(self, session: Session, remote_model: str, delegate: str,
                   progress: ProgressFn | None) -> Invocation:
        return self.steps(session, remote_model, delegate, progress)[-1]

    def steps(self, session: Session, remote_model: str, delegate: str, progress: ProgressFn | None,
              fmt: str = "tflite") -> list[Invocation]:
        o = session.options
        if session.workdir is None:
            raise RuntimeError(f"{self.tool} was not pushed: open the session first")
        if progress:
            progress(f"running {self.tool}", 0, 0)
        env = {"LD_LIBRARY_PATH": session.workdir} if o.push_libs else None
        if delegate == "xnnpack" and o.cache_on:
            self._label = f"{self.name}+cache"
            cache = f"{session.workdir}/{os.path.splitext(os.path.basename(remote_model))[0]}.xnnpack_cache"
            argv = self.argv(session, remote_model, delegate, cache)
            return [Invocation(argv, env, merge_stderr=True, role="first_launch", expect_files=(cache,),
                               cleanup=(cache,)),
                    Invocation(argv, env, merge_stderr=True, cleanup=(cache,))]
        self._label = self.name
        return [Invocation(self.argv(session, remote_model, delegate, None), env, merge_stderr=True)]

    def parse(self, invocation: Invocation, proc: CommandResult, result_text: str | None) -> dict[str, Any]:
        log = proc.text + proc.error_text
        unconsumed = re.search(r"Unconsumed cmdline flags:(.*)", log)
        if unconsumed and "xnnpack_weight_cache_file_path" in unconsumed.group(1):
            raise BenchmarkRunError(f"this {self.tool} does not take --xnnpack_weight_cache_file_path (it printed "
                                    f"'Unconsumed cmdline flags'), so it would run without the weight cache: use a "
                                    "newer build, or measure without the cache with --weight-cache off",
                                    "cache_missing", {"unconsumed": unconsumed.group(1).strip()})
        res = parse_benchmark_output(log, proc.returncode)
        res["runtime"] = self.tool
        res["log_tail"] = [ln for ln in log.splitlines() if ln.strip()][-5:]
        return res

    def combine(self, steps: list[Invocation], results: list[dict[str, Any]]) -> dict[str, Any]:
        res = dict(results[-1])
        first = results[0] if len(results) > 1 else None
        launch = first or res
        res["ram_mb"] = res.get("mem_overall_mb")
        res["peak_ram_mb"] = launch.get("mem_overall_mb") if launch.get("mem_overall_mb") is not None else \
            launch.get("peak_mem_mb")
        res["ram_source"] = f"{self.tool}'s footprint delta from the start of the tool (max RSS; no anon/file split)"
        res["first_launch"] = {"init_ms": launch.get("init_ms"), "first_ms": launch.get("first_ms"),
                               "peak_ram_mb": res["peak_ram_mb"], "separate_process": first is not None}
        if first is not None:
            res["weight_cache"] = steps[0].expect_files[0]
        res["setup"] = self._label
        return res
