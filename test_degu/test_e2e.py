# SPDX-License-Identifier: LGPL-3.0-or-later
"""End-to-end tests: live servers and clients over real sockets (SPEC §7-§9, §11, §13).

Every server here runs ``Server(...).serve_forever()`` in a daemon thread of
the test process and is stopped with ``shutdown()`` (the ``serve`` fixture).
Most tests run once per address family: ``AF_INET`` on 127.0.0.1, ``AF_INET6``
on ::1 (skipped when the host has no IPv6 loopback), an ``AF_UNIX`` path in a
temporary directory and a Linux abstract ``AF_UNIX`` name (``b''``).

"Nothing sent" is checked on a raw socket: after the request, reading until
the server closes must yield no bytes at all (a reset counts as a close: the
kernel resets a connection closed with unread input).

No test asserts on timing; waits are bounded by socket timeouts instead.
"""

import collections
import http.client
import http.server
import io
import itertools
import logging
import os
import select
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

from degu.base import (
    BODY_CONSUMED,
    Body,
    BodyIter,
    ChunkedBody,
    ChunkedBodyIter,
    ContentRange,
    Range,
    api,
)
from degu.client import Client, Connection, Response
from degu.errors import ConnectionClosedError
from degu.server import Request, Server, Session
from test_degu.helpers import (
    HAVE_IPV6, PATIENCE, Live, answer, recv_all, recv_exactly, wait_until,
)

HAVE_ABSTRACT = os.uname().sysname == 'Linux'
CURL = shutil.which('curl')


FAMILIES = ['inet', 'inet6', 'unix', 'abstract']
UNIX_FAMILIES = ('unix', 'abstract')


# ---------------------------------------------------------------------------
# Fixtures: address families and live servers

@pytest.fixture
def tmpdir_short() -> Iterator[str]:
    """A short temporary directory (AF_UNIX paths are limited to 108 bytes)."""
    path = tempfile.mkdtemp(prefix='degu.')
    yield path
    shutil.rmtree(path)


@pytest.fixture(params=FAMILIES)
def family(request: Any) -> str:
    name = request.param
    if name == 'inet6' and not HAVE_IPV6:
        pytest.skip('no IPv6 loopback')
    if name == 'abstract' and not HAVE_ABSTRACT:
        pytest.skip('abstract AF_UNIX names need Linux')
    return name


@pytest.fixture
def new_address(family: str, tmpdir_short: str) -> Callable[[], Any]:
    """Return a function giving a fresh bind address of *family* each call."""
    counter = itertools.count()

    def make() -> Any:
        if family == 'inet':
            return ('127.0.0.1', 0)
        if family == 'inet6':
            return ('::1', 0, 0, 0)
        if family == 'unix':
            return os.path.join(tmpdir_short, 's{}'.format(next(counter)))
        return b''
    return make


@pytest.fixture
def serve(new_address: Callable[[], Any]) -> Iterator[Callable[..., Live]]:
    """``serve(app, **options)`` starts a live server; all are stopped after."""
    lives: List[Live] = []

    def start(app: Any, **options: Any) -> Live:
        live = Live(new_address(), app, **options)
        lives.append(live)
        return live
    yield start
    for live in lives:
        live.stop()


# ---------------------------------------------------------------------------
# Helpers

def assert_server_closed(sock: socket.socket) -> None:
    """The server closed *sock* without sending anything (more)."""
    assert recv_all(sock) == b''


def assert_said_close(conn: Connection) -> None:
    """The server said ``connection: close``: the client closed when done."""
    assert conn.closed is True
    with pytest.raises(ConnectionClosedError) as cm:
        conn.get('/', {})
    assert str(cm.value) == "Connection is closed: the server sent 'connection: close'"


ANSWER_500 = answer(500)


def wait_for_log(caplog: Any, text: str) -> logging.LogRecord:
    """The server logs from its threads, after closing: poll for the record."""
    deadline = time.monotonic() + PATIENCE
    while True:
        for record in caplog.records:
            if text in record.getMessage():
                return record
        assert time.monotonic() < deadline, 'no log record with {!r}'.format(text)
        time.sleep(0.01)


def hello_app(session: Session, request: Request, api: Any) -> Any:
    if request.body is not None:
        request.body.read()
    if request.path == ['nope']:
        return (404, 'Not Found', {}, None)
    if request.method == 'HEAD':
        return (200, 'OK', {'content-length': 12}, None)
    return (200, 'OK', {}, b'hello, world')


HELLO_RESPONSE = b'HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\nhello, world'


def check_hello(conn: Connection) -> None:
    response = conn.get('/', {})
    assert response.status == 200
    assert response.body.read() == b'hello, world'


DATA = b'hello, world'
CHUNKS = [
    (('k', 'v'), b'hello'),
    (None, b', '),
    (('key2', 'Value.2'), b'world'),
    (('end', 'yes'), b''),
]
CHUNKED_WIRE = (b'5;k=v\r\nhello\r\n2\r\n, \r\n5;key2=Value.2\r\nworld\r\n'
                b'0;end=yes\r\n\r\n')
BODY_KINDS = ['None', 'empty', 'bytes', 'bytearray', 'Body', 'BodyIter',
              'ChunkedBody', 'ChunkedBodyIter']


def make_body(kind: str) -> Any:
    """A fresh outgoing body of *kind* carrying DATA (or CHUNKS)."""
    if kind == 'None':
        return None
    if kind == 'empty':
        return b''
    if kind == 'bytes':
        return DATA
    if kind == 'bytearray':
        return bytearray(DATA)
    if kind == 'Body':
        return Body(io.BytesIO(DATA), len(DATA))
    if kind == 'BodyIter':
        return BodyIter([b'hello', b'', b', ', b'world'], len(DATA))
    if kind == 'ChunkedBody':
        return ChunkedBody(io.BytesIO(CHUNKED_WIRE))
    assert kind == 'ChunkedBodyIter'
    return ChunkedBodyIter(list(CHUNKS))


def expected(kind: str) -> Any:
    """What the receiver of a *kind* body should see (see ``consume``)."""
    if kind == 'None':
        return None
    if kind == 'empty':
        return ('Body', 0, b'')
    if kind.startswith('Chunked'):
        return ('ChunkedBody', CHUNKS)
    return ('Body', len(DATA), DATA)


def consume(body: Any) -> Any:
    """Read an incoming body completely and describe it."""
    if body is None:
        return None
    assert body.state == 0
    if body.chunked:
        assert type(body) is ChunkedBody
        result: Any = ('ChunkedBody', list(body))
    else:
        assert type(body) is Body
        result = ('Body', body.content_length, body.read())
    assert body.state == BODY_CONSUMED
    return result


def framing(kind: str) -> Dict[str, Any]:
    if kind == 'None':
        return {}
    if kind == 'empty':
        return {'content-length': 0}
    if kind.startswith('Chunked'):
        return {'transfer-encoding': 'chunked'}
    return {'content-length': len(DATA)}


class Recorder:
    """An app that records what it saw and answers from a table by path."""

    def __init__(self, respond: Optional[Callable[..., Any]] = None) -> None:
        self.seen: List[Dict[str, Any]] = []
        self.respond = respond
        self.lock = threading.Lock()

    def __call__(self, session: Session, request: Request, api: Any) -> Any:
        info = {
            'session': session,
            'requests': session.requests,
            'method': request.method,
            'm': request.m,
            'uri': request.uri,
            'mount': list(request.mount),
            'path': list(request.path),
            'query': request.query,
            'headers': dict(request.headers),
            'body': consume(request.body),
            'api': api,
            'request_type': type(request),
        }
        with self.lock:
            self.seen.append(info)
        if self.respond is not None:
            return self.respond(session, request, api)
        if request.method == 'HEAD':
            return (200, 'OK', {'content-length': 12}, None)
        return (200, 'OK', {}, b'hello, world')


# ---------------------------------------------------------------------------
# Methods, URIs, headers, sessions

def test_every_method(serve: Callable[..., Live], family: str) -> None:
    def respond(session: Session, request: Request, api: Any) -> Any:
        if request.method == 'HEAD':
            return (200, 'OK', {'content-length': 3, 'x-method': 'HEAD'}, None)
        return (201, 'Created', {'x-method': request.method},
                request.method.encode())

    app = Recorder(respond)
    live = serve(app)
    conn = live.connect()
    bits = {'GET': 1, 'PUT': 2, 'POST': 4, 'HEAD': 8, 'DELETE': 16}
    methods = ['GET', 'PUT', 'POST', 'HEAD', 'DELETE']
    for method in methods:
        body = b'data' if method in ('PUT', 'POST') else None
        response = conn.request(method, '/foo/bar/?k=v&x=', {'x-test': 'yes'}, body)
        if method == 'HEAD':
            assert response == Response(
                200, 'OK', {'content-length': 3, 'x-method': 'HEAD'}, None
            )
        else:
            assert response.status == 201
            assert response.reason == 'Created'
            assert response.headers == {'x-method': method,
                                        'content-length': len(method)}
            assert response.body.read() == method.encode()
    conn.close()
    assert len(app.seen) == 5
    host = live.client().host
    for (i, (info, method)) in enumerate(zip(app.seen, methods)):
        assert info['session'] is app.seen[0]['session']
        assert type(info['session']) is Session
        assert info['request_type'] is Request
        assert info['api'] is api
        assert info['requests'] == i
        assert info['method'] == method
        assert info['m'] == bits[method]
        assert info['uri'] == '/foo/bar/?k=v&x='
        assert info['mount'] == []
        assert info['path'] == ['foo', 'bar', '']
        assert info['query'] == 'k=v&x='
        want: Dict[str, Any] = {'x-test': 'yes'}
        if host is not None:
            want['host'] = host
        if method in ('PUT', 'POST'):
            want['content-length'] = 4
            assert info['body'] == ('Body', 4, b'data')
        else:
            assert info['body'] is None
        assert info['headers'] == want
    if family in UNIX_FAMILIES:
        assert host is None
    else:
        assert host is not None and host.endswith(':{}'.format(live.address[1]))


