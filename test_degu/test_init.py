# SPDX-License-Identifier: LGPL-3.0-or-later
"""Tests for the ``degu`` package: constants and servers in a child process.

Every server here is real: a child process bound to a real socket, talked to
with ``degu.client.Client`` over loopback or ``AF_UNIX``.
"""

import errno
import gc
import importlib.util
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Set, Tuple

import pytest

import degu
from degu.client import Client, SSLClient
from degu.errors import TYPE_ERROR
from test_degu.helpers import HAVE_IPV6

TREE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

HAVE_TLS = importlib.util.find_spec('degu.tls') is not None
needs_tls = pytest.mark.skipif(
    not HAVE_TLS, reason='degu/tls.py (SSLServer contexts) is not written yet'
)


IS_LINUX = sys.platform.startswith('linux')
needs_ipv6 = pytest.mark.skipif(not HAVE_IPV6, reason='no IPv6 loopback')
needs_linux = pytest.mark.skipif(not IS_LINUX, reason='abstract AF_UNIX is Linux-only')


# ---------------------------------------------------------------------------
# Build functions (module level, so they work under any start method)

def build_app(greeting: bytes, suffix: bytes = b'') -> Callable[..., Any]:
    """An app answering ``greeting + uri + suffix``, with the serving pid."""
    def app(session: Any, request: Any, api: Any) -> Tuple[int, str, Dict[str, Any], bytes]:
        body = greeting + request.uri.encode() + suffix
        return (200, 'OK', {'x-pid': str(os.getpid())}, body)
    return app


class StartupError(Exception):
    pass


def build_raising(message: str) -> Callable[..., Any]:
    raise StartupError(message)


class UnpicklableError(Exception):
    """Pickles, but cannot be rebuilt from its args (two are required)."""

    def __init__(self, first: str, second: str) -> None:
        super().__init__(first)
        self.second = second


def build_unpicklable() -> Callable[..., Any]:
    raise UnpicklableError('one', 'two')


def build_exiting(code: int) -> Callable[..., Any]:
    os._exit(code)


def build_sys_exit(code: int) -> Callable[..., Any]:
    sys.exit(code)


def build_not_callable() -> Any:
    return 17


def get(address: Any, uri: str = '/', **options: Any) -> Tuple[int, str, Dict[str, Any], bytes]:
    """One GET on a new connection: ``(status, reason, headers, body)``."""
    conn = Client(address, **options).connect()
    try:
        response = conn.get(uri, {})
        return (response.status, response.reason, response.headers,
                response.body.read())
    finally:
        conn.close()


def ssl_get(sslconfig: Dict[str, Any], address: Any,
            uri: str = '/') -> Tuple[int, str, Dict[str, Any], bytes]:
    conn = SSLClient(sslconfig, address).connect()
    try:
        response = conn.get(uri, {})
        return (response.status, response.reason, response.headers,
                response.body.read())
    finally:
        conn.close()


def live_children() -> Set[int]:
    return {p.pid for p in multiprocessing.active_children() if p.pid is not None}


# ---------------------------------------------------------------------------
# Addresses

