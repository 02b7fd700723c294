# SPDX-License-Identifier: LGPL-3.0-or-later
"""Tests for ``python3 -m degu`` (degu/cli.py, degu/__main__.py).

Most tests run the real command in a subprocess: ``serve`` on a port chosen
by the kernel or on an ``AF_UNIX`` path in a temporary directory, read the
``Serving on URL`` line, talk to it with ``request`` (and ``curl`` when
installed), then SIGINT and expect exit status 0.  The pure helpers
(address parsing, app loading, chunk lines) are tested in-process.
"""

import errno
import importlib.util
import inspect
import io
import json
import os
import shutil
import signal
import re
import socket
import subprocess
import sys
import threading
from typing import Any, Iterator, List, Tuple

import pytest

from degu import cli
from degu.client import Client
from degu.server import Server

from .helpers import Live, wait_until
from .serving import (
    GUARD, SLOW_APP_MODULE, Serving, activated_command, address_text, degu_env,
    run_degu,
)

CURL = shutil.which('curl')
HAVE_APPLIB = importlib.util.find_spec('degu.applib') is not None
needs_applib = pytest.mark.skipif(not HAVE_APPLIB, reason='degu.applib not there yet')
needs_curl = pytest.mark.skipif(CURL is None, reason='curl not installed')
LINUX = sys.platform.startswith('linux')

# The app module the subprocesses import with ``--app``.
APP_MODULE = '''
def app(session, request, api):
    if request.method in ('PUT', 'POST'):
        data = request.body.read() if request.body is not None else b''
        kind = 'chunked' if request.body.chunked else 'length'
        return (200, 'OK', {'x-body': kind}, data)
    if request.path == ['chunks']:
        return (200, 'OK', {}, api.ChunkedBodyIter([
            (('k', 'v'), b'hello'), (None, b', '), (None, b'world'), (None, b''),
        ]))
    if request.path == ['headers']:
        text = ''.join('{}={}\\n'.format(k, request.headers[k])
                       for k in sorted(request.headers))
        return (200, 'OK', {}, text.encode())
    if request.path == ['gone']:
        return (410, 'Gone', {}, None)
    return (200, 'OK', {'content-type': 'text/plain'}, b'hello, world\\n')

def build():
    return app

class Callable:
    def __call__(self, session, request, api):
        return app(session, request, api)

instance = Callable()
not_callable = 17

def two_args(a, b):
    return None

def returns_junk():
    return 17

class Holder:
    app = staticmethod(app)
'''


# -- helpers -------------------------------------------------------------------

def oserror_text(code: int) -> str:
    """How an OSError with *code* prints, e.g. ``[Errno 2] No such file or directory``."""
    return '[Errno {}] {}'.format(code, os.strerror(code))


@pytest.fixture
def appdir(tmp_path: Any) -> str:
    (tmp_path / 'cliapp.py').write_text(APP_MODULE)
    return str(tmp_path)


@pytest.fixture
def filesdir(tmp_path: Any) -> str:
    www = tmp_path / 'www'
    www.mkdir()
    (www / 'hello.txt').write_bytes(b'Hello from a file\n')
    (www / 'index.html').write_bytes(b'<p>index</p>\n')
    return str(www)


def _thread_app(session: Any, request: Any, api: Any) -> Any:
    """The in-process server's app (same behaviour as APP_MODULE's app)."""
    if request.method in ('PUT', 'POST'):
        data = request.body.read()
        kind = 'chunked' if request.body.chunked else 'length'
        return (200, 'OK', {'x-body': kind}, data)
    if request.path == ['chunks']:
        return (200, 'OK', {}, api.ChunkedBodyIter([
            (('k', 'v'), b'hello'), (None, b', '), (None, b'world'), (None, b''),
        ]))
    if request.path == ['headers']:
        text = ''.join('{}={}\n'.format(k, request.headers[k])
                       for k in sorted(request.headers))
        return (200, 'OK', {}, text.encode())
    if request.path == ['big']:
        return (200, 'OK', {}, api.ChunkedBodyIter([
            (None, b'x' * 100), (None, b''),
        ]))
    if request.path == ['gone']:
        return (410, 'Gone', {}, None)
    return (200, 'OK', {'content-type': 'text/plain'}, b'hello, world\n')


@pytest.fixture(scope='module')
def thread_server() -> Iterator[Server]:
    """A plain Server in a thread of this process, for ``request`` tests."""
    with Live(('127.0.0.1', 0), _thread_app) as running:
        yield running.server


def request_inproc(*argv: str, stdin: bytes = b'') -> Tuple[int, bytes, str]:
    """Run ``request`` through ``cli.main`` with captured streams."""
    out = io.BytesIO()
    err = io.StringIO()
    status = cli.main(['request'] + list(argv), stdin=io.BytesIO(stdin),
                      stdout=out, stderr=err)
    return (status, out.getvalue(), err.getvalue())


