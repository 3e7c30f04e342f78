"""Family 1, weight tying: embedding layers."""

from edgeshare.layers.embeddings.multilingual_embedding import MultilingualEmbedding
from edgeshare.layers.embeddings.position_embedding import PositionEmbedding

__all__ = ["MultilingualEmbedding", "PositionEmbedding"]
