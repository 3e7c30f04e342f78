"""edgeshare export MODEL.keras --format tflite|onnx [--quantize MODE] [--calibration FILE.npz] -o OUT"""

from __future__ import annotations

import argparse
from typing import Any

from edgeshare.cli._common import add_json_flag, emit_json, human, out, progress_bar

MODES = ("none", "fp16", "dynamic", "int8")  # ONNX takes none, dynamic, int8


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "export",
        help="export a Keras model to TFLite or ONNX, verify it and check numerics",
        description="Export, then verify the file and compare it with Keras on sample inputs. Writes "
        "OUT.report.json beside the artifact. Exit 1 when duplicates remain or numerics are off.",
    )
    p.add_argument("model", help="a .keras file")
    p.add_argument("--format", choices=("tflite", "onnx"), default=None,
                   help="default: from the output's extension (.tflite or .onnx)")
    p.add_argument("--quantize", choices=MODES, default="none",
                   help="none (f32), fp16, dynamic (int8 weights) or int8 (full integer)")
    p.add_argument("--calibration", metavar="FILE.npz",
                   help="representative inputs for int8 and the numerics check (np.savez; keys = input names)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    p.add_argument("-o", "--output", required=True, help="the artifact to write")
    p.add_argument("--bank-export", choices=("materialize", "runtime", "runtime_kernel"), default="materialize",
                   help="how soft BankConv2D layers are stored: one kernel per layer (materialize), the templates "
                   "once and the mix at inference (runtime), or the templates once as one buffer (runtime_kernel)")
    p.add_argument("--lower-grouped-conv", action="store_true",
                   help="write grouped Conv2D as split / conv / concat, for runtimes without grouped convolution")
    p.add_argument("--signatures", choices=("tasks",), default=None,
                   help="tasks: one signature per model output plus 'all' (multi-task models; ONNX writes one "
                   "file with every output and one pruned file per task)")
    p.add_argument("--no-repair", action="store_true",
                   help="keep the converter's output as it is (to compare with the repaired file)")
    p.add_argument("--input-shape", action="append", default=[], metavar="NAME=1x128",
                   help="the full shape (batch first) of an input with unknown dimensions, such as a keras-hub "
                   "model's token_ids and padding_mask (repeat per input)")
    add_custom_objects_flag(p)
    p.add_argument("--plot", metavar="PNG", help="write a bar chart of bytes per weight, duplicates marked")
    add_json_flag(p)
    p.set_defaults(func=run)


def output_format(output: str, fmt: str | None) -> str:
    """The format the output's extension names; `--format` must agree with it (an exit-2 error otherwise)."""
    from edgeshare.errors import InvalidInputError

    ext = output.lower().rsplit(".", 1)[-1] if "." in output else ""
    named = {"tflite": "tflite", "onnx": "onnx"}.get(ext)
    if fmt is not None and named is not None and fmt != named:
        raise InvalidInputError(f"--format {fmt} conflicts with the output's extension .{ext}; drop --format or "
                                f"rename the output. Received: format={fmt}, output={output}")
    if fmt is None and named is None:
        raise InvalidInputError("cannot tell the format from the output's extension: name it .tflite or .onnx, "
                                f"or pass --format. Received: output={output}")
    return fmt or named  # type: ignore[return-value]


def run(args: argparse.Namespace) -> int:
    from edgeshare.cli._common import check_readable

    # Every file check before TensorFlow loads (importing it takes seconds).
    fmt = output_format(args.output, args.format)
    check_readable(args.model, "the Keras model")
    if args.calibration:
        check_readable(args.calibration, "--calibration")
    from edgeshare.converters import export as ex

    shapes = input_shapes_and_classes(args)  # before TensorFlow loads (the export module does not import it)
    options = {"bank_export": args.bank_export, "lower_grouped_conv": args.lower_grouped_conv,
               "signatures": args.signatures, "input_shapes": shapes or None}

    with progress_bar(f"exporting {args.model}") as (prog, task):

        def say(stage: str) -> None:
            prog.update(task, description=f"{args.model}: {stage}")

        if fmt == "tflite":
            rep = ex.export_tflite(args.model, args.output, args.quantize, calibration=args.calibration,
                                   repair=not args.no_repair, progress=say, **options)
        else:
            rep = ex.export_onnx(args.model, args.output, args.quantize, calibration=args.calibration,
                                 opset=args.opset, repair=not args.no_repair, progress=say, **options)
    d = rep.to_dict()
    if human(args):
        from edgeshare.cli.render import print_verify

        print_verify({**d, "path": rep.artifact}, title=f"{rep.artifact} ({rep.format}, {rep.quantize})")
        n = rep.numerics
        if n is not None:
            status = "[green]ok[/]" if n.passed else "[red]OFF[/]"
            out.print(f"numerics vs Keras on {n.samples} samples: max |error| {n.max_abs_error:.3g}, "
                      f"cosine {n.cosine_similarity:.6f} ({n.criterion}) {status}")
        if rep.repair is not None:
            r = rep.repair
            out.print(f"repair: merged {len(r['merged'])} copies, saved {r['bytes_saved']:,} bytes"
                      + (f"; left {len(r['skipped'])}: " + "; ".join(s["reason"] for s in r["skipped"])
                         if r["skipped"] else ""))
        for w in rep.warnings:
            out.print(f"[yellow]warning:[/] {w}")
        out.print(f"report: {rep.artifact}.report.json")
        for p in rep.problems():
            out.print(f"[red]check failed:[/] {p}")
    if args.plot:
        from edgeshare.cli.plot import plot_weights

        plot_weights(d, args.plot, f"{rep.artifact} ({rep.format}, {rep.quantize})")
    emit_json(args.json, d)
    return 0 if rep.ok else 1


def add_custom_objects_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--custom-objects", action="append", default=[], metavar="MODULE",
                   help="import MODULE (a module name or a .py file) before loading the model, so that the "
                   "Keras classes it registers load (repeatable; keras-hub's are found without it)")


def load_prelude(model: str, custom_objects: list[str]) -> None:
    """Before any heavy import: the model file's own checks; then the user's modules that register classes."""
    from edgeshare.accounting import check_keras_file, import_custom_objects

    check_keras_file(model)
    import_custom_objects(custom_objects)


def input_shapes_and_classes(args: argparse.Namespace) -> dict[str, tuple[int, ...]]:
    """`--input-shape` parsed, the model file checked and the `--custom-objects` modules imported."""
    from edgeshare.bench.options import parse_input_shape

    shapes = dict(parse_input_shape(t) for t in args.input_shape)
    load_prelude(args.model, args.custom_objects)
    return shapes
