"""Family 9, factorized sharing: factorized embeddings, low-rank bases shared across layers."""

from edgeshare.layers.factorized.factorized_embedding import FactorizedEmbedding
from edgeshare.layers.factorized.shared_basis import SharedBasis
from edgeshare.layers.factorized.shared_basis_dense import SharedBasisDense

__all__ = ["FactorizedEmbedding", "SharedBasis", "SharedBasisDense"]