@pytest.mark.parametrize('command', [
    ['serve', '--address', '{}'],
    ['request', 'GET', '{}', '/'],
])
@pytest.mark.parametrize('text, message', [
    ('nope', "need HOST:PORT, [V6ADDR]:PORT or a socket path; got 'nope'"),
    ('::1:8000', "IPv6 addresses need brackets, like [::1]:8000; got '::1:8000'"),
    ('127.0.0.1:65536', "port out of range in address '127.0.0.1:65536': 65536"),
])
def test_bad_address_is_usage_error(capsys: Any, command: List[str], text: str,
                                    message: str) -> None:
    argv = [a.format(text) for a in command]
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith('usage: python3 -m degu {} '.format(command[0]))
    name = '-a/--address' if command[0] == 'serve' else 'ADDRESS'
    assert err.endswith('error: argument {}: {}\n'.format(name, message))


def test_bad_address_exit_status_subprocess() -> None:
    result = run_degu('serve', '--address', '[::1]:99999')
    assert result.returncode == 2
    assert result.stdout == b''
    assert result.stderr.decode().endswith(
        "python3 -m degu serve: error: argument -a/--address: "
        "port out of range in address '[::1]:99999': 99999\n"
    )


# -- load_app ----------------------------------------------------------------------

@pytest.fixture
def cliapp(appdir: str, monkeypatch: Any) -> Any:
    monkeypatch.syspath_prepend(appdir)
    monkeypatch.delitem(sys.modules, 'cliapp', raising=False)
    import cliapp  # type: ignore[import-not-found]
    yield cliapp
    sys.modules.pop('cliapp', None)


def test_load_app(cliapp: Any) -> None:
    assert cli.load_app('cliapp:app') is cliapp.app
    assert cli.load_app('cliapp:build') is cliapp.app
    assert cli.load_app('cliapp:instance') is cliapp.instance
    assert cli.load_app('cliapp:Holder.app') is cliapp.app
    # A class taking no arguments is a build function: it is instantiated.
    assert type(cli.load_app('cliapp:Callable')) is cliapp.Callable


@pytest.mark.parametrize('spec, message', [
    ('cliapp', "need MODULE:CALLABLE; got 'cliapp'"),
    ('cliapp:', "need MODULE:CALLABLE; got 'cliapp:'"),
    (':app', "need MODULE:CALLABLE; got ':app'"),
    ('cliapp:nope', "'cliapp' has no attribute 'nope'"),
    ('cliapp:Holder.nope', "'cliapp' has no attribute 'Holder.nope'"),
    ('cliapp:not_callable', 'cliapp:not_callable is not callable: 17'),
    ('cliapp:two_args', 'cliapp:two_args is neither an RGI app (session, '
                        'request, api) nor a build function taking no arguments'),
    ('cliapp:returns_junk', 'cliapp:returns_junk() returned a non-callable app: 17'),
])
def test_load_app_errors(cliapp: Any, spec: str, message: str) -> None:
    with pytest.raises(ValueError) as e:
        cli.load_app(spec)
    assert str(e.value) == message


def test_is_rgi_app() -> None:
    assert cli.is_rgi_app(_thread_app) is True
    assert cli.is_rgi_app(lambda s, r, a=None: None) is True
    assert cli.is_rgi_app(lambda *args: None) is False  # also takes 0: build
    assert cli.is_rgi_app(lambda: None) is False
    assert cli.is_rgi_app(lambda a, b: None) is False
    assert cli.is_rgi_app(17) is False


def test_is_rgi_app_without_signature(monkeypatch: Any) -> None:
    def no_signature(obj: Any) -> Any:
        raise ValueError('no signature found')

    monkeypatch.setattr(inspect, 'signature', no_signature)
    assert cli.is_rgi_app(_thread_app) is True  # cannot tell: assume an app
    assert cli.is_rgi_app(17) is False


@pytest.mark.parametrize('chunk, line', [
    ((None, b''), "chunk 0: b''"),
    ((None, b'hello'), "chunk 5: b'hello'"),
    ((('k', 'v'), b'hello'), "chunk 5 ;k=v: b'hello'"),
    ((None, b'x' * 32), 'chunk 32: ' + repr(b'x' * 32)),
    ((None, b'x' * 33), 'chunk 33: ' + repr(b'x' * 32) + '...'),
])
def test_format_chunk_line(chunk: Any, line: str) -> None:
    assert cli.format_chunk_line(chunk) == line


# -- --help ------------------------------------------------------------------------