@pytest.fixture(params=['ipv4', 'ipv6', 'unix', 'abstract'])
def address(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """Each address form a server can bind (skipping what the host lacks)."""
    kind = request.param
    if kind == 'ipv4':
        return degu.IPv4_LOOPBACK
    if kind == 'ipv6':
        if not HAVE_IPV6:
            pytest.skip('no IPv6 loopback')
        return degu.IPv6_LOOPBACK
    if kind == 'unix':
        return str(tmp_path / 'server.sock')
    if not IS_LINUX:
        pytest.skip('abstract AF_UNIX is Linux-only')
    return b''


def check_bound(requested: Any, bound: Any) -> None:
    """*bound* is what the kernel assigned for *requested*."""
    if type(requested) is tuple:
        assert type(bound) is tuple
        assert len(bound) == len(requested)
        assert bound[0] == requested[0]
        assert type(bound[1]) is int and bound[1] > 0
        assert bound[2:] == requested[2:]
    elif type(requested) is str:
        assert bound == requested
    else:
        # Linux autobind: a NUL then 5 hex digits, e.g. b'\x0000022'.
        assert type(bound) is bytes
        assert bound[:1] == b'\x00' and len(bound) == 6


# ---------------------------------------------------------------------------
# Constants and import hygiene

def test_constants() -> None:
    assert degu.__version__ == '0.19.0'
    assert degu.IPv6_LOOPBACK == ('::1', 0, 0, 0)
    assert degu.IPv6_ANY == ('::', 0, 0, 0)
    assert degu.IPv4_LOOPBACK == ('127.0.0.1', 0)
    assert degu.IPv4_ANY == ('0.0.0.0', 0)
    assert degu.ADDRESS_CONSTANTS == (
        degu.IPv6_LOOPBACK, degu.IPv6_ANY, degu.IPv4_LOOPBACK, degu.IPv4_ANY
    )
    assert degu._start_server is degu.start_server
    assert degu._start_sslserver is degu.start_sslserver


FORBIDDEN = ('socket', 'ssl', 'threading', 'multiprocessing')


def run_python(*args: str, isolated: bool = False) -> str:
    """Run ``python3 *args`` in a fresh interpreter; return its stdout."""
    cmd = [sys.executable]
    if isolated:
        cmd += ['-S', '-E']  # no site: a clean baseline of sys.modules
    env = dict(os.environ)
    env['PYTHONPATH'] = TREE
    proc = subprocess.run(
        cmd + list(args), cwd=TREE, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode()


def test_import_degu_is_cheap() -> None:
    code = textwrap.dedent('''
        import sys
        before = set(sys.modules)
        import degu
        print(sorted(before & {forbidden!r}))
        print(sorted(m for m in set(sys.modules) - before
                     if m in {forbidden!r} or m.startswith('degu.')))
        print(type(degu.EmbeddedServer).__name__, callable(degu.start_server))
    ''').format(forbidden=set(FORBIDDEN))
    out = run_python('-c', code, isolated=True).splitlines()
    # Without site, none of them is preloaded, so this test can fail:
    assert out[0] == '[]'
    assert out[1] == '[]'
    assert out[2] == 'type True'


SCRIPT = '''
import multiprocessing
import socket
import sys


def build(greeting):
    def app(session, request, api):
        return (200, 'OK', {}, greeting + request.uri.encode())
    return app


def raw_get(address):
    with socket.create_connection(address) as sock:
        sock.sendall(b'GET /x HTTP/1.1\\r\\n\\r\\n')
        data = b''
        while not data.endswith(b'hi /x'):
            chunk = sock.recv(4096)
            assert chunk, data
            data += chunk
    return data


if __name__ == '__main__':
    multiprocessing.set_start_method(sys.argv[1])
    import degu
    with degu.EmbeddedServer(degu.IPv4_LOOPBACK, build, b'hi ') as server:
        print(raw_get(server.address))
        print(type(server.process) is multiprocessing.Process)
    (process, address) = degu.start_server(degu.IPv4_LOOPBACK, build, b'hi ')
    print(raw_get(address))
    process.terminate()
    process.join()
    try:
        degu.start_server(degu.IPv4_LOOPBACK, build, b'hi ', nope=1)
    except TypeError as e:
        print(repr(e))
    print('degu.server' in sys.modules, 'ssl' in sys.modules)
'''


@pytest.mark.parametrize('method', multiprocessing.get_all_start_methods())
def test_start_methods(tmp_path: Path, method: str) -> None:
    """A module-level build function works under every start method.

    The parent never imports ``degu.server`` (nor ``ssl``): only the child
    does.
    """
    script = tmp_path / 'embed.py'
    script.write_text(SCRIPT)
    out = run_python(str(script), method).splitlines()
    assert out == [
        "b'HTTP/1.1 200 OK\\r\\ncontent-length: 5\\r\\n\\r\\nhi /x'",
        'True',
        "b'HTTP/1.1 200 OK\\r\\ncontent-length: 5\\r\\n\\r\\nhi /x'",
        "TypeError('unsupported Server() **options: nope')",
        'False False',
    ]


# ---------------------------------------------------------------------------
# start_server()

def test_start_server(address: Any) -> None:
    (process, bound) = degu.start_server(address, build_app, b'hello ', b'!')
    assert type(process) is multiprocessing.Process
    try:
        check_bound(address, bound)
        assert process.daemon is True
        assert process.is_alive()
        (status, reason, headers, body) = get(bound, '/foo')
        assert (status, reason, body) == (200, 'OK', b'hello /foo!')
        # The app really runs in the child process:
        assert headers['x-pid'] == str(process.pid) != str(os.getpid())
    finally:
        process.terminate()
        process.join()
    assert process.exitcode == -signal.SIGTERM


def test_start_server_options() -> None:
    """**options reach the Server: max_requests=1 closes after one response."""
    (process, bound) = degu.start_server(
        degu.IPv4_LOOPBACK, build_app, b'', max_requests=1, timeout=5
    )
    try:
        conn = Client(bound).connect()
        response = conn.get('/one', {})
        assert response.body.read() == b'/one'
        with pytest.raises(ConnectionError):
            conn.get('/two', {})
        assert conn.closed is True
    finally:
        process.terminate()
        process.join()


def test_start_server_fixed_address(tmp_path: Path) -> None:
    """A second server on an address in use fails with the child's OSError."""
    filename = str(tmp_path / 'taken.sock')
    (process, bound) = degu.start_server(filename, build_app, b'')
    try:
        before = live_children()
        with pytest.raises(OSError) as excinfo:
            degu.start_server(bound, build_app, b'')
        assert excinfo.value.errno == errno.EADDRINUSE
        assert live_children() == before
        assert get(bound)[3] == b'/'
    finally:
        process.terminate()
        process.join()


STARTUP_ERRORS: List[Tuple[Any, Tuple[Any, ...], Dict[str, Any], type, str]] = [
    # (address, build args, options, exception, message)
    (degu.IPv4_LOOPBACK, (build_app, b''), {'foo': 1, 'bar': 2},
     TypeError, 'unsupported Server() **options: bar, foo'),
    (degu.IPv4_LOOPBACK, (build_app, b''), {'max_requests': 0},
     ValueError, 'need 1 <= max_requests <= 75000; got 0'),
    (degu.IPv4_LOOPBACK, (build_app, b''), {'timeout': '5'},
     TypeError, TYPE_ERROR.format('timeout', (int, float), str, '5')),
    (degu.IPv4_LOOPBACK, (build_not_callable,), {},
     TypeError, 'app: not callable: 17'),
    ('foo', (build_app, b''), {},
     ValueError, "address: bad socket filename: 'foo'"),
    (('::1', 0, 0), (build_app, b''), {},
     ValueError, "address: must have 2 or 4 items; got ('::1', 0, 0)"),
    (17, (build_app, b''), {},
     TypeError, TYPE_ERROR.format('address', (tuple, str, bytes), int, 17)),
    (degu.IPv4_LOOPBACK, (build_raising, 'no database'), {},
     StartupError, 'no database'),
    (degu.IPv4_LOOPBACK, (build_unpicklable,), {},
     RuntimeError,
     "server startup failed with an unpicklable exception: UnpicklableError('one')"),
    (degu.IPv4_LOOPBACK, (build_exiting, 3), {},
     RuntimeError, 'server process exited with code 3 before reporting its address'),
    (degu.IPv4_LOOPBACK, (build_sys_exit, 4), {},
     RuntimeError, 'server process exited with code 4 before reporting its address'),
]


@pytest.mark.parametrize('address, args, options, error, message', STARTUP_ERRORS)
def test_startup_errors(address: Any, args: Tuple[Any, ...],
                        options: Dict[str, Any], error: type,
                        message: str) -> None:
    """The child's startup exception is raised in the parent, child gone."""
    before = live_children()
    with pytest.raises(error) as excinfo:
        degu.start_server(address, *args, **options)
    assert type(excinfo.value) is error
    assert str(excinfo.value) == message
    assert live_children() == before
    before = live_children()
    with pytest.raises(error) as excinfo:
        degu.EmbeddedServer(address, *args, **options)
    assert str(excinfo.value) == message
    assert live_children() == before


@pytest.mark.parametrize('bad', [None, [('cert_file', '/x')], 'sslconfig'])
def test_start_sslserver_sslconfig_type(bad: Any) -> None:
    """Checked in the parent, before any process is started."""
    before = live_children()
    message = TYPE_ERROR.format('sslconfig', dict, type(bad), bad)
    with pytest.raises(TypeError) as excinfo:
        degu.start_sslserver(bad, degu.IPv4_LOOPBACK, build_app, b'')
    assert str(excinfo.value) == message
    with pytest.raises(TypeError) as excinfo:
        degu.EmbeddedSSLServer(bad, degu.IPv4_LOOPBACK, build_app, b'')
    assert str(excinfo.value) == message
    assert live_children() == before


# ---------------------------------------------------------------------------
# EmbeddedServer

def test_embedded_server(address: Any) -> None:
    server = degu.EmbeddedServer(address, build_app, b'hi ', timeout=7)
    try:
        assert server.build_func is build_app
        assert server.build_args == (b'hi ',)
        assert type(server.build_args) is tuple
        assert server.options == {'timeout': 7}
        check_bound(address, server.address)
        (status, reason, headers, body) = get(server.address, '/bar')
        assert (status, reason, body) == (200, 'OK', b'hi /bar')
        assert headers['x-pid'] == str(server.process.pid)
        # The original documents a multiprocessing.Process: the default
        # context's class, not the class of a concrete start method.
        assert isinstance(server.process, multiprocessing.Process)
        assert type(server.process) is multiprocessing.Process
        assert server.process.daemon is True
    finally:
        server.terminate()
    assert server.process.exitcode == -signal.SIGTERM


def test_embedded_server_terminate() -> None:
    server = degu.EmbeddedServer(degu.IPv4_LOOPBACK, build_app, b'')
    process = server.process
    assert process.is_alive()
    assert get(server.address)[0] == 200
    server.terminate()
    assert process.exitcode == -signal.SIGTERM
    with pytest.raises(ConnectionRefusedError):
        get(server.address)
    # Repeatable:
    server.terminate()
    server.terminate()
    assert server.process is process
    assert process.exitcode == -signal.SIGTERM


def test_embedded_server_gc() -> None:
    server = degu.EmbeddedServer(degu.IPv4_LOOPBACK, build_app, b'')
    process = server.process
    assert process.is_alive()
    del server
    gc.collect()
    assert process.exitcode == -signal.SIGTERM


def test_embedded_server_context_manager() -> None:
    with degu.EmbeddedServer(degu.IPv4_LOOPBACK, build_app, b'') as server:
        assert type(server) is degu.EmbeddedServer
        assert get(server.address)[3] == b'/'
        process = server.process
    assert process.exitcode == -signal.SIGTERM


@pytest.fixture
def unraisable(monkeypatch: pytest.MonkeyPatch) -> Iterator[List[Any]]:
    """Collects what ``__del__`` methods raise (normally just printed)."""
    seen: List[Any] = []
    monkeypatch.setattr(sys, 'unraisablehook', seen.append)
    yield seen


@pytest.mark.parametrize('cls', [degu.EmbeddedServer, degu.EmbeddedSSLServer])
def test_embedded_failed_construction(cls: Any, unraisable: List[Any]) -> None:
    """terminate() and __del__ are harmless when __init__ failed."""
    server = cls.__new__(cls)
    assert server.process is None
    server.terminate()
    del server
    args: Tuple[Any, ...] = (degu.IPv4_LOOPBACK, build_app, b'')
    if cls is degu.EmbeddedSSLServer:
        args = ({},) + args
    with pytest.raises((TypeError, ValueError)):
        cls(*args, nope=True)
    gc.collect()
    assert unraisable == []


def test_embedded_not_subclasses() -> None:
    assert not issubclass(degu.EmbeddedSSLServer, degu.EmbeddedServer)
    assert not issubclass(degu.EmbeddedServer, degu.EmbeddedSSLServer)


# ---------------------------------------------------------------------------
# TLS

@needs_tls
def test_start_sslserver(pki: Any) -> None:
    (process, bound) = degu.start_sslserver(
        pki.server_sslconfig, degu.IPv4_LOOPBACK, build_app, b'tls ', b'.'
    )
    try:
        check_bound(degu.IPv4_LOOPBACK, bound)
        (status, reason, headers, body) = ssl_get(pki.client_sslconfig, bound, '/s')
        assert (status, reason, body) == (200, 'OK', b'tls /s.')
        assert headers['x-pid'] == str(process.pid)
        # A client without a certificate is refused by the handshake:
        with pytest.raises(OSError):
            ssl_get(pki.anonymous_client_sslconfig, bound)
    finally:
        process.terminate()
        process.join()


@needs_tls
@pytest.mark.parametrize('kind', ['ipv4', 'unix'])
def test_embedded_sslserver(pki: Any, tmp_path: Path, kind: str) -> None:
    address = (degu.IPv4_LOOPBACK if kind == 'ipv4'
               else str(tmp_path / 'tls.sock'))
    sslconfig = pki.server_sslconfig
    with degu.EmbeddedSSLServer(sslconfig, address, build_app, b'') as server:
        assert server.sslconfig is sslconfig
        assert server.build_func is build_app
        assert server.build_args == (b'',)
        assert server.options == {}
        check_bound(address, server.address)
        assert ssl_get(pki.client_sslconfig, server.address, '/e')[3] == b'/e'
        process = server.process
        assert type(process) is multiprocessing.Process
    assert process.exitcode == -signal.SIGTERM
    server.terminate()
    assert process.exitcode == -signal.SIGTERM


@needs_tls
def test_embedded_sslserver_anonymous(pki: Any) -> None:
    with degu.EmbeddedSSLServer(pki.anonymous_server_sslconfig,
                                degu.IPv4_LOOPBACK, build_app, b'a') as server:
        assert ssl_get(pki.anonymous_client_sslconfig, server.address)[3] == b'a/'


@needs_tls
def test_sslserver_startup_errors(pki: Any) -> None:
    """Errors building the context happen in the child and come back."""
    sslconfig = pki.server_sslconfig
    del sslconfig['ca_file']
    message = 'must include ca_file or ca_path (or allow_unauthenticated_clients)'
    before = live_children()
    with pytest.raises(ValueError) as excinfo:
        degu.start_sslserver(sslconfig, degu.IPv4_LOOPBACK, build_app, b'')
    assert str(excinfo.value) == message
    with pytest.raises(ValueError) as excinfo:
        degu.EmbeddedSSLServer(sslconfig, degu.IPv4_LOOPBACK, build_app, b'')
    assert str(excinfo.value) == message
    with pytest.raises(TypeError) as typeinfo:
        degu.EmbeddedSSLServer(pki.server_sslconfig, degu.IPv4_LOOPBACK,
                               build_app, b'', nope=1)
    assert str(typeinfo.value) == 'unsupported SSLServer() **options: nope'
    assert live_children() == before
