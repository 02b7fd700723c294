# SPDX-License-Identifier: LGPL-3.0-or-later
"""Packaging: metadata, sdist and wheel, the installed ``degu`` command, the
man page against ``--help``, the license headers, the changelog and debian/.

The build test does the whole journey in temporary directories (the source
tree is copied first, so building writes nothing into it):

1. a build environment: a fresh venv (``--system-site-packages``) that has
   setuptools >= 77 (the first to read PEP 639's ``license = "SPDX"``) and
   ``build``, from the machine when it has them, else installed with pip
   (the one step that may use the network; without it the test skips);
2. ``python -m build --no-isolation`` makes the sdist and the wheel; their
   contents and metadata are checked;
3. ``pip install --no-index --no-build-isolation .`` in the unpacked sdist
   (offline: this proves the sdist is complete), then, from outside the
   tree and without ``PYTHONPATH``, the venv's ``degu`` command and
   ``python -m degu`` are run.

Tests that read files only a source checkout has (pyproject.toml, debian/,
the changelog) skip elsewhere, such as in the Debian package build, which
runs the tests from its build directory.
"""

import email.parser
import functools
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import zipfile
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

import degu
from degu import cli

TREE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAME = 'degu-{}'.format(degu.__version__)
GUARD = 300  # seconds; only against a hang, never a timing assertion
SPDX_LINE = 'SPDX-License-Identifier: LGPL-3.0-or-later'
MAN_PAGE = os.path.join(TREE, 'doc', 'degu.1')

in_source_tree = pytest.mark.skipif(
    not os.path.exists(os.path.join(TREE, 'pyproject.toml')),
    reason='not a source checkout (no pyproject.toml), e.g. a package build directory',
)


def read(*parts: str) -> str:
    with open(os.path.join(TREE, *parts), encoding='utf-8') as fp:
        return fp.read()


# -- pyproject.toml --------------------------------------------------------------

def load_pyproject() -> Dict[str, Any]:
    try:
        import tomllib as toml  # Python 3.11+
    except ImportError:
        toml = pytest.importorskip('tomli', reason='reading TOML needs Python 3.11+ or tomli')
    with open(os.path.join(TREE, 'pyproject.toml'), 'rb') as fp:
        data: Dict[str, Any] = toml.load(fp)
    return data


@in_source_tree
def test_pyproject_metadata() -> None:
    data = load_pyproject()
    assert data['build-system'] == {
        'requires': ['setuptools>=77'],
        'build-backend': 'setuptools.build_meta',
    }
    project = data['project']
    assert project['name'] == 'degu'
    assert project['license'] == 'LGPL-3.0-or-later'
    assert project['license-files'] == ['COPYING']
    assert project['requires-python'] == '>=3.9'
    assert project['dependencies'] == []
    assert project['dynamic'] == ['version']
    assert project['scripts'] == {'degu': 'degu.cli:script'}
    assert set(project['optional-dependencies']) == {'test'}
    assert {'pytest', 'coverage'} <= set(project['optional-dependencies']['test'])
    assert project['readme'] == {'file': 'README', 'content-type': 'text/x-rst'}
    # PEP 639: the license classifiers are deprecated next to an expression.
    assert [c for c in project['classifiers'] if c.startswith('License ::')] == []
    for person in project['authors'] + project['maintainers']:
        assert set(person) == {'name'}  # no personal address in the metadata
    tool = data['tool']['setuptools']
    assert tool['packages'] == ['degu']  # not test_degu, not benchmarks
    assert tool['dynamic'] == {'version': {'attr': 'degu.__version__'}}
    assert tool['package-data'] == {'degu': ['py.typed']}


@in_source_tree
def test_setup_py_says_only_the_mypyc_build() -> None:
    text = read('setup.py')
    assert 'setup(ext_modules=ext_modules())' in text
    for word in ('version=', 'license', 'name=', 'classifiers', 'url='):
        assert word not in text.split('"""', 2)[2], word


# -- license -----------------------------------------------------------------------

