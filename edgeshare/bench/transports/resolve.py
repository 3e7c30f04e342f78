"""`--device` specs -> transports: `host`, `ssh:USER@HOST[:PORT]`, `adb`, `adb:SERIAL`, `adb:all`."""

from __future__ import annotations

from collections.abc import Sequence

from edgeshare.bench.names import DEVICE_HELP
from edgeshare.bench.transports.base import TargetError, Transport
from edgeshare.errors import InvalidInputError


def resolve_targets(specs: Sequence[str], *, ssh_config: str | None = None, ssh_options: Sequence[str] = (),
                    remote_dir: str | None = None) -> tuple[list[Transport], list[TargetError]]:
    """Transports for every spec, and errors for adb:all devices that are attached but not ready."""
    from edgeshare.bench.transports.adb import DEFAULT_REMOTE_DIR, find_adb, resolve_adb_devices
    from edgeshare.bench.transports.local import LocalTransport
    from edgeshare.bench.transports.ssh import SshTransport

    transports: list[Transport] = []
    errors: list[TargetError] = []
    for spec in specs:
        kind, _, rest = spec.partition(":")
        if spec == "host":
            transports.append(LocalTransport(base_dir=remote_dir))
        elif kind == "ssh" and rest:
            transports.append(SshTransport(rest, config=ssh_config, options=ssh_options, base_dir=remote_dir))
        elif kind == "adb":
            ready, not_ready = resolve_adb_devices(spec, find_adb(spec))
            for t in ready:
                t.base_dir = (remote_dir or DEFAULT_REMOTE_DIR).rstrip("/") or "/"
            transports += ready
            errors += not_ready
        else:
            raise InvalidInputError(f"unknown device; expected {DEVICE_HELP}. Received: device={spec}")
    labels = [t.label for t in transports]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        raise InvalidInputError(f"a device is named twice. Received: device={', '.join(dup)}")
    return transports, errors
