"""Print what the arm64 root gets from PyPI, one requirement a line: edgeshare's base (light runtime)
dependencies from pyproject.toml, and the test runners its light tests need (pytest, hypothesis), with the
version ranges the dev extra pins. No TensorFlow. tests/arm/test_arm.sh keys its cache on this output.

Usage: python tests/arm/root_requirements.py pyproject.toml
"""

from __future__ import annotations

import re
import sys

import tomllib

TEST_RUNNERS = ("pytest", "hypothesis")


def requirements(pyproject: str) -> list[str]:
    with open(pyproject, "rb") as fh:
        project = tomllib.load(fh)["project"]
    reqs = list(project["dependencies"])
    dev = project["optional-dependencies"]["dev"]
    for name in TEST_RUNNERS:
        pinned = [r for r in dev if re.split(r"[<>=!~\[ ;]", r, maxsplit=1)[0].lower() == name]
        if not pinned:
            raise SystemExit(f"pyproject.toml's dev extra does not pin {name}. Received: dev={dev}")
        reqs.append(pinned[0])
    return reqs


if __name__ == "__main__":
    print("\n".join(requirements(sys.argv[1])))