@in_source_tree
def test_copying() -> None:
    text = read('COPYING')
    assert SPDX_LINE in text
    assert 'Copyright 2026 The Degu authors' in text
    for where in ('https://www.gnu.org/licenses/lgpl-3.0.html',
                  'https://www.gnu.org/licenses/gpl-3.0.html',
                  '/usr/share/common-licenses/LGPL-3',
                  '/usr/share/common-licenses/GPL-3'):
        assert where in text


def source_files() -> List[str]:
    """Every source file of the tree, relative to it."""
    skip_dirs = {'.git', '.test-venv', '__pycache__', 'build', 'dist', '.pybuild',
                 '_build', '.pc', '.mypy_cache', '.pytest_cache'}
    found = []
    for (top, dirs, files) in os.walk(TREE):
        dirs[:] = [d for d in dirs if d not in skip_dirs and not d.endswith('.egg-info')
                   and not (top == os.path.join(TREE, 'debian') and d == 'python3-degu')]
        for name in files:
            path = os.path.relpath(os.path.join(top, name), TREE)
            if name.endswith(('.py', '.toml', '.in', '.1')) or \
                    os.path.dirname(path) == '.ci' or path == os.path.join('debian', 'rules'):
                found.append(path)
    return sorted(found)


def test_source_files_found() -> None:
    files = source_files()
    assert os.path.join('degu', 'server.py') in files
    assert os.path.join('test_degu', 'test_packaging.py') in files
    assert os.path.join('doc', 'degu.1') in files
    if os.path.isdir(os.path.join(TREE, '.ci')):
        assert os.path.join('.ci', 'build-deb') in files


def test_every_source_file_has_an_spdx_line() -> None:
    missing = []
    for path in source_files():
        with open(os.path.join(TREE, path), encoding='utf-8') as fp:
            head = [next(fp, '') for _ in range(5)]
        if not any(SPDX_LINE in line for line in head):
            missing.append(path)
    assert missing == []


# -- the man page --------------------------------------------------------------------

OPTION = re.compile(r'(?<![\w-])(--?[A-Za-z][\w-]*)')


