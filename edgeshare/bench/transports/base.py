"""The transport interface: how the one benchmark flow reaches a target.

Every target (this machine, an ARM board over SSH, an Android phone over adb) is driven the same way
by `edgeshare.bench.flow`: make a work folder, push files, run a command, pull files, remove the
folder. A transport only says how each of those steps happens on its target. Commands are given as
argv lists; `run` quotes them for the target's POSIX shell (`edgeshare.bench.transports.quoting`), so no
transport ever builds a command line by string concatenation.
"""

from __future__ import annotations

import subprocess
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

from edgeshare.errors import EdgeshareError

LineFn = Callable[[str], None]


class TargetError(EdgeshareError):
    """The target cannot be reached or went away (missing, unauthorized, disconnected, timed out)."""

    def __init__(self, message: str, device: str | None = None) -> None:
        super().__init__(message)
        self.device = device


@dataclass
class CommandResult:
    """What one command printed and how it exited. `argv` is the local command that ran it."""

    argv: list[str]
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    @property
    def error_text(self) -> str:
        return self.stderr.decode("utf-8", "replace")

    def last_error_line(self) -> str:
        for text in (self.error_text, self.text):
            lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
            if lines:
                return lines[-1]
        return f"exit status {self.returncode}"


def run_process(argv: Sequence[str], *, timeout: float | None = None, stdin: IO[bytes] | None = None,
                on_stderr_line: LineFn | None = None, device: str | None = None) -> CommandResult:
    """Run a local process, stream its stderr line by line to `on_stderr_line`, and collect both pipes.

    Raises TargetError when the program is missing or the timeout passes (the process is killed).
    """
    try:
        proc = subprocess.Popen(list(argv), stdin=stdin if stdin is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except FileNotFoundError as exc:
        raise TargetError(f"`{argv[0]}` was not found on this machine. Received: program={argv[0]}",
                          device) from exc
    out_chunks: list[bytes] = []
    err_chunks: list[bytes] = []

    def read_out(pipe: Any) -> None:
        for chunk in iter(lambda: pipe.read(65536), b""):
            out_chunks.append(chunk)

    def read_err(pipe: Any) -> None:
        for line in iter(pipe.readline, b""):
            err_chunks.append(line)
            if on_stderr_line is not None:
                on_stderr_line(line.decode("utf-8", "replace").rstrip("\r\n"))

    readers = [threading.Thread(target=read_out, args=(proc.stdout,), daemon=True),
               threading.Thread(target=read_err, args=(proc.stderr,), daemon=True)]
    for t in readers:
        t.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        proc.wait()
        raise TargetError(f"`{argv[0]}` did not finish within {timeout:g} s and was stopped. "
                          f"Received: timeout={timeout:g}", device) from exc
    finally:
        for t in readers:
            t.join(timeout=10)
    return CommandResult(list(argv), proc.returncode, b"".join(out_chunks), b"".join(err_chunks))


class Transport(ABC):
    """How the benchmark flow reaches one target. Subclasses: local, SSH, adb."""

    #: "host", "ssh" or "adb"
    kind: str = ""

    @property
    @abstractmethod
    def label(self) -> str:
        """The device as the user named it, e.g. `host`, `ssh:pi@board`, `adb:R58M123`."""

    @abstractmethod
    def shell_argv(self, command: str) -> list[str]:
        """The local argv that runs one (already quoted) shell command line on the target."""

    @abstractmethod
    def push(self, local: str, remote: str) -> None:
        """Copy a local file to `remote` on the target."""

    @abstractmethod
    def pull(self, remote: str, local: str) -> None:
        """Copy `remote` on the target to a local file."""

    @abstractmethod
    def make_workdir(self) -> str:
        """Create a fresh, private folder on the target and return its path."""

    @abstractmethod
    def device_info(self) -> dict[str, Any]:
        """What the target is: model, SoC or board, OS version, ABI, CPU governor."""

    def close(self) -> None:  # noqa: B027 (optional hook: only transports with a connection need it)
        """Release what the transport holds open (a shared SSH connection); it can be used again after."""

    def check_failure(self, result: CommandResult) -> None:  # noqa: B027 (optional hook; most targets need none)
        """Raise TargetError when `result` shows the target itself failed (not the command on it)."""

    def run(self, argv: Sequence[str], *, cwd: str | None = None, env: Mapping[str, str] | None = None,
            merge_stderr: bool = False, timeout: float | None = None,
            on_stderr_line: LineFn | None = None) -> CommandResult:
        """Run `argv` on the target, in `cwd`, with every argument quoted for its shell."""
        from edgeshare.bench.transports.quoting import sh_command

        return self.run_script(sh_command(argv, cwd=cwd, env=env, merge_stderr=merge_stderr),
                               timeout=timeout, on_stderr_line=on_stderr_line)

    def run_script(self, script: str, *, timeout: float | None = None,
                   on_stderr_line: LineFn | None = None) -> CommandResult:
        """Run a shell command line that is already quoted (or a fixed script with no user input)."""
        result = run_process(self.shell_argv(script), timeout=timeout, on_stderr_line=on_stderr_line,
                             device=self.label)
        self.check_failure(result)
        return result

    def remove(self, path: str) -> None:
        """Remove a folder this transport created (`make_workdir`), with everything in it."""
        if "edgeshare" not in path.rsplit("/", 1)[-1]:
            raise ValueError(f"refusing to remove a folder edgeshare did not create. Received: path={path}")
        self.run(["rm", "-rf", "--", path], timeout=120)

    def describe(self, argv: Sequence[str], *, cwd: str | None = None, env: Mapping[str, str] | None = None,
                 merge_stderr: bool = False) -> str:
        """The exact local command line (for the record) that `run` executes for these arguments."""
        import shlex

        from edgeshare.bench.transports.quoting import sh_command

        return shlex.join(self.shell_argv(sh_command(argv, cwd=cwd, env=env, merge_stderr=merge_stderr)))
