"""Keras 3 layers for the ten families of layer and parameter sharing.

Every layer is registered as serializable under the package name "edgeshare".
"""

from edgeshare.layers.embeddings import PositionEmbedding

__all__ = ["PositionEmbedding"]
