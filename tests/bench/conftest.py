"""Fixtures for the harness tests: tiny models, hostile file names, a canary for injected commands."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bench.sshd import LocalSshd, start_sshd
from tests.bench.tiny_models import write_tiny_onnx, write_tiny_tflite

# Every shell metacharacter that could run something if a path were not quoted. Each injection would
# create the file named by $EDGESHARE_CANARY; a file name cannot hold "/", hence the variable.
HOSTILE_STEM = "we ird 'q' \"dq\" ;touch $EDGESHARE_CANARY; $(touch $EDGESHARE_CANARY) `touch $EDGESHARE_CANARY` |&"


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("models")
    write_tiny_tflite(str(d / "tiny.tflite"))
    write_tiny_onnx(str(d / "tiny.onnx"))
    return d


@pytest.fixture(scope="session")
def tiny_tflite(models_dir: Path) -> str:
    return str(models_dir / "tiny.tflite")


@pytest.fixture(scope="session")
def tiny_onnx(models_dir: Path) -> str:
    return str(models_dir / "tiny.onnx")


@pytest.fixture
def canary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A path that exists only if an injected command ran (exported as $EDGESHARE_CANARY)."""
    path = tmp_path / "canary-executed"
    monkeypatch.setenv("EDGESHARE_CANARY", str(path))
    return path


@pytest.fixture
def hostile_tflite(tmp_path: Path, tiny_tflite: str) -> str:
    d = tmp_path / "hostile dir $(x)"
    d.mkdir()
    dst = d / f"{HOSTILE_STEM}.tflite"
    shutil.copyfile(tiny_tflite, dst)
    return str(dst)


@pytest.fixture
def hostile_onnx(tmp_path: Path, tiny_onnx: str) -> str:
    dst = tmp_path / f"{HOSTILE_STEM}.onnx"
    shutil.copyfile(tiny_onnx, dst)
    return str(dst)


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSshd]:
    """A real sshd on 127.0.0.1 (skips, with the reason, where one cannot start)."""
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    if isinstance(server, str):
        pytest.skip(f"SSH tests need a local sshd: {server}")
    yield server
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


def no_edgeshare_dirs(base: str) -> list[str]:
    """Work folders edgeshare left behind in `base` (there should be none)."""
    return [n for n in os.listdir(base) if n.startswith("edgeshare")]
