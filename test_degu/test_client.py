# SPDX-License-Identifier: LGPL-3.0-or-later
"""Unit tests for degu.client: Client and Connection (SPEC §9, §10.4).

``Connection`` is driven through a fake socket that records every ``send()``
and replays canned response bytes, so the exact bytes on the wire (and the
number of ``send()`` calls) can be checked.  ``Client.create_socket()`` is
checked against plain listening sockets on loopback and AF_UNIX.
"""

import io
import os
import shutil
import socket
import tempfile
from typing import Any, Iterator, List, Optional

import pytest

from degu import client
from degu.base import (
    BODY_CONSUMED,
    BODY_ERROR,
    Body,
    BodyIter,
    ChunkedBody,
    ChunkedBodyIter,
    EmptyPreambleError,
    Range,
    TYPE_ERROR,
    TYPE_ERROR2,
    api,
)
from degu.client import Client, Connection, Response
from degu.errors import ConnectionClosedError
from test_degu.helpers import HAVE_IPV6

HAVE_ABSTRACT = os.uname().sysname == 'Linux'


class FakeSock:
    """Records what is sent; ``recv_into`` replays *data* (then EOF)."""

    def __init__(self, data: bytes = b'', close_result: Any = None,
                 close_error: Optional[Exception] = None,
                 max_recv: int = 0) -> None:
        self._rfile = io.BytesIO(data)
        self._max_recv = max_recv  # when > 0, recv_into() returns at most this
        self.sent: List[bytes] = []
        self.close_calls = 0
        self._close_result = close_result
        self._close_error = close_error

    def recv_into(self, buf: Any) -> int:
        if self._max_recv:
            buf = buf[:self._max_recv]
        return self._rfile.readinto(buf)

    def send(self, data: Any) -> int:
        self.sent.append(bytes(data))
        return len(data)

    def close(self) -> Any:
        self.close_calls += 1
        if self._close_error is not None:
            raise self._close_error
        return self._close_result

    @property
    def wire(self) -> bytes:
        return b''.join(self.sent)


OK = b'HTTP/1.1 200 OK\r\n\r\n'


def test_all() -> None:
    assert client.__all__ == ('Client', 'SSLClient', 'Connection', 'Response')


def test_response() -> None:
    assert Response._fields == ('status', 'reason', 'headers', 'body')
    assert repr(Response(404, 'Not Found', {}, None)) == (
        "Response(status=404, reason='Not Found', headers={}, body=None)"
    )


# ---------------------------------------------------------------------------
# Connection: constructor, attributes, close()

def test_connection_init() -> None:
    sock = FakeSock()
    conn = Connection(sock, None)
    assert conn.sock is sock
    assert conn.base_headers is None
    assert conn.closed is False
    assert conn.api is api
    assert conn.bodies is api
    base = (('host', 'example.com'),)
    conn = Connection(FakeSock(), base)
    assert conn.base_headers is base


@pytest.mark.parametrize('name', ['closed', 'api', 'bodies'])
def test_connection_read_only(name: str) -> None:
    conn = Connection(FakeSock(), None)
    with pytest.raises(AttributeError):
        setattr(conn, name, 1)


@pytest.mark.parametrize('base', [[('host', 'x')], {'host': 'x'}, 'host: x', 0])
def test_connection_bad_base_headers(base: Any) -> None:
    sock = FakeSock()
    with pytest.raises(TypeError) as cm:
        Connection(sock, base)
    assert str(cm.value) == TYPE_ERROR2.format('base_headers', tuple, type(base))
    assert sock.close_calls == 1  # a failed constructor closes the socket


def test_connection_bad_base_headers_real_socket() -> None:
    (a, b) = socket.socketpair()
    bad: Any = []
    with pytest.raises(TypeError):
        Connection(a, bad)
    assert a.fileno() == -1
    b.close()


class NoRecvInto:
    def __init__(self) -> None:
        self.close_calls = 0

    def close(self) -> None:
        self.close_calls += 1

    def send(self, data: bytes) -> int:
        return len(data)


class NotCallable(NoRecvInto):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.recv_into = FakeSock().recv_into
        setattr(self, name, 'not callable')


def test_connection_sock_missing_method() -> None:
    sock = NoRecvInto()
    with pytest.raises(AttributeError):
        Connection(sock, None)
    assert sock.close_calls == 1
    with pytest.raises(AttributeError):
        Connection(object(), None)


@pytest.mark.parametrize('name', ['recv_into', 'send'])
def test_connection_sock_not_callable(name: str) -> None:
    sock = NotCallable(name)
    with pytest.raises(TypeError) as cm:
        Connection(sock, None)
    assert str(cm.value) == 'sock.{}() is not callable'.format(name)
    assert sock.close_calls == 1


