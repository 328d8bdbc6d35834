"""The runnable example in every public layer's docstring runs and prints what it says."""

import doctest

import pytest

import layers
from layers import attention, bidirectional, cells, initializers, recurrent


@pytest.mark.parametrize("module", [cells, recurrent, bidirectional, attention, initializers, layers])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_every_public_layer_has_an_example():
    for name in layers.__all__:
        doc = getattr(layers, name).__doc__
        assert "Args:" in doc and ">>> " in doc, name
