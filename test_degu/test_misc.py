# SPDX-License-Identifier: LGPL-3.0-or-later
"""Tests for degu.misc: Temp*Server, mkreq/mkuri, format_*, RequestLogger."""

import gc
import importlib.util
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

import degu
from degu import base, misc, sslhelpers
from degu.client import Client, SSLClient
from degu.errors import TYPE_ERROR
from degu.misc import (
    RequestLogger,
    TempServer,
    TempSSLServer,
    format_headers,
    format_request,
    format_response,
    mkreq,
    mkuri,
)
from degu.server import Request, Server, Session
from test_degu.helpers import Live

TREE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

HAVE_TLS = importlib.util.find_spec('degu.tls') is not None
needs_tls = pytest.mark.skipif(
    not HAVE_TLS, reason='degu/tls.py (SSLServer contexts) is not written yet'
)


def get(client: Any, uri: str = '/') -> Tuple[int, str, Dict[str, Any], Optional[bytes]]:
    conn = client.connect()
    try:
        r = conn.get(uri, {})
        return (r.status, r.reason, r.headers,
                None if r.body is None else r.body.read())
    finally:
        conn.close()


def live_children() -> List[int]:
    return sorted(p.pid for p in multiprocessing.active_children() if p.pid)


# ---------------------------------------------------------------------------
# Exports

def test_exports() -> None:
    assert misc.__all__ == ('parse_headers', 'write_chunk')
    assert misc.parse_headers is base.parse_headers
    assert misc.write_chunk is base.write_chunk
    assert misc.TempPKI is sslhelpers.TempPKI
    assert misc.log.name == 'degu.misc'


# ---------------------------------------------------------------------------
# mkreq() and mkuri()

MKREQ_CASES: List[Tuple[str, int, List[str], List[str], Optional[str]]] = [
    # (uri, shift, mount, path, query)
    ('/', 0, [], [], None),
    ('/?', 0, [], [], ''),
    ('/?k=v', 0, [], [], 'k=v'),
    ('/foo', 0, [], ['foo'], None),
    ('/foo/', 0, [], ['foo', ''], None),
    ('/foo?', 0, [], ['foo'], ''),
    ('/foo/bar?k=v', 0, [], ['foo', 'bar'], 'k=v'),
    ('/foo/bar?k=v', 1, ['foo'], ['bar'], 'k=v'),
    ('/foo/bar?k=v', 2, ['foo', 'bar'], [], 'k=v'),
    ('/foo/bar', 3, ['foo', 'bar'], [], None),
    ('/a?b?c', 0, [], ['a'], 'b?c'),
    # Not validated: whatever a test wants to throw at an app.
    ('/foo//bar', 0, [], ['foo', '', 'bar'], None),
    ('/../%20', 0, [], ['..', '%20'], None),
    ('', 0, [], [''], None),
]


@pytest.mark.parametrize('uri, shift, mount, path, query', MKREQ_CASES)
def test_mkreq(uri: str, shift: int, mount: List[str], path: List[str],
               query: Optional[str]) -> None:
    request = mkreq('GET', uri, shift=shift)
    assert type(request) is Request
    assert request.method == 'GET'
    assert request.uri == uri
    assert request.headers == {}
    assert request.body is None
    assert request.mount == mount
    assert request.path == path
    assert request.query == query


def test_mkreq_spec_example() -> None:
    assert repr(mkreq('GET', '/')) == (
        "Request(method='GET', uri='/', headers={}, body=None, mount=[], "
        "path=[], query=None)"
    )


def test_mkreq_arguments() -> None:
    headers = {'content-length': 3}
    body = object()
    request = mkreq('PUT', '/x', headers, body)
    assert request.headers is headers
    assert request.body is body
    assert request.m == 2
    # A new headers dict each time:
    (one, two) = (mkreq('GET', '/'), mkreq('GET', '/'))
    assert one.headers == {} and one.headers is not two.headers
    # The method is checked by Request itself:
    with pytest.raises(ValueError) as excinfo:
        mkreq('get', '/')
    assert str(excinfo.value) == "bad method: 'get'"


