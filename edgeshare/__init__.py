"""edgeshare: layer and parameter sharing for mobile models.

Importing `edgeshare` is light: TensorFlow and Keras load only when a function that needs them runs
(`edgeshare.inspect`, `edgeshare.layers`, the exporters). `edgeshare verify` and `edgeshare bench`
never load them.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "inspect"]


def inspect(model: Any) -> Any:
    """Sharing accounting for a Keras model (or a .keras path); see `edgeshare.accounting.inspect`."""
    from edgeshare.accounting import inspect as _inspect

    return _inspect(model)


def __getattr__(name: str) -> Any:
    if name == "layers":
        import importlib

        return importlib.import_module("edgeshare.layers")
    raise AttributeError(f"module 'edgeshare' has no attribute {name!r}")
