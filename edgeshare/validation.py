"""Argument checks shared by the layers (and open to the converters, the bench harness and the CLI).

Light on purpose: this module imports neither TensorFlow, Keras nor NumPy, so that the light paths
(`edgeshare verify`, `edgeshare bench`) can use it. Every check raises `error` (ValueError unless the
caller passes its own subclass, such as `edgeshare.converters.InvalidInputError`) with the project's
error style: what is wrong, what was expected, then `Received: name=value`.

Integers are Python ints; a bool is not an integer here (`True` is no layer count).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "check_choice",
    "check_in_range",
    "check_positive_int",
    "is_int",
    "normalize_int_pair",
]


def is_int(value: Any) -> bool:
    """Whether `value` is a Python int and not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_positive_int(
    value: Any, name: str, *, allow_none: bool = False, error: type[Exception] = ValueError
) -> None:
    """Raise `error` naming `name` unless `value` is a positive int (or None when `allow_none`)."""
    if value is None and allow_none:
        return
    if not is_int(value) or value < 1:
        expected = "a positive integer or None" if allow_none else "a positive integer"
        raise error(f"`{name}` must be {expected}. Received: {name}={value!r}")


def normalize_int_pair(value: Any, name: str, *, error: type[Exception] = ValueError) -> tuple[int, int]:
    """A positive int `n` -> `(n, n)`; a pair of positive ints -> that pair as a tuple; else raise `error`.

    Kernel sizes, strides and Tucker ranks take this form.
    """
    if is_int(value):
        pair: tuple[Any, ...] = (value, value)
    elif isinstance(value, (list, tuple)):
        pair = tuple(value)
    else:
        pair = ()
    if len(pair) != 2 or not all(is_int(v) and v >= 1 for v in pair):
        raise error(
            f"`{name}` must be a positive integer or a pair of positive integers. Received: {name}={value!r}"
        )
    return (pair[0], pair[1])


def check_choice(value: Any, name: str, choices: Iterable[Any], *, error: type[Exception] = ValueError) -> None:
    """Raise `error` naming `name` and listing `choices` unless `value` is one of them."""
    options = tuple(choices)
    if value not in options:
        raise error(f"`{name}` must be one of {', '.join(str(c) for c in options)}. Received: {name}={value!r}")


def check_in_range(
    value: Any,
    name: str,
    low: float,
    high: float | None = None,
    *,
    low_inclusive: bool = True,
    high_inclusive: bool = False,
    error: type[Exception] = ValueError,
) -> None:
    """Raise `error` unless `value` is a real number in the interval from `low` to `high`.

    The message writes the interval as `[low, high)` (the brackets follow the inclusive flags), or as
    `low or more` when `high` is None.
    """
    if high is None:
        expected = f"{low} or more" if low_inclusive else f"more than {low}"
    else:
        expected = f"in {'[' if low_inclusive else '('}{low}, {high}{']' if high_inclusive else ')'}"
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = number and (value >= low if low_inclusive else value > low)
    if ok and high is not None:
        ok = value <= high if high_inclusive else value < high
    if not ok:
        raise error(f"`{name}` must be {expected}. Received: {name}={value!r}")