@pytest.mark.parametrize('uri, path, query', [
    ('/', [], None),
    ('/?', [], ''),
    ('/foo', ['foo'], None),
    ('/foo/', ['foo', ''], None),
    ('/a.b/c~d/e+f/g:h/i_j?q=%20&r', ['a.b', 'c~d', 'e+f', 'g:h', 'i_j'], 'q=%20&r'),
    ('/hello..world/...', ['hello..world', '...'], None),
    ('/%7e/a%20b/%C3%A9?q=%2F', ['%7e', 'a%20b', '%C3%A9'], 'q=%2F'),
    ("/!$&'()*+,;=:@/?/?", ["!$&'()*+,;=:@", ''], '/?'),
])
def test_uri_parsing(serve: Callable[..., Live], uri: str, path: List[str],
                     query: Optional[str]) -> None:
    app = Recorder()
    live = serve(app)
    conn = live.connect()
    check_hello(conn)
    conn.close()
    conn = live.connect()
    response = conn.get(uri, {})
    assert response.body.read() == DATA
    conn.close()
    info = app.seen[-1]
    assert (info['uri'], info['path'], info['query']) == (uri, path, query)


def test_incoming_header_names_lowercased(serve: Callable[..., Live]) -> None:
    app = Recorder()
    live = serve(app)
    sock = live.raw()
    sock.sendall(b'GET / HTTP/1.1\r\nX-Mixed-CASE: Value With Spaces\r\n'
                 b'Accept: */*\r\n\r\n')
    assert recv_exactly(sock, len(HELLO_RESPONSE)) == HELLO_RESPONSE
    sock.close()
    assert app.seen[0]['headers'] == {'x-mixed-case': 'Value With Spaces',
                                      'accept': '*/*'}


def test_requests_split_into_bytes(serve: Callable[..., Live]) -> None:
    # Three pipelined requests sent one byte per send(): every boundary
    # (request line, headers, chunk lines, chunk data, bodies) is split.
    app = Recorder(lambda s, r, api: (200, 'OK', {}, b'ok'))
    live = serve(app, max_requests=3)
    data = (b'POST /a HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n'
            + CHUNKED_WIRE
            + b'PUT /b HTTP/1.1\r\ncontent-length: 12\r\n\r\nhello, world'
            + b'GET /c HTTP/1.1\r\n\r\n')
    sock = live.raw()
    for i in range(len(data)):
        sock.sendall(data[i:i + 1])
        time.sleep(0.0005)
    assert recv_all(sock) == (b'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok' * 2
                              + b'HTTP/1.1 200 OK\r\nconnection: close\r\n'
                              b'content-length: 2\r\n\r\nok')
    sock.close()
    assert [(info['method'], info['path'], info['body']) for info in app.seen] == [
        ('POST', ['a'], ('ChunkedBody', CHUNKS)),
        ('PUT', ['b'], ('Body', 12, DATA)),
        ('GET', ['c'], None),
    ]


def test_readme_reprs(serve: Callable[..., Live]) -> None:
    live = serve(hello_app)
    conn = live.connect()
    response = conn.get('/', {})
    assert repr(response) == (
        "Response(status=200, reason='OK', headers={'content-length': 12}, "
        "body=Body(<reader>, 12))"
    )
    assert response.body.read() == b'hello, world'
    response = conn.get('/nope', {})
    assert repr(response) == (
        "Response(status=404, reason='Not Found', headers={}, body=None)"
    )
    check_hello(conn)  # a 404 keeps the connection open
    conn.close()


def test_exact_response_bytes(serve: Callable[..., Live]) -> None:
    # No date, server or connection header: only the framing header (§1),
    # none at all for a 204.
    def app(session: Session, request: Request, api: Any) -> Any:
        kind = request.path[0]
        if kind == 'none':
            return (204, 'No Content', {}, None)
        if kind == 'chunked':
            return (200, 'OK', {'x-a': 'b'}, ChunkedBodyIter(list(CHUNKS)))
        # Values that are not str go out as str(value).
        return (200, 'OK', {'x-a': 'b', 'x-int': 17,
                            'content-range': ContentRange(0, 5, 10)}, b'hello')

    live = serve(app, max_requests=3)
    sock = live.raw()
    sock.sendall(b'GET /none HTTP/1.1\r\n\r\nGET /chunked HTTP/1.1\r\n\r\n'
                 b'GET /bytes HTTP/1.1\r\n\r\n')
    assert recv_all(sock) == (
        b'HTTP/1.1 204 No Content\r\n\r\n'
        b'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nx-a: b\r\n\r\n'
        + CHUNKED_WIRE +
        # The last one before max_requests says so.
        b'HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 5\r\n'
        b'content-range: bytes 0-4/10\r\nx-a: b\r\nx-int: 17\r\n\r\nhello'
    )
    sock.close()


# ---------------------------------------------------------------------------
# Bodies of every kind, both directions

@pytest.mark.parametrize('kind', BODY_KINDS)
def test_request_bodies(serve: Callable[..., Live], kind: str) -> None:
    app = Recorder()
    live = serve(app)
    conn = live.connect()
    for method in ('PUT', 'POST'):
        body = make_body(kind)
        headers: Dict[str, Any] = {}
        response = conn.request(method, '/upload', headers, body)
        assert response.body.read() == b'hello, world'
        if kind not in ('None', 'empty', 'bytes', 'bytearray'):
            assert body.state == BODY_CONSUMED
        info = app.seen[-1]
        assert info['method'] == method
        assert info['body'] == expected(kind)
        for (key, value) in framing(kind).items():
            assert info['headers'][key] == value
            assert headers[key] == value
        assert not ({'content-length', 'transfer-encoding'}
                    - set(framing(kind))) & set(info['headers'])
    check_hello(conn)
    conn.close()


@pytest.mark.parametrize('kind', BODY_KINDS)
def test_response_bodies(serve: Callable[..., Live], kind: str) -> None:
    def app(session: Session, request: Request, api: Any) -> Any:
        return (200, 'OK', {'x-kind': kind}, make_body(kind))

    live = serve(app)
    conn = live.connect()
    for _ in range(3):
        response = conn.get('/', {})
        want_headers = {'x-kind': kind}
        if kind in ('None', 'empty'):
            # Both go out as 'content-length: 0', which the client folds
            # back into "no body".
            assert response.headers == want_headers
            assert response.body is None
            continue
        want_headers.update(framing(kind))
        assert response.headers == want_headers
        assert consume(response.body) == expected(kind)
    conn.close()
    # On the wire, both are framed.
    if kind in ('None', 'empty'):
        sock = live.raw()
        sock.sendall(b'GET / HTTP/1.1\r\nconnection: close\r\n\r\n')
        assert recv_all(sock) == (
            b'HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n'
            b'x-kind: ' + kind.encode() + b'\r\n\r\n'
        )
        sock.close()


def test_chunks_preserved_both_directions(serve: Callable[..., Live]) -> None:
    # The app sends back, chunk by chunk, what it received, with new
    # extensions; the client sends with readchunk() one at a time.
    def app(session: Session, request: Request, api: Any) -> Any:
        body = request.body
        assert type(body) is ChunkedBody
        out = []
        while body.state != BODY_CONSUMED:
            (ext, data) = body.readchunk()
            out.append((ext, data))
        reply: List[Any] = [
            (('n', str(i)), data.upper()) for (i, (ext, data)) in enumerate(out)
        ]
        reply[-1] = (None, b'')
        session.store['received'] = out
        return (200, 'OK', {}, api.ChunkedBodyIter(reply))

    live = serve(app)
    conn = live.connect()
    sent = [
        (None, b'a'),
        (('x', 'y'), b'bc' * 1000),
        (('Key', '"quoted";<b>[x](y),*z'), b'\r\n'),
        (('k', 'v'), b'0\r\n\r\n'),  # looks like an end, but it is data
        (('last', 'one'), b''),
    ]
    response = conn.post('/', {}, ChunkedBodyIter(list(sent)))
    assert response.headers == {'transfer-encoding': 'chunked'}
    got = []
    while True:
        chunk = response.body.readchunk()
        got.append(chunk)
        if not chunk[1]:
            break
    assert got == [
        (('n', '0'), b'A'),
        (('n', '1'), b'BC' * 1000),
        (('n', '2'), b'\r\n'),
        (('n', '3'), b'0\r\n\r\n'),
        (None, b''),
    ]
    assert response.body.state == BODY_CONSUMED
    # An empty chunked body (just the final chunk) works too.
    response = conn.post('/', {}, ChunkedBodyIter([(None, b'')]))
    assert list(response.body) == [(None, b'')]
    conn.close()


