"""Keep TensorFlow's converter chatter (C++ logs, 'Saved artifact at ...') off stdout and stderr.

The output is captured at the file-descriptor level and replayed only if the wrapped block fails, so
`--json` output on stdout stays machine-readable.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_fds() -> Iterator[None]:
    if os.environ.get("EDGESHARE_VERBOSE"):
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        ok = False
        try:
            yield
            ok = True
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            if not ok:
                sink.seek(0)
                tail = sink.read()[-4000:].decode("utf-8", "replace")
                if tail.strip():
                    sys.stderr.write(tail)
