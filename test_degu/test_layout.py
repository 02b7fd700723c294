# SPDX-License-Identifier: LGPL-3.0-or-later
"""The shape of the package: what issue 11 promised a reader can rely on."""

import ast
import os
import subprocess
import sys

import degu

PACKAGE = os.path.dirname(degu.__file__)
MODULES = sorted(name for name in os.listdir(PACKAGE) if name.endswith('.py'))

# No module longer than this: one concern per module, each readable whole.
MAX_MODULE_LINES = 700


def source(name: str) -> str:
    with open(os.path.join(PACKAGE, name)) as fp:
        return fp.read()


def test_no_module_over_700_lines() -> None:
    long = {name: source(name).count('\n') for name in MODULES
            if source(name).count('\n') > MAX_MODULE_LINES}
    assert long == {}


def test_no_development_tools_in_the_package() -> None:
    assert 'bench.py' not in MODULES


def test_client_does_not_load_the_server() -> None:
    code = 'import sys, degu.client; print(sorted(m for m in sys.modules if m.startswith("degu")))'
    out = subprocess.run([sys.executable, '-c', code], check=True,
                         stdout=subprocess.PIPE, cwd=os.path.dirname(PACKAGE)).stdout
    loaded = eval(out)
    assert 'degu.client' in loaded
    for name in ('degu.server', 'degu.handler', 'degu.session', 'degu.applib'):
        assert name not in loaded


def test_the_grammar_keeps_no_caches() -> None:
    # degu.parsing is the strict grammar only: its module-level tables are
    # never written to by its functions (no cache), it has no "strict" twin
    # of a function, and it does not use degu.caches (which wraps it).
    tree = ast.parse(source('parsing.py'))
    tables = set()
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            tables.update(t.id for t in targets if isinstance(t, ast.Name))
        if isinstance(node, ast.FunctionDef):
            assert not node.name.endswith('_strict'), node.name
        if isinstance(node, ast.ImportFrom):
            assert node.module != 'caches', 'parsing imports degu.caches'
    for function in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
        for node in ast.walk(function):
            if isinstance(node, ast.Global):
                raise AssertionError('global in {}'.format(function.name))
            if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
                value = node.value
                assert not (isinstance(value, ast.Name) and value.id in tables), (
                    '{} writes to {}'.format(function.name, value.id)
                )
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                target = node.func.value
                if isinstance(target, ast.Name) and target.id in tables:
                    assert node.func.attr not in ('clear', 'update', 'setdefault', 'pop'), (
                        '{} changes {}'.format(function.name, target.id)
                    )


def test_protocol_errors_are_value_errors() -> None:
    from degu.errors import ProtocolError
    assert issubclass(ProtocolError, ValueError)


def test_the_runner_never_installs_into_the_system() -> None:
    runner = os.path.join(os.path.dirname(PACKAGE), 'test_degu', '__main__.py')
    with open(runner) as fp:
        assert '--break-system-packages' not in fp.read()
