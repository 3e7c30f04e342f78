"""The host target: this machine, driven exactly like a remote one.

Commands run through `/bin/sh -c` with the same quoting as adb and SSH, so the one flow (and its
quoting) is exercised for real on every machine, phone or not.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

from edgeshare.bench.transports.base import Transport
from edgeshare.bench.transports.linux_info import LINUX_INFO_SCRIPT, linux_info


class LocalTransport(Transport):
    """Runs the benchmark on this machine, in a fresh temporary folder.

    Args:
        base_dir: where the work folder is created (default: the system temporary folder).
        shell: the POSIX shell that runs each command (default `/bin/sh`).
    """

    kind = "host"

    def __init__(self, base_dir: str | None = None, shell: str = "/bin/sh") -> None:
        self.base_dir = base_dir
        self.shell = shell

    @property
    def label(self) -> str:
        return "host"

    def shell_argv(self, command: str) -> list[str]:
        return [self.shell, "-c", command]

    def push(self, local: str, remote: str) -> None:
        shutil.copyfile(local, remote)

    def pull(self, remote: str, local: str) -> None:
        shutil.copyfile(remote, local)

    def make_workdir(self) -> str:
        return tempfile.mkdtemp(prefix="edgeshare-", dir=self.base_dir)

    def remove(self, path: str) -> None:
        if "edgeshare" not in os.path.basename(path):
            raise ValueError(f"refusing to remove a folder edgeshare did not create. Received: path={path}")
        shutil.rmtree(path, ignore_errors=True)

    def device_info(self) -> dict[str, Any]:
        return linux_info(self.run_script(LINUX_INFO_SCRIPT, timeout=30).text)
