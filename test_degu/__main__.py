"""Install what the tests need, then run the whole suite under coverage.

Usage::

    python3 -m test_degu [extra pytest arguments]

This is the one test command of the README and of ``.ci/run``.  It installs
pytest and coverage with pip when they are missing (into the user site when
the interpreter is externally managed), runs pytest under coverage with the
doctests of ``README`` and ``doc/*.rst``, prints the coverage report and exits
non-zero on any failure.
"""

import importlib.util
import os
import subprocess
import sys

TREE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NEEDED = ('pytest', 'coverage')


def missing():
    return [name for name in NEEDED if importlib.util.find_spec(name) is None]


def install(names):
    cmd = [sys.executable, '-m', 'pip', 'install', '--quiet']
    if sys.prefix == sys.base_prefix:
        # Not in a venv: Debian-style interpreters refuse system-wide installs.
        cmd.append('--break-system-packages')
    print('test_degu: installing', ' '.join(names), flush=True)
    subprocess.check_call(cmd + list(names))


def pytest_args(extra):
    return [
        '-m', 'pytest',
        '-p', 'no:cacheprovider',
        '--doctest-glob=*.rst',
        '--doctest-glob=README',
        '-W', 'error::DeprecationWarning',
        '-q',
        os.path.join(TREE, 'test_degu'),
        os.path.join(TREE, 'doc'),
        os.path.join(TREE, 'README'),
    ] + list(extra)


def main(argv):
    need = missing()
    if need:
        install(need)
    os.chdir(TREE)
    env = dict(os.environ)
    env['PYTHONPATH'] = TREE + os.pathsep + env.get('PYTHONPATH', '')
    cov = [sys.executable, '-m', 'coverage']
    rc = subprocess.call(
        cov + ['run', '--branch', '--parallel-mode', '--source=degu']
        + pytest_args(argv),
        env=env,
    )
    subprocess.call(cov + ['combine', '--quiet'], env=env)
    subprocess.call(cov + ['report', '--skip-covered', '--precision=1'], env=env)
    return rc


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
