"""The ONNX repair rules, in the order they are tried: the first copy rule that applies to a copy decides
(`applies`, `obstacle`, `apply`; `cost` ranks the candidate kept copies). A new rule is one module here
and one line below."""

from __future__ import annotations

from .constant_node import ConstantNode
from .dequantize_kept_params import DequantizeKeptParams
from .drop_integer_dequantize import DropIntegerDequantize
from .exact_initializer import ExactInitializer
from .float16_cast import Float16Cast
from .float_reads_dequantized import FloatReadsDequantized
from .integer_reader_scale_swap import IntegerReaderScaleSwap
from .qgemm_transposed_integer import QGemmTransposedInteger
from .transposed_dequantized import TransposedDequantized
from .transposed_readers import TransposedReaders

COPY_RULES = [
    ConstantNode(),
    ExactInitializer(),
    TransposedReaders(),
    TransposedDequantized(),
    QGemmTransposedInteger(),
    IntegerReaderScaleSwap(),
    DequantizeKeptParams(),
    DropIntegerDequantize(),
    FloatReadsDequantized(),
    Float16Cast(),
]

__all__ = ["COPY_RULES"]
