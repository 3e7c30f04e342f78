"""Measure every keras-hub model of tests/hub in every export mode: weight bytes, floor, ratio, numerics
and time. `python -m tests.hub.measure [MODEL ...] [--out DIR]`

`floor` is the verifier's (each unique stored weight once at its precision); `/keras` divides the weight
bytes by the Keras model's unique parameters at the mode's weight precision (f32, f16 or int8), a
reference that does not come from the verifier: a tied table stored twice would show about 1.3 there.
`pairs` counts the weight pairs that the independent brute-force finder of tests/corpus sees as one."""

from __future__ import annotations

import argparse
import tempfile
import time

from tests.corpus.bruteforce import find_pairs, read
from tests.hub.builders import BUILDERS, EXPORTS, export_one

WEIGHT_BYTES = {"none": 4, "fp16": 2, "dynamic": 1, "int8": 1}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("models", nargs="*", default=list(BUILDERS))
    ap.add_argument("--out", default=None, help="where to write the files (default: a temporary folder)")
    args = ap.parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="hub-measure-")
    print(f"{'model':13} {'format':6} {'mode':8} {'weights':>9} {'floor':>9} {'ratio':>6} {'/keras':>6} {'pairs':>5} "
          f"{'worst cos':>9} {'top-1':>6} {'exact':>6} {'passed':>6} {'seconds':>7}")
    for name in args.models:
        model = BUILDERS[name]()
        for fmt, mode in [*EXPORTS, ("onnx", "int8")]:
            started = time.perf_counter()
            rep = export_one(model, name, fmt, mode, out)
            seconds = time.perf_counter() - started
            keras_bytes = rep.unique_params * WEIGHT_BYTES[mode]
            pairs = len(find_pairs(read(rep.artifact)))
            n = rep.numerics
            top1 = "-" if n.top1_agreement is None else f"{n.top1_agreement:.3f}"
            exact = [o.top1_exact for o in n.outputs if o.top1_exact is not None]
            top1 += "  " + (f"{min(exact):.3f}" if exact else "    -")
            print(f"{name:13} {fmt:6} {mode:8} {rep.weight_bytes:9,} {rep.floor_bytes:9,} {rep.ratio:6.3f} "
                  f"{rep.weight_bytes / keras_bytes:6.3f} {pairs:5} {n.cosine_similarity:9.5f} {top1:>6} "
                  f"{n.passed!s:>6} {seconds:7.1f}",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
