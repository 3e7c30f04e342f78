"""ARM Linux boards (Raspberry Pi, Jetson, ...) over SSH.

The board needs only the light runtime: `pip install edgeshare` (LiteRT, onnxruntime, numpy; no
TensorFlow). Files move through `ssh HOST 'cat > PATH'` and `ssh HOST 'cat PATH'`, so every remote
path goes through the same quoting as every other command, and nothing but `ssh` is needed locally.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from typing import Any

from edgeshare.bench.transports.base import CommandResult, TargetError, Transport, run_process
from edgeshare.bench.transports.linux_info import LINUX_INFO_SCRIPT, linux_info
from edgeshare.bench.transports.quoting import sh_quote
from edgeshare.errors import InvalidInputError

_SPEC = re.compile(r"^(?:(?P<user>[^@\s:/]+)@)?(?P<host>\[[0-9A-Fa-f:.]+\]|[^@\s:/\[\]]+)(?::(?P<port>\d+))?$")

# ssh exits 255 when ssh itself fails (unreachable, refused, authentication, host key).
SSH_FAILED = 255


def parse_ssh_spec(spec: str) -> tuple[str | None, str, int | None]:
    """`USER@HOST[:PORT]` -> (user, host, port). IPv6 hosts go in brackets: `pi@[fe80::1]:22`."""
    m = _SPEC.match(spec)
    if not m or m.group("host").startswith("-"):
        raise InvalidInputError(
            f"`--device ssh:` expects USER@HOST or USER@HOST:PORT. Received: device=ssh:{spec}")
    port = int(m.group("port")) if m.group("port") else None
    if port is not None and not 0 < port < 65536:
        raise InvalidInputError(f"the SSH port must be between 1 and 65535. Received: port={port}")
    return m.group("user"), m.group("host").strip("[]"), port


class SshTransport(Transport):
    """Runs the benchmark on a Linux board over SSH (OpenSSH client, key authentication).

    Args:
        spec: `USER@HOST[:PORT]`, as in `--device ssh:USER@HOST[:PORT]`.
        config: an ssh_config file (`ssh -F`), e.g. for IdentityFile and known hosts.
        options: extra `-o NAME=VALUE` options for ssh.
        base_dir: the remote folder for the work folder (default: the board's `$TMPDIR` or /tmp).
        ssh: the ssh program.
        multiplex: share one connection between the many short commands of a run (ControlMaster);
            `close()` ends it.
    """

    kind = "ssh"

    def __init__(self, spec: str, config: str | None = None, options: Sequence[str] = (),
                 base_dir: str | None = None, ssh: str = "ssh", multiplex: bool = True) -> None:
        self.spec = spec
        self.user, self.host, self.port = parse_ssh_spec(spec)
        self.config = config
        self.options = list(options)
        self.base_dir = base_dir
        self.ssh = ssh
        self.multiplex = multiplex
        self._control_dir: str | None = None

    @property
    def label(self) -> str:
        return f"ssh:{self.spec}"

    def _base_argv(self) -> list[str]:
        argv = [self.ssh]
        if self.config:
            argv += ["-F", self.config]
        argv += ["-o", "BatchMode=yes"]
        if self.multiplex:
            if self._control_dir is None:
                # Short path: a control socket's path must fit in a sockaddr_un (about 100 bytes).
                self._control_dir = tempfile.mkdtemp(prefix="es-ssh-", dir="/tmp" if os.path.isdir("/tmp") else None)
            argv += ["-o", "ControlMaster=auto", "-o", f"ControlPath={self._control_dir}/%C",
                     "-o", "ControlPersist=120"]
        for opt in self.options:
            argv += ["-o", opt]
        if self.port:
            argv += ["-p", str(self.port)]
        if self.user:
            argv += ["-l", self.user]
        # `--` ends ssh's options: the host can never be read as one.
        return [*argv, "--", self.host]

    def shell_argv(self, command: str) -> list[str]:
        return [*self._base_argv(), command]

    def check_failure(self, result: CommandResult) -> None:
        if result.returncode == SSH_FAILED:
            raise TargetError(f"ssh could not run the command on {self.host}: {result.last_error_line()}. "
                              f"Check that the board is up and that `ssh {self.spec}` works without a "
                              f"password. Received: device={self.label}", self.label)

    def push(self, local: str, remote: str) -> None:
        with open(local, "rb") as fh:
            res = run_process(self.shell_argv(f"cat > {sh_quote(remote)}"), stdin=fh, timeout=600,
                              device=self.label)
        self.check_failure(res)
        if res.returncode != 0:
            raise TargetError(f"could not copy {local} to {self.host}:{remote}: {res.last_error_line()}. "
                              f"Received: device={self.label}", self.label)

    def pull(self, remote: str, local: str) -> None:
        res = self.run(["cat", "--", remote], timeout=600)
        if res.returncode != 0:
            raise TargetError(f"could not copy {self.host}:{remote} back: {res.last_error_line()}. "
                              f"Received: device={self.label}", self.label)
        with open(local, "wb") as fh:
            fh.write(res.stdout)

    def make_workdir(self) -> str:
        base = sh_quote(self.base_dir) if self.base_dir else '"${TMPDIR:-/tmp}"'
        res = self.run_script(f"mktemp -d {base}/edgeshare.XXXXXX", timeout=60)
        path = res.text.strip()
        if res.returncode != 0 or not path.startswith("/"):
            raise TargetError(f"could not create a work folder on {self.host}: {res.last_error_line()}. "
                              f"Received: device={self.label}", self.label)
        return path

    def close(self) -> None:
        """End the shared connection, if one was opened."""
        if self._control_dir is None:
            return
        run_process([*self._base_argv()[:-2], "-O", "exit", "--", self.host], timeout=30, device=self.label)
        shutil.rmtree(self._control_dir, ignore_errors=True)
        self._control_dir = None

    def device_info(self) -> dict[str, Any]:
        info = linux_info(self.run_script(LINUX_INFO_SCRIPT, timeout=60).text)
        info["ssh"] = self.spec
        return info
