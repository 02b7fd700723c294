"""Install what the tests need, then run the whole suite, pure and compiled.

Usage::

    python3 -m test_degu [--pure-only] [extra pytest arguments]

This is the one test command of the README and of ``.ci/run``.  It:

1. installs pytest, coverage, setuptools and wheel with pip when missing (with
   ``--break-system-packages`` outside a virtual environment, as Debian's
   interpreters require);
2. runs pytest under coverage over ``test_degu/``, the doctests of ``doc/*.rst``
   and of ``README``, and prints the coverage report;
3. unless ``--pure-only`` is given, installs mypy, compiles the hot modules
   with mypyc (``DEGU_MYPYC=1 setup.py build_ext``) in a temporary copy of the
   tree, and runs the test suite again against that compiled build.

It exits non-zero if any run fails.  When no C compiler is available the
compiled run is skipped with a message (the pure run still decides).
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile

TREE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# setuptools and wheel: the packaging test builds and installs an sdist
# (Python 3.12+ environments no longer come with setuptools).
NEEDED = ('pytest', 'coverage', 'setuptools', 'wheel')

# Tests that are about packaging or the docs, not about the compiled code;
# they run once, in the pure run.
PURE_ONLY_TESTS = ('test_packaging.py',)


def missing(names):
    return [name for name in names if importlib.util.find_spec(name) is None]


def install(names):
    cmd = [sys.executable, '-m', 'pip', 'install', '--quiet']
    if sys.prefix == sys.base_prefix:
        cmd.append('--break-system-packages')
    print('test_degu: installing', ' '.join(names), flush=True)
    subprocess.check_call(cmd + list(names))


def pytest_args(tree, extra, doctests=True):
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


def run_pure(extra):
    env = dict(os.environ)
    env['PYTHONPATH'] = TREE + os.pathsep + env.get('PYTHONPATH', '')
    cov = [sys.executable, '-m', 'coverage']
    print('test_degu: pure-Python run (under coverage)', flush=True)
    rc = subprocess.call(
        cov + ['run', '--branch', '--parallel-mode', '--source=degu']
        + pytest_args(TREE, extra),
        env=env, cwd=TREE,
    )
    subprocess.call(cov + ['combine', '--quiet'], env=env, cwd=TREE)
    subprocess.call(cov + ['report', '--precision=1'], env=env, cwd=TREE)
    return rc


def run_compiled(extra):
    if shutil.which('cc') is None and shutil.which('gcc') is None:
        print('test_degu: no C compiler, skipping the mypyc run', flush=True)
        return 0
    if missing(['mypy']):
        install(['mypy'])
    with tempfile.TemporaryDirectory(prefix='degu-mypyc.') as tmp:
        for name in ('degu', 'test_degu', 'benchmarks'):
            shutil.copytree(
                os.path.join(TREE, name), os.path.join(tmp, name),
                ignore=shutil.ignore_patterns('__pycache__', '*.so'),
            )
        for name in ('setup.py', 'README'):
            shutil.copy(os.path.join(TREE, name), tmp)
        for name in PURE_ONLY_TESTS:
            path = os.path.join(tmp, 'test_degu', name)
            if os.path.exists(path):
                os.remove(path)
        env = dict(os.environ)
        env['DEGU_MYPYC'] = '1'
        print('test_degu: compiling the hot modules with mypyc', flush=True)
        build = subprocess.run(
            [sys.executable, 'setup.py', '--quiet', 'build_ext', '--inplace'],
            cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        if build.returncode != 0:
            print(build.stdout.decode(errors='replace'))
            print('test_degu: mypyc build FAILED', flush=True)
            return build.returncode
        env = dict(os.environ)
        env['PYTHONPATH'] = tmp + os.pathsep + env.get('PYTHONPATH', '')
        # test_compiled.py checks the modules really are extension modules.
        env['DEGU_EXPECT_COMPILED'] = '1'
        print('test_degu: compiled run', flush=True)
        return subprocess.call(
            [sys.executable] + pytest_args(tmp, extra, doctests=False),
            env=env, cwd=tmp,
        )


def main(argv):
    pure_only = '--pure-only' in argv
    extra = [arg for arg in argv if arg != '--pure-only']
    need = missing(NEEDED)
    if need:
        install(need)
    rc = run_pure(extra)
    if rc == 0 and not pure_only:
        rc = run_compiled(extra)
    print('test_degu: {}'.format('PASSED' if rc == 0 else 'FAILED'), flush=True)
    return rc


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
