"""SimpleRNN, GRU, LSTM read like keras.layers.SimpleRNN/GRU/LSTM.

Their constructors spell out the built-ins' arguments (names, order, defaults),
and their docstrings document every argument and every call argument.
"""
import inspect
import re

import keras
import pytest

import layers as L

NAMES = ["SimpleRNN", "GRU", "LSTM"]


def _parameters(function):
    """Named parameters of `function`, without `self` (`**kwargs` kept)."""
    return [p for p in inspect.signature(function).parameters.values() if p.name != "self"]


def _section(doc, title):
    """The text of a Google-style docstring section, up to the next section."""
    doc = inspect.cleandoc(doc)
    match = re.search(rf"^{title}:\n(.*?)(?=^\S[^\n]*:\n|\Z)", doc, re.M | re.S)
    assert match, f"no {title!r} section"
    return match.group(1)


def _documented(section):
    """Names an `Args:`-style section documents (`name:` or `a, b:` at an entry's start)."""
    names = set()
    for entry in re.findall(r"^ {4}(\*{0,2}\w[\w, ]*):", section, re.M):
        names.update(n.strip().lstrip("*") for n in entry.split(","))
    return names


@pytest.mark.parametrize("name", NAMES)
def test_signature_has_every_argument_of_the_built_in(name):
    ours = {p.name: p for p in _parameters(getattr(L, name).__init__)}
    theirs = _parameters(getattr(keras.layers, name).__init__)
    missing = [p.name for p in theirs if p.name not in ours]
    assert not missing, f"{name}.__init__ lacks the built-in's {missing}"


@pytest.mark.parametrize("name", NAMES)
def test_signature_starts_with_the_built_ins_in_order_with_its_defaults(name):
    ours = [p for p in _parameters(getattr(L, name).__init__) if p.kind != p.VAR_KEYWORD]
    theirs = [p for p in _parameters(getattr(keras.layers, name).__init__)
              if p.kind != p.VAR_KEYWORD]
    assert [(p.name, p.default) for p in ours[:len(theirs)]] == [
        (p.name, p.default) for p in theirs
    ]
    assert inspect.signature(getattr(L, name).__init__).parameters["kwargs"].kind == (
        inspect.Parameter.VAR_KEYWORD
    )


@pytest.mark.parametrize("name", NAMES)
def test_docstring_documents_every_argument(name):
    cls = getattr(L, name)
    documented = _documented(_section(cls.__doc__, "Args"))
    missing = [p.name for p in _parameters(cls.__init__) if p.name not in documented]
    assert not missing, f"{name}'s Args: lacks {missing}"


@pytest.mark.parametrize("name", NAMES)
def test_docstring_documents_every_call_argument(name):
    cls = getattr(L, name)
    documented = _documented(_section(cls.__doc__, "Call arguments"))
    missing = [p.name for p in _parameters(cls.call) if p.name not in documented]
    assert not missing, f"{name}'s Call arguments: lacks {missing}"


@pytest.mark.parametrize("name", NAMES)
def test_the_built_ins_properties_are_written_out(name):
    ours, theirs = getattr(L, name), getattr(keras.layers, name)
    for attribute, value in vars(theirs).items():
        if isinstance(value, property):
            assert isinstance(inspect.getattr_static(ours, attribute), property), attribute
