"""The error types of edgeshare's converters, verifier and harness.

`InvalidInputError` means the input itself is unusable (missing, empty, truncated, wrong type): the CLI
exits 2. `VerificationError` means a check ran and failed (duplicates found, numerics off): exit 1.
"""

from __future__ import annotations

from typing import Any


class EdgeshareError(Exception):
    """Base class of every error edgeshare raises on purpose."""


class InvalidInputError(EdgeshareError, ValueError):
    """An input file or argument cannot be used. `path` names the file when there is one."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.message = message

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class VerificationError(EdgeshareError):
    """A verification failed. `report` is the report that shows why."""

    def __init__(self, message: str, report: Any = None) -> None:
        super().__init__(message)
        self.report = report
