"""pytest plugin for the light-runtime run inside the arm64 root (`make test-arm`).

The root has edgeshare's base install only: no TensorFlow, Keras or tf2onnx. A test (or a fixture it uses)
that imports one of them at run time is reported as skipped with that reason, instead of failing; test
files that import them at module level are not selected (tests/arm/inroot_pytest.sh).

Tests marked `ram` are skipped: under QEMU user emulation a process's RSS holds the emulator's translated
code as well (measured: 11 MiB more than the prediction on a tied LM, and growing with every new code
path), so RAM figures there are the emulator's, not a board's. They run on x86 in `make test`.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

HEAVY = ("tensorflow", "keras", "tf2onnx", "tf_keras", "matplotlib")


def _skip_heavy(exc: ModuleNotFoundError) -> None:
    top = (exc.name or "").split(".")[0]
    if top in HEAVY:
        pytest.skip(f"needs {top}, which the light runtime does not install (the arm64 root has edgeshare's "
                    f"base dependencies only)")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, Any, Any]:
    try:
        return (yield)
    except ModuleNotFoundError as exc:
        _skip_heavy(exc)
        raise


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    try:
        return (yield)
    except ModuleNotFoundError as exc:
        _skip_heavy(exc)
        raise


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(reason="measures RAM: under QEMU user emulation RSS is the emulator's, not a board's")
    for item in items:
        if item.get_closest_marker("ram") is not None:
            item.add_marker(skip)