class CloseNotCallable:
    close = 'not callable'

    def recv_into(self, buf: Any) -> int:
        return 0

    def send(self, data: Any) -> int:
        return len(data)


def test_connection_sock_close_not_callable() -> None:
    with pytest.raises(TypeError) as cm:
        Connection(CloseNotCallable(), None)
    assert str(cm.value) == 'sock.close() is not callable'


def test_connection_close() -> None:
    marker = object()
    sock = FakeSock(close_result=marker)
    conn = Connection(sock, None)
    assert conn.close() is marker
    assert conn.closed is True
    assert sock.close_calls == 1
    assert conn.close() is None
    assert conn.close() is None
    assert sock.close_calls == 1


def test_connection_close_raises() -> None:
    sock = FakeSock(close_error=OSError('boom'))
    conn = Connection(sock, None)
    with pytest.raises(OSError) as cm:
        conn.close()
    assert str(cm.value) == 'boom'
    assert conn.closed is True
    assert conn.close() is None
    assert sock.close_calls == 1


def test_connection_request_when_closed() -> None:
    sock = FakeSock(OK)
    conn = Connection(sock, None)
    conn.close()
    for _ in range(2):
        with pytest.raises(ValueError) as cm:
            conn.request('GET', '/', {}, None)
        assert str(cm.value) == 'Connection is closed'
    with pytest.raises(ValueError) as cm:
        conn.get('/', {})
    assert str(cm.value) == 'Connection is closed'
    assert sock.sent == []
    assert sock.close_calls == 1


# ---------------------------------------------------------------------------
# Connection.request(): what goes on the wire

BODY = b'hello, world'


def _make_body(kind: str) -> Any:
    if kind == 'bytes':
        return BODY
    if kind == 'bytearray':
        return bytearray(BODY)
    if kind == 'Body':
        return Body(io.BytesIO(BODY), len(BODY))
    if kind == 'BodyIter':
        return BodyIter([b'hello', b'', b', world'], len(BODY))
    if kind == 'ChunkedBody':
        return ChunkedBody(io.BytesIO(b'5;k=v\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n'))
    assert kind == 'ChunkedBodyIter'
    return ChunkedBodyIter([(('k', 'v'), b'hello'), (None, b', world'),
                            (None, b'')])


LENGTH_WIRE = b'content-length: 12\r\n\r\nhello, world'
CHUNKED_WIRE = (b'transfer-encoding: chunked\r\n\r\n'
                b'5;k=v\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n')


@pytest.mark.parametrize('method', ['PUT', 'POST'])
@pytest.mark.parametrize('kind, tail', [
    ('bytes', LENGTH_WIRE),
    ('bytearray', LENGTH_WIRE),
    ('Body', LENGTH_WIRE),
    ('BodyIter', LENGTH_WIRE),
    ('ChunkedBody', CHUNKED_WIRE),
    ('ChunkedBodyIter', CHUNKED_WIRE),
])
def test_request_bodies_on_wire(method: str, kind: str, tail: bytes) -> None:
    sock = FakeSock(OK)
    conn = Connection(sock, (('host', 'example.com'),))
    headers: dict = {}
    body = _make_body(kind)
    response = conn.request(method, '/foo?bar', headers, body)
    assert response == Response(200, 'OK', {}, None)
    start = method.encode() + b' /foo?bar HTTP/1.1\r\n'
    if kind == 'ChunkedBody' or kind == 'ChunkedBodyIter':
        # Headers are sorted: host < transfer-encoding.
        want = start + b'host: example.com\r\n' + tail
        assert headers == {'transfer-encoding': 'chunked', 'host': 'example.com'}
    else:
        # content-length < host.
        want = start + tail[:20] + b'host: example.com\r\n' + tail[20:]
        assert headers == {'content-length': 12, 'host': 'example.com'}
    assert sock.wire == want
    # The whole (small) message goes out in one send().
    assert len(sock.sent) == 1
    if kind not in ('bytes', 'bytearray'):
        assert body.state == BODY_CONSUMED
    assert conn.closed is False


@pytest.mark.parametrize('method', ['GET', 'HEAD', 'DELETE', 'PUT', 'POST'])
def test_request_no_body_on_wire(method: str) -> None:
    sock = FakeSock(OK)
    conn = Connection(sock, None)
    headers: dict = {'x-stuff': 'junk'}
    response = conn.request(method, '/', headers, None)
    assert response == Response(200, 'OK', {}, None)
    assert sock.sent == [method.encode() + b' / HTTP/1.1\r\nx-stuff: junk\r\n\r\n']
    assert headers == {'x-stuff': 'junk'}


