"""Keras 3 layers for the ten families of layer and parameter sharing.

Every layer is registered as serializable under the package name "edgeshare".
"""

from edgeshare.layers.conv.bank_conv2d import BankConv2D
from edgeshare.layers.conv.channel_shuffle import ChannelShuffle
from edgeshare.layers.conv.filter_bank import FilterBank
from edgeshare.layers.conv.shuffle_unit import ShuffleUnit
from edgeshare.layers.embeddings import PositionEmbedding
from edgeshare.layers.factorized.cp_conv2d import CPConv2D
from edgeshare.layers.factorized.cp_factors import CPFactors
from edgeshare.layers.factorized.tucker_conv2d import TuckerConv2D
from edgeshare.layers.factorized.tucker_factors import TuckerFactors
from edgeshare.layers.multitask.multi_task_model import MultiTaskModel
from edgeshare.layers.recurrent.shared_stacked_rnn import SharedStackedRNN

__all__ = [
    "BankConv2D",
    "CPConv2D",
    "CPFactors",
    "ChannelShuffle",
    "FilterBank",
    "MultiTaskModel",
    "PositionEmbedding",
    "SharedStackedRNN",
    "ShuffleUnit",
    "TuckerConv2D",
    "TuckerFactors",
]
