"""Multi-task export: one .tflite with a signature per task plus one for all tasks; ONNX per task.

A multi-task model (for example a functional wrapper around `edgeshare.layers.MultiTaskModel`) returns
a dict of named outputs. `export_tflite(model, path, signatures="tasks")` writes ONE .tflite with a
signature per output (`"digit"`, `"parity"`, ...) and one named `"all"` returning every output. Each
signature is its own subgraph (TF 2.21 orders them by signature name, so subgraph 0, which a plain
`invoke()` runs, is the alphabetically first), pruned to what its outputs need, and all subgraphs read the same weight
buffers: the shared encoder is stored once (TF 2.21's converter shares buffers across signatures, and
`verify` checks every subgraph). A phone app then runs only the task it needs, from one file.

`export_onnx(model, path, signatures="tasks")` writes `path` with every output, named after the tasks,
and, for each task signature, `<stem>.<task>.onnx` with the other tasks' dead branches pruned (ONNX has
no signatures).

`signatures` may also be a dict of signature name to a list of output names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from edgeshare.errors import InvalidInputError

ALL = "all"


def resolve_signatures(
    output_names: Sequence[str], signatures: str | Mapping[str, Sequence[str]]
) -> dict[str, list[str]]:
    """Signature name -> output names. `"tasks"`: `"all"` with every output, then one per output."""
    names = list(output_names)
    if isinstance(signatures, str):
        if signatures != "tasks":
            raise InvalidInputError(
                f"`signatures` must be 'tasks' or a dict of signature name to output names. "
                f"Received: signatures={signatures!r}"
            )
        if ALL in names:
            raise InvalidInputError(f"an output is named {ALL!r}, which the all-tasks signature uses. "
                                    f"Received: outputs={names}")
        return {ALL: names, **{n: [n] for n in names}}
    if not isinstance(signatures, Mapping) or not signatures:
        raise InvalidInputError(
            f"`signatures` must be 'tasks' or a non-empty dict. Received: signatures={signatures!r}"
        )
    out: dict[str, list[str]] = {}
    for key, outs in signatures.items():
        outs = [outs] if isinstance(outs, str) else list(outs)
        unknown = [o for o in outs if o not in names]
        if not isinstance(key, str) or not key.isidentifier() or not outs or unknown:
            raise InvalidInputError(
                "each signature needs an identifier name and a non-empty list of the model's outputs "
                f"{names}. Received: signature={key!r}, outputs={outs}"
            )
        out[key] = outs
    return out



def per_task_tflite_bytes(
    model: Any, quantize: str, *, signatures: str | Mapping[str, Sequence[str]] = "tasks",
    calibration: Any = None, batch_size: int = 1, repair: bool = True,
) -> dict[str, int]:
    """Bytes of the separate single-signature file each task would need without multi-signature export
    (every signature but "all"), converted the same way (and through the same repair pass)."""
    from ..repair.driver import repair as run_repair
    from .prepare import prepare
    from .to_tflite import tflite_bytes

    p = prepare(model, calibration, None, batch_size, need_calibration=quantize == "int8")
    out: dict[str, int] = {}
    for key, outputs in resolve_signatures(p.output_names, signatures).items():
        if key == ALL:
            continue
        data = tflite_bytes(p, quantize, {key: outputs})
        if repair:
            data = run_repair(data).data or data
        out[key] = len(data)
    return out
