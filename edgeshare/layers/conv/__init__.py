"""Family 7, CNN sharing: shared filter banks, grouped convolutions with channel shuffle."""

from edgeshare.layers.conv.bank_conv2d import BankConv2D
from edgeshare.layers.conv.channel_shuffle import ChannelShuffle
from edgeshare.layers.conv.filter_bank import FilterBank
from edgeshare.layers.conv.shuffle_unit import ShuffleUnit

__all__ = ["BankConv2D", "ChannelShuffle", "FilterBank", "ShuffleUnit"]
