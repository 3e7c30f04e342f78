"""Family 2, recurrent sharing: layer-wise sharing in stacked RNNs."""

from edgeshare.layers.recurrent.shared_stacked_rnn import SharedStackedRNN

__all__ = ["SharedStackedRNN"]
