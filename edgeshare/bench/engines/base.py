"""The engine interface: what measures on the target, as a command line and a parser of its output.

The flow (`edgeshare.bench.flow`) is the same for every target and engine: push the model, run the
engine's commands (each in a fresh process, in order), pull each result file it writes, parse, combine,
clean up. Most engines run one command; one that measures RAM against a baseline process, or a weight
cache that a first launch builds and a second one reads, runs several (`Engine.steps`, `Engine.combine`).
An engine is one module in this package plus one line in its registry (`engines/__init__.py`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from edgeshare.bench.options import BenchOptions
from edgeshare.bench.transports.base import CommandResult, Transport
from edgeshare.errors import EdgeshareError

ProgressFn = Callable[[str, int, int], None]  # (message, done, total)


class BenchmarkRunError(EdgeshareError):
    """The engine ran but did not benchmark. `kind`: delegate_failed, unsupported_op or failed."""

    def __init__(self, message: str, kind: str = "failed", details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.details = details or {}


@dataclass
class Invocation:
    """One command on the target: its argv, environment, and where it leaves its result."""

    argv: list[str]
    env: dict[str, str] | None = None
    merge_stderr: bool = False  # stderr into stdout on the device, so that a log keeps its order
    result_file: str | None = None  # a file on the target to pull after the run
    on_stderr_line: Callable[[str], None] | None = None
    role: str = "measure"  # "baseline", "first_launch" (builds a weight cache) or "measure"
    expect_files: tuple[str, ...] = ()  # target files this step must leave non-empty (a weight cache)
    cleanup: tuple[str, ...] = ()  # target files to remove after the benchmark


class Session(Protocol):
    """What an engine sees of the session that runs it (`edgeshare.bench.flow.Session`)."""

    transport: Transport
    options: BenchOptions
    workdir: str | None
    info: dict[str, Any]

    def prefix(self) -> list[str]:
        """What runs the engine's command (`taskset MASK` when a CPU mask is set)."""
        ...


class Engine(ABC):
    """Measures one model with one delegate on a target. One instance per session (it may keep state,
    such as the binary it pushed)."""

    name: str = ""

    def open(self, session: Session) -> None:  # noqa: B027 (most engines need no set-up)
        """Set the target up once per session (push a binary, check a runtime), after its work folder exists."""

    @abstractmethod
    def invocation(self, session: Session, remote_model: str, delegate: str,
                   progress: ProgressFn | None) -> Invocation:
        """The command that benchmarks `remote_model` with `delegate`."""

    @abstractmethod
    def parse(self, invocation: Invocation, proc: CommandResult, result_text: str | None) -> dict[str, Any]:
        """The result dict of one step; raises BenchmarkRunError when the run did not benchmark."""

    def steps(self, session: Session, remote_model: str, delegate: str, progress: ProgressFn | None,
              fmt: str = "tflite") -> list[Invocation]:
        """The commands of one benchmark of a `fmt` file, run in order, each in a fresh process (default: one)."""
        return [self.invocation(session, remote_model, delegate, progress)]

    def combine(self, steps: list[Invocation], results: list[dict[str, Any]]) -> dict[str, Any]:
        """One result from the parsed steps (default: the last one's)."""
        return results[-1]
