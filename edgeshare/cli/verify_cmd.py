"""edgeshare verify ARTIFACT [--model MODEL.keras] [--json [PATH]]"""

from __future__ import annotations

import argparse
from typing import Any

from edgeshare.cli._common import add_json_flag, emit_json, human, progress_bar
from edgeshare.cli.export_cmd import add_custom_objects_flag, load_prelude


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "verify",
        help="prove that a .tflite or .onnx stores each weight once",
        description="Find every group of stored weights that hold the same weight (exact, transposed or "
        "requantized copies). Exit 0 when clean, 1 when duplicates are found, 2 on bad input.",
    )
    p.add_argument("artifact", help="a .tflite or .onnx file")
    p.add_argument("--model", help="the .keras model it came from: map each Keras variable to its buffers")
    add_custom_objects_flag(p)
    p.add_argument("--min-elements", type=int, default=16, help="ignore tensors smaller than this (default 16)")
    p.add_argument("--plot", metavar="PNG", help="write a bar chart of bytes per weight, duplicates marked")
    p.add_argument("--model-explorer", metavar="JSON",
                   help="write a Model Explorer overlay (node data) that colours the readers of each duplicate "
                   "group: model-explorer ARTIFACT --node_data_paths=JSON")
    p.add_argument("--ram", action="store_true",
                   help="also predict the RAM per runtime: which weights get packed, how many packed copies with "
                   "and without XNNPACK's weight cache (or onnxruntime's prepacking), and ram_to_weight")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edgeshare.converters import verify

    if args.model is not None:
        load_prelude(args.model, args.custom_objects)
    elif args.custom_objects:
        from edgeshare.errors import InvalidInputError

        raise InvalidInputError("--custom-objects is for loading --model; give --model too. "
                                f"Received: custom_objects={args.custom_objects}")
    with progress_bar(f"verifying {args.artifact}") as (prog, task):

        def tick(done: int, total: int) -> None:
            prog.update(task, completed=done, total=total)

        rep = verify(args.artifact, model=args.model, min_elements=args.min_elements, progress=tick)
    if human(args):
        from edgeshare.cli.render import print_verify

        print_verify(rep)
    if args.plot:
        from edgeshare.cli.plot import plot_weights

        plot_weights(rep.to_dict(), args.plot, args.artifact)
    if args.model_explorer:
        from edgeshare.converters.verify.overlay import write_overlay

        write_overlay(args.artifact, rep, args.model_explorer)
    payload = rep.to_dict()
    if args.ram:
        from edgeshare.converters.verify.ram import predict_ram

        payload["ram"] = predict_ram(args.artifact).summary()
        if human(args):
            from edgeshare.cli.render_ram import print_ram

            print_ram(payload["ram"])
    emit_json(args.json, payload)
    return 0 if rep.ok else 1
