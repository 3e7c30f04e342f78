"""Describe a Linux target (this machine or a board over SSH) with one fixed shell script.

The script takes no user input, so it runs as is; it prints `key=value` lines that `parse_info` reads.
"""

from __future__ import annotations

from typing import Any

LINUX_INFO_SCRIPT = (
    'echo "kernel=$(uname -sr)"; '
    'echo "machine=$(uname -m)"; '
    'echo "hostname=$(uname -n)"; '
    "echo \"board=$(tr -d '\\000' < /proc/device-tree/model 2>/dev/null)\"; "
    "echo \"cpu=$(grep -m1 -E '^(model name|Hardware)' /proc/cpuinfo 2>/dev/null | cut -d: -f2-)\"; "
    'echo "cores=$(getconf _NPROCESSORS_ONLN 2>/dev/null)"; '
    "echo \"os=$(. /etc/os-release 2>/dev/null && echo \"$PRETTY_NAME\")\"; "
    "echo \"governor=$(cat /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor 2>/dev/null | sort -u | "
    "tr '\\n' ' ')\""
)


def parse_info(text: str) -> dict[str, Any]:
    """`key=value` lines -> dict, values stripped; empty values become None."""
    info: dict[str, Any] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            info[key.strip()] = value.strip() or None
    return info


def linux_info(text: str) -> dict[str, Any]:
    """The common device fields for a Linux target, from LINUX_INFO_SCRIPT's output."""
    raw = parse_info(text)
    return {
        "model": raw.get("board") or raw.get("cpu"),
        "soc": raw.get("cpu"),
        "os": raw.get("os"),
        "os_version": raw.get("kernel"),
        "abi": raw.get("machine"),
        "governor": raw.get("governor"),
        "cores": int(raw["cores"]) if (raw.get("cores") or "").isdigit() else None,
        "hostname": raw.get("hostname"),
    }
