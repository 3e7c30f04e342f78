"""Keras 3 layers for the ten families of layer and parameter sharing.

Every layer is registered as serializable under the package name "edgeshare".
"""

from edgeshare.layers.attention.shared_head_attention import SharedHeadAttention
from edgeshare.layers.conv.bank_conv2d import BankConv2D
from edgeshare.layers.conv.channel_shuffle import ChannelShuffle
from edgeshare.layers.conv.filter_bank import FilterBank
from edgeshare.layers.conv.shuffle_unit import ShuffleUnit
from edgeshare.layers.embeddings import PositionEmbedding
from edgeshare.layers.embeddings.multilingual_embedding import MultilingualEmbedding
from edgeshare.layers.factorized.cp_conv2d import CPConv2D, cp_conv2d_from_conv2d
from edgeshare.layers.factorized.cp_factors import CPFactors
from edgeshare.layers.factorized.factorized_embedding import FactorizedEmbedding
from edgeshare.layers.factorized.shared_basis import SharedBasis
from edgeshare.layers.factorized.shared_basis_dense import SharedBasisDense
from edgeshare.layers.factorized.tensor_decomposition import cp_decompose, tucker_decompose
from edgeshare.layers.factorized.tucker_conv2d import TuckerConv2D, tucker_conv2d_from_conv2d
from edgeshare.layers.factorized.tucker_factors import TuckerFactors
from edgeshare.layers.multitask.multi_task_model import MultiTaskModel
from edgeshare.layers.recurrent.shared_stacked_rnn import SharedStackedRNN
from edgeshare.layers.transformer.feed_forward import FeedForward
from edgeshare.layers.transformer.repeat import Repeat
from edgeshare.layers.transformer.shared_transformer_stack import SharedTransformerStack
from edgeshare.layers.transformer.transformer_block import TransformerBlock
from edgeshare.layers.transformer.universal_transformer import UniversalTransformer

__all__ = [
    "BankConv2D",
    "CPConv2D",
    "CPFactors",
    "ChannelShuffle",
    "FactorizedEmbedding",
    "FeedForward",
    "FilterBank",
    "MultiTaskModel",
    "MultilingualEmbedding",
    "PositionEmbedding",
    "Repeat",
    "SharedBasis",
    "SharedBasisDense",
    "SharedHeadAttention",
    "SharedStackedRNN",
    "SharedTransformerStack",
    "ShuffleUnit",
    "TransformerBlock",
    "TuckerConv2D",
    "TuckerFactors",
    "UniversalTransformer",
    "cp_conv2d_from_conv2d",
    "cp_decompose",
    "tucker_conv2d_from_conv2d",
    "tucker_decompose",
]
