# SPDX-License-Identifier: LGPL-3.0-or-later
"""Tests for the test runner, ``python3 -m test_degu`` (test_degu/__main__.py).

The runner's promise: it never installs into the interpreter it was started
with.  It uses that interpreter when pytest and coverage are importable, and
otherwise a project-local virtual environment (``.test-venv/``).
"""

import doctest
import os
import re
import subprocess
import sys
from typing import Any

import pytest

import test_degu.__main__ as runner

SOURCE = runner.__file__
GUARD = 60  # seconds; only against a hang


def test_doctests() -> None:
    result = doctest.testmod(runner)
    assert result.attempted >= 3
    assert result.failed == 0


@pytest.mark.parametrize('missing, force, expected', [
    ([], False, ('current', 'it can import pytest and coverage')),
    (['pytest'], False, ('venv', 'this interpreter cannot import pytest')),
    (['pytest', 'coverage'], False,
     ('venv', 'this interpreter cannot import pytest, coverage')),
    ([], True, ('venv', '--venv was given')),
    (['coverage'], True, ('venv', '--venv was given')),
])
def test_choose(missing: Any, force: bool, expected: Any) -> None:
    assert runner.choose(missing, force) == expected


def test_never_installs_into_the_running_interpreter() -> None:
    text = open(SOURCE).read()
    assert '--break-system-packages' not in text
    # pip only ever runs with the virtual environment's python.
    pip_calls = re.findall(r"\[(\w+(?:\.\w+)?), '-m', 'pip'", text)
    assert pip_calls == ['python']
    assert 'def prepare_venv' in text


def test_venv_is_project_local_and_ignored() -> None:
    assert runner.VENV == os.path.join(runner.TREE, '.test-venv')
    assert runner.venv_python('/x/v') == '/x/v/bin/python'
    gitignore = os.path.join(runner.TREE, '.gitignore')
    if not os.path.exists(gitignore):
        pytest.skip('not a source tree (no .gitignore)')
    assert '/.test-venv/' in open(gitignore).read().splitlines()


def test_missing_in() -> None:
    assert runner.missing_in(sys.executable, ['os', 'no_such_module_xyz']) == [
        'no_such_module_xyz']
    assert runner.missing_here(['os', 'no_such_module_xyz']) == ['no_such_module_xyz']


def test_which() -> None:
    env = runner.with_path(runner.TREE)
    out = subprocess.run([sys.executable, '-m', 'test_degu', '--which'],
                         cwd=runner.TREE, env=env, stdout=subprocess.PIPE,
                         check=True, timeout=GUARD, universal_newlines=True).stdout
    if runner.missing_here(runner.REQUIRED):
        assert out.startswith(runner.venv_python() + ' (venv: ')
    else:
        assert out == '{} (current: it can import pytest and coverage)\n'.format(
            sys.executable)
    forced = subprocess.run([sys.executable, '-m', 'test_degu', '--which', '--venv'],
                            cwd=runner.TREE, env=env, stdout=subprocess.PIPE,
                            check=True, timeout=GUARD, universal_newlines=True).stdout
    assert forced == '{} (venv: --venv was given)\n'.format(runner.venv_python())


@pytest.mark.skipif(not os.path.exists(os.path.join(runner.TREE, 'setup.py')),
                    reason='not a source tree (no setup.py)')
def test_copy_for_compiling(tmp_path: Any) -> None:
    runner.copy_for_compiling(str(tmp_path))
    names = set(os.listdir(str(tmp_path)))
    assert names == {'degu', 'test_degu', 'benchmarks', 'doc', 'setup.py', 'README'}
    tests = set(os.listdir(str(tmp_path / 'test_degu')))
    assert 'test_runner.py' not in tests and 'test_packaging.py' not in tests
    assert 'test_benchmarks.py' in tests
    assert not any(name.endswith('.so') for name in os.listdir(str(tmp_path / 'degu')))


def test_pytest_args() -> None:
    assert runner.pytest_args('/t', ['-x'], doctests=False) == [
        '-m', 'pytest', '-p', 'no:cacheprovider', '-W', 'error::DeprecationWarning',
        '-q', '/t/test_degu', '-x']
    args = runner.pytest_args('/t', [])
    assert args[-4:] == ['--doctest-glob=*.rst', '--doctest-glob=README',
                         '/t/doc', '/t/README']
