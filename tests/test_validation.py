"""edgeshare.validation: the shared argument checks and their messages."""

import subprocess
import sys

import pytest

from edgeshare.validation import check_choice, check_in_range, check_positive_int, is_int, normalize_int_pair


def test_is_int_excludes_bools_and_floats():
    assert [is_int(v) for v in (3, 0, -1, True, 2.0, "3", None)] == [True, True, True, False, False, False, False]


@pytest.mark.parametrize("value", [1, 7])
def test_check_positive_int_accepts(value):
    check_positive_int(value, "units")
    check_positive_int(None, "units", allow_none=True)


@pytest.mark.parametrize(
    ("value", "kwargs", "match"),
    [
        (0, {}, r"^`units` must be a positive integer. Received: units=0$"),
        (True, {}, r"^`units` must be a positive integer. Received: units=True$"),
        (2.0, {}, r"^`units` must be a positive integer. Received: units=2.0$"),
        ("4", {}, r"^`units` must be a positive integer. Received: units='4'$"),
        (None, {}, r"^`units` must be a positive integer. Received: units=None$"),
        (-3, {"allow_none": True}, r"^`units` must be a positive integer or None. Received: units=-3$"),
    ],
)
def test_check_positive_int_rejects(value, kwargs, match):
    with pytest.raises(ValueError, match=match):
        check_positive_int(value, "units", **kwargs)


def test_checks_raise_the_error_type_they_are_given():
    class InputError(ValueError):
        pass

    with pytest.raises(InputError, match=r"`runs` must be a positive integer. Received: runs=0"):
        check_positive_int(0, "runs", error=InputError)
    with pytest.raises(InputError, match=r"`mode` must be one of a, b. Received: mode='c'"):
        check_choice("c", "mode", ("a", "b"), error=InputError)
    with pytest.raises(InputError, match=r"`strides` must be a positive integer or a pair"):
        normalize_int_pair(0, "strides", error=InputError)
    with pytest.raises(InputError, match=r"`rate` must be in \[0, 1\). Received: rate=2"):
        check_in_range(2, "rate", 0, 1, error=InputError)


@pytest.mark.parametrize(("value", "pair"), [(3, (3, 3)), ((2, 1), (2, 1)), ([1, 4], (1, 4))])
def test_normalize_int_pair(value, pair):
    assert normalize_int_pair(value, "kernel_size") == pair


@pytest.mark.parametrize("value", [0, (3, 0), (1, 2, 3), (2.0, 2), "33", None, (True, 1)])
def test_normalize_int_pair_rejects(value):
    with pytest.raises(
        ValueError,
        match=r"^`kernel_size` must be a positive integer or a pair of positive integers. Received: kernel_size=",
    ):
        normalize_int_pair(value, "kernel_size")


def test_check_choice():
    check_choice("same", "padding", ("same", "valid"))
    with pytest.raises(ValueError, match=r"^`padding` must be one of same, valid. Received: padding='full'$"):
        check_choice("full", "padding", ("same", "valid"))


@pytest.mark.parametrize(
    ("value", "args", "kwargs", "match"),
    [
        (1.0, (0, 1), {}, r"`dropout` must be in \[0, 1\). Received: dropout=1.0"),
        (-0.1, (0, 1), {}, r"`dropout` must be in \[0, 1\). Received: dropout=-0.1"),
        (0, (0, 1), {"low_inclusive": False, "high_inclusive": True}, r"must be in \(0, 1\]. Received: dropout=0"),
        (float("nan"), (0, 1), {}, r"must be in \[0, 1\). Received: dropout=nan"),
        ("0.5", (0, 1), {}, r"must be in \[0, 1\). Received: dropout='0.5'"),
        (True, (0, 1), {}, r"must be in \[0, 1\). Received: dropout=True"),
        (-1, (0,), {}, r"`dropout` must be 0 or more. Received: dropout=-1"),
        (0, (0,), {"low_inclusive": False}, r"`dropout` must be more than 0. Received: dropout=0"),
    ],
)
def test_check_in_range_rejects(value, args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        check_in_range(value, "dropout", *args, **kwargs)


@pytest.mark.parametrize(("value", "args", "kwargs"), [(0, (0, 1), {}), (0.999, (0, 1), {}),
                                                      (1, (0, 1), {"high_inclusive": True}), (5, (0,), {})])
def test_check_in_range_accepts(value, args, kwargs):
    check_in_range(value, "dropout", *args, **kwargs)


def test_validation_imports_no_heavy_module():
    """The light paths (verify, bench) may use it: importing it must not pull TensorFlow, Keras or NumPy."""
    code = (
        "import sys, edgeshare.validation; "
        "print(sorted(m for m in ('tensorflow', 'keras', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
