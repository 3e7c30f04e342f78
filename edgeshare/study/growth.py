"""Where the int8 error comes from: the error after each use of a block, measured in the shipped files.

Both files (float32 and full int8, same model) run in LiteRT with `experimental_preserve_all_tensors=True`,
so every intermediate tensor can be read after an invoke. A tensor of the int8 file is compared with the
tensor of the same name in the float32 file (both come from one SavedModel, so names agree), after
dequantizing it with its own scale and zero point. The relative error is ||int8 - float|| / ||float||
over all samples. The tensors that mark "the output of the k-th block application" are picked by name:

- `SharedTransformerStack`: `.../block_<j>[_<call>]/add_1` (`layer_<i>` when only a sublayer is shared), the
  block's second residual add;
- `UniversalTransformer`: `.../block[_<call>]/add_1` inside the layer, one per step;
- CNN bodies: the `residual<i>` adds;
- `Repeat(mode="loop")`: only the WHILE op's output is visible (the loop body's tensors hold the last
  iteration), so a loop gives one point, at full depth.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeshare.study.tflite_eval import dequantize, quantize

USE_PATTERN = re.compile(r"(/(?:block|layer)(?:_\d+)*/add_1$)|(/residual\d+(?:_\d+)?/Add$)")


@dataclass(frozen=True)
class UseError:
    name: str
    relative_error: float


def _interpreter(path: str) -> Any:
    import warnings

    from ai_edge_litert.interpreter import Interpreter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the "for debugging only" notice of preserve_all_tensors
        interp = Interpreter(model_path=path, experimental_preserve_all_tensors=True)
    interp.allocate_tensors()
    return interp


def _marked(interp: Any, pattern: re.Pattern[str]) -> list[tuple[int, str]]:
    """(tensor index, key) of the marked tensors, in the order the ops that write them run. A tensor's key
    is its name; the non-scalar outputs of the k-th WHILE op are keyed `WHILE <k> output <j>`, since the
    converter names them differently in float and int8 files."""
    out: list[tuple[int, str]] = []
    seen: set[int] = set()
    loops = 0
    for op in interp._get_ops_details():
        is_loop = op["op_name"] == "WHILE"
        for j, t in enumerate(op["outputs"]):
            if t < 0 or t in seen:
                continue
            detail = interp._get_tensor_details(t, 0)
            if is_loop and len(detail["shape"]) > 0:
                seen.add(t)
                out.append((t, f"WHILE {loops} output {j}"))
            elif not is_loop and pattern.search(detail["name"]):
                seen.add(t)
                out.append((t, detail["name"]))
        loops += int(is_loop)
    return out


def use_errors(f32_path: str | os.PathLike[str], int8_path: str | os.PathLike[str], inputs: dict[str, np.ndarray],
               pattern: re.Pattern[str] = USE_PATTERN) -> list[UseError]:
    """The int8 file's relative error at each marked tensor, in execution order, over the samples."""
    f32 = _interpreter(os.fspath(f32_path))
    q8 = _interpreter(os.fspath(int8_path))
    marked = _marked(f32, pattern)
    q_index = {key: t for t, key in _marked(q8, re.compile("."))}  # every tensor of the int8 file, by key
    pairs = [(t, q_index[name], name) for t, name in marked if name in q_index]
    if not pairs:
        raise ValueError(
            f"no marked tensor is in both files: expected names matching {pattern.pattern}. "
            f"Received: f32_marked={[n for _, n in marked][:8]}"
        )
    err = np.zeros(len(pairs))
    ref = np.zeros(len(pairs))
    n = len(next(iter(inputs.values())))
    f_in = {d["name"]: d for d in f32.get_input_details()}
    q_in = {d["name"]: d for d in q8.get_input_details()}
    for i in range(n):
        for interp, details in ((f32, f_in), (q8, q_in)):
            for name, d in details.items():
                # Tensor names carry the signature's prefix and an output index: serving_default_tokens:0.
                key = next((k for k in inputs if re.search(rf"(^|_){re.escape(k)}(:\d+)?$", name)), None)
                if key is None:
                    raise ValueError(f"no input is given for the file's input. Received: input={name!r}, "
                                     f"given={sorted(inputs)}")
                interp.set_tensor(d["index"], quantize(inputs[key][i : i + 1], d))
            interp.invoke()
        for j, (tf_, tq, _) in enumerate(pairs):
            a = f32.get_tensor(tf_).astype(np.float64)
            b = dequantize(q8.get_tensor(tq), q8._get_tensor_details(tq, 0)).astype(np.float64)
            err[j] += float(np.sum((b - a) ** 2))
            ref[j] += float(np.sum(a**2))
    return [UseError(name, float(np.sqrt(e / r)) if r > 0 else float("nan")) for (_, _, name), e, r in
            zip(pairs, err, ref)]
