"""Every public layer has a docstring Example, and the test named after its module runs the shared layer test,
which runs that Example as a doctest (tests/layer_checks.py, step 7)."""

import inspect
from pathlib import Path

import pytest

import edgeshare.layers as layers

ROOT = Path(__file__).resolve().parents[2]
CLASSES = sorted(n for n in layers.__all__ if inspect.isclass(getattr(layers, n)))


def test_the_public_classes_are_the_twenty_one_layers():
    assert len(CLASSES) == 21, CLASSES


@pytest.mark.parametrize("name", CLASSES)
def test_every_layer_has_an_example_that_its_shared_test_runs(name):
    cls = getattr(layers, name)
    doc = inspect.getdoc(cls) or ""
    assert "\nExample:\n" in doc and "\n    >>> " in doc, f"{name} has no Example section with doctest lines"
    # edgeshare.layers.conv.bank_conv2d -> tests/layers/conv/test_bank_conv2d.py (DESIGN.md, convention 1)
    *package, module = cls.__module__.split(".")[1:]
    test_file = ROOT / "tests" / Path(*package) / f"test_{module}.py"
    assert test_file.exists(), f"no test file {test_file.relative_to(ROOT)} for {name}"
    text = test_file.read_text()
    assert "run_layer_test(" in text and f"{name}(" in text, (
        f"{test_file.relative_to(ROOT)} does not run the shared layer test (which runs the Example) on {name}"
    )
