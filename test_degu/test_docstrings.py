"""The examples in every module's docstrings run, and show what they claim."""

import doctest
import importlib
import pkgutil

import pytest

import degu

MODULES = sorted(
    'degu.' + info.name for info in pkgutil.iter_modules(degu.__path__)
    if info.name != '__main__'
)


def test_every_module_is_listed() -> None:
    assert 'degu.sockio' in MODULES and 'degu.addresses' in MODULES


@pytest.mark.parametrize('name', MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    if not str(getattr(module, '__file__', '')).endswith('.py'):
        pytest.skip('compiled module: its docstrings are not kept')
    (failed, attempted) = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert failed == 0
