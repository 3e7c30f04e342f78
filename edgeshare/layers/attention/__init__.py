"""Family 5, shared attention: inter-head sharing (MQA/GQA through keras.layers.GroupQueryAttention)."""

from edgeshare.layers.attention.shared_head_attention import SharedHeadAttention

__all__ = ["SharedHeadAttention"]
