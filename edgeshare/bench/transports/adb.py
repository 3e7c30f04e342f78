"""Android phones over adb.

Every `adb shell` command line is built from an argv list by `edgeshare.bench.transports.quoting`, so model
paths with spaces, quotes, `;`, `$()` or backticks reach the device's shell as one argument each.
`adb push`/`adb pull` take paths as argv and use adb's file protocol, not a shell.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from typing import Any

from edgeshare.bench.transports.base import CommandResult, TargetError, Transport, run_process
from edgeshare.bench.transports.linux_info import parse_info
from edgeshare.errors import InvalidInputError

DEFAULT_REMOTE_DIR = "/data/local/tmp"

# What adb itself prints (as opposed to the command on the device) when the device is not usable.
_ADB_FAILURE = re.compile(
    r"(?:^|\n)(?:adb: )?(?:error: )?(?P<what>device '[^'\n]*' not found|device (?:offline|unauthorized|"
    r"still authorizing|not found)|no devices/emulators found|closed|protocol fault[^\n]*|"
    r"insufficient permissions for device[^\n]*|failed to get feature set[^\n]*|connection reset[^\n]*)",
)

STATE_HINTS = {
    "unauthorized": "unlock the phone and accept the 'Allow USB debugging?' prompt, then run `adb devices`",
    "offline": "reconnect the cable, or run `adb reconnect`, then `adb devices`",
    "authorizing": "wait a few seconds for the phone to finish authorizing, then retry",
    "no permissions": "give your user access to the USB device (a udev rule, or the plugdev group), then "
                      "`adb kill-server`",
    "recovery": "reboot the phone into Android (`adb reboot`)",
    "bootloader": "reboot the phone into Android (`adb reboot`)",
    "sideload": "reboot the phone into Android (`adb reboot`)",
}

INFO_PROPS = (
    "ro.product.manufacturer", "ro.product.model", "ro.board.platform", "ro.soc.manufacturer", "ro.soc.model",
    "ro.hardware", "ro.build.version.release", "ro.build.version.sdk", "ro.product.cpu.abi",
    "ro.product.cpu.abilist",
)
ANDROID_INFO_SCRIPT = (
    "for p in " + " ".join(INFO_PROPS) + '; do echo "$p=$(getprop $p)"; done; '
    "echo \"governor=$(cat /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor 2>/dev/null | sort -u | "
    "tr '\\n' ' ')\""
)


def find_adb(device: str = "adb") -> str:
    """The adb program: `$ADB`, else `adb` on PATH. Raises InvalidInputError with where to get it."""
    adb = os.environ.get("ADB") or shutil.which("adb")
    if not adb:
        raise InvalidInputError(
            "adb was not found: install Android platform-tools (Debian/Ubuntu: `apt-get install adb`; or "
            "the SDK's platform-tools) and put `adb` on PATH, or set ADB=/path/to/adb. "
            f"Received: device={device}")
    return adb


def list_devices(adb: str) -> list[tuple[str, str]]:
    """`adb devices` -> [(serial, state)], e.g. [("R58M123", "device"), ("emulator-5554", "offline")]."""
    res = run_process([adb, "devices"], timeout=60, device="adb")
    if res.returncode != 0:
        raise TargetError(f"`adb devices` failed: {res.last_error_line()}. Received: adb={adb}", "adb")
    devices = []
    for line in res.text.splitlines():
        line = line.strip()
        if not line or line.startswith(("List of devices", "*")):
            continue
        serial, _, state = line.partition("\t")
        if not state:
            serial, _, state = line.partition(" ")
        devices.append((serial.strip(), state.strip()))
    return devices


def state_error(serial: str, state: str) -> TargetError:
    hint = STATE_HINTS.get(state, "check the phone and `adb devices`")
    return TargetError(f"Android device {serial} is {state!r}, not ready: {hint}. Received: device=adb:{serial}",
                       f"adb:{serial}")


def resolve_adb_devices(spec: str, adb: str) -> tuple[list[AdbTransport], list[TargetError]]:
    """`adb`, `adb:SERIAL` or `adb:all` -> (transports ready to use, errors for devices that are not).

    A device that is missing or not ready is an input error for `adb` and `adb:SERIAL`; for `adb:all`
    it is reported and the other devices still run.
    """
    devices = list_devices(adb)
    listing = ", ".join(f"{s} ({st})" for s, st in devices) or "none"
    which = spec.partition(":")[2]
    if which == "all":
        ready = [AdbTransport(s, adb) for s, st in devices if st == "device"]
        errors = [state_error(s, st) for s, st in devices if st != "device"]
        if not ready:
            raise InvalidInputError(f"no Android device is ready over adb (attached: {listing}). "
                                    f"Received: device={spec}")
        return ready, errors
    if not which:
        if len(devices) != 1:
            what = "no Android device is attached" if not devices else f"{len(devices)} devices are attached"
            raise InvalidInputError(f"{what} (attached: {listing}); name one with --device adb:SERIAL, or use "
                                    f"--device adb:all. Received: device={spec}")
        which = devices[0][0]
    states = dict(devices)
    if which not in states:
        raise InvalidInputError(f"no Android device with serial {which!r} is attached (attached: {listing}). "
                                f"Received: device={spec}")
    if states[which] != "device":
        raise InvalidInputError(str(state_error(which, states[which])))
    return [AdbTransport(which, adb)], []


class AdbTransport(Transport):
    """Runs the benchmark on one Android device through adb.

    Args:
        serial: the device serial (`adb devices`).
        adb: the adb program.
        base_dir: where the work folder is created on the device (default /data/local/tmp, the
            one place a shell user can write and execute).
    """

    kind = "adb"

    def __init__(self, serial: str, adb: str = "adb", base_dir: str = DEFAULT_REMOTE_DIR) -> None:
        self.serial = serial
        self.adb = adb
        self.base_dir = base_dir.rstrip("/") or "/"

    @property
    def label(self) -> str:
        return f"adb:{self.serial}"

    def _adb(self, *args: str) -> list[str]:
        return [self.adb, "-s", self.serial, *args]

    def shell_argv(self, command: str) -> list[str]:
        return self._adb("shell", command)

    def check_failure(self, result: CommandResult) -> None:
        m = _ADB_FAILURE.search(result.error_text)
        if m:
            raise TargetError(f"lost Android device {self.serial}: adb says {m.group('what')!r}. Results measured "
                              f"before this are kept. Received: device={self.label}", self.label)

    def push(self, local: str, remote: str) -> None:
        res = run_process(self._adb("push", local, remote), timeout=600, device=self.label)
        self.check_failure(res)
        if res.returncode != 0:
            raise TargetError(f"`adb push` of {local} failed: {res.last_error_line()}. Received: device={self.label}",
                              self.label)

    def pull(self, remote: str, local: str) -> None:
        res = run_process(self._adb("pull", remote, local), timeout=600, device=self.label)
        self.check_failure(res)
        if res.returncode != 0:
            raise TargetError(f"`adb pull` of {remote} failed: {res.last_error_line()}. Received: device={self.label}",
                              self.label)

    def make_workdir(self) -> str:
        path = f"{self.base_dir}/edgeshare-{secrets.token_hex(4)}"
        res = self.run(["mkdir", "-p", path], timeout=60)
        if res.returncode != 0:
            raise TargetError(f"could not create {path} on the device: {res.last_error_line()}. "
                              f"Received: device={self.label}", self.label)
        return path

    def device_info(self) -> dict[str, Any]:
        raw = parse_info(self.run_script(ANDROID_INFO_SCRIPT, timeout=60).text)
        maker, model = raw.get("ro.product.manufacturer"), raw.get("ro.product.model")
        release, sdk = raw.get("ro.build.version.release"), raw.get("ro.build.version.sdk")
        return {
            "model": " ".join(x for x in (maker, model) if x) or None,
            "soc": raw.get("ro.soc.model") or raw.get("ro.board.platform") or raw.get("ro.hardware"),
            "platform": raw.get("ro.board.platform"),
            "os": f"Android {release}" if release else None,
            "os_version": f"API {sdk}" if sdk else None,
            "abi": raw.get("ro.product.cpu.abi"),
            "abilist": raw.get("ro.product.cpu.abilist"),
            "governor": raw.get("governor"),
            "serial": self.serial,
        }
