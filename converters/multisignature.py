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

import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InvalidInputError
from .numerics import Numerics, compare, run_samples

ALL = "all"


def _named_outputs(y: Any) -> dict[str, Any]:
    if isinstance(y, dict):
        return dict(y)
    ys = list(y) if isinstance(y, (list, tuple)) else [y]
    return {f"output_{i}": t for i, t in enumerate(ys)}


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


def _output_names(model: Any, samples: list[np.ndarray]) -> list[str]:
    from edgeshare.accounting import call_model

    return list(_named_outputs(call_model(model, [x[:1] for x in samples])))


def tflite_signature_bytes(p: Any, quantize: str, sigs: dict[str, list[str]]) -> bytes:
    """Convert with one ExportArchive endpoint per signature (mirrors export._tflite_bytes)."""
    import keras
    import tensorflow as tf

    from edgeshare.accounting import call_model

    from . import export as ex
    from ._quiet import quiet_fds

    tf_specs = [tf.TensorSpec(shape, dtype, name=n) for (_, shape, dtype), n in zip(p.specs, p.names)]

    def endpoint(outputs: list[str]) -> Any:
        def serve(*xs: Any) -> dict[str, Any]:
            y = _named_outputs(call_model(p.model, list(xs)))
            return {o: y[o] for o in outputs}

        return serve

    with quiet_fds(), tempfile.TemporaryDirectory() as saved:
        archive = keras.export.ExportArchive()
        archive.track(p.model)
        for key, outputs in sigs.items():
            archive.add_endpoint(key, endpoint(outputs), input_signature=tf_specs)
        archive.write_out(saved, verbose=False)
        conv = tf.lite.TFLiteConverter.from_saved_model(saved, signature_keys=list(sigs))
        return ex.convert(conv, p, quantize, list(sigs))


def _signature_numerics(
    run: Any, p: Any, outputs: list[str], reference: dict[str, np.ndarray], quantize: str
) -> Numerics:
    actual = run_samples(run, p.samples)
    return compare([reference[o] for o in outputs], actual, quantize)


def _reference(p: Any) -> dict[str, np.ndarray]:
    from edgeshare.accounting import call_model

    return {k: np.asarray(v) for k, v in _named_outputs(call_model(p.model, p.samples)).items()}


def _combined(parts: list[Numerics]) -> Numerics:
    worst = min(parts, key=lambda n: (n.passed, -n.max_abs_error))
    return Numerics(
        samples=worst.samples,
        max_abs_error=max(n.max_abs_error for n in parts),
        cosine_similarity=min(n.cosine_similarity for n in parts),
        criterion=worst.criterion + " (every signature)",
        passed=all(n.passed for n in parts),
    )


def export_tflite_signatures(
    model: Any,
    path: str | os.PathLike[str],
    quantize: str,
    *,
    signatures: str | Mapping[str, Sequence[str]],
    calibration: Any = None,
    sample_inputs: Any = None,
    batch_size: int = 1,
    progress: Any = None,
    bank_export: str = "materialize",
    lower_grouped_conv: bool = False,
    repair: bool = True,
) -> Any:
    """One .tflite with a signature per entry of `signatures`; see the module docstring.

    Returns an ExportReport whose `signatures` lists each signature's outputs and numerics; its
    `numerics` is the worst of them.
    """
    from . import export as ex
    from .bank_export import check_bank_export, layer_export_forms
    from .delegates import delegate_support
    from .runtime import TFLiteRunner
    from .verify import verify

    say = progress or (lambda _m: None)
    started = time.perf_counter()
    p = ex._prepare(model, calibration, sample_inputs, batch_size, need_calibration=quantize == "int8")
    sigs = resolve_signatures(_output_names(p.model, p.samples), signatures)
    say(f"converting to TFLite ({quantize}) with signatures {', '.join(sigs)}")
    check_bank_export(bank_export, quantize)
    if bank_export == "runtime_kernel":
        raise InvalidInputError("bank_export='runtime_kernel' does not combine with `signatures`; use 'runtime'. "
                                f"Received: bank_export={bank_export!r}, signatures={signatures!r}")
    with layer_export_forms(p.model, bank_export, lower_grouped_conv):
        data = tflite_signature_bytes(p, quantize, sigs)
    repair_info = None
    if repair:  # the same pass as export_tflite's (it reads every subgraph)
        say("repairing shared weights")
        from .repair import repair as run_repair

        rr = run_repair(data)
        if rr.data is None:
            raise InvalidInputError("the repair pass returned no model", p.model.name)
        data = rr.data
        repair_info = ex._repair_summary(rr)
    out = os.fspath(path)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as fh:
        fh.write(data)
    say("verifying")
    vr = verify(out, model=p.model)
    say("checking numerics per signature")
    reference = _reference(p)
    per_signature: list[dict[str, Any]] = []
    parts: list[Numerics] = []
    for key, outputs in sigs.items():
        runner = TFLiteRunner(out, signature=key)
        order = [runner.input_names.index(n) for n in p.names]
        out_index = [runner.output_names.index(o) for o in outputs]

        def run(*xs: np.ndarray, _r: Any = runner, _order: list[int] = order, _idx: list[int] = out_index) -> Any:
            feeds: list[Any] = [None] * len(xs)
            for i, j in enumerate(_order):
                feeds[j] = xs[i]
            ys = _r(*feeds)
            return [ys[k] for k in _idx]

        num = _signature_numerics(run, p, outputs, reference, quantize)
        parts.append(num)
        per_signature.append({"key": key, "outputs": outputs, "numerics": num.to_dict()})
    route = "Keras ExportArchive, one endpoint per signature -> TFLiteConverter" + (
        " -> edgeshare repair" if repair else "")
    rep = _report(ex, p, out, "tflite", quantize, started, vr, _combined(parts), list(reference), route,
                  repair_info)
    rep.signatures = per_signature
    rep.delegates = delegate_support(out).to_dict()
    rep.write_json()
    return rep


