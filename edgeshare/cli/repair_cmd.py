"""edgeshare repair ARTIFACT -o OUT [--layout auto|inline|offset] [--input-shape NAME=DIMS] [--force] [--model M.keras]
[--plot PNG] [--json [PATH]]"""

from __future__ import annotations

import argparse
from typing import Any

from edgeshare.cli._common import add_json_flag, emit_json, fmt_bytes, human, out, progress_bar


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "repair",
        help="rewrite a .tflite/.onnx from any exporter so that each shared weight is stored once",
        description="Merges exact, requantized and transposed copies of a weight, checks that the outputs "
        "did not change beyond tolerance, and verifies the result. A result whose outputs moved too much (or "
        "could not be compared) is not written, and the merge that cost the accuracy is named; --force writes "
        "it anyway. Exit 0 when the output is clean, 1 when copies remain, the numerics moved or could not be "
        "checked, 2 on bad input.",
    )
    p.add_argument("artifact", help="a .tflite or .onnx file")
    p.add_argument("-o", "--output", required=True, help="the repaired file to write")
    p.add_argument("--layout", choices=("auto", "inline", "offset"), default="auto",
                   help="TFLite buffer layout: inline (data in the flatbuffer), offset (data after it, as "
                   "TFLite does past 2 GB), auto (offset above 256 MB of weights)")
    p.add_argument("--samples", type=int, default=8, help="random inputs for the before/after comparison")
    p.add_argument("--input-shape", action="append", default=[], metavar="NAME=DIMS",
                   help="the shape to feed an input with dynamic dimensions in the before/after comparison, "
                   "e.g. tokens=1x16 (repeatable; other dynamic dimensions are 1)")
    p.add_argument("--force", action="store_true",
                   help="write the result even when its numerics check failed or could not run")
    p.add_argument("--model", help="the .keras model it came from: name the Keras variable behind each weight")
    p.add_argument("--plot", metavar="PNG", help="bar chart of bytes per weight after repair")
    add_json_flag(p)
    p.set_defaults(func=run)


def _merged_line(m: Any) -> str:
    same = m.kept == m.merged  # two tensors may share a name: then the storage tells them apart
    kept = f"{m.kept} ({m.kept_storage})" if same and m.kept_storage else m.kept
    merged = f"{m.merged} ({m.merged_storage})" if same and m.merged_storage else m.merged
    return f"  merged {m.kind} copy {merged} into {kept} ({fmt_bytes(m.bytes_saved)})"


def run(args: argparse.Namespace) -> int:
    import os

    from edgeshare.bench.options import parse_input_shape
    from edgeshare.converters import verify
    from edgeshare.converters.repair import repair
    from edgeshare.errors import InvalidInputError

    if os.path.abspath(args.output) == os.path.abspath(args.artifact):
        raise InvalidInputError("the output would overwrite the input; pick another -o path", args.output)
    shapes = dict(parse_input_shape(s) for s in args.input_shape)
    with progress_bar(f"repairing {args.artifact}"):
        rep = repair(args.artifact, args.output, layout=args.layout, samples=args.samples, force=args.force,
                     input_shapes=shapes or None)
        after = verify(args.output, model=args.model) if args.model and rep.output else rep.after
    d = rep.to_dict()
    if after is not None:
        d["after"] = after.to_dict()
    if human(args):
        from edgeshare.cli.render import print_verify

        target = args.output if rep.output else f"{args.output} (not written)"
        out.print(f"[bold]{args.artifact}[/] -> [bold]{target}[/]: weights "
                  f"{fmt_bytes(rep.weight_bytes_before)} -> {fmt_bytes(rep.weight_bytes_after)} "
                  f"(duplicates {fmt_bytes(rep.duplicate_bytes_before)} -> {fmt_bytes(rep.duplicate_bytes_after)})")
        for k in rep.kept_changes:
            out.print(f"  kept copy {k.tensor} ({k.storage}) re-stored: {k.note}")
        for m in rep.merged:
            out.print(_merged_line(m))
            for note in m.rewrites:
                out.print(f"    {note}")
        for s in rep.skipped:
            out.print(f"  [yellow]left[/] {s.tensor} ({fmt_bytes(s.bytes)}): {s.reason}")
        n = rep.numerics
        if n is not None:
            status = "[green]ok[/]" if n.passed else "[red]OFF[/]"
            out.print(f"outputs before vs after on {n.samples} random inputs: "
                      f"{'bitwise equal' if n.bitwise else f'max |diff| {n.max_abs_diff:.3g}'}, "
                      f"cosine {n.cosine_similarity:.6f} ({n.criterion}) {status}")
        for note in rep.notes:
            out.print(f"[{'red' if rep.rejected else 'yellow'}]note:[/] {note}")
        if after is not None and rep.output:
            print_verify(after.to_dict(), title=f"{args.output} after repair")
    if args.plot and after is not None and rep.output:
        from edgeshare.cli.plot import plot_weights

        plot_weights(after.to_dict(), args.plot, f"{args.output} after repair")
    emit_json(args.json, d)
    return 0 if rep.ok else 1