def test_request_shortcuts_on_wire() -> None:
    sock = FakeSock(OK * 6)
    conn = Connection(sock, None)
    assert conn.get('/a', {}).status == 200
    assert conn.head('/b', {}).status == 200
    assert conn.delete('/c', {}).status == 200
    assert conn.put('/d', {}, b'1').status == 200
    assert conn.post('/e', {}, b'2').status == 200
    assert conn.get_range('/f', {}, 16, 21).status == 200
    assert sock.sent == [
        b'GET /a HTTP/1.1\r\n\r\n',
        b'HEAD /b HTTP/1.1\r\n\r\n',
        b'DELETE /c HTTP/1.1\r\n\r\n',
        b'PUT /d HTTP/1.1\r\ncontent-length: 1\r\n\r\n1',
        b'POST /e HTTP/1.1\r\ncontent-length: 1\r\n\r\n2',
        b'GET /f HTTP/1.1\r\nrange: bytes=16-20\r\n\r\n',
    ]


def test_request_base_headers_override() -> None:
    sock = FakeSock(OK)
    base = (('authorization', 'Basic Zm9vOmJhcg=='), ('host', 'example.com'))
    conn = Connection(sock, base)
    headers = {'host': 'other.example.com', 'accept': 'text/plain'}
    conn.get('/', headers)
    # The caller's dict is mutated; base headers win.
    assert headers == {'host': 'example.com', 'accept': 'text/plain',
                       'authorization': 'Basic Zm9vOmJhcg=='}
    assert sock.wire == (
        b'GET / HTTP/1.1\r\naccept: text/plain\r\n'
        b'authorization: Basic Zm9vOmJhcg==\r\nhost: example.com\r\n\r\n'
    )


def test_get_range_headers() -> None:
    sock = FakeSock(OK * 2)
    conn = Connection(sock, None)
    headers: dict = {}
    conn.get_range('/', headers, 0, 1)
    assert headers == {'range': Range(0, 1)}
    assert type(headers['range']) is Range
    # An equal range given by the caller is fine (str compares too).
    conn.get_range('/', {'range': 'bytes=2-4'}, 2, 5)
    assert sock.sent[-1] == b'GET / HTTP/1.1\r\nrange: bytes=2-4\r\n\r\n'


def test_get_range_mismatch_does_not_close() -> None:
    sock = FakeSock(OK)
    conn = Connection(sock, None)
    with pytest.raises(ValueError) as cm:
        conn.get_range('/', {'range': 'bytes=0-0'}, 2, 5)
    assert str(cm.value) == "'range' mismatch: Range(2, 5) != 'bytes=0-0'"
    # Set outside the close-on-error block: the connection is still usable.
    assert conn.closed is False
    assert sock.sent == []
    with pytest.raises(ValueError) as cm:
        conn.get_range('/', {}, 5, 5)
    assert str(cm.value) == 'need start < stop; got 5 >= 5'
    assert conn.closed is False
    assert conn.get('/', {}).status == 200


# ---------------------------------------------------------------------------
# Connection.request(): what comes back

def test_response_length_body() -> None:
    sock = FakeSock(b'HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\nhello, world' + OK)
    conn = Connection(sock, None)
    response = conn.get('/', {})
    assert repr(response) == (
        "Response(status=200, reason='OK', headers={'content-length': 12}, "
        "body=Body(<reader>, 12))"
    )
    assert type(response) is Response
    assert type(response.body) is Body
    assert response.body.read() == b'hello, world'
    assert response.body.state == BODY_CONSUMED
    assert conn.get('/', {}) == Response(200, 'OK', {}, None)


def test_response_not_found() -> None:
    sock = FakeSock(b'HTTP/1.1 404 Not Found\r\n\r\n')
    conn = Connection(sock, None)
    response = conn.get('/nope', {})
    assert repr(response) == (
        "Response(status=404, reason='Not Found', headers={}, body=None)"
    )


def test_response_chunked_body() -> None:
    sock = FakeSock(
        b'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nx-y: z\r\n\r\n'
        b'5;a=b\r\nhello\r\n1\r\n,\r\n6;c=d\r\n world\r\n0;e=f\r\n\r\n' + OK
    )
    conn = Connection(sock, None)
    response = conn.get('/', {})
    assert response.headers == {'transfer-encoding': 'chunked', 'x-y': 'z'}
    assert repr(response.body) == 'ChunkedBody(<reader>)'
    assert list(response.body) == [
        (('a', 'b'), b'hello'), (None, b','), (('c', 'd'), b' world'),
        (('e', 'f'), b''),
    ]
    assert conn.get('/', {}).status == 200


def test_response_to_head_has_no_body() -> None:
    sock = FakeSock(
        b'HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\n'
        b'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n'
        b'HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc'
    )
    conn = Connection(sock, None)
    assert conn.head('/', {}) == Response(200, 'OK', {'content-length': 12}, None)
    assert conn.head('/', {}) == Response(
        200, 'OK', {'transfer-encoding': 'chunked'}, None
    )
    assert conn.get('/', {}).body.read() == b'abc'


