"""The Example sections of the transformer-family layers' docstrings run and print what they say."""

import doctest

import keras
import pytest

import edgeshare.layers as layers

CLASSES = [
    "FactorizedEmbedding", "FeedForward", "MultilingualEmbedding", "Repeat", "SharedBasis", "SharedBasisDense",
    "SharedHeadAttention", "SharedTransformerStack", "TransformerBlock", "UniversalTransformer",
]


@pytest.mark.parametrize("name", CLASSES)
def test_docstring_example(name):
    globs = {"keras": keras, **{n: getattr(layers, n) for n in layers.__all__}}
    tests = [t for t in doctest.DocTestFinder().find(getattr(layers, name), globs=globs) if t.examples]
    assert tests, f"{name} has no example"
    runner = doctest.DocTestRunner()
    for t in tests:
        runner.run(t)
    assert runner.summarize(verbose=False).failed == 0