def test_mkreq_cls() -> None:
    calls: List[Tuple[Any, ...]] = []

    def cls(*args: Any) -> str:
        calls.append(args)
        return 'built'

    assert mkreq('POST', '/a/b?q', {'x': 'y'}, b'data', 1, cls) == 'built'
    assert calls == [('POST', '/a/b?q', {'x': 'y'}, b'data', ['a'], ['b'], 'q')]
    assert mkreq.__defaults__ == (None, None, 0, Request)


MKURI_CASES: List[Tuple[Tuple[str, ...], Optional[str], str]] = [
    ((), None, '/'),
    ((), '', '/?'),
    (('foo',), None, '/foo'),
    (('foo', ''), None, '/foo/'),
    (('foo',), '', '/foo?'),
    (('foo', 'bar'), 'k=v', '/foo/bar?k=v'),
    (('',), None, '/'),
    (('a', 'b', 'c'), 'x&y=z', '/a/b/c?x&y=z'),
]


@pytest.mark.parametrize('path, query, uri', MKURI_CASES)
def test_mkuri(path: Tuple[str, ...], query: Optional[str], uri: str) -> None:
    if query is None:
        assert mkuri(*path) == uri
    assert mkuri(*path, query=query) == uri


@pytest.mark.parametrize('path, query, uri', MKURI_CASES)
def test_mkuri_mkreq_round_trip(path: Tuple[str, ...], query: Optional[str],
                                uri: str) -> None:
    request = mkreq('GET', mkuri(*path, query=query))
    expected = [] if path in ((), ('',)) else list(path)
    assert (request.path, request.query) == (expected, query)


# ---------------------------------------------------------------------------
# format_headers(), format_request(), format_response()

FORMAT_HEADERS_CASES: List[Tuple[Dict[Any, Any], bytes]] = [
    ({}, b''),
    ({'foo': 'bar'}, b'foo: bar'),
    ({'foo': 'bar', 'bar': 'baz'}, b'bar: baz\r\nfoo: bar'),
    ({'content-length': 17, 'a': 'b'}, b'a: b\r\ncontent-length: 17'),
    # Unvalidated: case, spaces, empty values and non-ASCII pass through.
    ({'Foo': ' x ', 'bad name': ''}, b'Foo:  x \r\nbad name: '),
    ({'x': '\u00e9'}, b'x: \xc3\xa9'),
    # Sorted by line, not by key:
    ({'a-b': '1', 'a': '2'}, b'a-b: 1\r\na: 2'),
]


@pytest.mark.parametrize('headers, expected', FORMAT_HEADERS_CASES)
def test_format_headers(headers: Dict[Any, Any], expected: bytes) -> None:
    assert format_headers(headers) == expected


@pytest.mark.parametrize('headers, expected', FORMAT_HEADERS_CASES)
def test_format_request_response(headers: Dict[Any, Any], expected: bytes) -> None:
    tail = b'\r\n' + expected if expected else b''
    assert format_request('GET', '/', headers) == b'GET / HTTP/1.1' + tail
    assert format_request('PUT', '/a?b', headers) == b'PUT /a?b HTTP/1.1' + tail
    assert format_response(200, 'OK', headers) == b'HTTP/1.1 200 OK' + tail
    assert format_response(404, 'Not Found', headers) == (
        b'HTTP/1.1 404 Not Found' + tail
    )


def test_format_unvalidated() -> None:
    assert format_request('get', 'no slash', {}) == b'get no slash HTTP/1.1'
    assert format_response(7, '', {}) == b'HTTP/1.1 7 '


def test_format_headers_parse_round_trip() -> None:
    headers = {'content-length': 12, 'x-foo': 'Bar baz', 'accept': '*/*'}
    assert base.parse_headers(format_headers(headers)) == headers


