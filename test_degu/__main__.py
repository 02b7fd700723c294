# SPDX-License-Identifier: LGPL-3.0-or-later
"""Run the whole test suite, pure and compiled: ``python3 -m test_degu``.

Usage::

    python3 -m test_degu [--pure-only] [--venv] [--which] [pytest arguments]

This is the one test command of the README and of ``.ci/run``.  It never
installs anything into the interpreter it was started with.  The tests run
with one of two interpreters:

1. **The one you started it with**, when it can import pytest and coverage
   (on Debian: ``apt install python3-pytest python3-coverage``; an offline
   package build has them).  Nothing is installed.
2. **Otherwise, a project-local virtual environment**, ``.test-venv/`` at the
   top of the source tree (git-ignored), created on first use.  pip installs
   there what the tests need: pytest and coverage (required), and
   setuptools, wheel, mypy (for the compiled run), h11 and requests (real
   peers for the interop tests) when they can be installed; what cannot (offline, say) is
   reported, and the tests that need it skip.  ``--venv`` chooses this even
   when 1 would do.  Delete the directory to start afresh.

``--which`` only says which interpreter would be used, and why.

Then it:

1. runs pytest under coverage over ``test_degu/``, the doctests of
   ``doc/*.rst`` and of ``README``, and prints the coverage report;
2. unless ``--pure-only`` is given, compiles the hot modules with mypyc
   (``DEGU_MYPYC=1 setup.py build_ext``) in a temporary copy of the tree and
   runs the test suite again against that compiled build.  This needs mypy
   and a C compiler; without them the compiled run is skipped with a message
   (the pure run still decides).

It exits non-zero if any run fails.
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Dict, List, Sequence, Tuple

TREE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(TREE, '.test-venv')

# Without these the tests cannot run at all.
REQUIRED = ('pytest', 'coverage')
# Installed into the virtual environment when possible; each is optional.
# setuptools and wheel: the mypyc build (Python 3.12+ venvs have no
# setuptools); mypy: provides mypyc; h11 and requests: the interop tests.
OPTIONAL = ('setuptools', 'wheel', 'mypy', 'h11', 'requests')

# Tests that are about packaging or the docs, not about the compiled code;
# they run once, in the pure run.
PURE_ONLY_TESTS = ('test_packaging.py', 'test_runner.py')

# What the compiled run copies from the tree (pyproject.toml stays behind:
# the build needs only setup.py, whatever the setuptools version).
COMPILED_COPY_DIRS = ('degu', 'test_degu', 'benchmarks', 'doc')
COMPILED_COPY_FILES = ('setup.py', 'README')
# The original Degu 0.19's pages, when a shared reference folder sits beside
# the tree (test_compat.py runs them as doctests).
ORIGINAL_DOCS = os.path.join(os.path.dirname(TREE), 'shared', 'reference',
                             'degu-0.19-doc')

FIND_MISSING = (
    'import importlib.util, sys\n'
    'print(" ".join(n for n in sys.argv[1:] '
    'if importlib.util.find_spec(n) is None))\n'
)


def say(*words: str) -> None:
    print('test_degu:', *words, flush=True)


def missing_here(names: Sequence[str]) -> List[str]:
    """The modules of *names* this interpreter cannot import."""
    return [name for name in names if importlib.util.find_spec(name) is None]


def missing_in(python: str, names: Sequence[str]) -> List[str]:
    """The modules of *names* that *python* cannot import."""
    out = subprocess.run([python, '-c', FIND_MISSING] + list(names),
                         stdout=subprocess.PIPE, check=True,
                         universal_newlines=True).stdout
    return out.split()


def choose(missing_required: Sequence[str], force_venv: bool) -> Tuple[str, str]:
    """``('current' | 'venv', why)``: which interpreter runs the tests.

    >>> choose([], False)
    ('current', 'it can import pytest and coverage')
    >>> choose(['coverage'], False)
    ('venv', 'this interpreter cannot import coverage')
    >>> choose([], True)
    ('venv', '--venv was given')
    """
    if force_venv:
        return ('venv', '--venv was given')
    if missing_required:
        return ('venv', 'this interpreter cannot import {}'.format(
            ', '.join(missing_required)))
    return ('current', 'it can import {}'.format(' and '.join(REQUIRED)))


def venv_python(venv: str = VENV) -> str:
    return os.path.join(venv, 'bin', 'python')


def prepare_venv(venv: str = VENV) -> str:
    """Create *venv* if needed, install what is missing; return its python.

    Raises ``RuntimeError`` (with what to do) if the venv cannot be made or
    pytest and coverage cannot be installed into it.
    """
    python = venv_python(venv)
    if not os.path.exists(python):
        say('creating the virtual environment', venv)
        made = subprocess.run([sys.executable, '-m', 'venv', venv])
        if made.returncode != 0:
            raise RuntimeError(
                'cannot create {} (on Debian: apt install python3-venv); or '
                'install pytest and coverage for {} (on Debian: apt install '
                'python3-pytest python3-coverage)'.format(venv, sys.executable))
    pip = [python, '-m', 'pip', 'install', '--quiet',
           '--disable-pip-version-check']
    need = missing_in(python, REQUIRED)
    if need:
        say('installing', ' '.join(need), 'into', venv)
        if subprocess.run(pip + need).returncode != 0:
            raise RuntimeError(
                'cannot install {} into {} (offline?); install them for {} '
                'instead (on Debian: apt install python3-pytest '
                'python3-coverage)'.format(' '.join(need), venv, sys.executable))
    for name in missing_in(python, OPTIONAL):
        say('installing', name, 'into', venv)
        if subprocess.run(pip + [name]).returncode != 0:
            say('could not install {}: the tests that need it skip'.format(name))
    return python


def pytest_args(tree: str, extra: Sequence[str], doctests: bool = True) -> List[str]:
    args = [
        '-m', 'pytest',
        '-p', 'no:cacheprovider',
        '-W', 'error::DeprecationWarning',
        '-q',
        os.path.join(tree, 'test_degu'),
    ]
    if doctests:
        args += [
            '--doctest-glob=*.rst',
            '--doctest-glob=README',
            os.path.join(tree, 'doc'),
            os.path.join(tree, 'README'),
        ]
    return args + list(extra)


def with_path(tree: str) -> Dict[str, str]:
    """The environment, with *tree* first on ``PYTHONPATH``."""
    env = dict(os.environ)
    old = env.get('PYTHONPATH')
    env['PYTHONPATH'] = tree if not old else tree + os.pathsep + old
    return env


def run_pure(python: str, extra: Sequence[str]) -> int:
    env = with_path(TREE)
    cov = [python, '-m', 'coverage']
    say('pure-Python run (under coverage) with', python)
    rc = subprocess.call(
        cov + ['run', '--branch', '--parallel-mode', '--source=degu']
        + pytest_args(TREE, extra),
        env=env, cwd=TREE,
    )
    subprocess.call(cov + ['combine', '--quiet'], env=env, cwd=TREE)
    subprocess.call(cov + ['report', '--precision=1'], env=env, cwd=TREE)
    return rc


def copy_for_compiling(tmp: str) -> None:
    for name in COMPILED_COPY_DIRS:
        shutil.copytree(
            os.path.join(TREE, name), os.path.join(tmp, name),
            ignore=shutil.ignore_patterns('__pycache__', '*.so'),
        )
    for name in COMPILED_COPY_FILES:
        shutil.copy(os.path.join(TREE, name), tmp)
    for name in PURE_ONLY_TESTS:
        path = os.path.join(tmp, 'test_degu', name)
        if os.path.exists(path):
            os.remove(path)


def run_compiled(python: str, extra: Sequence[str]) -> int:
    if shutil.which('cc') is None and shutil.which('gcc') is None:
        say('no C compiler, skipping the mypyc run')
        return 0
    if missing_in(python, ['mypyc', 'setuptools']):
        say('{} has no mypy (mypyc) or setuptools, skipping the mypyc run '
            '(--venv installs them)'.format(python))
        return 0
    with tempfile.TemporaryDirectory(prefix='degu-mypyc.') as tmp:
        copy_for_compiling(tmp)
        env = dict(os.environ)
        env['DEGU_MYPYC'] = '1'
        say('compiling the hot modules with mypyc')
        build = subprocess.run(
            [python, 'setup.py', '--quiet', 'build_ext', '--inplace'],
            cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        if build.returncode != 0:
            print(build.stdout.decode(errors='replace'))
            say('mypyc build FAILED')
            return build.returncode
        env = with_path(tmp)
        # test_compiled.py checks the modules really are extension modules.
        env['DEGU_EXPECT_COMPILED'] = '1'
        # The copy is not beside the shared reference; test_compat.py is
        # told where the original Degu's pages are instead.
        env.setdefault('DEGU_ORIGINAL_DOCS', ORIGINAL_DOCS)
        say('compiled run')
        return subprocess.call(
            [python] + pytest_args(tmp, extra),
            env=env, cwd=tmp,
        )


def main(argv: Sequence[str]) -> int:
    flags = {'--pure-only', '--venv', '--which'}
    extra = [arg for arg in argv if arg not in flags]
    (which, why) = choose(missing_here(REQUIRED), '--venv' in argv)
    if '--which' in argv:
        python = sys.executable if which == 'current' else venv_python()
        print('{} ({}: {})'.format(python, which, why))
        return 0
    say('testing with', 'this interpreter' if which == 'current' else VENV,
        '({})'.format(why))
    if which == 'current':
        python = sys.executable
    else:
        try:
            python = prepare_venv()
        except RuntimeError as e:
            say(str(e))
            say('FAILED')
            return 1
    rc = run_pure(python, extra)
    if rc == 0 and '--pure-only' not in argv:
        rc = run_compiled(python, extra)
    say('PASSED' if rc == 0 else 'FAILED')
    return rc


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
