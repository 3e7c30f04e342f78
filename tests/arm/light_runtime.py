"""pytest plugin for the light-runtime run inside the arm64 root (`make test-arm`).

The root has edgeshare's base install only: no TensorFlow, Keras or tf2onnx. A test (or a fixture it uses)
that imports one of them at run time is reported as skipped with that reason, instead of failing; test
files that import them at module level are not selected (tests/arm/inroot_pytest.sh).
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
