"""POSIX shell quoting for every command that runs on a target's shell.

`adb shell CMD` and `ssh HOST CMD` hand CMD to the device's shell (mksh or toybox sh on Android, the
login shell on a board), and the local transport runs `/bin/sh -c CMD`. Each argument is therefore
quoted here, once, for a POSIX shell: a file named `a b;$(rm -rf x)'.tflite` must arrive as one
argument and execute nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from edgeshare.errors import InvalidInputError

# Characters that never need quoting in any POSIX shell (the same set as shlex.quote's).
_SAFE = re.compile(r"[A-Za-z0-9@%+=:,./_-]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def sh_quote(arg: str) -> str:
    """Quote one argument for a POSIX shell: single quotes, with each `'` written as `'\\''`."""
    if "\0" in arg:
        raise InvalidInputError(f"a shell argument cannot contain a NUL byte. Received: arg={arg!r}")
    if arg and _SAFE.fullmatch(arg):
        return arg
    return "'" + arg.replace("'", "'\\''") + "'"


def sh_join(argv: Sequence[str]) -> str:
    """One command line for a POSIX shell that runs exactly `argv`."""
    if not argv:
        raise InvalidInputError("cannot build an empty command line. Received: argv=[]")
    return " ".join(sh_quote(a) for a in argv)


def sh_command(argv: Sequence[str], cwd: str | None = None, env: Mapping[str, str] | None = None,
               merge_stderr: bool = False) -> str:
    """`cd CWD && NAME=VALUE... ARGV... [2>&1]`, every part quoted."""
    parts = []
    for name, value in (env or {}).items():
        if not _ENV_NAME.fullmatch(name):
            raise InvalidInputError(f"not a valid environment variable name. Received: name={name!r}")
        parts.append(f"{name}={sh_quote(value)}")
    cmd = " ".join([*parts, sh_join(argv)])
    if merge_stderr:
        cmd += " 2>&1"
    if cwd is not None:
        cmd = f"cd {sh_quote(cwd)} && {cmd}"
    return cmd