# ---------------------------------------------------------------------------
# TempServer

def test_temp_server_closure() -> None:
    """A closure over local state works (the child is forked)."""
    seen = {'count': 0}

    def app(session: Any, request: Any, api: Any) -> Tuple[int, str, Dict[str, Any], bytes]:
        seen['count'] += 1
        body = '{} {} {}'.format(os.getpid(), seen['count'], request.uri)
        return (200, 'OK', {}, body.encode())

    server = TempServer(degu.IPv4_LOOPBACK, app)
    try:
        assert server.app is app
        assert server.options == {}
        assert server.address[0] == '127.0.0.1' and server.address[1] > 0
        assert repr(server) == 'TempServer({!r}, {!r})'.format(server.address, app)
        conn = Client(server.address).connect()
        bodies = [conn.get(uri, {}).body.read() for uri in ('/a', '/b')]
        conn.close()
        pid = server.process.pid
        assert pid != os.getpid()
        # forked where fork exists: that is what lets a closure run there
        if 'fork' in multiprocessing.get_all_start_methods():
            assert type(server.process) is multiprocessing.get_context('fork').Process
        assert bodies == ['{} 1 /a'.format(pid).encode(),
                          '{} 2 /b'.format(pid).encode()]
        assert seen == {'count': 0}  # the parent's copy is untouched
    finally:
        server.terminate()


@pytest.mark.parametrize('kind', ['unix', 'abstract'])
def test_temp_server_lambda_unix(tmp_path: Path, kind: str) -> None:
    if kind == 'abstract':
        if not sys.platform.startswith('linux'):
            pytest.skip('abstract AF_UNIX is Linux-only')
        address: Any = b''
    else:
        address = str(tmp_path / 'temp.sock')
    with TempServer(address, lambda s, r, a: (200, 'OK', {}, b'lambda'),
                    max_requests=2) as server:
        assert server.options == {'max_requests': 2}
        if kind == 'unix':
            assert server.address == address
        else:
            assert type(server.address) is bytes and server.address[:1] == b'\x00'
        assert get(Client(server.address)) == (
            200, 'OK', {'content-length': 6}, b'lambda'
        )
        process = server.process
    assert process.exitcode == -signal.SIGTERM


def test_temp_server_terminate() -> None:
    server = TempServer(degu.IPv4_LOOPBACK, lambda s, r, a: (404, 'Not Found', {}, None))
    process = server.process
    assert process.daemon is True and process.is_alive()
    assert get(Client(server.address)) == (404, 'Not Found', {}, None)
    for _ in range(3):
        server.terminate()
        assert process.exitcode == -signal.SIGTERM
    with pytest.raises(ConnectionRefusedError):
        Client(server.address).connect()


def test_temp_server_gc() -> None:
    server = TempServer(degu.IPv4_LOOPBACK, lambda s, r, a: (200, 'OK', {}, None))
    process = server.process
    del server
    gc.collect()
    assert process.exitcode == -signal.SIGTERM


def test_temp_server_inherited_sigterm_handler() -> None:
    """A SIGTERM handler of the parent does not keep the forked server alive."""
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        server = TempServer(degu.IPv4_LOOPBACK, lambda s, r, a: (200, 'OK', {}, None))
    finally:
        signal.signal(signal.SIGTERM, previous)
    process = server.process
    try:
        process.terminate()
        process.join(10)
        assert process.exitcode == -signal.SIGTERM
    finally:
        if process.exitcode is None:
            process.kill()
        server.terminate()


@pytest.mark.skipif('fork' not in multiprocessing.get_all_start_methods(),
                    reason='no fork start method on this platform')
