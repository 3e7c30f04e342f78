"""Keras 3 layers for the ten families of layer and parameter sharing.

Every layer is registered as serializable under the package name "edgeshare".
"""

from edgeshare.layers.attention.shared_head_attention import SharedHeadAttention
from edgeshare.layers.embeddings import PositionEmbedding
from edgeshare.layers.embeddings.multilingual_embedding import MultilingualEmbedding
from edgeshare.layers.factorized.factorized_embedding import FactorizedEmbedding
from edgeshare.layers.factorized.shared_basis import SharedBasis
from edgeshare.layers.factorized.shared_basis_dense import SharedBasisDense
from edgeshare.layers.transformer.feed_forward import FeedForward
from edgeshare.layers.transformer.repeat import Repeat
from edgeshare.layers.transformer.shared_transformer_stack import SharedTransformerStack
from edgeshare.layers.transformer.transformer_block import TransformerBlock
from edgeshare.layers.transformer.universal_transformer import UniversalTransformer

__all__ = [
    "FactorizedEmbedding",
    "FeedForward",
    "MultilingualEmbedding",
    "PositionEmbedding",
    "Repeat",
    "SharedBasis",
    "SharedBasisDense",
    "SharedHeadAttention",
    "SharedTransformerStack",
    "TransformerBlock",
    "UniversalTransformer",
]
