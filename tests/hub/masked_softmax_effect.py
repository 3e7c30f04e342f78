"""The int8 TFLite export of the reference LMs with the quantizable masked softmax (what export does) and
with Keras' own (where(mask, logits, -1e9)), on the same trained model and calibration:
`python -m tests.hub.masked_softmax_effect [MODEL ...]`"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time

from edgeshare.accounting import model_inputs
from edgeshare.converters import export_tflite
from edgeshare.converters.export import bank_export
from edgeshare.converters.export.to_tflite import _TRACES
from edgeshare.models import get

LMS = ["tied_lm", "mobilellm_tiny", "multilingual_lm_tiny", "albert_tiny", "universal_transformer_tiny"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("models", nargs="*", default=LMS)
    args = ap.parse_args(argv)
    out = tempfile.mkdtemp(prefix="softmax-effect-")
    traced = bank_export.quantizable_masked_softmax
    forms = {"traced form": traced, "keras stock": lambda active: contextlib.nullcontext()}
    print(f"{'model':27} {'softmax':12} {'weights':>9} {'worst cos':>9} {'top-1':>6} {'max err':>8} {'passed':>6}")
    for name in args.models:
        ref = get(name)
        model = ref.build()
        if ref.train:
            ref.train(model)
        data = dict(zip([i.name for i in model_inputs(model)], ref.sample_data(128)))
        for label, form in forms.items():
            bank_export.quantizable_masked_softmax = form  # type: ignore[assignment]
            _TRACES.clear()  # the trace cache keys on the flag, not on the function patched here
            try:
                started = time.perf_counter()
                rep = export_tflite(model, f"{out}/{name}.tflite", "int8", calibration=data, **dict(ref.export_options))
            finally:
                bank_export.quantizable_masked_softmax = traced
            n = rep.numerics
            top1 = "-" if n.top1_agreement is None else f"{n.top1_agreement:.3f}"
            print(f"{name:27} {label:12} {rep.weight_bytes:9,} {n.cosine_similarity:9.5f} {top1:>6} "
                  f"{n.max_abs_error:8.3g} {n.passed!s:>6}  ({time.perf_counter() - started:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