def test_response_many_buffered() -> None:
    # Responses arriving together are read one at a time from the buffer.
    count = 50
    data = b''.join(
        b'HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s' % (len(str(i)), str(i).encode())
        for i in range(count)
    )
    sock = FakeSock(data)
    conn = Connection(sock, None)
    for i in range(count):
        assert conn.get('/', {}).body.read() == str(i).encode()
    with pytest.raises(EmptyPreambleError) as cm:
        conn.get('/', {})
    assert str(cm.value) == 'response preamble is empty'
    assert conn.closed is True


@pytest.mark.parametrize('max_recv', [1, 2, 3, 5, 7, 13])
def test_responses_split_everywhere(max_recv: int) -> None:
    # The socket returns a few bytes per recv_into(): every boundary of
    # the status line, headers, chunk lines and data falls mid-read.
    data = (
        b'HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\nhello, world'
        b'HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\nx-a: b\r\n\r\n'
        b'5;k=v\r\nhello\r\n7\r\n, world\r\n0;end=yes\r\n\r\n'
        b'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n'
        b'HTTP/1.1 404 Not Found\r\n\r\n'
        b'HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc'
    )
    conn = Connection(FakeSock(data, max_recv=max_recv), None)
    assert conn.get('/', {}).body.read() == b'hello, world'
    response = conn.get('/', {})
    assert (response.status, response.reason) == (201, 'Created')
    assert response.headers == {'transfer-encoding': 'chunked', 'x-a': 'b'}
    assert list(response.body) == [(('k', 'v'), b'hello'), (None, b', world'),
                                   (('end', 'yes'), b'')]
    assert conn.head('/', {}) == Response(200, 'OK', {'content-length': 5}, None)
    assert conn.get('/', {}) == Response(404, 'Not Found', {}, None)
    body = conn.get('/', {}).body
    assert body.read(1) == b'a'
    assert body.read(5) == b'bc'
    assert body.read(5) == b''
    assert body.state == BODY_CONSUMED
    with pytest.raises(EmptyPreambleError):
        conn.get('/', {})


# ---------------------------------------------------------------------------
# Connection.request(): errors close the connection

def _assert_closed(conn: Connection, sock: FakeSock) -> None:
    assert conn.closed is True
    assert sock.close_calls == 1
    sent = list(sock.sent)
    with pytest.raises(ValueError) as cm:
        conn.get('/', {})
    assert str(cm.value) == 'Connection is closed'
    assert sock.sent == sent


@pytest.mark.parametrize('method', [b'GET', None, 1])
def test_request_method_type(method: Any) -> None:
    # The original Degu's behaviour: a TypeError naming the type.
    sock = FakeSock(OK)
    conn = Connection(sock, None)
    with pytest.raises(TypeError) as cm:
        conn.request(method, '/', {}, None)
    assert str(cm.value) == TYPE_ERROR.format('method', str, type(method), method)
    assert sock.sent == []
    _assert_closed(conn, sock)


@pytest.mark.parametrize('method', ['get', 'OPTIONS', 'PATCH', ''])
def test_request_bad_method(method: str) -> None:
    sock = FakeSock(OK)
    conn = Connection(sock, None)
    with pytest.raises(ValueError) as cm:
        conn.request(method, '/', {}, None)
    assert str(cm.value) == 'bad method: {!r}'.format(method)
    assert sock.sent == []
    _assert_closed(conn, sock)


@pytest.mark.parametrize('method', ['GET', 'HEAD', 'DELETE'])
@pytest.mark.parametrize('body', [b'', b'x', bytearray(b'x'),
                                  BodyIter([], 0), 'str'])
def test_request_body_not_allowed(method: str, body: Any) -> None:
    sock = FakeSock(OK)
    conn = Connection(sock, None)
    with pytest.raises(ValueError) as cm:
        conn.request(method, '/', {}, body)
    assert str(cm.value) == 'when method is {!r}, body must be None; got a {!r}'.format(
        method, type(body)
    )
    assert sock.sent == []
    _assert_closed(conn, sock)


@pytest.mark.parametrize('body', ['str', 17, [b'x'], io.BytesIO(b'x')])
def test_request_bad_body_type(body: Any) -> None:
    sock = FakeSock(OK)
    conn = Connection(sock, None)
    headers: dict = {}
    with pytest.raises(TypeError) as cm:
        conn.post('/', headers, body)
    assert str(cm.value) == 'bad body type: {!r}: {!r}'.format(type(body), body)
    assert sock.sent == []
    assert headers == {}
    _assert_closed(conn, sock)


