"""The TFLite repair rules, in the order they are tried. A new rule is one module here and one line below.

- group rules claim a whole duplicate group (`applies(group, graph)`, `apply(group, graph)`);
- kept rules adjust the kept copy before the others are merged into it;
- copy rules merge one copy into the kept one (`applies`, `obstacle`, `apply`): the first that applies
  decides.
"""

from __future__ import annotations

from .exact_copy import ExactCopy
from .float16_dequantize import Float16Dequantize
from .float_reads_dequantize import FloatReadsDequantize
from .gather_per_channel_table import GatherPerChannelTable
from .requantized_integer import RequantizedInteger
from .shared_int8_bias import SharedInt8Bias
from .sparse_copy import SparseCopy
from .symmetric_kept_table import SymmetricKeptTable
from .transposed_batch_matmul import TransposedBatchMatmul

GROUP_RULES = [SharedInt8Bias()]
KEPT_RULES = [SymmetricKeptTable()]
COPY_RULES = [
    SparseCopy(),
    ExactCopy(),
    TransposedBatchMatmul(),
    FloatReadsDequantize(),
    Float16Dequantize(),
    GatherPerChannelTable(),
    RequantizedInteger(),
]

__all__ = ["COPY_RULES", "GROUP_RULES", "KEPT_RULES"]
