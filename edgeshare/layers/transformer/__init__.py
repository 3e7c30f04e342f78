"""Families 3, 4, 6 and 10: Transformer blocks, cross-layer sharing, the Universal Transformer, folding."""

from edgeshare.layers.transformer.feed_forward import FeedForward
from edgeshare.layers.transformer.repeat import Repeat
from edgeshare.layers.transformer.shared_transformer_stack import SharedTransformerStack
from edgeshare.layers.transformer.transformer_block import TransformerBlock
from edgeshare.layers.transformer.universal_transformer import UniversalTransformer

__all__ = ["FeedForward", "Repeat", "SharedTransformerStack", "TransformerBlock", "UniversalTransformer"]