@pytest.mark.parametrize('argv, first', [
    ([], 'usage: python3 -m degu [-h] [--version] COMMAND ...'),
    (['serve'], 'usage: python3 -m degu serve [-h]'),
    (['request'], 'usage: python3 -m degu request [-h]'),
])
def test_help(argv: List[str], first: str) -> None:
    result = run_degu(*(argv + ['--help']))
    assert result.returncode == 0
    assert result.stderr == b''
    text = result.stdout.decode()
    assert text.startswith(first)
    if not argv:
        for name in ('serve', 'request'):
            assert '\n    {} '.format(name) in text


def test_script_is_named_degu(monkeypatch: Any, capsys: Any) -> None:
    # The installed ``degu`` script: the same command, under its own name.
    monkeypatch.setattr(sys, 'argv', ['degu', 'serve', '--help'])
    monkeypatch.setattr(sys, 'path', ['/nowhere'])
    with pytest.raises(SystemExit) as e:
        cli.script()
    assert e.value.code == 0
    assert capsys.readouterr().out.startswith('usage: degu serve [-h]')
    # Like python3 -m, the current directory is on the import path (--app).
    assert sys.path == [os.getcwd(), '/nowhere']


def test_version(capsys: Any) -> None:
    with pytest.raises(SystemExit) as e:
        cli.main(['--version'])
    assert e.value.code == 0
    assert capsys.readouterr().out == 'degu 0.19.0\n'


def test_no_command(capsys: Any) -> None:
    with pytest.raises(SystemExit) as e:
        cli.main([])
    assert e.value.code == 2
    assert capsys.readouterr().err.endswith(
        'error: the following arguments are required: COMMAND\n'
    )


# -- serve: usage errors -------------------------------------------------------------

