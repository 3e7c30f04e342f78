"""The error types of the converters, verifier and repair (they live in `edgeshare.errors`, which the harness
and `edgeshare.inspect` use too): `from edgeshare.converters.errors import InvalidInputError` keeps working."""

from __future__ import annotations

from edgeshare.errors import EdgeshareError, InvalidInputError, VerificationError

__all__ = ["EdgeshareError", "InvalidInputError", "VerificationError"]