def test_temp_server_forked_copy_cannot_stop_it() -> None:
    """terminate() in a forked copy of the object leaves the server running."""
    server = TempServer(degu.IPv4_LOOPBACK, lambda s, r, a: (200, 'OK', {}, b'up'))
    try:
        def in_fork() -> None:
            server.terminate()
            server.__del__()

        fork = multiprocessing.get_context('fork').Process(target=in_fork)
        fork.start()
        fork.join(10)
        assert fork.exitcode == 0
        assert server.process.is_alive()
        assert get(Client(server.address))[3] == b'up'
    finally:
        server.terminate()
    assert server.process.exitcode == -signal.SIGTERM


@pytest.mark.parametrize('options, error, message', [
    ({'nope': 1}, TypeError, 'unsupported Server() **options: nope'),
    ({'max_connections': 0}, ValueError, 'max_connections must be > 0; got 0'),
])
def test_temp_server_startup_errors(options: Dict[str, Any], error: type,
                                    message: str) -> None:
    before = live_children()
    with pytest.raises(error) as excinfo:
        TempServer(degu.IPv4_LOOPBACK, lambda s, r, a: None, **options)
    assert str(excinfo.value) == message
    not_an_app: Any = 'not an app'
    with pytest.raises(TypeError) as typeinfo:
        TempServer(degu.IPv4_LOOPBACK, not_an_app)
    assert str(typeinfo.value) == "app: not callable: 'not an app'"
    assert live_children() == before


@pytest.mark.parametrize('cls', [TempServer, TempSSLServer])
def test_temp_failed_construction(cls: Any) -> None:
    """terminate() is harmless on an instance whose __init__ never ran."""
    server = cls.__new__(cls)
    assert server.process is None
    server.terminate()


SPAWN_SCRIPT = '''
import multiprocessing
import sys

if __name__ == '__main__':
    multiprocessing.set_start_method(sys.argv[1])
    from degu.client import Client
    from degu.misc import TempServer
    word = sys.argv[1].encode()
    with TempServer(('127.0.0.1', 0), lambda s, r, a: (200, 'OK', {}, word)) as server:
        conn = Client(server.address).connect()
        print(conn.get('/', {}).body.read())
        conn.close()
'''


@pytest.mark.skipif('fork' not in multiprocessing.get_all_start_methods(),
                    reason='no fork start method on this platform')
@pytest.mark.parametrize('method', [
    m for m in ('spawn', 'forkserver') if m in multiprocessing.get_all_start_methods()
])
def test_temp_server_other_default_start_method(tmp_path: Path, method: str) -> None:
    """A lambda app works even when the default start method cannot pickle it."""
    script = tmp_path / 'temp.py'
    script.write_text(SPAWN_SCRIPT)
    env = dict(os.environ)
    env['PYTHONPATH'] = TREE
    proc = subprocess.run(
        [sys.executable, str(script), method], env=env, cwd=TREE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode() == repr(method.encode()) + '\n'


# ---------------------------------------------------------------------------
# TempSSLServer

@pytest.mark.parametrize('bad', [None, ('cert_file', '/x'), 'sslconfig'])
def test_temp_sslserver_sslconfig_type(bad: Any) -> None:
    before = live_children()
    with pytest.raises(TypeError) as excinfo:
        TempSSLServer(bad, degu.IPv4_LOOPBACK, lambda s, r, a: None)
    assert str(excinfo.value) == TYPE_ERROR.format('sslconfig', dict, type(bad), bad)
    assert live_children() == before


@needs_tls
def test_temp_sslserver(pki: Any) -> None:
    secret = b'over TLS'
    sslconfig = pki.server_sslconfig
    app: Callable[..., Any] = lambda s, r, a: (200, 'OK', {}, secret)  # noqa: E731
    with TempSSLServer(sslconfig, degu.IPv4_LOOPBACK, app, timeout=9) as server:
        assert server.sslconfig is sslconfig
        assert server.app is app
        assert server.options == {'timeout': 9}
        assert repr(server) == 'TempSSLServer(<sslconfig>, {!r}, {!r})'.format(
            server.address, app
        )
        client = SSLClient(pki.client_sslconfig, server.address)
        assert get(client) == (200, 'OK', {'content-length': 8}, secret)
        process = server.process
    assert process.exitcode == -signal.SIGTERM
    server.terminate()


@needs_tls
def test_temp_sslserver_startup_error(pki: Any) -> None:
    sslconfig = pki.anonymous_server_sslconfig
    sslconfig['allow_unauthenticated_clients'] = 'yes'
    with pytest.raises(ValueError) as excinfo:
        TempSSLServer(sslconfig, degu.IPv4_LOOPBACK, lambda s, r, a: None)
    assert str(excinfo.value) == (
        'True is only allowed value for allow_unauthenticated_clients'
    )


# ---------------------------------------------------------------------------
# RequestLogger

def ok_app(session: Any, request: Any, api: Any) -> Tuple[int, str, Dict[str, Any], Any]:
    if request.path == ['missing']:
        return (404, 'Not Found', {}, None)
    return (200, 'OK', {}, b'fine')


def test_request_logger_direct(caplog: pytest.LogCaptureFixture) -> None:
    logger = RequestLogger(ok_app)
    assert logger.app is ok_app
    assert logger.on_connect is None
    assert repr(logger) == 'RequestLogger({!r})'.format(ok_app)
    session = Session(('127.0.0.1', 1234))
    request = mkreq('GET', '/foo?x')
    with caplog.at_level(logging.INFO, logger='degu.misc'):
        response = logger(session, request, base.api)
    assert response == (200, 'OK', {}, b'fine')
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ('degu.misc', logging.INFO, '[0] GET /foo?x --> 200 OK'),
    ]


