"""Opening artifacts given as a path, bytes or a memory map, without copying large files."""

from __future__ import annotations

import contextlib
import mmap
import os
from dataclasses import dataclass
from pathlib import Path

from edgeshare.errors import InvalidInputError

Source = str | os.PathLike | bytes | bytearray | memoryview

TFLITE_IDENTIFIER = b"TFL3"


@dataclass
class OpenedSource:
    """A read-only byte view of an artifact. `path` is None for in-memory sources."""

    data: memoryview
    path: str | None
    _mmap: mmap.mmap | None = None

    @property
    def label(self) -> str:
        return self.path if self.path is not None else "<bytes>"

    def close(self) -> None:
        # Arrays viewing the data may outlive this call; then the views keep the memory alive.
        with contextlib.suppress(BufferError):
            self.data.release()
        if self._mmap is not None:
            # numpy views into the map may still be alive; then it closes when they are collected.
            with contextlib.suppress(BufferError):
                self._mmap.close()
            self._mmap = None

    def __enter__(self) -> OpenedSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_source(source: Source) -> OpenedSource:
    """Map a file (or wrap bytes) for reading. Raises InvalidInputError for missing or empty files."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        view = memoryview(source).cast("B")
        if view.nbytes == 0:
            raise InvalidInputError("the artifact is empty (0 bytes)", "<bytes>")
        return OpenedSource(view, None)
    path = os.fspath(source)
    p = Path(path)
    if not p.exists():
        raise InvalidInputError("no such file", path)
    if p.is_dir():
        raise InvalidInputError("is a directory, expected a .tflite or .onnx file", path)
    size = p.stat().st_size
    if size == 0:
        raise InvalidInputError("the file is empty (0 bytes)", path)
    try:
        with open(p, "rb") as fh:
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as exc:
        raise InvalidInputError(f"cannot read the file ({exc.strerror or exc})", path) from exc
    return OpenedSource(memoryview(mm), path, mm)


def sniff_format(data: memoryview, path: str | None = None) -> str:
    """Return "tflite" or "onnx" from the file's bytes (the extension is only a hint)."""
    if data.nbytes >= 8 and bytes(data[4:8]) == TFLITE_IDENTIFIER:
        return "tflite"
    suffix = Path(path).suffix.lower() if path else ""
    if suffix == ".tflite":
        raise InvalidInputError(
            "not a TFLite flatbuffer: the file identifier 'TFL3' is missing at byte 4 (truncated or corrupt?)",
            path or "<bytes>",
        )
    # ONNX has no magic number. A ModelProto starts with a protobuf field tag: ir_version (0x08) is
    # written first by onnx, but any field in 1..14 with a valid wire type may come first.
    first = data[0] if data.nbytes else 0
    field, wire = first >> 3, first & 7
    if 1 <= field <= 20 and wire in (0, 2):
        return "onnx"
    raise InvalidInputError(
        "not a TFLite flatbuffer or an ONNX model (expected a .tflite or .onnx file)", path or "<bytes>"
    )