def test_large_bodies(serve: Callable[..., Live]) -> None:
    # Bigger than BUF_LEN and IO_SIZE, so every buffering path is used.
    size = 2 * 1024 * 1024 + 3
    blob = os.urandom(size)
    sizes: List[int] = []

    def app(session: Session, request: Request, api: Any) -> Any:
        body = request.body
        if body.chunked:
            data = b''.join(data for (ext, data) in body)
        else:
            pieces = list(body)
            sizes.extend(len(p) for p in pieces)
            data = b''.join(pieces)
        if request.path == ['iter']:
            return (200, 'OK', {}, api.BodyIter(
                (data[i:i + 100000] for i in range(0, len(data), 100000)), len(data)
            ))
        if request.path == ['chunked']:
            return (200, 'OK', {}, api.ChunkedBodyIter(
                [(None, data[:1000000]), (('a', 'b'), data[1000000:]), (None, b'')]
            ))
        return (200, 'OK', {}, api.Body(io.BytesIO(data), len(data)))

    live = serve(app)
    conn = live.connect()
    response = conn.put('/body', {}, Body(io.BytesIO(blob), size))
    assert sizes == [1048576, 1048576, 3]
    assert response.body.read() == blob
    response = conn.put('/iter', {}, blob)
    assert b''.join(response.body) == blob
    response = conn.post('/chunked', {}, ChunkedBodyIter(
        [(None, blob[:5]), (None, blob[5:]), (None, b'')]
    ))
    chunks = list(response.body)
    assert [len(c[1]) for c in chunks] == [1000000, size - 1000000, 0]
    assert chunks[1][0] == ('a', 'b')
    assert b''.join(c[1] for c in chunks) == blob
    conn.close()


# ---------------------------------------------------------------------------
# HEAD and ranges

def test_head(serve: Callable[..., Live]) -> None:
    def app(session: Session, request: Request, api: Any) -> Any:
        if request.method == 'HEAD':
            if request.path == ['chunked']:
                return (200, 'OK', {'transfer-encoding': 'chunked'}, None)
            return (200, 'OK', {'content-length': 1000}, None)
        return (200, 'OK', {}, b'hello')

    live = serve(app, max_requests=3)
    conn = live.connect()
    assert conn.head('/', {}) == Response(200, 'OK', {'content-length': 1000}, None)
    assert conn.head('/chunked', {}) == Response(
        200, 'OK', {'transfer-encoding': 'chunked'}, None
    )
    assert conn.get('/', {}).body.read() == b'hello'
    conn.close()
    # On the wire: the framing header, and not a single body byte.
    sock = live.raw()
    sock.sendall(b'HEAD / HTTP/1.1\r\n\r\nHEAD /chunked HTTP/1.1\r\n\r\n'
                 b'GET / HTTP/1.1\r\n\r\n')
    assert recv_all(sock) == (
        b'HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n'
        b'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n'
        b'HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 5\r\n\r\nhello'
    )
    sock.close()


RANGE_DATA = bytes(range(256)) * 4


def range_app(session: Session, request: Request, api: Any) -> Any:
    total = len(RANGE_DATA)
    r = request.headers.get('range')
    if r is None:
        return (200, 'OK', {}, RANGE_DATA)
    assert type(r) is Range
    if r.stop > total:
        return (416, 'Range Not Satisfiable', {}, None)
    return (206, 'Partial Content', {'content-range': r.content_range(total)},
            api.Body(io.BytesIO(RANGE_DATA[r.start:]), r.content_length(total)))


@pytest.mark.parametrize('start, stop', [(0, 1), (0, 1024), (16, 21), (1023, 1024),
                                         (100, 900)])
def test_get_range(serve: Callable[..., Live], start: int, stop: int) -> None:
    live = serve(range_app)
    conn = live.connect()
    for _ in range(2):
        headers: Dict[str, Any] = {}
        response = conn.get_range('/file', headers, start, stop)
        assert headers['range'] == Range(start, stop)
        assert response.status == 206
        assert response.reason == 'Partial Content'
        assert response.headers == {
            'content-range': ContentRange(start, stop, 1024),
            'content-length': stop - start,
        }
        assert type(response.headers['content-range']) is ContentRange
        assert response.body.read() == RANGE_DATA[start:stop]
    assert conn.get('/file', {}).body.read() == RANGE_DATA
    # Out of bounds: 416, which closes the connection (§8.4), and says so.
    response = conn.get_range('/file', {}, 1000, 1025)
    assert response == Response(416, 'Range Not Satisfiable', {}, None)
    assert_said_close(conn)


def test_range_on_the_wire(serve: Callable[..., Live]) -> None:
    live = serve(range_app, max_requests=1)
    sock = live.raw()
    sock.sendall(b'GET / HTTP/1.1\r\nRange: bytes=16-20\r\n\r\n')
    assert recv_all(sock) == (
        b'HTTP/1.1 206 Partial Content\r\nconnection: close\r\ncontent-length: 5\r\n'
        b'content-range: bytes 16-20/1024\r\n\r\n' + RANGE_DATA[16:21]
    )
    sock.close()


# ---------------------------------------------------------------------------
# Persistence: many requests, max_requests, closing statuses

def test_many_requests_one_connection(serve: Callable[..., Live]) -> None:
    app = Recorder(lambda s, r, api: (200, 'OK', {'x-n': str(s.requests)},
                                      r.method.encode() if r.method != 'HEAD' else None))
    live = serve(app)
    conn = live.connect()
    count = 200
    kinds = ['None', 'bytes', 'Body', 'ChunkedBodyIter']
    for i in range(count):
        method = ['GET', 'PUT', 'POST', 'DELETE', 'HEAD'][i % 5]
        body = make_body(kinds[i % 4]) if method in ('PUT', 'POST') else None
        response = conn.request(method, '/n/{}'.format(i), {}, body)
        assert response.status == 200
        assert response.headers['x-n'] == str(i)
        if method == 'HEAD':
            assert response.body is None
        else:
            assert response.body.read() == method.encode()
    conn.close()
    assert len(app.seen) == count
    session = app.seen[0]['session']
    assert all(info['session'] is session for info in app.seen)
    assert [info['requests'] for info in app.seen] == list(range(count))
    assert [info['path'] for info in app.seen] == [['n', str(i)] for i in range(count)]


@pytest.mark.parametrize('max_requests', [1, 3])
def test_max_requests(serve: Callable[..., Live], max_requests: int) -> None:
    app = Recorder()
    live = serve(app, max_requests=max_requests)
    conn = live.connect()
    for _ in range(max_requests):
        check_hello(conn)
    # The last response was sent in full, saying the connection closes.
    assert_said_close(conn)
    session = app.seen[0]['session']
    assert session.closed is True
    assert session.message == 'max_requests'
    wait_until(lambda: session.requests == max_requests)
    assert session.max_requests == max_requests
    # The server itself goes on.
    conn = live.connect()
    check_hello(conn)
    conn.close()


REASONS = {
    200: 'OK', 201: 'Created', 204: 'No Content', 301: 'Moved Permanently',
    304: 'Not Modified', 399: 'Whatever', 400: 'Bad Request',
    401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found',
    405: 'Method Not Allowed', 409: 'Conflict', 410: 'Gone',
    412: 'Precondition Failed', 413: 'Payload Too Large',
    416: 'Range Not Satisfiable', 500: 'Internal Server Error',
    503: 'Service Unavailable', 599: 'Last',
}
KEEP_ALIVE = {200, 201, 204, 301, 304, 399, 404, 409, 412}


@pytest.mark.parametrize('status', sorted(REASONS))
def test_status_closes(serve: Callable[..., Live], status: int) -> None:
    # /{status}/body answers with a body, /{status} without.
    app = Recorder(lambda s, r, api: (
        int(r.path[0]), REASONS[int(r.path[0])], {},
        b'some body' if r.path[1:] == ['body'] else None
    ))
    live = serve(app)
    for with_body in (False, True):
        app.seen.clear()
        conn = live.connect()
        uri = '/{}/body'.format(status) if with_body else '/{}'.format(status)
        response = conn.get(uri, {})
        if with_body and status in (204, 304):
            # Refused: a body the client would read as the next response.
            assert response == Response(500, 'Internal Server Error', {}, None)
            assert_said_close(conn)
            continue
        assert response.status == status
        assert response.reason == REASONS[status]
        if with_body:
            assert response.body.read() == b'some body'
        else:
            assert response.body is None
        session = app.seen[0]['session']
        if status in KEEP_ALIVE:
            assert conn.get('/200', {}).status == 200
            assert app.seen[1]['session'] is session
            assert app.seen[1]['requests'] == 1
            assert session.closed is False
        else:
            # The response was sent first, saying the connection closes.
            assert_said_close(conn)
            assert session.closed is True
            assert session.message == '{} {}'.format(status, REASONS[status])
            wait_until(lambda: session.requests == 1)
        conn.close()


