"""Family 9, factorized sharing: factorized embeddings, low-rank bases shared across layers, and
tensor-decomposed convolutions with shareable factors."""

from edgeshare.layers.factorized.cp_conv2d import CPConv2D, cp_conv2d_from_conv2d
from edgeshare.layers.factorized.cp_factors import CPFactors
from edgeshare.layers.factorized.factorized_embedding import FactorizedEmbedding
from edgeshare.layers.factorized.shared_basis import SharedBasis
from edgeshare.layers.factorized.shared_basis_dense import SharedBasisDense
from edgeshare.layers.factorized.tensor_decomposition import cp_decompose, tucker_decompose
from edgeshare.layers.factorized.tucker_conv2d import TuckerConv2D, tucker_conv2d_from_conv2d
from edgeshare.layers.factorized.tucker_factors import TuckerFactors

__all__ = [
    "CPConv2D",
    "CPFactors",
    "FactorizedEmbedding",
    "SharedBasis",
    "SharedBasisDense",
    "TuckerConv2D",
    "TuckerFactors",
    "cp_conv2d_from_conv2d",
    "cp_decompose",
    "tucker_conv2d_from_conv2d",
    "tucker_decompose",
]