@pytest.mark.parametrize('data, repr_body', [
    (b'HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc', 'Body(<reader>, 3)'),
    (b'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n',
     'ChunkedBody(<reader>)'),
])
def test_request_previous_body_not_consumed(data: bytes, repr_body: str) -> None:
    sock = FakeSock(data + OK)
    conn = Connection(sock, None)
    conn.get('/', {})
    with pytest.raises(ValueError) as cm:
        conn.get('/', {})
    assert str(cm.value) == 'response body not consumed: ' + repr_body
    assert len(sock.sent) == 1
    _assert_closed(conn, sock)


def test_request_previous_body_partly_read() -> None:
    sock = FakeSock(b'HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc' + OK)
    conn = Connection(sock, None)
    body = conn.get('/', {}).body
    assert body.read(3) == b'abc'  # stays STARTED until a read returns b''
    with pytest.raises(ValueError) as cm:
        conn.get('/', {})
    assert str(cm.value) == 'response body not consumed: Body(<reader>, 3)'
    _assert_closed(conn, sock)


@pytest.mark.parametrize('headers, message', [
    ({'Host': 'x'}, "bad key: 'Host'"),
    ({'x': ''}, "bad val: ''"),
    ({'x': 'a\r\nb'}, "bad val: 'a\\r\\nb'"),
    ({'content-length': 5}, "'content-length' mismatch: 12 != 5"),
    ({'transfer-encoding': 'chunked'},
     'cannot have both content-length and transfer-encoding headers'),
])
def test_request_bad_headers(headers: Any, message: str) -> None:
    sock = FakeSock(OK)
    conn = Connection(sock, None)
    with pytest.raises(ValueError) as cm:
        conn.post('/', headers, b'hello, world')
    assert str(cm.value) == message
    assert sock.sent == []
    _assert_closed(conn, sock)


@pytest.mark.parametrize('data, error, message', [
    (b'', EmptyPreambleError, 'response preamble is empty'),
    # SPEC §4.1: the message shows the first 32 bytes *received*, never the
    # unused (or stale, from an earlier message) rest of the read buffer.
    (b'HTTP/1.1 200 OK\r\n', ValueError,
     "b'\\r\\n\\r\\n' not found in b'HTTP/1.1 200 OK\\r\\n'..."),
    (b'HTTP/1.0 200 OK\r\n\r\n', ValueError,
     "bad response line: b'HTTP/1.0 200 OK'"),
    (b'HTTP/1.1 200 OK\r\nrange: bytes=0-0\r\n\r\n', ValueError,
     "response cannot include a 'range' header"),
    (b'HTTP/1.1 200 OK\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\n',
     ValueError, "duplicate header: b'content-length: 1'"),
])
def test_request_bad_response(data: bytes, error: type, message: str) -> None:
    sock = FakeSock(data)
    conn = Connection(sock, None)
    with pytest.raises(error) as cm:
        conn.get('/', {})
    assert str(cm.value) == message
    _assert_closed(conn, sock)


def test_request_send_error() -> None:
    class Sock(FakeSock):
        def send(self, data: Any) -> int:
            raise BrokenPipeError(32, 'Broken pipe')
    sock = Sock(OK)
    conn = Connection(sock, None)
    with pytest.raises(BrokenPipeError):
        conn.get('/', {})
    _assert_closed(conn, sock)


def test_request_body_source_error() -> None:
    def source() -> Iterator[bytes]:
        yield b'x'
        raise ZeroDivisionError('oops')
    sock = FakeSock(OK)
    conn = Connection(sock, None)
    body = BodyIter(source(), 2)
    with pytest.raises(ZeroDivisionError):
        conn.post('/', {}, body)
    assert body.state == BODY_ERROR
    _assert_closed(conn, sock)


def test_response_body_short_closes_connection() -> None:
    sock = FakeSock(b'HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello')
    conn = Connection(sock, None)
    body = conn.get('/', {}).body
    assert conn.closed is False
    with pytest.raises(ValueError) as cm:
        body.read()
    assert str(cm.value) == 'expected to read 10 bytes, but received 5'
    assert body.state == BODY_ERROR
    # A failing body on the live reader closes the connection (SPEC §6).
    assert conn.closed is True
    with pytest.raises(ValueError) as cm:
        conn.get('/', {})
    assert str(cm.value) == 'Connection is closed'


def test_response_bad_chunk_closes_connection() -> None:
    sock = FakeSock(b'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n'
                    b'5\r\nhelloXX0\r\n\r\n')
    conn = Connection(sock, None)
    body = conn.get('/', {}).body
    with pytest.raises(ValueError) as cm:
        body.readchunk()
    assert str(cm.value) == "bad chunk data termination: b'XX'"
    assert conn.closed is True


# ---------------------------------------------------------------------------
# Client attributes