def test_closing_status_logged(serve: Callable[..., Live], caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger='degu.server')
    live = serve(Recorder(lambda s, r, api: (403, 'Forbidden', {}, None)))
    conn = live.connect()
    assert conn.get('/', {}).status == 403
    assert_said_close(conn)
    record = wait_for_log(caplog, 'Handled 1 requests: 403 Forbidden')
    assert record.levelno == logging.INFO
    assert record.name == 'degu.server'


# ---------------------------------------------------------------------------
# on_connect, credentials, session.address

class ConnectApp:
    """Runs a scripted on_connect() per connection (in order)."""

    def __init__(self, results: List[Any]) -> None:
        self.results = list(results)
        self.calls: List[Tuple[Session, Any, int]] = []
        self.seen: List[Tuple[Session, Dict[str, Any]]] = []

    def on_connect(self, session: Session, sock: Any) -> Any:
        self.calls.append((session, type(sock), session.requests))
        result = self.results.pop(0)
        if isinstance(result, Exception):
            raise result
        session.store['_user'] = 'user{}'.format(len(self.calls))
        return result

    def __call__(self, session: Session, request: Request, api: Any) -> Any:
        session.store['count'] = session.store.get('count', 0) + 1
        self.seen.append((session, dict(session.store)))
        return (200, 'OK', {}, session.store['_user'].encode())


def test_on_connect_accepts(serve: Callable[..., Live]) -> None:
    app = ConnectApp([True, True])
    live = serve(app)
    for n in (1, 2):
        conn = live.connect()
        for i in range(3):
            assert conn.get('/', {}).body.read() == 'user{}'.format(n).encode()
        conn.close()
    assert len(app.calls) == 2
    for (session, sock_type, requests) in app.calls:
        assert type(session) is Session
        assert sock_type is socket.socket
        assert requests == 0
    assert [store for (s, store) in app.seen] == [
        {'_user': 'user1', 'count': 1},
        {'_user': 'user1', 'count': 2},
        {'_user': 'user1', 'count': 3},
        {'_user': 'user2', 'count': 1},
        {'_user': 'user2', 'count': 2},
        {'_user': 'user2', 'count': 3},
    ]
    assert app.seen[0][0] is app.calls[0][0]
    assert app.seen[3][0] is app.calls[1][0]


@pytest.mark.parametrize('result', [False, None, 1, 'True', [True],
                                    ZeroDivisionError('no'),
                                    ValueError('bad peer')])
def test_on_connect_rejects(serve: Callable[..., Live], result: Any,
                            caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger='degu.server')
    app = ConnectApp([result, True])
    live = serve(app)
    sock = live.raw()
    # Closed before any request is read: nothing sent, nothing read.
    assert_server_closed(sock)
    sock.close()
    assert app.seen == []
    if isinstance(result, Exception):
        record = wait_for_log(caplog, 'Error after handling 0 requests')
        assert record.levelno == logging.ERROR
        assert record.exc_info is not None
        assert record.exc_info[1] is result
    else:
        record = wait_for_log(caplog, 'Rejected by app.on_connect()')
        assert record.levelno == logging.WARNING
    # The next connection is accepted.
    conn = live.connect()
    assert conn.get('/', {}).body.read() == b'user2'
    conn.close()


def test_on_connect_rejects_client_request(serve: Callable[..., Live]) -> None:
    live = serve(ConnectApp([False]))
    conn = live.connect()
    with pytest.raises(ConnectionError):
        conn.get('/', {})
    assert conn.closed is True
    with pytest.raises(ValueError) as cm:
        conn.get('/', {})
    assert str(cm.value) == 'Connection is closed'


def test_credentials_and_address(serve: Callable[..., Live], family: str) -> None:
    seen: List[Session] = []

    def app(session: Session, request: Request, api: Any) -> Any:
        seen.append(session)
        return (200, 'OK', {}, repr(session.credentials).encode())

    live = serve(app)
    conn = live.connect()
    body = conn.get('/', {}).body.read()
    session = seen[0]
    if family in UNIX_FAMILIES:
        creds = (os.getpid(), os.getuid(), os.getgid())
        assert session.credentials == creds
        assert body == repr(creds).encode()
        assert repr(session) == 'Session({!r}, {!r})'.format(session.address, creds)
    else:
        assert session.credentials is None
        assert body == b'None'
        assert repr(session) == 'Session({!r})'.format(conn.sock.getsockname())
    # The peer's address as accept() returned it.  (Over AF_UNIX the client
    # set SO_PASSCRED before connect(), so Linux bound it to an abstract name.)
    assert session.address == conn.sock.getsockname()
    assert session.max_requests == 1000
    conn.close()


def test_tcp_nodelay_on_server_side(serve: Callable[..., Live],
                                    family: str) -> None:
    seen: List[Any] = []

    class App:
        def on_connect(self, session: Session, sock: socket.socket) -> bool:
            if sock.family != socket.AF_UNIX:
                seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            seen.append(sock.gettimeout())
            return True

        def __call__(self, session: Session, request: Request, api: Any) -> Any:
            return (200, 'OK', {}, None)

    live = serve(App(), timeout=7)
    conn = live.connect()
    assert conn.get('/', {}).status == 200
    conn.close()
    if family in UNIX_FAMILIES:
        assert seen == [7]
    else:
        assert seen[0] != 0
        assert seen[1] == 7


# ---------------------------------------------------------------------------
# Errors: the connection is closed with nothing sent; the server goes on

def _unread(request: Request, api: Any) -> Any:
    return (200, 'OK', {}, None)


def _partly_read(request: Request, api: Any) -> Any:
    request.body.read(2)
    return (200, 'OK', {}, None)


def _read_then_head_body(request: Request, api: Any) -> Any:
    return (200, 'OK', {}, b'')


def _raise(request: Request, api: Any) -> Any:
    raise ZeroDivisionError('app failed')


GET = b'GET /case HTTP/1.1\r\n\r\n'
POST = b'POST /case HTTP/1.1\r\ncontent-length: 5\r\n\r\nhello'
POST_CHUNKED = b'POST /case HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n'
HEAD = b'HEAD /case HTTP/1.1\r\n\r\n'

# Same fields as degu's Response, but not it: refused like any tuple subclass.
OtherResponse = collections.namedtuple('OtherResponse', 'status reason headers body')

# name: (request bytes, responder(request, api))
BAD_APPS: Dict[str, Tuple[bytes, Callable[[Request, Any], Any]]] = {
    'raises': (GET, _raise),
    'list': (GET, lambda r, a: [200, 'OK', {}, None]),
    'other-namedtuple': (GET, lambda r, a: OtherResponse(200, 'OK', {}, None)),
    'none': (GET, lambda r, a: None),
    '3-tuple': (GET, lambda r, a: (200, 'OK', {})),
    '5-tuple': (GET, lambda r, a: (200, 'OK', {}, None, None)),
    'status-str': (GET, lambda r, a: ('200', 'OK', {}, None)),
    'status-bool': (GET, lambda r, a: (True, 'OK', {}, None)),
    'status-99': (GET, lambda r, a: (99, 'OK', {}, None)),
    'status-600': (GET, lambda r, a: (600, 'OK', {}, None)),
    'reason-empty': (GET, lambda r, a: (200, '', {}, None)),
    'reason-bytes': (GET, lambda r, a: (200, b'OK', {}, None)),
    'reason-crlf': (GET, lambda r, a: (200, 'OK\r\nx-evil: 1', {}, None)),
    'reason-non-ascii': (GET, lambda r, a: (200, 'Ök', {}, None)),
    'headers-list': (GET, lambda r, a: (200, 'OK', [('x', 'y')], None)),
    'header-upper': (GET, lambda r, a: (200, 'OK', {'X-Foo': 'bar'}, None)),
    'header-empty': (GET, lambda r, a: (200, 'OK', {'x-foo': ''}, None)),
    'header-crlf': (GET, lambda r, a: (
        200, 'OK', {'x-foo': 'a\r\n\r\nHTTP/1.1 200 OK'}, None)),
    'header-bytes-key': (GET, lambda r, a: (200, 'OK', {b'x': 'y'}, None)),
    'too-many-headers': (GET, lambda r, a: (
        200, 'OK', {'x-{}'.format(i): 'v' for i in range(21)}, None)),
    'too-many-with-framing': (GET, lambda r, a: (
        200, 'OK', {'x-{}'.format(i): 'v' for i in range(20)}, b'x')),
    'body-str': (GET, lambda r, a: (200, 'OK', {}, 'hello')),
    'body-int': (GET, lambda r, a: (200, 'OK', {}, 17)),
    'body-file': (GET, lambda r, a: (200, 'OK', {}, io.BytesIO(b'hello'))),
    'body-list': (GET, lambda r, a: (200, 'OK', {}, [b'hello'])),
    'length-mismatch': (GET, lambda r, a: (
        200, 'OK', {'content-length': 5}, b'hello, world')),
    'length-mismatch-iter': (GET, lambda r, a: (
        200, 'OK', {'content-length': 5}, a.BodyIter([b'hello!'], 6))),
    'chunked-and-length': (GET, lambda r, a: (
        200, 'OK', {'content-length': 5}, a.ChunkedBodyIter([(None, b'')]))),
    'both-framing-headers': (GET, lambda r, a: (
        200, 'OK', {'content-length': 5, 'transfer-encoding': 'chunked'}, None)),
    'body-used': (GET, lambda r, a: (200, 'OK', {}, _used_body())),
    'head-with-bytes': (HEAD, lambda r, a: (200, 'OK', {}, b'hello')),
    'head-with-empty-bytes': (HEAD, _read_then_head_body),
    'head-with-chunked': (HEAD, lambda r, a: (
        200, 'OK', {}, a.ChunkedBodyIter([(None, b'')]))),
    # A framing header without a body would leave the client waiting.
    'length-without-body': (GET, lambda r, a: (
        200, 'OK', {'content-length': 5}, None)),
    'chunked-without-body': (GET, lambda r, a: (
        200, 'OK', {'transfer-encoding': 'chunked'}, None)),
    # 1xx statuses are interim only; 204 and 304 have no body.
    'status-100': (GET, lambda r, a: (100, 'Continue', {}, None)),
    'status-101': (GET, lambda r, a: (101, 'Switching Protocols', {}, None)),
    '204-with-body': (GET, lambda r, a: (204, 'No Content', {}, b'smuggled')),
    '204-with-empty-body': (GET, lambda r, a: (204, 'No Content', {}, b'')),
    '204-with-length': (GET, lambda r, a: (204, 'No Content', {'content-length': 0}, None)),
    '304-with-body': (GET, lambda r, a: (304, 'Not Modified', {}, b'smuggled')),
    '304-with-chunked': (GET, lambda r, a: (
        304, 'Not Modified', {}, a.ChunkedBodyIter([(None, b'')]))),
    # 'connection' is hop-by-hop: 'close' is all an app may say.
    'connection-keep-alive': (GET, lambda r, a: (
        200, 'OK', {'connection': 'keep-alive'}, b'x')),
}


