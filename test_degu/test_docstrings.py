# SPDX-License-Identifier: LGPL-3.0-or-later
"""The examples in every module's docstrings run, and show what they claim.

The examples are read from each module's source file, so they run in the
compiled build too (a mypyc-compiled module keeps no docstrings to find):
there they exercise the compiled code, with the module's own globals.
"""

import ast
import doctest
import importlib
import os
import pkgutil
from typing import Iterator, Tuple

import pytest

import degu

MODULES = sorted(
    'degu.' + info.name for info in pkgutil.iter_modules(degu.__path__)
    if info.name != '__main__'
)

DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def docstrings(filename: str) -> Iterator[Tuple[str, str, int]]:
    """Yield (name, docstring, line) for the module and everything in it."""
    with open(filename, encoding='utf-8') as fp:
        tree = ast.parse(fp.read(), filename)
    for node in ast.walk(tree):
        if isinstance(node, DOCUMENTED):
            text = ast.get_docstring(node, clean=False)
            if text:
                name = getattr(node, 'name', '<module>')
                yield (name, text, getattr(node, 'lineno', 1))


def source_of(name: str) -> str:
    return os.path.join(os.path.dirname(degu.__file__),
                        name.split('.', 1)[1] + '.py')


def test_every_module_is_listed() -> None:
    assert 'degu.sockio' in MODULES and 'degu.addresses' in MODULES


def test_docstrings_found_in_the_source() -> None:
    found = {name for (name, _, _) in docstrings(source_of('degu.ranges'))}
    assert {'<module>', 'Range', 'ContentRange', 'start'} <= found


@pytest.mark.parametrize('name', MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS, verbose=False)
    filename = source_of(name)
    for (where, text, line) in docstrings(filename):
        test = parser.get_doctest(text, dict(vars(module)),
                                  '{}.{}'.format(name, where), filename, line)
        runner.run(test)
    (failed, attempted) = runner.summarize(verbose=False)
    assert failed == 0
    with open(filename, encoding='utf-8') as fp:
        assert (attempted > 0) == ('>>> ' in fp.read())
