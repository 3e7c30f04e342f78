"""A recorder that plays `adb` (and the phone behind it) for the adb transport tests.

`install_recorder(folder, state)` writes three executables:
  - `adb`: records its argv (one JSON line each in `record.jsonl`) and acts like adb: `devices`,
    `-s SERIAL push|pull LOCAL REMOTE`, and `-s SERIAL shell ARGS...`, which (like real adb) joins ARGS with
    spaces and hands the line to the device's shell, here a real /bin/sh;
  - `getprop`: the device's properties, from the state;
  - a `benchmark_model` stand-in: records the argv it received after the device shell parsed the command
    line, checks that --graph names a TFLite file, and prints benchmark_model's documented output. Given
    `--xnnpack_weight_cache_file_path=FILE` it writes FILE when it is not there (the first launch) and maps
    it when it is (a faster init, a smaller footprint); with "cache_flag": false in the state it plays a
    build without that flag, which warns "Unconsumed cmdline flags" and writes nothing, and with "silent"
    one that takes the flag and writes nothing.
Devices can be unauthorized or vanish after N adb calls ("adb: device 'X' not found").
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ADB = r'''
import json, os, shutil, subprocess, sys
state_path = os.environ["ADB_RECORDER_STATE"]
state = json.load(open(state_path))
folder = os.path.dirname(state_path)
with open(os.path.join(folder, "record.jsonl"), "a") as fh:
    fh.write(json.dumps(sys.argv[1:]) + "\n")
args = sys.argv[1:]
if args == ["devices"]:
    print("List of devices attached")
    for serial, st in state["devices"].items():
        print(f"{serial}\t{st}")
    sys.exit(0)
if len(args) < 3 or args[0] != "-s":
    sys.stderr.write("adb: usage: unknown command\n"); sys.exit(1)
serial, cmd, rest = args[1], args[2], args[3:]
calls_path = os.path.join(folder, f"calls-{serial}")
calls = int(open(calls_path).read()) + 1 if os.path.exists(calls_path) else 1
open(calls_path, "w").write(str(calls))
vanish = state.get("vanish_after", {}).get(serial)
if serial not in state["devices"] or (vanish is not None and calls > vanish):
    sys.stderr.write(f"adb: device '{serial}' not found\n"); sys.exit(1)
if state["devices"][serial] != "device":
    sys.stderr.write(f"adb: device {state['devices'][serial]}\n"); sys.exit(1)
if cmd == "push":
    shutil.copyfile(rest[0], rest[1]); print(f"{rest[0]}: 1 file pushed, 0 skipped."); sys.exit(0)
if cmd == "pull":
    shutil.copyfile(rest[0], rest[1]); print(f"{rest[0]}: 1 file pulled, 0 skipped."); sys.exit(0)
if cmd == "shell":
    env = dict(os.environ, PATH=os.path.join(folder, "device-bin") + os.pathsep + os.environ["PATH"],
               ADB_SERIAL=serial)
    sys.exit(subprocess.run(["/bin/sh", "-c", " ".join(rest)], env=env).returncode)
sys.stderr.write(f"adb: unknown command {cmd}\n"); sys.exit(1)
'''

GETPROP = r'''
import json, os, sys
state = json.load(open(os.environ["ADB_RECORDER_STATE"]))
print(state["props"].get(os.environ["ADB_SERIAL"], {}).get(sys.argv[1], ""))
'''

BENCHMARK_MODEL = r'''
import json, os, sys
state_path = os.environ["ADB_RECORDER_STATE"]
state = json.load(open(state_path))
with open(os.path.join(os.path.dirname(state_path), "benchmark_model.jsonl"), "a") as fh:
    fh.write(json.dumps({"serial": os.environ["ADB_SERIAL"], "argv": sys.argv[1:], "cwd": os.getcwd()}) + "\n")
flags = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
graph = flags.get("graph", "")
try:
    ok = open(graph, "rb").read(8)[4:8] == b"TFL3"
except OSError:
    ok = False
if not ok:
    print(f"ERROR: Could not open '{graph}'.")
    print("ERROR: Benchmarking failed.")
    sys.exit(1)
logs = state["logs"]
cache = flags.get("xnnpack_weight_cache_file_path")
cached = False
mode = state.get("cache_flag", True)
if cache is not None and mode != "silent":
    if mode is False:
        print(f"WARN: Unconsumed cmdline flags: --xnnpack_weight_cache_file_path={cache}")
    elif os.path.exists(cache):
        cached = True
    else:
        with open(cache, "wb") as fh:
            fh.write(b"\x01" * 4096)
if flags.get("use_gpu") == "true":
    sys.stdout.write(logs["gpu_failed"]); sys.exit(1)
if flags.get("use_nnapi") == "true":
    sys.stdout.write(logs["nnapi_not_applied"]); sys.exit(0)
log = logs["xnnpack_profiled"]
if cached:  # the second launch maps the packed weights instead of packing them
    log = log.replace("Init: 18777,", "Init: 1877,").replace("overall=18.7227", "overall=9.36135")
sys.stdout.write(log)
'''


def _script(path: Path, body: str) -> str:
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(0o755)
    return str(path)


def install_recorder(folder: Path, devices: dict[str, str], props: dict[str, dict[str, str]] | None = None,
                     vanish_after: dict[str, int] | None = None, cache_flag: bool | str = True,
                     tool: str = "benchmark_model") -> dict[str, Any]:
    """Write `adb`, `getprop` and a benchmark_model stand-in into `folder`; returns paths and the state."""
    from tests.bench import benchmark_model_logs as logs

    (folder / "bin").mkdir(parents=True, exist_ok=True)
    (folder / "device-bin").mkdir(exist_ok=True)
    (folder / "binaries").mkdir(exist_ok=True)
    state = {
        "devices": devices,
        "props": props or {},
        "vanish_after": vanish_after or {},
        "cache_flag": cache_flag,
        "logs": {"gpu_failed": logs.GPU_FAILED, "nnapi_not_applied": logs.NNAPI_NOT_APPLIED,
                 "xnnpack_profiled": logs.XNNPACK_PROFILED},
    }
    state_path = folder / "state.json"
    state_path.write_text(json.dumps(state))
    _script(folder / "bin" / "adb", ADB)
    _script(folder / "device-bin" / "getprop", GETPROP)
    binary = _script(folder / "binaries" / f"android_aarch64_{tool}", BENCHMARK_MODEL)
    return {"bin": str(folder / "bin"), "binaries": str(folder / "binaries"), "binary": binary,
            "state": str(state_path), "folder": folder}


def recorded(folder: Path) -> list[list[str]]:
    path = folder / "record.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def benchmark_model_calls(folder: Path) -> list[dict[str, Any]]:
    path = folder / "benchmark_model.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


PIXEL_PROPS = {
    "ro.product.manufacturer": "Google", "ro.product.model": "Pixel 8", "ro.board.platform": "zuma",
    "ro.soc.manufacturer": "Google", "ro.soc.model": "Tensor G3", "ro.hardware": "shiba",
    "ro.build.version.release": "14", "ro.build.version.sdk": "34", "ro.product.cpu.abi": "arm64-v8a",
    "ro.product.cpu.abilist": "arm64-v8a,armeabi-v7a,armeabi",
}