@pytest.mark.parametrize('request_bytes, responder', [
    (POST, _unread),
    (POST, _partly_read),
    (POST_CHUNKED, _unread),
])
def test_unread_request_body_answered_then_closed(
        serve: Callable[..., Live], request_bytes: bytes, responder: Any) -> None:
    # An app may answer without reading the body (a 405, a 401): its answer
    # goes out saying the connection closes; what follows is not read as
    # a request (it may be the rest of the body).
    app = CaseApp()
    live = serve(lambda s, r, api: responder(r, api))
    sock = live.raw()
    sock.sendall(request_bytes + OK_REQUEST)
    assert recv_all(sock) == (
        b'HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n'
    )
    sock.close()


def _used_body() -> BodyIter:
    body = BodyIter([b'x'], 1)
    body.write_to(io.BytesIO())
    return body


def test_framing_header_without_body_allowed_for_head_and_304(
        serve: Callable[..., Live]) -> None:
    def app(session: Session, request: Request, api: Any) -> Any:
        if request.path == ['304']:
            return (304, 'Not Modified', {'content-length': 12}, None)
        return (200, 'OK', {'content-length': 12}, None)
    live = serve(app)
    conn = live.connect()
    response = conn.head('/', {})
    assert response == Response(200, 'OK', {'content-length': 12}, None)
    response = conn.get('/304', {})
    assert response.status == 304
    assert response.headers == {'content-length': 12}
    conn.close()


class CaseApp:
    """Picks the responder by a header the test sends first (x-case)."""

    def __init__(self) -> None:
        self.case = ''

    def __call__(self, session: Session, request: Request, api: Any) -> Any:
        if request.path == ['ok']:
            return (200, 'OK', {}, b'fine')
        return BAD_APPS[self.case][1](request, api)


OK_REQUEST = b'GET /ok HTTP/1.1\r\n\r\n'
OK_RESPONSE = b'HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nfine'


def after_good_request(live: Live, response: bytes, data: bytes) -> socket.socket:
    """Do one good request on a raw socket, then send *data* on it.

    The good response is read before *data* goes out: a server closing with
    unread input resets the connection, which could discard a response the
    client had not read yet.
    """
    sock = live.raw()
    sock.sendall(OK_REQUEST)
    assert recv_exactly(sock, len(response)) == response
    sock.sendall(data)
    return sock


@pytest.mark.parametrize('case', sorted(BAD_APPS))
def test_bad_app_answered_500(serve: Callable[..., Live], case: str) -> None:
    app = CaseApp()
    app.case = case
    live = serve(app)
    request = BAD_APPS[case][0]
    # Alone on a connection: a framed 500 that says it closes, nothing else.
    sock = live.raw()
    sock.sendall(request)
    assert recv_all(sock) == ANSWER_500
    sock.close()
    # After a good request: the same, even with another request queued.
    sock = after_good_request(live, OK_RESPONSE, request + OK_REQUEST)
    assert recv_all(sock) == ANSWER_500
    sock.close()
    # A Degu client sees the 500, and that the connection is done.
    conn = live.connect()
    method = request.split(b' ')[0].decode()
    response = conn.request(method, '/case', {},
                            b'hello' if method == 'POST' else None)
    # (To HEAD, content-length describes the body a GET would get: kept.)
    headers = {'content-length': 0} if method == 'HEAD' else {}
    assert response == Response(500, 'Internal Server Error', headers, None)
    assert_said_close(conn)
    # The server keeps serving other connections.
    conn = live.connect()
    assert conn.get('/ok', {}).body.read() == b'fine'
    conn.close()


@pytest.mark.parametrize('case, message', [
    ('raises', 'app failed'),
    ('status-100', 'need 200 <= status <= 599 for a final response; got 100'),
    ('204-with-body', "a 204 response cannot have a body; got a <class 'bytes'>"),
    ('head-with-bytes',
     "request method is HEAD, but response body is not None: <class 'bytes'>"),
    ('list', "response: need a <class 'tuple'>; got a <class 'list'>"),
    ('3-tuple', 'response: need a 4-tuple; got a 3-tuple'),
    ('status-600', 'need 100 <= status <= 599; got 600'),
])
def test_bad_app_logged(serve: Callable[..., Live], caplog: Any, case: str,
                        message: str) -> None:
    caplog.set_level(logging.INFO, logger='degu.server')
    app = CaseApp()
    app.case = case
    live = serve(app)
    sock = after_good_request(live, OK_RESPONSE, BAD_APPS[case][0])
    assert recv_all(sock) == ANSWER_500
    sock.close()
    record = wait_for_log(caplog, 'Error after handling 1 requests:')
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == message


# (request, status of the server's answer)
BAD_REQUESTS = [
    (b'GET / HTTP/1.0\r\n\r\n', 505),
    (b'GET /\r\n\r\n', 400),
    (b'get / HTTP/1.1\r\n\r\n', 501),   # methods are case-sensitive tokens
    (b'OPTIONS / HTTP/1.1\r\n\r\n', 501),
    (b'GET http://example.com/ HTTP/1.1\r\n\r\n', 400),
    (b'GET /../etc/passwd HTTP/1.1\r\n\r\n', 400),
    (b'GET //foo HTTP/1.1\r\n\r\n', 400),
    (b'GET /%2e%2e HTTP/1.1\r\n\r\n', 400),
    (b'GET / HTTP/1.1\r\nfoo:bar\r\n\r\n', 400),
    (b'GET / HTTP/1.1\r\nfoo: b\tar\r\n\r\n', 400),
    (b'GET / HTTP/1.1\r\n folded: x\r\n\r\n', 400),
    (b'GET / HTTP/1.1\r\nX: a\r\nx: b\r\n\r\n', 400),
    (b'GET / HTTP/1.1\r\ncontent-length: 3\r\n\r\nabc', 400),
    (b'DELETE / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n', 400),
    (b'POST / HTTP/1.1\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n', 400),
    (b'POST / HTTP/1.1\r\ncontent-length: 03\r\n\r\nabc', 400),
    (b'POST / HTTP/1.1\r\ncontent-length: +3\r\n\r\nabc', 400),
    (b'POST / HTTP/1.1\r\ncontent-length: 12345678901234567\r\n\r\nabc', 413),
    (b'POST / HTTP/1.1\r\ntransfer-encoding: gzip\r\n\r\n', 501),
    (b'GET / HTTP/1.1\r\nrange: bytes=5-4\r\n\r\n', 400),
    (b'GET / HTTP/1.1\r\ncontent-range: bytes 0-0/1\r\n\r\n', 400),
    (b'GET /' + b'a' * 9000 + b' HTTP/1.1\r\n\r\n', 414),
    (b'GET / HTTP/1.1\r\n' + b'x' * 65 + b': y\r\n\r\n', 431),
    (b'\r\n\r\n', 400),
    (b'\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n', 400),  # a TLS hello, roughly
]
STATUS_REASONS = {
    400: 'Bad Request', 413: 'Content Too Large', 414: 'URI Too Long',
    431: 'Request Header Fields Too Large', 501: 'Not Implemented',
    505: 'HTTP Version Not Supported',
}