def _report(
    ex: Any, p: Any, out: str, fmt: str, quantize: str, started: float, vr: Any, numerics: Numerics,
    outputs: list[str], route: str, repair_info: dict[str, Any] | None,
) -> Any:
    return ex.build_report(p, out, fmt, quantize, route, started, outputs, vr, numerics, repair_info)


def prune_onnx(model: Any, outputs: Sequence[str]) -> Any:
    """A copy of an ONNX ModelProto that computes only `outputs`: dead nodes and initializers removed."""
    import onnx

    pruned = onnx.ModelProto()
    pruned.CopyFrom(model)
    g = pruned.graph
    keep_out = [o for o in g.output if o.name in set(outputs)]
    if len(keep_out) != len(set(outputs)):
        missing = sorted(set(outputs) - {o.name for o in g.output})
        raise InvalidInputError(
            f"`outputs` must name outputs of the ONNX model {[o.name for o in g.output]}. Received: missing={missing}"
        )

    def reads(node: Any) -> set[str]:
        names = {i for i in node.input if i}
        for attr in node.attribute:  # names a subgraph (Loop, If) reads from the outer scope
            for sub in ([attr.g] if attr.type == attr.GRAPH else list(attr.graphs)):
                for n in sub.node:
                    names |= reads(n)
        return names

    needed = set(outputs)
    kept = []
    for node in reversed(list(g.node)):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed |= reads(node)
    kept.reverse()
    del g.node[:]
    g.node.extend(kept)
    del g.output[:]
    g.output.extend(keep_out)
    inits = [t for t in g.initializer if t.name in needed]
    del g.initializer[:]
    g.initializer.extend(inits)
    infos = [v for v in g.value_info if v.name in needed]
    del g.value_info[:]
    g.value_info.extend(infos)
    return pruned


def export_onnx_signatures(
    model: Any,
    path: str | os.PathLike[str],
    quantize: str = "none",
    *,
    signatures: str | Mapping[str, Sequence[str]],
    **kwargs: Any,
) -> Any:
    """`path` with every output named after its task, plus `<stem>.<signature>.onnx` per signature other
    than "all", pruned. Returns the ExportReport of `path`; its `signatures` lists every file."""
    import onnx

    from . import export as ex
    from .runtime import OnnxRunner
    from .verify import verify

    rep = ex.export_onnx(model, path, quantize, **kwargs)
    p = ex._prepare(model, kwargs.get("calibration"), kwargs.get("sample_inputs"), kwargs.get("batch_size", 1),
                    need_calibration=False)
    reference = _reference(p)
    names = list(reference)
    sigs = resolve_signatures(names, signatures)
    out = os.fspath(path)
    proto = onnx.load(out)
    renames = {f"output_{i}": n for i, n in enumerate(names)}
    ex._rename_onnx_io(proto, renames)
    onnx.save(proto, out)
    rep.outputs = [renames.get(o, o) for o in rep.outputs]
    per_signature: list[dict[str, Any]] = []
    stem = out[: -len(".onnx")] if out.endswith(".onnx") else out
    for key, outputs in sigs.items():
        target = out if outputs == names else f"{stem}.{key}.onnx"
        if target != out:
            onnx.save(prune_onnx(proto, outputs), target)
        runner = OnnxRunner(target)
        order = [runner.input_names.index(n) for n in p.names]
        out_index = [runner.output_names.index(o) for o in outputs]

        def run(*xs: np.ndarray, _r: Any = runner, _order: list[int] = order, _idx: list[int] = out_index) -> Any:
            feeds: list[Any] = [None] * len(xs)
            for i, j in enumerate(_order):
                feeds[j] = xs[i]
            ys = _r(*feeds)
            return [ys[k] for k in _idx]

        vr = verify(target)
        num = _signature_numerics(run, p, outputs, reference, quantize)
        per_signature.append({
            "key": key, "outputs": outputs, "artifact": target, "file_bytes": vr.file_bytes,
            "weight_bytes": vr.weight_bytes, "nodes": len(onnx.load(target).graph.node), "numerics": num.to_dict(),
        })
    rep.signatures = per_signature
    rep.write_json()
    return rep


def per_task_tflite_bytes(
    model: Any, quantize: str, *, signatures: str | Mapping[str, Sequence[str]] = "tasks",
    calibration: Any = None, batch_size: int = 1, repair: bool = True,
) -> dict[str, int]:
    """Bytes of the separate single-signature file each task would need without multi-signature export
    (every signature but "all"), converted the same way (and through the same repair pass)."""
    from . import export as ex

    p = ex._prepare(model, calibration, None, batch_size, need_calibration=quantize == "int8")
    sigs = resolve_signatures(_output_names(p.model, p.samples), signatures)
    out: dict[str, int] = {}
    for key, outputs in sigs.items():
        if key == ALL:
            continue
        data = tflite_signature_bytes(p, quantize, {key: outputs})
        if repair:
            from .repair import repair as run_repair

            data = run_repair(data).data or data
        out[key] = len(data)
    return out