@pytest.mark.parametrize('argv, message', [
    (['somedir', '--app', 'x:y'], 'give either a DIRECTORY or --app, not both'),
    (['--cert', 'c.pem'], '--cert/--key/--ca/--allow-anonymous need --tls'),
    (['--allow-anonymous'], '--cert/--key/--ca/--allow-anonymous need --tls'),
    (['--tls'], '--tls needs --cert and --key (or use --temp-pki)'),
    (['--tls', '--cert', 'c', '--key', 'k'],
     '--tls needs --ca (client CA) or --allow-anonymous'),
    (['--tls', '--cert', 'c', '--key', 'k', '--ca', 'a', '--allow-anonymous'],
     '--ca and --allow-anonymous exclude each other'),
    (['--temp-pki', '--ca', 'a'], '--temp-pki cannot be combined with --cert/--key/--ca'),
    (['--app', 'nocolon'], "--app: need MODULE:CALLABLE; got 'nocolon'"),
    (['--app', 'no_such_module_here:app'], "--app: No module named 'no_such_module_here'"),
    (['--max-connections', '0'], 'argument --max-connections: need an integer > 0; got 0'),
    (['--max-requests', 'x'], "argument --max-requests: need an integer; got 'x'"),
    (['--timeout', '-1'], "argument --timeout: need a number > 0; got '-1'"),
    (['--timeout', 'nan'], "argument --timeout: need a number > 0; got 'nan'"),
    (['--timeout', 'soon'], "argument --timeout: need a number; got 'soon'"),
])
def test_serve_usage_errors(capsys: Any, argv: List[str], message: str) -> None:
    with pytest.raises(SystemExit) as e:
        cli.main(['serve'] + argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith('usage: python3 -m degu serve ')
    assert err.endswith('python3 -m degu serve: error: {}\n'.format(message))


def test_serve_not_a_directory(tmp_path: Any, capsys: Any) -> None:
    missing = str(tmp_path / 'missing')
    with pytest.raises(SystemExit) as e:
        cli.main(['serve', missing])
    assert e.value.code == 2
    assert capsys.readouterr().err.endswith(
        'error: not a directory: {!r}\n'.format(missing)
    )


def test_serve_address_in_use(appdir: str) -> None:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        result = run_degu('serve', '--app', 'cliapp:app', '--address',
                          '127.0.0.1:{}'.format(port), cwd=appdir)
    assert result.returncode == 1
    assert result.stdout == b''
    assert result.stderr.decode() == (
        "degu serve: cannot serve on http://127.0.0.1:{}/: {}\n".format(
            port, oserror_text(errno.EADDRINUSE))
    )


# -- serve + request over each transport --------------------------------------------

def test_serve_tcp(appdir: str) -> None:
    with Serving(appdir, '--app', 'cliapp:build', '--address', '127.0.0.1:0') as s:
        (host, port) = s.address
        assert s.lines == ['Serving on http://127.0.0.1:{}/\n'.format(port)]
        assert host == '127.0.0.1' and port > 0
        result = run_degu('request', 'GET', address_text(s.address), '/')
        assert result.returncode == 0
        assert result.stdout == b'hello, world\n'
        assert result.stderr == (
            b'HTTP/1.1 200 OK\ncontent-length: 13\ncontent-type: text/plain\n\n'
        )
        assert s.stop() == 0
        log = s.stderr()
    assert "INFO degu.server: Starting Degu Server @ ('127.0.0.1', {})".format(port) in log
    assert 'INFO degu.server: + (' in log  # one line per connection
    assert 'Traceback' not in log


def test_serve_ipv6(appdir: str) -> None:
    if not socket.has_ipv6:
        pytest.skip('no IPv6')
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(('::1', 0))
    except OSError:
        pytest.skip('no IPv6 loopback')
    with Serving(appdir, '--app', 'cliapp:app', '-a', '[::1]:0', '--quiet') as s:
        assert s.address[0] == '::1' and len(s.address) == 4
        result = run_degu('request', 'GET', address_text(s.address), '/chunks')
        assert result.returncode == 0
        assert result.stdout == b'hello, world'
        assert s.stop() == 0
        assert s.stderr() == ''  # --quiet: no INFO lines


def test_serve_unix(appdir: str) -> None:
    path = os.path.join(appdir, 'app.socket')
    with Serving(appdir, '--app', 'cliapp:app', '--address', './app.socket') as s:
        assert s.address == path
        assert s.lines == ['Serving on unix:{}\n'.format(path)]
        result = run_degu('request', 'PUT', path, '/upload', '--data-file', '-',
                          stdin=b'from stdin')
        assert result.returncode == 0
        assert result.stdout == b'from stdin'
        assert b'\nx-body: length\n' in result.stderr
        if CURL is not None:
            out = subprocess.run(
                [CURL, '-s', '--unix-socket', path, 'http://localhost/'],
                capture_output=True, timeout=GUARD,
            )
            assert out.stdout == b'hello, world\n'
        assert s.stop() == 0
    assert not os.path.exists(path)  # the socket file is removed on exit


@pytest.mark.skipif(not LINUX, reason='abstract AF_UNIX names are Linux-only')
def test_serve_abstract(appdir: str) -> None:
    with Serving(appdir, '--app', 'cliapp:instance', '--address', '@') as s:
        assert type(s.address) is bytes and s.address[:1] == b'\x00'
        result = run_degu('request', 'GET', address_text(s.address), '/')
        assert result.returncode == 0
        assert result.stdout == b'hello, world\n'
        assert s.stop(signal.SIGTERM) == 0


def test_serve_temp_pki(appdir: str) -> None:
    with Serving(appdir, '--app', 'cliapp:app', '--temp-pki', '-a', '127.0.0.1:0') as s:
        assert len(s.lines) == 2
        prefix = 'Client TLS config: '
        assert s.lines[0].startswith(prefix)
        config = json.loads(s.lines[0][len(prefix):])
        assert sorted(config) == ['ca_file', 'cert_file', 'check_hostname', 'key_file']
        assert config['check_hostname'] is False
        ssldir = os.path.dirname(config['ca_file'])
        address = address_text(s.address)
        # Inline JSON ...
        result = run_degu('request', 'GET', address, '/', '--tls-config',
                          json.dumps(config))
        assert (result.returncode, result.stdout) == (0, b'hello, world\n')
        # ... or a file holding it.
        config_file = os.path.join(appdir, 'client.json')
        with open(config_file, 'w') as fp:
            json.dump(config, fp)
        result = run_degu('request', 'POST', address, '/', '--tls-config',
                          config_file, '-d', config_file, '--chunked')
        assert result.returncode == 0
        assert json.loads(result.stdout) == config
        assert b'\nx-body: chunked\n' in result.stderr
        # Without a client certificate the server refuses the connection.
        del config['cert_file'], config['key_file']
        result = run_degu('request', 'GET', address, '/', '--tls-config',
                          json.dumps(config))
        assert result.returncode == 1
        assert result.stdout == b''
        assert result.stderr.startswith(b'degu request: ')
        # Plain HTTP to a TLS server gets nowhere either.
        result = run_degu('request', 'GET', address, '/')
        assert result.returncode == 1
        assert s.stop() == 0
    assert not os.path.exists(ssldir)  # the throw-away PKI is removed


def test_serve_tls_files(appdir: str, pki: Any) -> None:
    server = pki.server_sslconfig
    with Serving(appdir, '--app', 'cliapp:app', '-a', '127.0.0.1:0', '--tls',
                 '--cert', server['cert_file'], '--key', server['key_file'],
                 '--ca', server['ca_file']) as s:
        assert s.lines == ['Serving on https://127.0.0.1:{}/\n'.format(s.address[1])]
        config = json.dumps(pki.client_sslconfig)
        result = run_degu('request', 'GET', address_text(s.address), '/headers',
                          '--tls-config', config)
        assert result.returncode == 0
        assert result.stdout == 'host=127.0.0.1:{}\n'.format(s.address[1]).encode()
        assert s.stop() == 0


def test_serve_tls_anonymous(appdir: str, pki: Any) -> None:
    server = pki.anonymous_server_sslconfig
    with Serving(appdir, '--app', 'cliapp:app', '-a', '127.0.0.1:0', '--tls',
                 '--cert', server['cert_file'], '--key', server['key_file'],
                 '--allow-anonymous') as s:
        config = json.dumps(pki.anonymous_client_sslconfig)
        result = run_degu('request', 'GET', address_text(s.address), '/',
                          '--tls-config', config)
        assert (result.returncode, result.stdout) == (0, b'hello, world\n')
        assert s.stop() == 0
        assert 'Security concern: sslctx allows unauthenticated clients!' in s.stderr()


@needs_applib
def test_serve_directory_tcp(filesdir: str) -> None:
    # Default DIRECTORY is the current directory.
    with Serving(filesdir, '--address', '127.0.0.1:0') as s:
        address = address_text(s.address)
        result = run_degu('request', 'GET', address, '/hello.txt')
        assert result.returncode == 0
        assert result.stdout == b'Hello from a file\n'
        assert b'HTTP/1.1 200 OK\ncontent-length: 18\n' in result.stderr
        result = run_degu('request', 'GET', address, '/hello.txt',
                          '-H', 'Range: bytes=6-9')
        assert (result.returncode, result.stdout) == (0, b'from')
        assert result.stderr.startswith(b'HTTP/1.1 206 Partial Content\n')
        result = run_degu('request', 'GET', address, '/missing')
        assert result.returncode == 1
        assert result.stderr == b'HTTP/1.1 404 Not Found\n\n'
        if CURL is not None:
            out = subprocess.run(
                [CURL, '-s', 'http://{}/'.format(address)],
                capture_output=True, timeout=GUARD,
            )
            assert out.stdout == b'<p>index</p>\n'
        assert s.stop() == 0


@needs_applib
@needs_curl
def test_serve_directory_unix_curl(tmp_path: Any, filesdir: str) -> None:
    assert CURL is not None
    path = str(tmp_path / 'files.socket')
    with Serving(str(tmp_path), 'www', '--address', path) as s:
        assert s.address == path
        out = subprocess.run(
            [CURL, '-s', '-f', '--unix-socket', path, 'http://localhost/hello.txt'],
            capture_output=True, timeout=GUARD,
        )
        assert (out.returncode, out.stdout) == (0, b'Hello from a file\n')
        result = run_degu('request', 'HEAD', path, '/hello.txt')
        assert result.returncode == 0
        assert result.stdout == b''
        assert b'content-length: 18\n' in result.stderr
        assert s.stop() == 0


# -- request against an in-process server -------------------------------------------

def test_request_chunked_output(thread_server: Server) -> None:
    address = address_text(thread_server.address)
    (status, out, err) = request_inproc('GET', address, '/chunks')
    assert status == 0
    assert out == b'hello, world'
    assert err == (
        'HTTP/1.1 200 OK\n'
        'transfer-encoding: chunked\n'
        '\n'
        "chunk 5 ;k=v: b'hello'\n"
        "chunk 2: b', '\n"
        "chunk 5: b'world'\n"
        "chunk 0: b''\n"
    )


def test_request_long_chunk_is_abbreviated(thread_server: Server) -> None:
    (status, out, err) = request_inproc('GET', address_text(thread_server.address), '/big')
    assert (status, out) == (0, b'x' * 100)
    assert "chunk 100: b'{}'...\n".format('x' * 32) in err


def test_request_headers(thread_server: Server) -> None:
    address = address_text(thread_server.address)
    (status, out, err) = request_inproc(
        'GET', address, '/headers', '-H', 'X-Thing: some value', '-H', 'accept:*/*'
    )
    assert status == 0
    assert out == 'accept=*/*\nhost={}\nx-thing=some value\n'.format(address).encode()


@pytest.mark.parametrize('extra, body, kind', [
    ([], b'', 'length'),
    (['--chunked'], b'', 'chunked'),
    ([], b'a body from a file', 'length'),
    (['--chunked'], b'a body from a file', 'chunked'),
    (['--chunked'], b'y' * 200000, 'chunked'),
])
def test_request_data_file(thread_server: Server, tmp_path: Any,
                           extra: List[str], body: bytes, kind: str) -> None:
    name = str(tmp_path / 'body')
    with open(name, 'wb') as fp:
        fp.write(body)
    (status, out, err) = request_inproc(
        'PUT', address_text(thread_server.address), '/', '-d', name, *extra
    )
    assert (status, out) == (0, body)
    assert 'x-body: {}\n'.format(kind) in err


@pytest.mark.parametrize('extra, kind', [([], 'length'), (['--chunked'], 'chunked')])
def test_request_stdin(thread_server: Server, extra: List[str], kind: str) -> None:
    (status, out, err) = request_inproc(
        'POST', address_text(thread_server.address), '/', '-d', '-', *extra,
        stdin=b'piped in',
    )
    assert (status, out) == (0, b'piped in')
    assert 'x-body: {}\n'.format(kind) in err


def test_request_error_status(thread_server: Server) -> None:
    (status, out, err) = request_inproc('DELETE', address_text(thread_server.address), '/gone')
    assert (status, out, err) == (1, b'', 'HTTP/1.1 410 Gone\n\n')


def test_request_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
        (status, out, err) = request_inproc('GET', '127.0.0.1:{}'.format(port), '/')
    assert (status, out) == (1, b'')
    assert err == 'degu request: ConnectionRefusedError: {}\n'.format(
        oserror_text(errno.ECONNREFUSED))


def test_request_missing_data_file(tmp_path: Any) -> None:
    name = str(tmp_path / 'nope')
    (status, out, err) = request_inproc('PUT', '127.0.0.1:9', '/', '-d', name)
    assert (status, out) == (1, b'')
    assert err == 'degu request: FileNotFoundError: {}: {!r}\n'.format(
        oserror_text(errno.ENOENT), name)


def test_request_bad_tls_config(tmp_path: Any) -> None:
    name = str(tmp_path / 'config.json')
    with open(name, 'w') as fp:
        fp.write('[1]')
    (status, out, err) = request_inproc('GET', '127.0.0.1:9', '/', '--tls-config', name)
    assert (status, out, err) == (
        1, b'', 'degu request: ValueError: TLS config must be a JSON object; got [1]\n'
    )
    (status, out, err) = request_inproc('GET', '127.0.0.1:9', '/', '--tls-config', '{1')
    assert (status, out) == (1, b'')
    assert err.startswith('degu request: JSONDecodeError: ')


@pytest.mark.parametrize('argv, message', [
    (['GET', '127.0.0.1:9', '/', '--chunked'], '--chunked needs --data-file'),
    (['GET', '127.0.0.1:9', '/', '-d', '-'], 'only PUT and POST requests can have a body'),
    (['GET', '127.0.0.1:9', '/', '--tls', '--tls-config', '{}'],
     '--tls and --tls-config exclude each other'),
    (['GET', '127.0.0.1:9', '/', '-H', 'novalue'],
     "argument -H/--header: need NAME:VALUE; got 'novalue'"),
    (['GET', '127.0.0.1:9', '/', '-H', 'name:'],
     "argument -H/--header: need NAME:VALUE; got 'name:'"),
    (['get', '127.0.0.1:9', '/'],
     "argument METHOD: invalid choice: 'get' (choose from 'GET', 'PUT', "
     "'POST', 'HEAD', 'DELETE')"),
    (['GET', '127.0.0.1:9', '/', '--timeout', '0'],
     "argument --timeout: need a number > 0; got '0'"),
])
def test_request_usage_errors(capsys: Any, argv: List[str], message: str) -> None:
    with pytest.raises(SystemExit) as e:
        cli.main(['request'] + argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith('usage: python3 -m degu request ')
    assert err.endswith('python3 -m degu request: error: {}\n'.format(message))


# -- serve failures, in-process (they end before any signal handler is set) ----

def test_serve_cannot_listen_inprocess(cliapp: Any) -> None:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        out = io.BytesIO()
        err = io.StringIO()
        status = cli.main(['serve', '--app', 'cliapp:app', '--quiet', '--address',
                           '127.0.0.1:{}'.format(port)], stdout=out, stderr=err)
    assert (status, out.getvalue()) == (1, b'')
    assert err.getvalue() == (
        "degu serve: cannot serve on http://127.0.0.1:{}/: {}\n".format(
            port, oserror_text(errno.EADDRINUSE))
    )


def test_serve_missing_cert_inprocess(cliapp: Any, tmp_path: Any) -> None:
    cert = str(tmp_path / 'server.cert')
    out = io.BytesIO()
    err = io.StringIO()
    status = cli.main(['serve', '--app', 'cliapp:app', '--quiet', '-a', '127.0.0.1:0',
                       '--tls', '--cert', cert, '--key', cert, '--allow-anonymous'],
                      stdout=out, stderr=err)
    assert (status, out.getvalue()) == (1, b'')
    assert err.getvalue() == "degu serve: cannot serve on https://127.0.0.1:0/: {}\n".format(
        oserror_text(errno.ENOENT))


# -- serve: the access log, graceful stops, socket activation, peer uids ------------

ACCESS_LINE = (r'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO degu\.access: '
               r'127\.0\.0\.1:\d+ "(GET|PUT) (/\S*)" (\d{3}) (\d+) \d+\.\d{6}')


@pytest.fixture
def slowdir(tmp_path: Any) -> str:
    (tmp_path / 'slowapp.py').write_text(SLOW_APP_MODULE)
    return str(tmp_path)


def slow_request(address: Any, answers: List[Any]) -> threading.Thread:
    def request() -> None:
        try:
            answers.append(Client(address).connect().get('/slow', {}).body.read())
        except Exception as e:
            answers.append(e)
    thread = threading.Thread(target=request)
    thread.start()
    return thread


def test_serve_access_log(appdir: str) -> None:
    with Serving(appdir, '--app', 'cliapp:app', '-a', '127.0.0.1:0') as s:
        client = Client(s.address)
        conn = client.connect()
        conn.get('/', {}).body.read()
        conn.put('/x', {}, b'12345').body.read()
        conn.close()
        client.connect().get('/gone', {})
        assert s.stop() == 0
        log = s.stderr()
    lines = [line for line in log.splitlines() if 'degu.access' in line]
    assert len(lines) == 3
    found = [re.fullmatch(ACCESS_LINE, line) for line in lines]
    assert all(found), lines
    # (Each line is written once its response is sent: two connections'
    # lines may come in either order.)
    seen = {m.group(2): (m.group(1), m.group(3), int(m.group(4))) for m in found if m}
    assert sorted(seen) == ['/', '/gone', '/x']
    assert seen['/'][:2] == ('GET', '200') and seen['/'][2] > len(b'hello, world\n')
    assert seen['/x'][:2] == ('PUT', '200') and seen['/x'][2] > 5
    assert seen['/gone'][:2] == ('GET', '410')


def test_serve_quiet_has_no_access_log(appdir: str) -> None:
    with Serving(appdir, '--app', 'cliapp:app', '-a', '127.0.0.1:0', '-q') as s:
        Client(s.address).connect().get('/', {}).body.read()
        assert s.stop() == 0
        assert s.stderr() == ''
        assert s.rest() == 'Stopped serving on {}\n'.format(s.url)


@pytest.mark.parametrize('signum', [signal.SIGTERM, signal.SIGINT])
def test_serve_signal_lets_slow_request_finish(slowdir: str, signum: int) -> None:
    with Serving(slowdir, '--app', 'slowapp:app', '-a', '127.0.0.1:0') as s:
        answers: List[Any] = []
        thread = slow_request(s.address, answers)
        wait_until(lambda: os.path.exists(os.path.join(slowdir, 'started')), 'slow', GUARD)
        s.send(signum)
        # Stopped accepting: a new connection is refused ...
        wait_until(lambda: _refused(s.address), 'the listener to close', GUARD)
        # ... but the request in flight goes on.
        assert s.proc.poll() is None and answers == []
        open(os.path.join(slowdir, 'release'), 'w').close()
        thread.join(GUARD)
        assert answers == [b'finished']
        assert s.wait() == 0
        assert s.rest() == 'Stopped serving on {}\n'.format(s.url)


def _refused(address: Any) -> bool:
    try:
        socket.create_connection(address, timeout=GUARD).close()
    except (ConnectionRefusedError, ConnectionResetError):
        return True
    return False


def test_serve_second_signal_stops_at_once(slowdir: str) -> None:
    with Serving(slowdir, '--app', 'slowapp:app', '-a', '127.0.0.1:0') as s:
        answers: List[Any] = []
        thread = slow_request(s.address, answers)
        wait_until(lambda: os.path.exists(os.path.join(slowdir, 'started')), 'slow', GUARD)
        s.send(signal.SIGTERM)
        wait_until(lambda: _refused(s.address), 'the listener to close', GUARD)
        s.send(signal.SIGTERM)
        assert s.wait() == 1
        thread.join(GUARD)
        assert len(answers) == 1 and isinstance(answers[0], ConnectionError)
        assert s.rest() == 'Stopped serving on {} (not cleanly: see the log)\n'.format(s.url)
        assert 'Second signal (SIGTERM): stopping at once' in s.stderr()


def test_serve_shutdown_timeout(slowdir: str) -> None:
    with Serving(slowdir, '--app', 'slowapp:app', '-a', '127.0.0.1:0',
                 '--shutdown-timeout', '0.2') as s:
        answers: List[Any] = []
        thread = slow_request(s.address, answers)
        wait_until(lambda: os.path.exists(os.path.join(slowdir, 'started')), 'slow', GUARD)
        assert s.stop(signal.SIGTERM) == 0
        open(os.path.join(slowdir, 'release'), 'w').close()
        thread.join(GUARD)
        assert len(answers) == 1 and isinstance(answers[0], ConnectionError)
        assert 'Shutdown: cutting off 1 connections still busy after 0.2 s' in s.stderr()


@pytest.mark.parametrize('extra', [[], ['--workers', '2']])
def test_serve_socket_from_systemd(appdir: str, extra: List[str]) -> None:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        sock.listen(16)
        port = sock.getsockname()[1]
        command = activated_command(sock, [sys.executable, '-m', 'degu', 'serve',
                                           '--app', 'cliapp:app'] + extra)
        with Serving(appdir, command=command, pass_fds=[sock.fileno()]) as s:
            assert s.lines == ['Serving on http://127.0.0.1:{}/\n'.format(port)]
            result = run_degu('request', 'GET', address_text(s.address), '/headers')
            assert result.returncode == 0
            assert s.stop(signal.SIGTERM) == 0
            log = s.stderr()
        assert ("Serving the socket systemd passed: fd 3 (web), http://127.0.0.1:{}/; "
                "--address is not used".format(port)) in log
        # The variables were for the server alone: its app does not see them.
        assert b'listen' not in result.stdout
        # The socket is systemd's: it still listens after the service stopped.
        with socket.create_connection(sock.getsockname(), timeout=GUARD):
            pass


def test_serve_socket_from_systemd_unix(appdir: str) -> None:
    path = os.path.join(appdir, 'activated.socket')
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(path)
        sock.listen(16)
        command = activated_command(sock, [sys.executable, '-m', 'degu', 'serve',
                                           '--app', 'cliapp:app', '-q'])
        with Serving(appdir, command=command, pass_fds=[sock.fileno()]) as s:
            assert s.address == path
            assert run_degu('request', 'GET', path, '/').stdout == b'hello, world\n'
            assert s.stop() == 0
        assert os.path.exists(path)  # systemd's socket file: not ours to remove


def test_serve_bad_socket_from_systemd(appdir: str) -> None:
    with socket.socket() as sock:  # not listening
        command = activated_command(sock, [sys.executable, '-m', 'degu', 'serve',
                                           '--app', 'cliapp:app'])
        result = subprocess.run(command, cwd=appdir, env=degu_env(),
                                pass_fds=[sock.fileno()], capture_output=True,
                                timeout=GUARD)
    assert result.returncode == 1
    assert result.stdout == b''
    assert result.stderr == b'degu serve: socket activation: passed descriptor 3 ' \
                            b'is not listening\n'


def _allowed_uids_supported() -> bool:
    try:
        Server(('127.0.0.1', 0), _thread_app, allowed_uids=None).close()
    except TypeError:
        return False
    return True


needs_allowed_uids = pytest.mark.skipif(
    not _allowed_uids_supported(), reason='Server has no allowed_uids option yet')


def _get_as(uid: int, address: Any) -> bytes:
    """A GET / from a child process running as *uid*: the raw answer (or b'')."""
    (r, w) = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setgid(uid)
            os.setuid(uid)
            sock = socket.socket(socket.AF_UNIX)
            sock.settimeout(GUARD)
            sock.connect(address)
            sock.sendall(b'GET / HTTP/1.1\r\n\r\n')
            data = b''
            while True:
                piece = sock.recv(4096)
                if not piece:
                    break
                data += piece
                if b'\r\n\r\n' in data:
                    break
            os.write(w, data)
        except BaseException:
            pass
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, 'rb') as fp:
        answer = fp.read()
    os.waitpid(pid, 0)
    return answer


@needs_allowed_uids
@pytest.mark.skipif(os.getuid() != 0, reason='needs root to connect as another user')
@pytest.mark.skipif(not LINUX, reason='abstract AF_UNIX names are Linux-only')
@pytest.mark.parametrize('extra, allowed', [([], False), (['--allow-any-user'], True)])
def test_serve_peer_uid(appdir: str, extra: List[str], allowed: bool) -> None:
    with Serving(appdir, '--app', 'cliapp:app', '-a', '@', '-q', *extra) as s:
        assert _get_as(0, s.address).startswith(b'HTTP/1.1 200 OK\r\n')
        answer = _get_as(65534, s.address)
        assert answer.startswith(b'HTTP/1.1 200 OK\r\n') is allowed
        assert s.stop() == 0


def test_peer_options(monkeypatch: Any) -> None:
    from degu import serve
    args = cli.build_parser().parse_args(['serve', '-a', '@x'])
    monkeypatch.setattr(serve, '_takes_allowed_uids', lambda: True)
    assert serve._peer_options(args, socket.AF_UNIX) == {'allowed_uids': (os.getuid(),)}
    assert serve._peer_options(args, socket.AF_INET) == {}
    args = cli.build_parser().parse_args(['serve', '-a', '@x', '--allow-any-user'])
    assert serve._peer_options(args, socket.AF_UNIX) == {'allowed_uids': None}
    monkeypatch.setattr(serve, '_takes_allowed_uids', lambda: False)
    assert serve._peer_options(args, socket.AF_UNIX) == {}