@pytest.mark.parametrize('data, status', BAD_REQUESTS)
def test_bad_request_answered(serve: Callable[..., Live], data: bytes, status: int) -> None:
    app = Recorder()
    live = serve(app)
    expected = answer(status, STATUS_REASONS[status])
    sock = live.raw()
    sock.sendall(data)
    assert recv_all(sock) == expected
    sock.close()
    # After a good request, with another one queued: the answer, then close.
    sock = after_good_request(live, HELLO_RESPONSE, data + b'GET / HTTP/1.1\r\n\r\n')
    assert recv_all(sock) == expected
    sock.close()
    assert len(app.seen) == 1  # the app never saw the bad request
    conn = live.connect()
    check_hello(conn)
    conn.close()


@pytest.mark.parametrize('method', ['GET', 'HEAD', 'DELETE'])
def test_content_length_zero_without_body(serve: Callable[..., Live], method: str) -> None:
    # "No body", said explicitly (requests.delete() sends it): served, and the
    # app sees no body and no framing header.
    app = Recorder()
    live = serve(app)
    sock = live.raw()
    sock.sendall(method.encode() + b' / HTTP/1.1\r\ncontent-length: 0\r\n\r\n')
    assert recv_exactly(sock, 9) == b'HTTP/1.1 '
    sock.close()
    wait_until(lambda: len(app.seen) == 1)
    assert app.seen[0]['headers'] == {}
    assert app.seen[0]['body'] is None


def _send_ignoring_reset(sock: socket.socket, data: bytes) -> None:
    try:
        sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


@pytest.mark.parametrize('data', [
    b'GET / HTTP/1.1\r\n',             # EOF inside the preamble
    b'G',
    b'POST / HTTP/1.1\r\ncontent-length: 10\r\n\r\nhello',   # short body
    b'POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n',
    b'POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhelloXX',
    b'POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n',
])
def test_truncated_request_answered(serve: Callable[..., Live], data: bytes) -> None:
    # The client stopped sending half-way (but may still read): 400.
    app = Recorder()
    live = serve(app)
    sock = live.raw()
    sock.sendall(data)
    sock.shutdown(socket.SHUT_WR)
    assert recv_all(sock) == answer(400, 'Bad Request')
    sock.close()
    conn = live.connect()
    check_hello(conn)
    conn.close()


TOO_LARGE = answer(431, 'Request Header Fields Too Large')


def test_preamble_too_long_answered(serve: Callable[..., Live]) -> None:
    live = serve(Recorder())
    sock = live.raw()
    _send_ignoring_reset(sock, b'GET / HTTP/1.1\r\nx-long: ' + b'a' * 40000)
    assert recv_all(sock) == TOO_LARGE
    sock.close()
    # Just under the limit is fine: 32768 bytes including the final CRLFCRLF.
    head = b'GET / HTTP/1.1\r\nx-long: '
    filler = b'a' * (32768 - len(head) - 4)
    conn_sock = live.raw()
    conn_sock.sendall(head + filler + b'\r\n\r\n')
    assert recv_exactly(conn_sock, len(HELLO_RESPONSE)) == HELLO_RESPONSE
    conn_sock.close()
    sock = live.raw()
    _send_ignoring_reset(sock, head + filler + b'a\r\n\r\n')
    assert recv_all(sock) == TOO_LARGE
    sock.close()


BAD_STREAMED_BODIES = [
    lambda a: a.BodyIter([b'abc'], 10),                         # too short
    lambda a: a.BodyIter([b'abc', 17], 10),                     # bad item
    lambda a: a.BodyIter((1 / 0 for _ in [1]), 10),              # source raises
    lambda a: a.ChunkedBodyIter([(None, b'abc')]),              # no final chunk
    lambda a: a.ChunkedBodyIter([(None, b''), (None, b'x')]),   # data after end
    lambda a: a.ChunkedBodyIter([(None, 'abc'), (None, b'')]),  # str data
    lambda a: a.Body(io.BytesIO(b'abc'), 10),                   # short file
    lambda a: a.ChunkedBody(io.BytesIO(b'3\r\nabc\r\n')),       # truncated
]
BIG = b'x' * 40000  # bigger than the write queue: sent at once


def _big_then_fail() -> Iterator[bytes]:
    yield BIG
    raise ZeroDivisionError('source failed')


BIG_BAD_STREAMED_BODIES = [
    lambda a: a.BodyIter([BIG], 50000),                         # too short
    lambda a: a.BodyIter(_big_then_fail(), 50000),              # source raises
    lambda a: a.ChunkedBodyIter([(None, BIG)]),                 # no final chunk
    lambda a: a.ChunkedBody(io.BytesIO(b'9c40\r\n' + BIG + b'\r\n')),  # truncated
]


def fine_or_bad(body: Callable[[Any], Any]) -> Callable[..., Any]:
    """An app: ``/ok`` answers ``fine``, any other path the body *body(api)*."""
    def app(session: Session, request: Request, api: Any) -> Any:
        if request.path == ['ok']:
            return (200, 'OK', {}, b'fine')
        return (200, 'OK', {}, body(api))
    return app


@pytest.mark.parametrize('body', BAD_STREAMED_BODIES)
def test_bad_streamed_body_before_anything_was_sent(serve: Callable[..., Live],
                                                    body: Callable[[Any], Any]) -> None:
    # A small body fails before a byte of the response left: the preamble
    # and the queued data are dropped, and the client gets a clean 500.
    live = serve(fine_or_bad(body))
    conn = live.connect()
    assert conn.get('/ok', {}).body.read() == b'fine'
    assert conn.get('/bad', {}) == Response(500, 'Internal Server Error', {}, None)
    assert_said_close(conn)
    conn = live.connect()
    assert conn.get('/ok', {}).body.read() == b'fine'
    conn.close()


@pytest.mark.parametrize('body', BIG_BAD_STREAMED_BODIES)
def test_bad_streamed_body_cut_off(serve: Callable[..., Live],
                                   body: Callable[[Any], Any]) -> None:
    # Part of the response is on the wire: all the server can do is close,
    # and the client sees a body cut short.
    live = serve(fine_or_bad(body))
    conn = live.connect()
    assert conn.get('/ok', {}).body.read() == b'fine'
    with pytest.raises((ConnectionError, ValueError)):
        response = conn.get('/bad', {})
        consume(response.body)
    assert conn.closed is True
    with pytest.raises(ValueError) as cm:
        conn.get('/ok', {})
    assert str(cm.value) == 'Connection is closed'
    conn = live.connect()
    assert conn.get('/ok', {}).body.read() == b'fine'
    conn.close()


def test_client_body_error_closes_both_ends(serve: Callable[..., Live]) -> None:
    app = Recorder()
    live = serve(app)
    conn = live.connect()

    def source() -> Iterator[bytes]:
        yield b'x' * 50000  # big enough to be sent before the failure
        raise ZeroDivisionError('client source failed')

    with pytest.raises(ZeroDivisionError):
        conn.put('/', {}, BodyIter(source(), 100000))
    assert conn.closed is True
    with pytest.raises(ValueError) as cm:
        conn.get('/', {})
    assert str(cm.value) == 'Connection is closed'
    conn = live.connect()
    check_hello(conn)
    conn.close()


# ---------------------------------------------------------------------------
# Timeouts

def test_server_timeout(serve: Callable[..., Live], caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger='degu.server')
    live = serve(hello_app, timeout=0.5)
    # Three connections go idle at once: after a request, before any
    # request, and in the middle of a request body.  Each is closed by the
    # server (with nothing sent).
    conn = live.connect()
    check_hello(conn)
    idle = live.raw()
    mid_body = live.raw()
    mid_body.sendall(b'PUT / HTTP/1.1\r\ncontent-length: 10\r\n\r\nhello')
    assert_server_closed(conn.sock)
    assert_server_closed(idle)
    # The one stalled in the middle of a request is told why.
    assert recv_all(mid_body) == answer(408, 'Request Timeout')
    idle.close()
    mid_body.close()
    with pytest.raises(ConnectionError):
        conn.get('/', {})
    assert conn.closed is True
    with pytest.raises(ValueError) as cm:
        conn.get('/', {})
    assert str(cm.value) == 'Connection is closed'
    record = wait_for_log(caplog, 'Handled 1 requests: {}('.format(socket.timeout.__name__))
    assert record.levelno == logging.INFO
    record = wait_for_log(caplog, 'Handled 0 requests: {}('.format(socket.timeout.__name__))
    assert record.levelno == logging.INFO
    # The server goes on.
    conn = live.connect()
    check_hello(conn)
    conn.close()


