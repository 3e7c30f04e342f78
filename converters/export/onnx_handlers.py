"""tf2onnx handlers for TFLite ops that tf2onnx 1.17 leaves unconverted.

TFL_GELU (Keras' default "gelu" activation lowers to it) has no tf2onnx handler; it is rewritten here
into ONNX ops that every opset from 9 up has: 0.5 * x * (1 + erf(x / sqrt(2))), or the tanh form
when the op carries `approximate=True`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def _gelu(ctx: Any, node: Any, name: str, args: Any) -> None:
    from tf2onnx import utils

    x = node.input[0]
    np_type = utils.map_onnx_to_numpy_type(ctx.get_dtype(x))

    def const(v: float) -> str:
        return ctx.make_const(utils.make_name(f"{name}_c"), np.array(v, dtype=np_type)).output[0]

    def op(kind: str, *inputs: str) -> str:
        return ctx.make_node(kind, list(inputs), op_name_scope=name).output[0]

    if bool(node.get_attr_value("approximate", 0)):
        cube = op("Mul", op("Mul", x, x), x)
        inner = op("Mul", op("Add", x, op("Mul", cube, const(0.044715))), const(math.sqrt(2.0 / math.pi)))
        t = op("Tanh", inner)
    else:
        t = op("Erf", op("Mul", x, const(1.0 / math.sqrt(2.0))))
    half_x = op("Mul", x, const(0.5))
    one_plus = op("Add", t, const(1.0))
    node.type = "Mul"
    node.domain = ""
    for key in list(node.attr):
        del node.attr[key]
    ctx.replace_inputs(node, [half_x, one_plus])


CUSTOM_OP_HANDLERS: dict[str, tuple[Any, list[Any]]] = {"TFL_GELU": (_gelu, [])}
