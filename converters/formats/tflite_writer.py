"""Write a .tflite from the schema's object API (ModelT), streaming buffer data from its source.

Two layouts:

* ``inline``: buffer data inside the flatbuffer, as the converter writes models under 2 GB. The
  flatbuffer is built in memory, so memory use is about the file size.
* ``offset``: the flatbuffer holds only metadata; each buffer records `offset` and `size` and its data
  follows the flatbuffer, 64-byte aligned. This is the layout TFLite uses for models over 2 GB; it is
  written in one streaming pass, so memory use stays at the metadata plus one copy buffer.

``auto`` picks inline below `INLINE_LIMIT` bytes of weights and offset above.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from edgeshare.errors import InvalidInputError

ALIGN = 64
INLINE_LIMIT = 256 * 2**20
_COPY_CHUNK = 16 * 2**20


def _schema() -> Any:
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


def _aligned_buffer_class() -> type:
    s = _schema()

    class AlignedBufferT(s.BufferT):  # type: ignore[name-defined]
        """A BufferT that writes its data 16-byte aligned, as TFLite's own writer does (XNNPACK and
        unaligned-load-sensitive CPUs read weights in place)."""

        def Pack(self, builder: Any) -> Any:
            data = None
            if self.data is not None and len(self.data):
                raw = np.ascontiguousarray(self.data).view(np.uint8).reshape(-1)
                # What Builder.CreateNumpyVector does, with 16-byte alignment instead of the dtype's.
                builder.StartVector(1, raw.size, 16)
                builder.head = builder.Head() - raw.size
                builder.Bytes[builder.Head() : builder.Head() + raw.size] = raw.tobytes()
                builder.vectorNumElems = raw.size
                data = builder.EndVector()
            s.BufferStart(builder)
            if data is not None:
                s.BufferAddData(builder, data)
            s.BufferAddOffset(builder, self.offset)
            s.BufferAddSize(builder, self.size)
            return s.BufferEnd(builder)

    return AlignedBufferT


def _pack(model: Any) -> bytes:
    import flatbuffers

    b = flatbuffers.Builder(1 << 16)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def write_tflite(
    model: Any,
    data_of: Callable[[int], Any],
    out: str | os.PathLike | None,
    layout: str = "auto",
) -> bytes | None:
    """Write `model` (a ModelT whose BufferT.data is ignored) with each buffer's data from `data_of(i)`.

    Returns the file's bytes when `out` is None (inline layout only), else writes `out` and returns None.
    """
    if layout not in ("auto", "inline", "offset"):
        raise ValueError(f"`layout` must be one of auto, inline, offset. Received: layout={layout!r}")
    sizes = []
    for i in range(len(model.buffers)):
        d = data_of(i)
        sizes.append(0 if d is None else memoryview(d).nbytes)
    total = sum(sizes)
    if layout == "auto":
        layout = "inline" if total < INLINE_LIMIT else "offset"
    if layout == "offset" and out is None:
        raise ValueError("the offset layout streams to a file: pass `out`")
    aligned = _aligned_buffer_class()
    bufs = []
    for i, n in enumerate(sizes):
        b = aligned()
        if layout == "inline" and n:
            d = data_of(i)
            b.data = np.frombuffer(memoryview(d).cast("B"), np.uint8) if not isinstance(d, np.ndarray) else d
        bufs.append(b)
    model.buffers = bufs
    if layout == "inline":
        data = _pack(model)
        if out is None:
            return data
        with open(out, "wb") as fh:
            fh.write(data)
        return None

    # Offset layout: pack twice. Every offset is non-zero in both passes, so the flatbuffer's size does
    # not change between them and the second pass can place the data right after it.
    def place(base: int) -> list[int]:
        offs, pos = [], base
        for n in sizes:
            if n:
                pos = (pos + ALIGN - 1) // ALIGN * ALIGN
                offs.append(pos)
                pos += n
            else:
                offs.append(0)
        return offs

    def assign(offs: list[int]) -> None:
        for b, off, n in zip(bufs, offs, sizes):
            b.data = None
            b.offset = off if n else 0
            b.size = n

    assign(place(1 << 40))  # a placeholder base, as large as any real one
    head = _pack(model)
    base = (len(head) + ALIGN - 1) // ALIGN * ALIGN
    offs = place(base)
    assign(offs)
    head = _pack(model)
    if (len(head) + ALIGN - 1) // ALIGN * ALIGN != base:
        raise RuntimeError("flatbuffer size changed between passes")
    with open(out, "wb") as sink:  # type: ignore[arg-type]
        sink.write(head)
        pos = len(head)
        for i, (off, n) in enumerate(zip(offs, sizes)):
            if not n:
                continue
            sink.write(b"\0" * (off - pos))
            view = memoryview(data_of(i)).cast("B")
            for k in range(0, n, _COPY_CHUNK):
                sink.write(view[k : k + _COPY_CHUNK])
            pos = off + n
    return None


def load_model(tfl: Any) -> Any:
    """The schema's object API (ModelT) of a parsed TFLiteFile, ready to be rewritten by `write_tflite`.

    Custom options that a > 2 GB model stores past the flatbuffer (`large_custom_options_offset` / `_size`,
    absolute positions in the file) are carried inline instead: the rewrite moves every byte, so an
    absolute position would not survive it."""
    data = tfl.source.data
    model = _schema().ModelT.InitFromPackedBuf(data, 0)
    for sg in model.subgraphs or []:
        for op in sg.operators or []:
            off, n = int(op.largeCustomOptionsOffset or 0), int(op.largeCustomOptionsSize or 0)
            if off > 1 and n:
                if off + n > data.nbytes:
                    raise InvalidInputError(f"custom options at {off} run past the end of the file "
                                            f"({data.nbytes} bytes)", tfl.label)
                op.customOptions = np.frombuffer(bytes(data[off : off + n]), np.uint8)
            op.largeCustomOptionsOffset, op.largeCustomOptionsSize = 0, 0
    return model


def copy_tflite(source: str | os.PathLike[str] | bytes, out: str | os.PathLike[str] | None = None,
                layout: str = "auto") -> bytes | None:
    """Read a .tflite into the schema's object API and write it back with `write_tflite`, changing nothing
    (the round trip every rewrite relies on). Returns the bytes when `out` is None."""
    from .source import open_source
    from .tflite_file import read_tflite

    with open_source(source) as src:
        tfl = read_tflite(src)
        model = load_model(tfl)

        def data_of(i: int) -> Any:
            return tfl.buffer_bytes(i) if i < len(tfl.buffers) and tfl.buffers[i].length else None

        return write_tflite(model, data_of, os.fspath(out) if out is not None else None, layout=layout)
