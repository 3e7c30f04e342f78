"""Family 9, factorized sharing: tensor-decomposed convolutions with shareable factors."""

from edgeshare.layers.factorized.cp_conv2d import CPConv2D
from edgeshare.layers.factorized.cp_factors import CPFactors
from edgeshare.layers.factorized.tensor_decomposition import (
    cp_conv2d_from_conv2d,
    cp_decompose,
    tucker_conv2d_from_conv2d,
    tucker_decompose,
)
from edgeshare.layers.factorized.tucker_conv2d import TuckerConv2D
from edgeshare.layers.factorized.tucker_factors import TuckerFactors

__all__ = [
    "CPConv2D",
    "CPFactors",
    "TuckerConv2D",
    "TuckerFactors",
    "cp_conv2d_from_conv2d",
    "cp_decompose",
    "tucker_conv2d_from_conv2d",
    "tucker_decompose",
]
