"""Family 8, multi-task sharing: a shared encoder with per-task and shared heads."""

from edgeshare.layers.multitask.multi_task_model import MultiTaskModel

__all__ = ["MultiTaskModel"]
