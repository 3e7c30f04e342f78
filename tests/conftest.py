"""Test-wide set-up: quiet TensorFlow, a fixed seed, and the `device` marker's skip."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# `edgeshare bench` appends to build/bench_history.jsonl by default; tests must not write into the repo.
os.environ.setdefault("EDGESHARE_HISTORY", "")


def _adb_device_attached() -> bool:
    if shutil.which("adb") is None:
        return False
    try:
        out = subprocess.run(["adb", "devices"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return any(line.strip().endswith("\tdevice") for line in out.splitlines()[1:])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if any("device" in item.keywords for item in items) and not _adb_device_attached():
        skip = pytest.mark.skip(reason="needs an Android device over adb: none is attached (adb devices)")
        for item in items:
            if "device" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def _seed() -> None:
    import random

    import numpy as np

    random.seed(0)
    np.random.seed(0)