def test_request_logger_not_callable() -> None:
    not_callable: Any = {'not': 'callable'}
    with pytest.raises(TypeError) as excinfo:
        RequestLogger(not_callable)
    assert str(excinfo.value) == "app: not callable: {'not': 'callable'}"


def test_request_logger_passes_on_connect() -> None:
    class App:
        def __call__(self, session: Any, request: Any, api: Any) -> Any:
            return (200, 'OK', {}, None)

        def on_connect(self, session: Any, sock: Any) -> bool:
            return True

    app = App()
    logger = RequestLogger(app)
    assert logger.on_connect == app.on_connect
    assert logger.on_connect(None, None) is True


def test_request_logger_bad_response(caplog: pytest.LogCaptureFixture) -> None:
    """A malformed response is left for the server to reject."""
    logger = RequestLogger(lambda s, r, a: None)
    with caplog.at_level(logging.INFO, logger='degu.misc'):
        assert logger(Session('/tmp/x'), mkreq('HEAD', '/'), base.api) is None
    assert [r.getMessage() for r in caplog.records] == ['[0] HEAD / --> ? ?']


@pytest.fixture
def threaded_server() -> Iterator[Callable[[Any], Server]]:
    """Serve an app from a thread of this process (so caplog sees its logs)."""
    started: List[Live] = []

    def start(app: Any) -> Server:
        started.append(Live(degu.IPv4_LOOPBACK, app))
        return started[-1].server

    yield start
    for live in started:
        live.stop()


def test_request_logger_real_connection(
        caplog: pytest.LogCaptureFixture,
        threaded_server: Callable[[Any], Server]) -> None:
    server = threaded_server(RequestLogger(ok_app))
    with caplog.at_level(logging.INFO, logger='degu.misc'):
        conn = Client(server.address).connect()
        assert conn.get('/a', {}).body.read() == b'fine'
        assert conn.get('/missing', {}).status == 404
        assert conn.get('/b?c=d', {}).body.read() == b'fine'
        conn.close()
    assert [r.getMessage() for r in caplog.records if r.name == 'degu.misc'] == [
        '[0] GET /a --> 200 OK',
        '[1] GET /missing --> 404 Not Found',
        '[2] GET /b?c=d --> 200 OK',
    ]