@pytest.mark.parametrize('address, host', [
    (('127.0.0.1', 5984), '127.0.0.1:5984'),
    (('127.0.0.1', 80), '127.0.0.1'),
    (('example.com', 80), 'example.com'),
    (('::1', 5984), '[::1]:5984'),
    (('::1', 5984, 0, 0), '[::1]:5984'),
    (('fe80::1', 80, 0, 3), '[fe80::1]'),
    ('/tmp/my.sock', None),
    (b'', None),
    (b'\x00degu', None),
])
def test_client_default_host(address: Any, host: Optional[str]) -> None:
    c = Client(address)
    assert c.address is address
    assert c.options == {}
    assert c.host == host
    assert c.authorization is None
    assert c.timeout == 65
    assert c.on_connect is None
    if host is None:
        assert c.base_headers is None
    else:
        assert c.base_headers == (('host', host),)
    assert repr(c) == 'Client({!r})'.format(address)


def test_client_options() -> None:
    def hook(conn: Connection) -> bool:
        return True
    options = {'host': 'example.com', 'authorization': 'Basic abc=',
               'timeout': 1.5, 'on_connect': hook}
    c = Client(('127.0.0.1', 5984), **options)
    assert c.options == options
    assert c.host == 'example.com'
    assert c.authorization == 'Basic abc='
    assert c.timeout == 1.5
    assert c.on_connect is hook
    # authorization first, then host
    assert c.base_headers == (('authorization', 'Basic abc='),
                              ('host', 'example.com'))
    c = Client(('127.0.0.1', 5984), host=None, timeout=None)
    assert c.host is None
    assert c.base_headers is None
    assert c.timeout is None
    c = Client('/tmp/my.sock', authorization='Bearer xyz')
    assert c.base_headers == (('authorization', 'Bearer xyz'),)


@pytest.mark.parametrize('options, message', [
    ({'foo': 1}, 'unsupported Client() **options: foo'),
    ({'ssl_host': 'x'}, 'unsupported Client() **options: ssl_host'),
    ({'timeout': 1, 'zz': 0, 'aa': 0}, 'unsupported Client() **options: aa, zz'),
])
def test_client_unknown_options(options: Any, message: str) -> None:
    with pytest.raises(TypeError) as cm:
        Client(('127.0.0.1', 80), **options)
    assert str(cm.value) == message


@pytest.mark.parametrize('options, name, wanted', [
    ({'timeout': '5'}, 'timeout', (int, float, type(None))),
    ({'host': 5}, 'host', (str, type(None))),
    ({'authorization': b'x'}, 'authorization', (str, type(None))),
])
def test_client_option_types_checked_at_construction(options: Any, name: str,
                                                     wanted: Any) -> None:
    value = options[name]
    with pytest.raises(TypeError) as cm:
        Client(('127.0.0.1', 80), **options)
    assert str(cm.value) == TYPE_ERROR.format(name, wanted, type(value), value)


@pytest.mark.parametrize('value', [17, 'hook', True])
def test_client_on_connect_not_callable(value: Any) -> None:
    with pytest.raises(TypeError) as cm:
        Client(('127.0.0.1', 80), on_connect=value)
    assert str(cm.value) == 'on_connect: not callable: {!r}'.format(value)


@pytest.mark.parametrize('address, error, message', [
    (('127.0.0.1',), ValueError, "address: must have 2 or 4 items; got ('127.0.0.1',)"),
    (('::1', 0, 0), ValueError, "address: must have 2 or 4 items; got ('::1', 0, 0)"),
    ('my.sock', ValueError, "address: bad socket filename: 'my.sock'"),
    ('/tmp/../my.sock', ValueError, "address: bad socket filename: '/tmp/../my.sock'"),
    (['127.0.0.1', 80], TypeError, TYPE_ERROR.format(
        'address', (tuple, str, bytes), list, ['127.0.0.1', 80])),
    (None, TypeError, TYPE_ERROR.format(
        'address', (tuple, str, bytes), type(None), None)),
])
def test_client_bad_address(address: Any, error: type, message: str) -> None:
    with pytest.raises(error) as cm:
        Client(address)
    assert str(cm.value) == message


def test_client_subclass_repr() -> None:
    class MyClient(Client):
        pass
    assert repr(MyClient(('127.0.0.1', 80))) == "MyClient(('127.0.0.1', 80))"
    with pytest.raises(TypeError) as cm:
        MyClient(('127.0.0.1', 80), foo=1)
    assert str(cm.value) == 'unsupported MyClient() **options: foo'


def test_set_base_header() -> None:
    c = Client(('127.0.0.1', 5984))
    c.set_base_header('x-token', 'abc')
    assert c.base_headers == (('host', '127.0.0.1:5984'), ('x-token', 'abc'))
    c.set_base_header('accept', 'text/plain')
    assert c.base_headers == (('accept', 'text/plain'), ('host', '127.0.0.1:5984'),
                              ('x-token', 'abc'))
    c.set_base_header('x-token', 'def')
    assert c.base_headers == (('accept', 'text/plain'), ('host', '127.0.0.1:5984'),
                              ('x-token', 'def'))
    for name in ('accept', 'host', 'x-token', 'not-there'):
        c.set_base_header(name, None)
    assert c.base_headers is None
    c.set_base_header('authorization', 'Basic x')
    assert c.base_headers == (('authorization', 'Basic x'),)