def test_client_timeout(serve: Callable[..., Live]) -> None:
    release = threading.Event()

    def slow_app(session: Session, request: Request, api: Any) -> Any:
        if request.path == ['slow']:
            release.wait(PATIENCE)
        return (200, 'OK', {}, b'hello, world')

    live = serve(slow_app)
    conn = live.connect(timeout=0.2)
    try:
        check_hello(conn)
        with pytest.raises(socket.timeout):
            conn.get('/slow', {})
        assert conn.closed is True
        with pytest.raises(ValueError) as cm:
            conn.get('/', {})
        assert str(cm.value) == 'Connection is closed'
    finally:
        release.set()
    conn = live.connect(timeout=0.2)
    check_hello(conn)
    conn.close()


def test_client_timeout_body(serve: Callable[..., Live]) -> None:
    release = threading.Event()

    def source() -> Iterator[bytes]:
        yield b'x' * 40000  # past the write buffer: sent at once
        release.wait(PATIENCE)
        yield b'y'

    def app(session: Session, request: Request, api: Any) -> Any:
        return (200, 'OK', {}, api.BodyIter(source(), 40001))

    live = serve(app)
    conn = live.connect(timeout=0.2)
    try:
        body = conn.get('/', {}).body
        # (socket.timeout is TimeoutError from Python 3.10 on.)
        with pytest.raises((socket.timeout, TimeoutError)):
            body.read()
        assert conn.closed is True
    finally:
        release.set()


def test_trickling_preamble_cut_off(serve: Callable[..., Live]) -> None:
    # One byte per 0.2 s: each recv() is well within the 1 s timeout, but the
    # whole preamble must arrive within 1 s (§13.16).
    live = serve(hello_app, timeout=1)
    sock = live.raw()
    preamble = b'GET / HTTP/1.1\r\nx-trickle: ' + b'a' * 100 + b'\r\n\r\n'
    closed = False
    # At most 40 bytes (8 s) are sent, so the preamble is never complete.
    for byte in preamble[:40]:
        try:
            sock.send(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        (readable, _, _) = select.select([sock], [], [], 0.2)
        if readable:
            assert recv_all(sock) == answer(408, 'Request Timeout')
            closed = True
            break
    assert closed, 'the server kept a trickling client connected'
    sock.close()
    conn = live.connect()
    check_hello(conn)
    conn.close()


def test_slow_but_complete_preamble(serve: Callable[..., Live]) -> None:
    # A preamble in a few pieces, well within the timeout, is fine.
    live = serve(hello_app, timeout=2)
    sock = live.raw()
    for piece in (b'GET / HT', b'TP/1.1\r', b'\nx-a: b\r\n', b'\r\n'):
        sock.sendall(piece)
        time.sleep(0.05)
    assert recv_exactly(sock, len(HELLO_RESPONSE)) == HELLO_RESPONSE
    sock.close()


# ---------------------------------------------------------------------------
# Shutdown, context manager, max_connections

def test_shutdown_and_context_manager(new_address: Callable[[], Any]) -> None:
    with Server(new_address(), hello_app) as srv:
        thread = threading.Thread(target=srv.serve_forever, daemon=True)
        thread.start()
        conn = Client(srv.address, timeout=PATIENCE).connect()
        check_hello(conn)
    thread.join(PATIENCE)
    assert not thread.is_alive()
    # The shutdown ended the idle connection too (and waited for it).
    with pytest.raises(ConnectionError):
        check_hello(conn)
    assert conn.closed is True
    with pytest.raises(OSError):
        Client(srv.address, timeout=PATIENCE).connect()


def test_max_connections(caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger='degu.server')
    live = Live(('127.0.0.1', 0), hello_app, max_connections=1)
    try:
        conn1 = live.connect()
        check_hello(conn1)
        # The second connection waits for a slot (2 s), then is told no.
        sock = live.raw()
        sock.sendall(b'GET / HTTP/1.1\r\n\r\n')
        assert recv_all(sock) == answer(503, 'Service Unavailable')
        sock.close()
        record = wait_for_log(caplog, 'Too many connections, rejecting')
        assert record.levelno == logging.WARNING
        check_hello(conn1)
        conn1.close()
        # Once the first is gone its slot is free again.
        deadline = time.monotonic() + PATIENCE
        while True:
            conn = live.connect()
            try:
                response = conn.get('/', {})
                if response.status != 503:  # (the slot was not free yet)
                    assert response.body.read() == b'hello, world'
                    break
            except ConnectionError:
                pass
            finally:
                conn.close()
            assert time.monotonic() < deadline
    finally:
        live.stop()


def test_connection_logging(serve: Callable[..., Live], caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger='degu.server')
    live = serve(hello_app, max_requests=2)
    record = wait_for_log(caplog, 'Starting Degu Server @ {!r}'.format(live.address))
    assert record.levelno == logging.INFO
    wait_for_log(caplog, '[timeout=30, max_connections=50, max_requests=2]')
    conn = live.connect()
    check_hello(conn)
    check_hello(conn)
    assert_said_close(conn)
    wait_for_log(caplog, 'New connection')
    record = wait_for_log(caplog, 'Handled 2 requests: max_requests')
    assert record.levelno == logging.INFO


# ---------------------------------------------------------------------------
# A reverse proxy: a client Response returned unchanged by the app

def test_reverse_proxy(serve: Callable[..., Live]) -> None:
    def upstream_app(session: Session, request: Request, api: Any) -> Any:
        data = consume(request.body)
        if request.path == ['chunked']:
            return (200, 'OK', {'x-up': 'yes'}, api.ChunkedBodyIter(list(CHUNKS)))
        if request.method == 'HEAD':
            return (200, 'OK', {'content-length': 7}, None)
        return (200, 'OK', {'x-up': 'yes'}, repr(data).encode())

    upstream = serve(upstream_app)
    client = upstream.client()
    upstream_conns: List[Connection] = []

    def proxy_app(session: Session, request: Request, api: Any) -> Any:
        if '_conn' not in session.store:
            session.store['_conn'] = client.connect()
            upstream_conns.append(session.store['_conn'])
        conn = session.store['_conn']
        return conn.request(request.method, request.build_proxy_uri(),
                            dict(request.headers), request.body)

    proxy = serve(proxy_app)
    conn = proxy.connect()
    response = conn.get('/chunked', {})
    assert type(response) is Response
    assert response.headers == {'x-up': 'yes', 'transfer-encoding': 'chunked'}
    assert list(response.body) == CHUNKS
    response = conn.post('/x', {}, ChunkedBodyIter(list(CHUNKS)))
    assert response.body.read() == repr(('ChunkedBody', CHUNKS)).encode()
    response = conn.put('/x', {}, b'hello, world')
    assert response.body.read() == repr(('Body', 12, b'hello, world')).encode()
    assert conn.head('/x', {}) == Response(200, 'OK', {'content-length': 7}, None)
    conn.close()
    assert len(upstream_conns) == 1  # one upstream connection per session
    upstream_conns[0].close()


# ---------------------------------------------------------------------------
# Interop: the standard library's client and server

class UnixHTTPConnection(http.client.HTTPConnection):
    """``http.client`` over AF_UNIX (path or abstract name)."""

    def __init__(self, address: Any) -> None:
        super().__init__('localhost', timeout=PATIENCE)
        self.unix_address = address

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_address)
        self.sock = sock


def _http_client(address: Any) -> http.client.HTTPConnection:
    if type(address) is tuple:
        return http.client.HTTPConnection(address[0], address[1], timeout=PATIENCE)
    return UnixHTTPConnection(address)


def test_stdlib_http_client(serve: Callable[..., Live]) -> None:
    def respond(session: Session, request: Request, api: Any) -> Any:
        if request.method == 'HEAD':
            return (200, 'OK', {'content-length': 12}, None)
        if request.path == ['chunked']:
            return (200, 'OK', {}, api.ChunkedBodyIter(list(CHUNKS)))
        if request.path == ['nope']:
            return (404, 'Not Found', {}, b'no such thing')
        return (200, 'OK', {'x-n': str(session.requests)}, b'hello, world')

    app = Recorder(respond)
    live = serve(app)
    hc = _http_client(live.address)
    try:
        hc.request('GET', '/a?b=c')
        r = hc.getresponse()
        assert (r.status, r.reason, r.read()) == (200, 'OK', b'hello, world')
        assert r.getheader('x-n') == '0'
        assert r.getheaders() == [('content-length', '12'), ('x-n', '0')]
        hc.request('POST', '/post', body=b'posted', headers={'X-Thing': 'yes'})
        r = hc.getresponse()
        assert r.read() == b'hello, world'
        hc.request('PUT', '/put', body=iter([b'ab', b'cd', b'e']),
                   encode_chunked=True, headers={'Transfer-Encoding': 'chunked'})
        r = hc.getresponse()
        assert r.read() == b'hello, world'
        hc.request('HEAD', '/head')
        r = hc.getresponse()
        assert (r.status, r.getheader('content-length'), r.read()) == (200, '12', b'')
        hc.request('GET', '/chunked')
        r = hc.getresponse()
        assert r.getheader('transfer-encoding') == 'chunked'
        assert r.read() == b'hello, world'
        hc.request('DELETE', '/nope')
        r = hc.getresponse()
        assert (r.status, r.reason, r.read()) == (404, 'Not Found', b'no such thing')
        hc.request('GET', '/last')
        r = hc.getresponse()
        assert r.getheader('x-n') == '6'
        assert r.read() == b'hello, world'
    finally:
        hc.close()
    seen = app.seen
    assert len(seen) == 7
    assert all(info['session'] is seen[0]['session'] for info in seen)
    assert [info['requests'] for info in seen] == list(range(7))
    assert [info['method'] for info in seen] == [
        'GET', 'POST', 'PUT', 'HEAD', 'GET', 'DELETE', 'GET']
    assert seen[0]['query'] == 'b=c'
    assert seen[1]['body'] == ('Body', 6, b'posted')
    assert seen[1]['headers']['x-thing'] == 'yes'
    assert seen[2]['body'] == ('ChunkedBody', [
        (None, b'ab'), (None, b'cd'), (None, b'e'), (None, b'')])
    assert seen[0]['headers']['accept-encoding'] == 'identity'


class StdlibHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    seen: List[Tuple[Any, str, str, Dict[str, str], Any]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_body(self) -> Any:
        if self.headers.get('Transfer-Encoding') == 'chunked':
            lines = []
            data = b''
            while True:
                line = self.rfile.readline()
                lines.append(line)
                size = int(line.split(b';')[0], 16)
                data += self.rfile.read(size)
                assert self.rfile.read(2) == b'\r\n'
                if size == 0:
                    break
            return (lines, data)
        length = self.headers.get('Content-Length')
        if length is None:
            return None
        return self.rfile.read(int(length))

    def _reply(self) -> None:
        body = self._read_body()
        self.seen.append((self.client_address, self.command, self.path,
                          dict(self.headers), body))
        if self.path == '/nope':
            self.send_response(404)
            self.send_header('Content-Length', '0')
            self.end_headers()
            return
        if self.path == '/chunked':
            self.send_response(200)
            self.send_header('Transfer-Encoding', 'chunked')
            self.end_headers()
            self.wfile.write(b'5;Ext=Val\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n')
            return
        out = 'you sent {} {}'.format(self.command, self.path).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'text/plain; charset=utf-8')
        self.send_header('Content-Length', str(len(out)))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(out)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _reply


def test_client_against_stdlib_server() -> None:
    StdlibHandler.seen = []
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), StdlibHandler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        address = httpd.server_address[:2]
        conn = Client(address, timeout=PATIENCE).connect()
        response = conn.get('/foo?bar=baz', {'accept': 'text/plain'})
        assert response.status == 200
        assert response.reason == 'OK'
        assert response.headers['content-type'] == 'text/plain; charset=utf-8'
        assert response.headers['content-length'] == 25
        assert 'server' in response.headers and 'date' in response.headers
        assert response.body.read() == b'you sent GET /foo?bar=baz'
        response = conn.put('/up', {}, b'hello, world')
        assert response.body.read() == b'you sent PUT /up'
        response = conn.post('/up', {}, ChunkedBodyIter(list(CHUNKS)))
        assert response.body.read() == b'you sent POST /up'
        response = conn.head('/h', {})
        assert response.body is None
        assert response.headers['content-length'] == 16
        response = conn.get('/chunked', {})
        assert list(response.body) == [(('Ext', 'Val'), b'hello'),
                                       (None, b', world'), (None, b'')]
        response = conn.get('/nope', {})
        assert (response.status, response.reason) == (404, 'Not Found')
        assert response.body is None  # content-length: 0, folded
        response = conn.delete('/d', {})
        assert response.body.read() == b'you sent DELETE /d'
        conn.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(PATIENCE)
    seen = StdlibHandler.seen
    assert len(seen) == 7
    # All on one keep-alive connection.
    assert len({client_address for (client_address, *rest) in seen}) == 1
    assert [s[1] for s in seen] == ['GET', 'PUT', 'POST', 'HEAD', 'GET', 'GET',
                                    'DELETE']
    host = '127.0.0.1:{}'.format(address[1])
    assert seen[0][3] == {'accept': 'text/plain', 'host': host}
    assert seen[1][3] == {'content-length': '12', 'host': host}
    assert seen[1][4] == b'hello, world'
    assert seen[2][3] == {'transfer-encoding': 'chunked', 'host': host}
    assert seen[2][4] == ([b'5;k=v\r\n', b'2\r\n', b'5;key2=Value.2\r\n',
                           b'0;end=yes\r\n'], b'hello, world')
    assert seen[3][4] is None


# ---------------------------------------------------------------------------
# Interop: curl

def _curl(live: Live, family: str, *args: str) -> bytes:
    if family == 'inet':
        base = 'http://127.0.0.1:{}'.format(live.address[1])
        extra = []
    elif family == 'inet6':
        base = 'http://[::1]:{}'.format(live.address[1])
        extra = ['-g']
    elif family == 'unix':
        base = 'http://localhost'
        extra = ['--unix-socket', live.address]
    else:
        base = 'http://localhost'
        extra = ['--abstract-unix-socket', live.address[1:].decode()]
    assert CURL is not None
    cmd = [CURL, '-sS', '--http1.1', '--max-time', str(PATIENCE)] + extra
    cmd += [a.replace('URL', base) for a in args]
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=2 * PATIENCE).stdout


@pytest.mark.skipif(CURL is None, reason='curl not installed')
def test_curl(serve: Callable[..., Live], family: str, tmpdir_short: str) -> None:
    def respond(session: Session, request: Request, api: Any) -> Any:
        if request.method == 'HEAD':
            return (200, 'OK', {'content-length': 12}, None)
        if request.path == ['chunked']:
            return (200, 'OK', {}, api.ChunkedBodyIter(list(CHUNKS)))
        if request.path == ['nope']:
            # Not None: a generic HTTP/1.1 client reads a response without
            # a framing header until the connection closes.
            return (404, 'Not Found', {}, b'')
        return (200, 'OK', {'x-n': str(session.requests)}, b'hello, world')

    app = Recorder(respond)
    live = serve(app)
    # Three URLs in one curl run share one keep-alive connection.
    out = _curl(live, family, '-i', 'URL/a', 'URL/nope', 'URL/chunked')
    assert out == (
        b'HTTP/1.1 200 OK\r\ncontent-length: 12\r\nx-n: 0\r\n\r\nhello, world'
        b'HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n'
        b'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nhello, world'
    )
    if family != 'abstract':
        # (curl 7.88 never reuses a connection to an abstract socket.)
        assert [info['requests'] for info in app.seen] == [0, 1, 2]
        assert all(info['session'] is app.seen[0]['session'] for info in app.seen)
    assert app.seen[0]['headers']['accept'] == '*/*'
    assert app.seen[0]['headers']['user-agent'].startswith('curl/')

    out = _curl(live, family, '-I', 'URL/h')
    assert out == b'HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\n'
    assert app.seen[-1]['method'] == 'HEAD'

    out = _curl(live, family, '--data-binary', 'posted data', 'URL/p')
    assert out == b'hello, world'
    assert app.seen[-1]['method'] == 'POST'
    assert app.seen[-1]['body'] == ('Body', 11, b'posted data')

    # A bigger chunked upload (curl may ask for 100-continue first).
    filename = os.path.join(tmpdir_short, 'upload')
    blob = b'0123456789abcdef' * 4096
    with open(filename, 'wb') as fp:
        fp.write(blob)
    out = _curl(live, family, '-X', 'PUT', '-H', 'Transfer-Encoding: chunked',
                '--data-binary', '@' + filename, 'URL/up')
    assert out == b'hello, world'
    info = app.seen[-1]
    assert info['method'] == 'PUT'
    assert info['body'][0] == 'ChunkedBody'
    assert b''.join(data for (ext, data) in info['body'][1]) == blob
    out = _curl(live, family, '-T', filename, 'URL/up2')
    assert out == b'hello, world'
    assert app.seen[-1]['body'] == ('Body', len(blob), blob)


# ---------------------------------------------------------------------------
# The RGI response contract, case by case (test_degu/contract_cases.py):
# the server sends what the contract accepts and answers 500 to the rest.
# test_rgi.py holds rgi.Validator to the very same table.

from test_degu.contract_cases import ACCEPTED, REFUSED, by_name, contract_app  # noqa: E402


def _contract_request(live: Live, case: Any) -> Tuple[Response, Any]:
    """The response to *case*, and its body read (or None)."""
    conn = live.connect()
    try:
        body = b'hello' if case.method == 'PUT' else None
        response = conn.request(case.method, '/' + case.name, {}, body)
        return (response, None if response.body is None else consume(response.body))
    finally:
        conn.close()


@pytest.mark.parametrize('case', by_name(ACCEPTED))
def test_contract_accepted_by_the_server(serve: Callable[..., Live], case: Any) -> None:
    live = serve(contract_app)
    (response, _body) = _contract_request(live, case)
    assert response.status == case.respond(api)[0]


@pytest.mark.parametrize('case', by_name(REFUSED))
def test_contract_refused_by_the_server(serve: Callable[..., Live], case: Any) -> None:
    live = serve(contract_app)
    (response, _body) = _contract_request(live, case)
    headers = {'content-length': 0} if case.method == 'HEAD' else {}
    assert response == Response(500, 'Internal Server Error', headers, None)