@functools.lru_cache(maxsize=None)
def help_text(*command: str) -> str:
    """``degu [COMMAND] --help``, unwrapped (one line per option)."""
    env = dict(os.environ, COLUMNS='500', PYTHONPATH=TREE)
    result = subprocess.run([sys.executable, '-m', 'degu'] + list(command) + ['--help'],
                            env=env, cwd=TREE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, timeout=GUARD,
                            universal_newlines=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def help_options(text: str) -> Dict[str, str]:
    """``{option: its help}`` from the option entries of a --help text.

    An entry starts with a line of two spaces and a dash (the option
    strings, then, after two spaces, the start of the help, if it fits);
    lines indented further continue the help.
    """
    options: Dict[str, str] = {}
    current: List[str] = []
    for line in text.splitlines():
        match = re.match(r'  (-\S.*?)(?:  +(.*))?$', line)
        if match:
            current = OPTION.findall(match.group(1))
            for option in current:
                options[option] = match.group(2) or ''
        elif current and line.startswith('   '):
            for option in current:
                options[option] = (options[option] + ' ' + line.strip()).strip()
        else:
            current = []
    return options


def help_commands(text: str) -> List[str]:
    """The subcommands listed in the top-level --help."""
    return re.findall(r'^    (\w+)  ', text, re.M)


def roff_text(line: str) -> str:
    """A roff line as the reader sees it (escapes and font changes removed)."""
    line = re.sub(r'\\f[BIRP]', '', line).replace('\\-', '-').replace('\\e', '\\')
    line = re.sub(r'^\.(B|I|BI|IB|BR|RB|IR|RI)\s+', '', line)
    return line.replace('"', '')


def man_sections() -> Dict[str, List[Tuple[str, str]]]:
    """``{section: [(tag, body)]}``: the ``.TP`` entries of each section.

    Sections are ``.SH`` names, and ``COMMANDS/NAME`` for each ``.SS`` under
    ``.SH COMMANDS``.
    """
    sections: Dict[str, List[Tuple[str, str]]] = {}
    current = ''
    entry: Optional[List[str]] = None
    lines = open(MAN_PAGE, encoding='utf-8').read().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(('.SH', '.SS', '.TP', '.PP')):
            entry = None
        if line.startswith('.SH '):
            current = line[4:].strip('"')
            sections.setdefault(current, [])
        elif line.startswith('.SS '):
            current = 'COMMANDS/' + line[4:].strip('"')
            sections.setdefault(current, [])
        elif line.startswith('.TP'):
            i += 1
            entry = [roff_text(lines[i]), '']
            sections.setdefault(current, []).append((entry[0], ''))
        elif entry is not None and not line.startswith('.\\"'):
            (tag, body) = sections[current][-1]
            sections[current][-1] = (tag, body + ' ' + roff_text(line))
        i += 1
    return sections


def man_options(section: str) -> Dict[str, str]:
    options: Dict[str, str] = {}
    for (tag, body) in man_sections().get(section, []):
        for option in OPTION.findall(tag):
            options[option] = body
    return options


def test_man_page_lists_every_command() -> None:
    commands = help_commands(help_text())
    assert commands == ['serve', 'request']
    documented = [name[len('COMMANDS/'):] for name in man_sections()
                  if name.startswith('COMMANDS/')]
    assert documented == commands


@pytest.mark.parametrize('command', [(), ('serve',), ('request',)])
def test_man_page_has_every_option_and_no_other(command: Tuple[str, ...]) -> None:
    section = 'COMMANDS/' + command[0] if command else 'OPTIONS'
    in_help = help_options(help_text(*command))
    in_man = man_options(section)
    assert len(in_help) >= 2
    not_in_man = sorted(set(in_help) - set(in_man))
    not_in_help = sorted(set(in_man) - set(in_help))
    # Each list names what to add to (or remove from) doc/degu.1.
    assert (not_in_man, not_in_help) == ([], []), section


@pytest.mark.parametrize('command', ['serve', 'request'])
def test_man_page_has_the_defaults_of_help(command: str) -> None:
    in_man = man_options('COMMANDS/' + command)
    for (option, line) in help_options(help_text(command)).items():
        for default in re.findall(r'\(default: ([^;)]+)', line):
            assert 'default: ' + default in in_man.get(option, ''), (command, option)


def test_man_page_parser_sees_what_it_should() -> None:
    serve = man_options('COMMANDS/serve')
    assert '-a' in serve and '--address' in serve
    assert 'default: 127.0.0.1:8000' in serve['--address']
    assert 'default: 65' in man_options('COMMANDS/request')['--timeout']
    assert set(man_sections()) >= {'NAME', 'SYNOPSIS', 'DESCRIPTION', 'OPTIONS',
                                   'ADDRESSES', 'EXIT STATUS', 'EXAMPLES', 'SEE ALSO'}
    exits = [tag.strip() for (tag, _) in man_sections()['EXIT STATUS']]
    assert exits == ['0', '1', '2', '130']


def test_help_parser_sees_what_it_should() -> None:
    serve = help_options(help_text('serve'))
    assert {'-h', '--help', '-a', '--address', '--temp-pki', '-q'} <= set(serve)
    assert 'default: 50' in serve['--max-connections']
    assert 'default: 127.0.0.1:8000' in serve['--address']  # a continuation line
    # An option only named inside another option's help is not an option.
    assert help_options('  --tls    like --nope\n') == {'--tls': 'like --nope'}
    assert help_options('  -a X, --b X\n        help\n  more\n') == {
        '-a': 'help', '--b': 'help'}


@pytest.mark.skipif(shutil.which('groff') is None, reason='needs groff')
def test_man_page_renders_without_warnings() -> None:
    result = subprocess.run(['groff', '-man', '-ww', '-z', MAN_PAGE],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            timeout=GUARD, universal_newlines=True)
    assert (result.returncode, result.stderr) == (0, '')


# -- changelog and debian/ -------------------------------------------------------------

@in_source_tree
def test_changelog() -> None:
    text = read('CHANGELOG.rst')
    headings = re.findall(r'^(.+)\n-+\n', text, re.M)
    assert headings[0] in ('Unreleased', '{} ('.format(degu.__version__)) or \
        headings[0].startswith(degu.__version__ + ' (')
    assert headings[-1] == '0.19.0 (2026-11-22)'
    assert SPDX_LINE in text.splitlines()[0]


@in_source_tree
def test_debian_changelog_has_this_version() -> None:
    first = read('debian', 'changelog').splitlines()[0]
    match = re.match(r'degu \(([^)]+)\) ', first)
    assert match is not None, first
    upstream = match.group(1).rsplit('-', 1)[0]
    assert upstream == degu.__version__


@in_source_tree
def test_debian_control_and_copyright() -> None:
    control = read('debian', 'control')
    for name in ('debhelper-compat (= 13)', 'dh-python', 'python3-all',
                 'python3-setuptools', 'python3-pytest', 'python3-coverage',
                 'openssl', 'curl', 'pybuild-plugin-pyproject'):
        assert name in control
    assert 'Package: python3-degu\n' in control
    assert '--buildsystem=pybuild' in read('debian', 'rules')
    copyright = read('debian', 'copyright')
    assert copyright.startswith(
        'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n')
    assert 'License: LGPL-3+\n' in copyright
    assert read('debian', 'python3-degu.manpages').split() == ['doc/degu.1']


@in_source_tree
@pytest.mark.skipif(shutil.which('patch') is None, reason='needs patch')
def test_debian_patches_apply(tmp_path: Any) -> None:
    """The Debian patches still fit the files they change (else the .deb fails)."""
    for name in read('debian', 'patches', 'series').split():
        shutil.copy(os.path.join(TREE, 'pyproject.toml'), str(tmp_path))
        result = subprocess.run(
            ['patch', '-p1', '--dry-run', '-d', str(tmp_path),
             '-i', os.path.join(TREE, 'debian', 'patches', name)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=GUARD,
            universal_newlines=True)
        assert result.returncode == 0, (name, result.stdout)


# -- build, install, run --------------------------------------------------------------

# Files the sdist must carry (relative to its top directory).
SDIST_REQUIRED = [
    'pyproject.toml', 'setup.py', 'MANIFEST.in', 'README', 'COPYING',
    'CHANGELOG.rst', 'PKG-INFO',
    'degu/__init__.py', 'degu/__main__.py', 'degu/cli.py', 'degu/server.py',
    'degu/client.py', 'degu/py.typed', 'degu/_mypyc.pyi',
    'test_degu/__init__.py', 'test_degu/__main__.py', 'test_degu/conftest.py',
    'test_degu/test_cli.py', 'test_degu/test_packaging.py',
    'test_degu/test_benchmarks.py',
    'benchmarks/__init__.py', 'benchmarks/__main__.py', 'benchmarks/main.py',
    'doc/conf.py', 'doc/conftest.py', 'doc/index.rst', 'doc/tutorial.rst',
    'doc/security.rst', 'doc/cli.rst', 'doc/degu.1',
    '.ci/run', '.ci/build-deb',
]

IGNORE = shutil.ignore_patterns(
    '.git', '__pycache__', '*.pyc', '*.so', '*.egg-info', 'build', 'dist', '_build',
    '.coverage*', '.pytest_cache', '.mypy_cache', '.test-venv', '.pybuild', '.pc',
)

BUILD_TOOLS_CHECK = (
    'import sys\n'
    'import build, setuptools\n'
    'sys.exit(0 if int(setuptools.__version__.split(".")[0]) >= 77 else 1)\n'
)


def clean_env(offline: bool = True) -> Dict[str, str]:
    """The environment minus anything that would find the source tree."""
    env = dict(os.environ)
    for key in ('PYTHONPATH', 'PYTHONHOME', 'DEGU_MYPYC', 'PYTHONSTARTUP'):
        env.pop(key, None)
    if offline:
        env['PIP_NO_INDEX'] = '1'
    env['PIP_DISABLE_PIP_VERSION_CHECK'] = '1'
    return env


def run(cmd: List[str], cwd: str, offline: bool = True) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=clean_env(offline),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            timeout=GUARD)
    assert result.returncode == 0, (cmd, result.stdout, result.stderr)
    return result.stdout.decode()


@pytest.fixture(scope='module')
def build_venv(tmp_path_factory: Any) -> Iterator[str]:
    """A venv with setuptools >= 77 and build: its python."""
    if importlib.util.find_spec('ensurepip') is None:
        pytest.skip('creating a venv with pip needs ensurepip (Debian: python3-venv)')
    if not os.path.exists(os.path.join(TREE, 'pyproject.toml')):
        pytest.skip('not a source checkout (no pyproject.toml)')
    venv = str(tmp_path_factory.mktemp('build-venv'))
    run([sys.executable, '-m', 'venv', '--system-site-packages', venv], cwd=venv)
    python = os.path.join(venv, 'bin', 'python')
    has_tools = subprocess.run([python, '-c', BUILD_TOOLS_CHECK], env=clean_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=GUARD).returncode == 0
    if not has_tools:
        # The one networked step: fetch what PEP 639 needs (skip if offline).
        fetched = subprocess.run(
            [python, '-m', 'pip', 'install', '--quiet', '--retries', '1',
             '--timeout', '20', 'setuptools>=77', 'build', 'wheel'],
            env=clean_env(offline=False), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, timeout=GUARD)
        if fetched.returncode != 0:
            pytest.skip('building needs setuptools >= 77 and build; none here and '
                        'pip could not fetch them: {}'.format(
                            fetched.stdout.decode(errors='replace')[-300:]))
    yield python


@pytest.fixture(scope='module')
def built(build_venv: str, tmp_path_factory: Any) -> Dict[str, str]:
    """``python -m build`` on a copy of the tree: the sdist and wheel paths."""
    top = str(tmp_path_factory.mktemp('build'))
    src = os.path.join(top, 'src')
    dist = os.path.join(top, 'dist')
    shutil.copytree(TREE, src, ignore=IGNORE)
    run([build_venv, '-m', 'build', '--no-isolation', '--sdist', '--wheel',
         '--outdir', dist, src], cwd=top)
    names = sorted(os.listdir(dist))
    assert names == [NAME + '-py3-none-any.whl', NAME + '.tar.gz']
    return {'top': top, 'sdist': os.path.join(dist, names[1]),
            'wheel': os.path.join(dist, names[0])}


def check_metadata(text: str) -> None:
    meta = email.parser.Parser().parsestr(text)
    assert meta['Name'] == 'degu'
    assert meta['Version'] == degu.__version__
    assert meta['License-Expression'] == 'LGPL-3.0-or-later'
    assert meta.get_all('License-File') == ['COPYING']
    assert meta['License'] is None
    assert meta['Requires-Python'] == '>=3.9'
    assert meta.get_all('Provides-Extra') == ['test']
    requires = meta.get_all('Requires-Dist') or []
    assert requires and all('extra == "test"' in r for r in requires)
    classifiers = meta.get_all('Classifier') or []
    assert 'Typing :: Typed' in classifiers
    assert [c for c in classifiers if c.startswith('License')] == []
    assert meta['Description-Content-Type'] == 'text/x-rst'
    assert str(meta.get_payload()).startswith('Degu\n====\n')


def test_sdist(built: Dict[str, str]) -> None:
    with tarfile.open(built['sdist']) as tar:
        names = set(tar.getnames())
        pkg_info = tar.extractfile(NAME + '/PKG-INFO')
        assert pkg_info is not None
        check_metadata(pkg_info.read().decode())
    missing = [n for n in SDIST_REQUIRED if '{}/{}'.format(NAME, n) not in names]
    assert missing == []
    for path in sorted(names):
        assert '__pycache__' not in path and not path.endswith(('.pyc', '.so'))
        assert not path.startswith((NAME + '/debian', NAME + '/.test-venv')), path


def test_wheel(built: Dict[str, str]) -> None:
    info = NAME + '.dist-info'
    with zipfile.ZipFile(built['wheel']) as whl:
        names = set(whl.namelist())
        metadata = whl.read(info + '/METADATA').decode()
        entry_points = whl.read(info + '/entry_points.txt').decode()
    # Only the runtime package: no tests, no benchmark.
    assert {name.split('/')[0] for name in names} == {'degu', info}
    assert {'degu/py.typed', 'degu/cli.py', 'degu/server.py'} <= names
    assert 'degu/bench.py' not in names
    assert info + '/licenses/COPYING' in names
    check_metadata(metadata)
    assert '[console_scripts]\ndegu = degu.cli:script\n' in entry_points


@pytest.fixture(scope='module')
def installed(build_venv: str, built: Dict[str, str]) -> Dict[str, str]:
    """``pip install .`` (offline) in the unpacked sdist, into the build venv."""
    top = built['top']
    with tarfile.open(built['sdist']) as tar:
        tar.extractall(os.path.join(top, 'unpacked'))
    unpacked = os.path.join(top, 'unpacked', NAME)
    run([build_venv, '-m', 'pip', 'install', '--no-index', '--no-build-isolation',
         '--no-deps', '--quiet', '.'], cwd=unpacked)
    outside = os.path.join(top, 'elsewhere')
    os.mkdir(outside)
    return {'python': build_venv, 'degu': os.path.join(os.path.dirname(build_venv), 'degu'),
            'outside': outside}


def test_installed_package(installed: Dict[str, str]) -> None:
    venv = os.path.dirname(os.path.dirname(installed['python']))
    where = run([installed['python'], '-c', 'import degu; print(degu.__file__)'],
                cwd=installed['outside'])
    package_dir = os.path.dirname(where.strip())
    assert package_dir.startswith(venv + os.sep)
    assert os.path.isfile(os.path.join(package_dir, 'py.typed'))
    assert not os.path.exists(os.path.join(package_dir, 'bench.py'))
    for name in ('benchmarks', 'test_degu'):
        probe = 'import importlib.util as u; print(u.find_spec({!r}))'.format(name)
        assert run([installed['python'], '-c', probe], cwd=installed['outside']) == 'None\n'


def test_installed_degu_command(installed: Dict[str, str]) -> None:
    degu_cmd = installed['degu']
    outside = installed['outside']
    assert os.access(degu_cmd, os.X_OK)
    assert run([degu_cmd, '--version'], cwd=outside) == 'degu {}\n'.format(degu.__version__)
    for command in ([], ['serve'], ['request']):
        script_help = run([degu_cmd] + command + ['--help'], cwd=outside)
        module_help = run([installed['python'], '-m', 'degu'] + command + ['--help'],
                          cwd=outside)
        assert script_help.startswith('usage: degu ')
        assert module_help.startswith('usage: python3 -m degu ')
        # The same command under two names (argparse may re-wrap the usage).
        normal = ' '.join(module_help.replace('python3 -m degu', 'degu').split())
        assert ' '.join(script_help.split()) == normal
    # Like python3 -m, the current directory is on the import path for --app.
    with open(os.path.join(outside, 'notanapp.py'), 'w') as fp:
        fp.write('app = 42\n')
    result = subprocess.run([degu_cmd, 'serve', '--app', 'notanapp:app'], cwd=outside,
                            env=clean_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, timeout=GUARD,
                            universal_newlines=True)
    assert result.returncode == 2
    assert result.stderr.endswith(
        'degu serve: error: --app: notanapp:app is not callable: 42\n')


def test_installed_degu_serves_and_requests(installed: Dict[str, str]) -> None:
    outside = installed['outside']
    files = os.path.join(outside, 'www')
    os.makedirs(files, exist_ok=True)
    with open(os.path.join(files, 'hello.txt'), 'wb') as fp:
        fp.write(b'hello from the installed degu\n')
    socket_file = os.path.join(outside, 'serve.socket')
    server = subprocess.Popen(
        [installed['degu'], 'serve', files, '--address', socket_file, '--quiet'],
        cwd=outside, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert server.stdout is not None
        line = server.stdout.readline().decode()
        assert line == 'Serving on unix:{}\n'.format(socket_file)
        body = run([installed['degu'], 'request', 'GET', socket_file, '/hello.txt'],
                   cwd=outside)
        assert body == 'hello from the installed degu\n'
    finally:
        server.send_signal(signal.SIGTERM)
        (_, err) = server.communicate(timeout=GUARD)
    assert server.returncode == 0, err
    assert not os.path.exists(socket_file)


def test_cli_prog_names() -> None:
    assert cli.PROG == 'python3 -m degu'
    assert cli.build_parser().prog == 'python3 -m degu'
    assert cli.build_parser('degu').prog == 'degu'
    assert 'Run "degu COMMAND --help"' in cli.build_parser('degu').format_help()