def test_set_base_header_errors() -> None:
    c = Client(('127.0.0.1', 5984))
    bad_name: Any = b'x'
    bad_value: Any = 17
    with pytest.raises(TypeError) as cm:
        c.set_base_header(bad_name, 'y')
    assert str(cm.value) == TYPE_ERROR.format('name', str, bytes, b'x')
    with pytest.raises(ValueError) as cm2:
        c.set_base_header('X-Token', 'y')
    assert str(cm2.value) == "name must be lowercase; got 'X-Token'"
    with pytest.raises(ValueError) as cm2:
        c.set_base_header('', 'y')
    assert str(cm2.value) == "name must be lowercase; got ''"
    with pytest.raises(TypeError) as cm:
        c.set_base_header('x-token', bad_value)
    assert str(cm.value) == TYPE_ERROR.format('value', str, int, 17)
    assert c.base_headers == (('host', '127.0.0.1:5984'),)


# ---------------------------------------------------------------------------
# Client.create_socket() and connect() against plain listening sockets

@pytest.fixture
def tmpdir_short() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix='degu.')
    yield path
    shutil.rmtree(path)


def _listener(family: int, address: Any) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.bind(address)
    sock.listen(5)
    return sock


def test_create_socket_inet() -> None:
    with _listener(socket.AF_INET, ('127.0.0.1', 0)) as listener:
        c = Client(listener.getsockname())
        sock = c.create_socket()
        try:
            assert sock.family == socket.AF_INET
            assert sock.getpeername() == listener.getsockname()
            assert sock.gettimeout() == 65
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        finally:
            sock.close()
        sock = Client(listener.getsockname(), timeout=None).create_socket()
        assert sock.gettimeout() is None
        sock.close()
        port = listener.getsockname()[1]
        sock = Client(('localhost', port), timeout=2).create_socket()
        assert sock.gettimeout() == 2
        sock.close()


@pytest.mark.skipif(not HAVE_IPV6, reason='no IPv6 loopback')
def test_create_socket_inet6() -> None:
    with _listener(socket.AF_INET6, ('::1', 0, 0, 0)) as listener:
        address = listener.getsockname()
        assert len(address) == 4
        sock = Client(address, timeout=3).create_socket()
        try:
            assert sock.family == socket.AF_INET6
            assert sock.getpeername()[:2] == address[:2]
            assert sock.gettimeout() == 3
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        finally:
            sock.close()
        # A 2-tuple with an IPv6 host goes through create_connection().
        sock = Client(address[:2]).create_socket()
        assert sock.family == socket.AF_INET6
        sock.close()


def test_create_socket_unix(tmpdir_short: str) -> None:
    filename = os.path.join(tmpdir_short, 's')
    with _listener(socket.AF_UNIX, filename) as listener:
        sock = Client(filename, timeout=4).create_socket()
        try:
            assert sock.family == socket.AF_UNIX
            assert sock.getpeername() == filename
            assert sock.gettimeout() == 4
            if hasattr(socket, 'SO_PASSCRED'):
                assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED) == 1
        finally:
            sock.close()
        listener.close()


@pytest.mark.skipif(not HAVE_ABSTRACT, reason='abstract AF_UNIX needs Linux')
def test_create_socket_abstract() -> None:
    with _listener(socket.AF_UNIX, b'') as listener:
        address = listener.getsockname()
        sock = Client(address).create_socket()
        try:
            assert sock.family == socket.AF_UNIX
            assert sock.getpeername() == address
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED) == 1
        finally:
            sock.close()


def test_create_socket_refused(tmpdir_short: str) -> None:
    with pytest.raises(FileNotFoundError):
        Client(os.path.join(tmpdir_short, 'nothing')).create_socket()
    with _listener(socket.AF_INET, ('127.0.0.1', 0)) as listener:
        address = listener.getsockname()
    with pytest.raises(ConnectionRefusedError):
        Client(address).connect()


def test_connect() -> None:
    with _listener(socket.AF_INET, ('127.0.0.1', 0)) as listener:
        c = Client(listener.getsockname(), authorization='Basic x')
        conn1 = c.connect()
        conn2 = c.connect()
        try:
            assert type(conn1) is Connection
            assert conn1 is not conn2
            assert conn1.sock is not conn2.sock
            assert conn1.base_headers is c.base_headers
            assert conn1.closed is False
        finally:
            conn1.close()
            conn2.close()


