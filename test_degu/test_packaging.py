"""The source distribution builds, carries tests and docs, and installs offline.

One test does the whole journey in temporary directories (the source tree
is copied first, so building writes nothing into it):

1. ``python3 setup.py sdist`` on a copy of the tree;
2. check the tarball carries the package, ``py.typed``, the tests, the docs
   and the README;
3. install it into a fresh venv with no network: the venv is created with
   ``--system-site-packages`` so the build can use the machine's
   setuptools, and pip runs with ``--no-index --no-build-isolation``.
   pip needs ``bdist_wheel`` for that (the ``wheel`` package, or
   setuptools >= 70.1); where neither is present the unpacked sdist is
   installed with ``setup.py install --single-version-externally-managed``
   instead, which needs setuptools only;
4. from outside the tree, without ``PYTHONPATH``, import ``degu`` from the
   venv and run ``python -m degu --help``.
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
from typing import Any, Dict, List

import pytest

import degu

TREE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAME = 'degu-{}'.format(degu.__version__)
GUARD = 300  # seconds; only against a hang, never a timing assertion

# Files the sdist must carry (relative to its top directory).
REQUIRED = [
    'setup.py',
    'MANIFEST.in',
    'README',
    'degu/__init__.py',
    'degu/__main__.py',
    'degu/cli.py',
    'degu/server.py',
    'degu/client.py',
    'degu/py.typed',
    'test_degu/__init__.py',
    'test_degu/__main__.py',
    'test_degu/conftest.py',
    'test_degu/test_cli.py',
    'test_degu/test_packaging.py',
    'doc/conf.py',
    'doc/conftest.py',
    'doc/index.rst',
    'doc/tutorial.rst',
    'doc/security.rst',
    '.ci/run',
]

IGNORE = shutil.ignore_patterns(
    '.git', '__pycache__', '*.pyc', '*.egg-info', 'build', 'dist', '_build',
    '.coverage*', '.pytest_cache', '.mypy_cache',
)


def clean_env() -> Dict[str, str]:
    """The environment minus anything that would find the source tree."""
    env = dict(os.environ)
    for key in ('PYTHONPATH', 'PYTHONHOME', 'DEGU_MYPYC'):
        env.pop(key, None)
    env['PIP_NO_INDEX'] = '1'
    env['PIP_DISABLE_PIP_VERSION_CHECK'] = '1'
    env['PIP_NO_CACHE_DIR'] = '1'
    return env


def run(cmd: List[str], cwd: str) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=clean_env(), capture_output=True,
                            timeout=GUARD)
    assert result.returncode == 0, (cmd, result.stdout, result.stderr)
    return result.stdout.decode()


def has_bdist_wheel(python: str, cwd: str) -> bool:
    code = (
        'import importlib.util as u, sys\n'
        'ok = u.find_spec("wheel") is not None\n'
        'try:\n'
        '    import setuptools.command.bdist_wheel\n'
        '    ok = True\n'
        'except ImportError:\n'
        '    pass\n'
        'sys.exit(0 if ok else 1)\n'
    )
    return subprocess.run([python, '-c', code], cwd=cwd, env=clean_env(),
                          timeout=GUARD).returncode == 0


@pytest.mark.skipif(
    importlib.util.find_spec('setuptools') is None,
    reason='building the sdist needs setuptools (python3 -m test_degu installs it)',
)
def test_sdist_installs_offline(tmp_path: Any) -> None:
    src = str(tmp_path / 'src')
    dist = str(tmp_path / 'dist')
    shutil.copytree(TREE, src, ignore=IGNORE)

    # 1. Build the sdist from the copy.
    run([sys.executable, 'setup.py', '-q', 'sdist', '-d', dist], cwd=src)
    tarball = os.path.join(dist, NAME + '.tar.gz')
    assert os.listdir(dist) == [NAME + '.tar.gz']

    # 2. It carries the package, the tests and the docs.
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
    missing = [n for n in REQUIRED if '{}/{}'.format(NAME, n) not in names]
    assert missing == []
    for path in sorted(names):
        assert '__pycache__' not in path and not path.endswith('.pyc')

    # 3. Install into a fresh venv, offline.
    venv = str(tmp_path / 'venv')
    run([sys.executable, '-m', 'venv', '--system-site-packages', '--without-pip',
         venv], cwd=str(tmp_path))
    python = os.path.join(venv, 'bin', 'python')
    if has_bdist_wheel(python, str(tmp_path)):
        run([python, '-m', 'pip', 'install', '--no-index', '--no-build-isolation',
             '--no-deps', '--quiet', tarball], cwd=str(tmp_path))
    else:
        with tarfile.open(tarball) as tar:
            tar.extractall(str(tmp_path / 'unpacked'))
        unpacked = str(tmp_path / 'unpacked' / NAME)
        run([python, 'setup.py', '-q', 'install',
             '--single-version-externally-managed',
             '--record', str(tmp_path / 'record.txt')], cwd=unpacked)

    # 4. The venv's degu is the one imported, and the CLI runs.
    outside = str(tmp_path / 'elsewhere')
    os.mkdir(outside)
    where = run([python, '-c', 'import degu; print(degu.__file__)'], cwd=outside)
    package_dir = os.path.dirname(where.strip())
    assert package_dir.startswith(venv + os.sep)
    assert os.path.isfile(os.path.join(package_dir, 'py.typed'))
    help_text = run([python, '-m', 'degu', '--help'], cwd=outside)
    assert help_text.startswith('usage: python3 -m degu [-h] [--version] COMMAND ...')
    version = run([python, '-m', 'degu', '--version'], cwd=outside)
    assert version == 'degu {}\n'.format(degu.__version__)
