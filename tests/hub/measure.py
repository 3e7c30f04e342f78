"""Measure every keras-hub model of tests/hub in every export mode: weight bytes, floor, ratio, numerics
and time. `python -m tests.hub.measure [MODEL ...] [--out DIR]`"""

from __future__ import annotations

import argparse
import tempfile
import time

from tests.hub.builders import BUILDERS, EXPORTS, export_one


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("models", nargs="*", default=list(BUILDERS))
    ap.add_argument("--out", default=None, help="where to write the files (default: a temporary folder)")
    args = ap.parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="hub-measure-")
    print(f"{'model':13} {'format':6} {'mode':8} {'weights':>9} {'floor':>9} {'ratio':>6} {'worst cos':>9} "
          f"{'top-1':>6} {'passed':>6} {'seconds':>7}")
    for name in args.models:
        model = BUILDERS[name]()
        for fmt, mode in EXPORTS:
            started = time.perf_counter()
            rep = export_one(model, name, fmt, mode, out)
            n = rep.numerics
            top1 = "-" if n.top1_agreement is None else f"{n.top1_agreement:.3f}"
            print(f"{name:13} {fmt:6} {mode:8} {rep.weight_bytes:9,} {rep.floor_bytes:9,} {rep.ratio:6.3f} "
                  f"{n.cosine_similarity:9.5f} {top1:>6} {n.passed!s:>6} {time.perf_counter() - started:7.1f}",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