@pytest.mark.parametrize('result', [True, False, None, 1, 'yes'])
def test_connect_on_connect(result: Any) -> None:
    seen: List[Connection] = []

    def on_connect(conn: Connection) -> Any:
        seen.append(conn)
        assert conn.closed is False
        return result

    with _listener(socket.AF_INET, ('127.0.0.1', 0)) as listener:
        c = Client(listener.getsockname(), on_connect=on_connect)
        if result is True:
            conn = c.connect()
            assert seen == [conn]
            assert conn.closed is False
            conn.close()
        else:
            with pytest.raises(ValueError) as cm:
                c.connect()
            assert str(cm.value) == 'on_connect() did not return True'
            assert len(seen) == 1
            assert seen[0].closed is True
            assert seen[0].sock.fileno() == -1


def test_connect_on_connect_raises() -> None:
    seen: List[Connection] = []

    def on_connect(conn: Connection) -> bool:
        seen.append(conn)
        raise ZeroDivisionError('nope')

    with _listener(socket.AF_INET, ('127.0.0.1', 0)) as listener:
        c = Client(listener.getsockname(), on_connect=on_connect)
        with pytest.raises(ZeroDivisionError) as cm:
            c.connect()
        assert str(cm.value) == 'nope'
        assert seen[0].closed is True
        assert seen[0].sock.fileno() == -1


# ---------------------------------------------------------------------------
# What a server says about framing and the connection (issue 12)

def test_content_length_zero_folds_into_no_body() -> None:
    # How a server frames "no body": the caller sees just that.
    sock = FakeSock(b'HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n'
                    b'HTTP/1.1 200 OK\r\ncontent-length: 0\r\nx-a: b\r\n\r\n')
    conn = Connection(sock, None)
    assert conn.get('/', {}) == Response(404, 'Not Found', {}, None)
    assert conn.get('/', {}) == Response(200, 'OK', {'x-a': 'b'}, None)
    assert conn.closed is False


@pytest.mark.parametrize('status, method', [(204, 'GET'), (304, 'GET'), (200, 'HEAD')])
def test_no_body_after_204_304_head(status: int, method: str) -> None:
    # Whatever framing header they have describes another body: the next
    # bytes are the next response.
    first = 'HTTP/1.1 {} Xy\r\ncontent-length: 5\r\n\r\n'.format(status).encode()
    sock = FakeSock(first + b'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')
    conn = Connection(sock, None)
    response = conn.request(method, '/', {}, None)
    assert response == Response(status, 'Xy', {'content-length': 5}, None)
    assert conn.get('/', {}).body.read() == b'ok'


def test_connection_close_without_body() -> None:
    sock = FakeSock(b'HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n'
                    b'connection: close\r\n\r\n' + OK)
    conn = Connection(sock, None)
    # 'connection' is hop-by-hop: acted on, not passed up.
    assert conn.get('/', {}) == Response(400, 'Bad Request', {}, None)
    assert conn.closed is True
    assert sock.close_calls == 1
    with pytest.raises(ConnectionError) as cm:
        conn.get('/', {})
    assert type(cm.value) is ConnectionClosedError
    assert str(cm.value) == "Connection is closed: the server sent 'connection: close'"
    assert len(sock.sent) == 1


@pytest.mark.parametrize('read', [
    lambda body: body.read(),
    lambda body: [body.read(1) for _ in range(6)],
    lambda body: list(body),
    lambda body: body.write_to(io.BytesIO()),
])
def test_connection_close_after_the_body_is_read(read: Any) -> None:
    sock = FakeSock(b'HTTP/1.1 200 OK\r\nConnection: Close\r\ncontent-length: 5\r\n\r\n'
                    b'hello' + OK)
    conn = Connection(sock, None)
    response = conn.get('/', {})
    assert response.headers == {'content-length': 5}
    assert conn.closed is False  # the body is still to be read
    read(response.body)
    assert conn.closed is True
    assert sock.close_calls == 1
    with pytest.raises(ConnectionClosedError) as cm:
        conn.get('/', {})
    assert str(cm.value) == "Connection is closed: the server sent 'connection: close'"


def test_connection_close_chunked() -> None:
    sock = FakeSock(b'HTTP/1.1 200 OK\r\nconnection: keep-alive, close\r\n'
                    b'transfer-encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n')
    conn = Connection(sock, None)
    body = conn.get('/', {}).body
    assert body.readchunk() == (None, b'hi')
    assert conn.closed is False
    assert body.readchunk() == (None, b'')
    assert conn.closed is True


def test_connection_keep_alive_is_dropped() -> None:
    sock = FakeSock(b'HTTP/1.1 200 OK\r\nconnection: keep-alive\r\n\r\n' + OK)
    conn = Connection(sock, None)
    assert conn.get('/', {}) == Response(200, 'OK', {}, None)
    assert conn.get('/', {}) == Response(200, 'OK', {}, None)
    assert conn.closed is False
