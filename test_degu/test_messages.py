# SPDX-License-Identifier: LGPL-3.0-or-later
"""Tests for degu.messages: framing headers, reading and writing whole messages.

Reading uses a ``Reader`` over ``FakeSocket`` (whole, one byte per recv,
random splits) and a real ``socket.socketpair()``; writing checks the exact
bytes and the number of ``send()`` calls (a small message is one send).
"""

import io
import socket
from typing import Any, Dict

import pytest

from degu.bodies import Body, BodyIter, ChunkedBody, ChunkedBodyIter
from degu.errors import ConnectionClosedError, EmptyPreambleError, ProtocolError, UnsupportedError
from degu.limits import BUF_LEN, MAX_IO_SIZE
from degu.messages import (
    Response,
    ResponseType,
    read_request,
    read_response,
    set_default_header,
    set_output_headers,
    write_request,
    write_response,
)
from degu.ranges import ContentRange, Range
from degu.sockio import Stream
from test_degu.test_bodies import CHUNKED, CHUNKS
from test_degu.test_sockio import SPLITS, FakeSocket, check_error, fake_reader


class MyBytes(bytes):
    pass


# ---------------------------------------------------------------------------
# Response

def test_response() -> None:
    assert ResponseType is Response
    assert Response._fields == ('status', 'reason', 'headers', 'body')
    assert issubclass(Response, tuple)
    r: Any = Response(200, 'OK', {}, None)
    assert r == (200, 'OK', {}, None)
    assert (r.status, r.reason, r.headers, r.body) == (200, 'OK', {}, None)
    assert repr(r) == "Response(status=200, reason='OK', headers={}, body=None)"


# ---------------------------------------------------------------------------
# set_default_header()

def test_set_default_header_inserts() -> None:
    headers = {'a': 'b'}
    set_default_header(headers, 'content-length', 12)
    assert headers == {'a': 'b', 'content-length': 12}


@pytest.mark.parametrize('existing, val', [
    (12, 12),
    ('chunked', 'chunked'),
    (Range(1, 2), Range(1, 2)),
    (Range(1, 2), 'bytes=1-1'),  # Range compares equal to its str()
])
def test_set_default_header_equal(existing: Any, val: Any) -> None:
    headers = {'key': existing}
    set_default_header(headers, 'key', val)
    assert headers['key'] is existing  # left alone


@pytest.mark.parametrize('key, existing, val', [
    ('content-length', 12, 13),
    ('content-length', '12', 12),
    ('transfer-encoding', 'gzip', 'chunked'),
    ('range', Range(1, 3), Range(1, 2)),
])
def test_set_default_header_mismatch(key: Any, existing: Any, val: Any) -> None:
    headers = {key: existing}
    check_error(ValueError, '{!r} mismatch: {!r} != {!r}'.format(key, val, existing),
                set_default_header, headers, key, val)
    assert headers == {key: existing}


def test_set_default_header_spec_message() -> None:
    check_error(ValueError, "'content-length' mismatch: 3 != 4",
                set_default_header, {'content-length': 4}, 'content-length', 3)


def test_set_default_header_does_not_check_other_framing() -> None:
    headers = {'transfer-encoding': 'chunked'}
    set_default_header(headers, 'content-length', 3)
    assert headers == {'transfer-encoding': 'chunked', 'content-length': 3}


# ---------------------------------------------------------------------------
# set_output_headers(): SPEC 5.1

def bodies_table() -> Any:
    return [
        (b'hello', {'content-length': 5}),
        (b'', {'content-length': 0}),
        (bytearray(b'hello'), {'content-length': 5}),  # SPEC 13.6
        (Body(io.BytesIO(b'hello'), 5), {'content-length': 5}),
        (BodyIter([b'hello'], 5), {'content-length': 5}),
        (ChunkedBody(io.BytesIO(CHUNKED)), {'transfer-encoding': 'chunked'}),
        (ChunkedBodyIter(CHUNKS), {'transfer-encoding': 'chunked'}),
    ]


@pytest.mark.parametrize('index', range(7))
def test_set_output_headers(index: Any) -> None:
    (body, expected) = bodies_table()[index]
    headers = {'x': 'y'}
    set_output_headers(headers, body)
    assert headers == dict(expected, x='y')
    # Present and equal: fine, unchanged.
    set_output_headers(headers, body)
    assert headers == dict(expected, x='y')


@pytest.mark.parametrize('index', range(7))
def test_set_output_headers_mismatch(index: Any) -> None:
    (body, expected) = bodies_table()[index]
    [(key, val)] = expected.items()
    bad = 'gzip' if key == 'transfer-encoding' else val + 1
    headers = {key: bad}
    check_error(ValueError, '{!r} mismatch: {!r} != {!r}'.format(key, val, bad),
                set_output_headers, headers, body)
    assert headers == {key: bad}


@pytest.mark.parametrize('headers', [
    {},
    {'x': 'y'},
    {'content-length': 12},  # a HEAD response describes the entity
    {'transfer-encoding': 'chunked'},
])
def test_set_output_headers_none(headers: Any) -> None:
    copy = dict(headers)
    set_output_headers(headers, None)
    assert headers == copy


def test_set_output_headers_bytes_same_value_other_type() -> None:
    # 'content-length' given as the equal str is a mismatch (3 != '3').
    check_error(ValueError, "'content-length' mismatch: 3 != '3'",
                set_output_headers, {'content-length': '3'}, b'abc')


@pytest.mark.parametrize('body', [
    'hello',
    MyBytes(b'hello'),
    memoryview(b'hello'),
    [b'hello'],
    (None, b''),
    17,
    io.BytesIO(b'hello'),
    Body,
])
def test_set_output_headers_bad_body_type(body: Any) -> None:
    headers = {'x': 'y'}
    check_error(TypeError, 'bad body type: {!r}: {!r}'.format(type(body), body),
                set_output_headers, headers, body)
    assert headers == {'x': 'y'}  # untouched


@pytest.mark.parametrize('headers, body', [
    ({'content-length': 5, 'transfer-encoding': 'chunked'}, None),
    ({'transfer-encoding': 'chunked'}, b'hello'),
    ({'transfer-encoding': 'chunked'}, bytearray(b'hello')),
    ({'transfer-encoding': 'chunked'}, BodyIter([b'hello'], 5)),
    ({'content-length': 5}, ChunkedBodyIter(CHUNKS)),
    ({'content-length': 5}, ChunkedBody(io.BytesIO(CHUNKED))),
])
def test_set_output_headers_both_framing_headers(headers: Any, body: Any) -> None:
    # SPEC 13.8: output with both framing headers is refused.
    check_error(ValueError, 'cannot have both content-length and transfer-encoding headers',
                set_output_headers, headers, body)


# ---------------------------------------------------------------------------
# read_request(): SPEC 4.9

@pytest.mark.parametrize('split', SPLITS)
def test_read_request_no_body(split: Any) -> None:
    reader = fake_reader(b'GET /foo/bar?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n', split)
    request = read_request(reader)
    assert request == (
        'GET', '/foo/bar?x=1', {'host': 'example.com'}, None, ['foo', 'bar'], 'x=1'
    )
    assert type(request) is tuple
    # The client then closed: the normal end of a connection, not an error.
    assert read_request(reader) is None


@pytest.mark.parametrize('split', SPLITS)
@pytest.mark.parametrize('method', ['PUT', 'POST'])
def test_read_request_content_length(split: Any, method: Any) -> None:
    data = method.encode() + b' / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello'
    reader = fake_reader(data + b'GET / HTTP/1.1\r\n\r\n', split)
    (m, uri, headers, body, path, query) = read_request(reader)
    assert (m, uri, headers, path, query) == (method, '/', {'content-length': 5}, [], None)
    assert type(body) is Body
    assert body.rfile is reader
    assert body.content_length == 5
    assert repr(body) == 'Body(<reader>, 5)'
    assert body.read() == b'hello'
    assert read_request(reader)[:4] == ('GET', '/', {}, None)


@pytest.mark.parametrize('split', SPLITS)
@pytest.mark.parametrize('method', ['PUT', 'POST'])
def test_read_request_chunked(split: Any, method: Any) -> None:
    data = method.encode() + b' /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n'
    reader = fake_reader(data + CHUNKED + b'GET / HTTP/1.1\r\n\r\n', split)
    (m, uri, headers, body, path, query) = read_request(reader)
    assert (m, headers, path) == (method, {'transfer-encoding': 'chunked'}, ['up'])
    assert type(body) is ChunkedBody
    assert body.rfile is reader
    assert list(body) == CHUNKS
    assert read_request(reader)[:4] == ('GET', '/', {}, None)


def test_read_request_content_length_zero() -> None:
    reader = fake_reader(b'POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n')
    body = read_request(reader)[3]
    assert type(body) is Body
    assert body.content_length == 0
    assert body.state == 0  # still has to be consumed
    assert body.read() == b''
    assert body.state == 2


@pytest.mark.parametrize('method', ['GET', 'HEAD', 'DELETE'])
def test_read_request_content_length_zero_on_bodyless_method(method: Any) -> None:
    # "No body", said explicitly (requests sends it with DELETE): accepted,
    # and the app sees a request without a body or a framing header.
    reader = fake_reader(method.encode() + b' / HTTP/1.1\r\nContent-Length: 0\r\n\r\n'
                         + b'GET /next HTTP/1.1\r\n\r\n')
    assert read_request(reader) == (method, '/', {}, None, [], None)
    assert read_request(reader) == ('GET', '/next', {}, None, ['next'], None)


@pytest.mark.parametrize('method', ['PUT', 'POST'])
def test_read_request_content_length_zero_on_body_method(method: Any) -> None:
    # A PUT or POST keeps its (empty) body: the app reads it like any other.
    reader = fake_reader(method.encode() + b' / HTTP/1.1\r\nContent-Length: 0\r\n\r\n')
    request = read_request(reader)
    assert request[2] == {'content-length': 0}
    assert repr(request[3]) == 'Body(<reader>, 0)'


@pytest.mark.parametrize('method', ['GET', 'HEAD', 'DELETE'])
@pytest.mark.parametrize('line, name', [
    (b'Content-Length: 5', 'content-length'),
    (b'Transfer-Encoding: chunked', 'transfer-encoding'),
])
def test_read_request_framing_on_bodyless_method(method: Any, line: Any, name: Any) -> None:
    reader = fake_reader(method.encode() + b' / HTTP/1.1\r\n' + line + b'\r\n\r\nhello')
    check_error(ProtocolError, '{!r} request with a {!r} header'.format(method, name),
                read_request, reader)


def test_read_request_parse_errors_propagate() -> None:
    check_error(UnsupportedError, "bad HTTP method: b'get'",
                read_request, fake_reader(b'get / HTTP/1.1\r\n\r\n'))
    check_error(ProtocolError, "request cannot include a 'content-range' header",
                read_request,
                fake_reader(b'GET / HTTP/1.1\r\nContent-Range: bytes 0-0/1\r\n\r\n'))
    check_error(ProtocolError, 'cannot have both content-length and transfer-encoding headers',
                read_request,
                fake_reader(b'PUT / HTTP/1.1\r\nContent-Length: 1\r\n'
                            b'Transfer-Encoding: chunked\r\n\r\n'))


def test_read_request_range() -> None:
    reader = fake_reader(b'GET / HTTP/1.1\r\nRange: bytes=16-20\r\n\r\n')
    headers = read_request(reader)[2]
    assert headers == {'range': Range(16, 21)}
    assert type(headers['range']) is Range


def test_read_request_end_of_connection() -> None:
    # A client closing before a new request ends the connection: a return
    # value, not an exception (a server would otherwise catch it beside
    # real failures).
    assert read_request(fake_reader(b'')) is None


def test_read_request_eof_mid_preamble() -> None:
    check_error(ProtocolError, "b'\\r\\n\\r\\n' not found in b'GET / HTTP/1.1\\r\\n'...",
                read_request, fake_reader(b'GET / HTTP/1.1\r\n'))


def test_read_request_pipelined_one_recv() -> None:
    data = (b'PUT /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc'
            b'POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n' + CHUNKED
            + b'DELETE /c HTTP/1.1\r\n\r\n')
    sock = FakeSocket(data)
    reader = Stream(sock)
    assert read_request(reader)[3].read() == b'abc'
    assert read_request(reader)[3].read() == b'helloworld'
    assert read_request(reader) == ('DELETE', '/c', {}, None, ['c'], None)
    assert sock.recv_calls == 1


def test_read_request_socketpair() -> None:
    (a, b) = socket.socketpair()
    try:
        b.sendall(b'PUT /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello')
        b.shutdown(socket.SHUT_WR)
        reader = Stream(a)
        (method, uri, headers, body, path, query) = read_request(reader)
        assert (method, uri, headers) == ('PUT', '/x', {'content-length': 5})
        assert body.read() == b'hello'
        assert read_request(reader) is None
    finally:
        a.close()
        b.close()


# ---------------------------------------------------------------------------
# read_response(): SPEC 4.9

@pytest.mark.parametrize('split', SPLITS)
@pytest.mark.parametrize('method', ['GET', 'PUT', 'POST', 'DELETE'])
def test_read_response_content_length(split: Any, method: Any) -> None:
    reader = fake_reader(
        b'HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nhello, world'
        b'HTTP/1.1 404 Not Found\r\n\r\n', split)
    response = read_response(reader, method)
    assert type(response) is Response
    assert response.status == 200
    assert response.reason == 'OK'
    assert response.headers == {'content-length': 12}
    assert type(response.body) is Body
    assert response.body.rfile is reader
    assert repr(response) == (
        "Response(status=200, reason='OK', headers={'content-length': 12}, "
        "body=Body(<reader>, 12))"
    )
    assert response.body.read() == b'hello, world'
    assert read_response(reader, method) == Response(404, 'Not Found', {}, None)


@pytest.mark.parametrize('split', SPLITS)
def test_read_response_chunked(split: Any) -> None:
    reader = fake_reader(
        b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' + CHUNKED, split)
    response = read_response(reader, 'GET')
    assert response.headers == {'transfer-encoding': 'chunked'}
    assert type(response.body) is ChunkedBody
    assert response.body.rfile is reader
    assert list(response.body) == CHUNKS


@pytest.mark.parametrize('line', [
    b'Content-Length: 12',
    b'Content-Length: 0',
    b'Transfer-Encoding: chunked',
])
def test_read_response_head_has_no_body(line: Any) -> None:
    # The framing header describes the entity; nothing follows.
    reader = fake_reader(b'HTTP/1.1 200 OK\r\n' + line + b'\r\n\r\n'
                         b'HTTP/1.1 204 No Content\r\n\r\n')
    response = read_response(reader, 'HEAD')
    assert response.body is None
    assert len(response.headers) == 1
    assert read_response(reader, 'HEAD') == (204, 'No Content', {}, None)


def test_read_response_no_framing() -> None:
    reader = fake_reader(b'HTTP/1.1 200 OK\r\nX-Foo: bar\r\n\r\nignored')
    # No read-until-close: without a framing header there is no body.
    assert read_response(reader, 'GET') == Response(200, 'OK', {'x-foo': 'bar'}, None)


def test_read_response_content_range() -> None:
    reader = fake_reader(b'HTTP/1.1 206 Partial Content\r\nContent-Length: 1\r\n'
                         b'Content-Range: bytes 16-16/23\r\n\r\nx')
    response = read_response(reader, 'GET')
    assert response.headers == {'content-length': 1,
                                'content-range': ContentRange(16, 17, 23)}
    assert response.body.read() == b'x'


def test_read_response_empty_preamble_error() -> None:
    reader = fake_reader(b'')
    with pytest.raises(EmptyPreambleError) as cm:
        read_response(reader, 'GET')
    assert str(cm.value) == 'response preamble is empty'
    assert isinstance(cm.value, ConnectionError)


def test_read_response_parse_errors_propagate() -> None:
    check_error(ProtocolError, "response cannot include a 'range' header",
                read_response,
                fake_reader(b'HTTP/1.1 200 OK\r\nRange: bytes=0-0\r\n\r\n'), 'GET')
    check_error(ProtocolError, "bad status: b'099'",
                read_response, fake_reader(b'HTTP/1.1 099 OK\r\n\r\n'), 'GET')
    check_error(ProtocolError, "b'\\r\\n\\r\\n' not found in b'HTTP/1.1 200 OK\\r\\n'...",
                read_response, fake_reader(b'HTTP/1.1 200 OK\r\n'), 'GET')


# ---------------------------------------------------------------------------
# write_request() / write_response(): exact bytes, one send per small message

def sent(sock: FakeSocket) -> Any:
    return [data for (data, n) in sock.send_calls]


def test_write_request_no_body() -> None:
    sock = FakeSocket()
    headers = {'host': 'example.com'}
    total = write_request(Stream(sock), 'GET', '/', headers, None)
    expected = b'GET / HTTP/1.1\r\nhost: example.com\r\n\r\n'
    assert sent(sock) == [expected]
    assert total == len(expected)
    assert headers == {'host': 'example.com'}


def test_write_request_range_header() -> None:
    sock = FakeSocket()
    write_request(Stream(sock), 'GET', '/', {'range': Range(17, 20)}, None)
    assert sent(sock) == [b'GET / HTTP/1.1\r\nrange: bytes=17-19\r\n\r\n']


@pytest.mark.parametrize('body', [b'bar', bytearray(b'bar')])
def test_write_response_small_bytes_one_send(body: Any) -> None:
    sock = FakeSocket()
    headers: Dict[str, Any] = {}
    total = write_response(Stream(sock), 200, 'OK', headers, body)
    expected = b'HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nbar'
    assert sent(sock) == [expected]
    assert total == len(expected)
    assert headers == {'content-length': 3}


@pytest.mark.parametrize('method', ['PUT', 'POST'])
def test_write_request_small_bytes_one_send(method: Any) -> None:
    sock = FakeSocket()
    headers = {'content-length': 5}
    total = write_request(Stream(sock), method, '/foo?x', headers, b'hello')
    expected = method.encode() + b' /foo?x HTTP/1.1\r\ncontent-length: 5\r\n\r\nhello'
    assert sent(sock) == [expected]
    assert total == len(expected)


@pytest.mark.parametrize('body', [b'hello', b''])
def test_write_request_bytes_empty_headers(body: bytes) -> None:
    # The common case (no headers yet) gets its content-length added too.
    sock = FakeSocket()
    headers: Dict[str, Any] = {}
    total = write_request(Stream(sock), 'POST', '/', headers, body)
    expected = b'POST / HTTP/1.1\r\ncontent-length: %d\r\n\r\n' % len(body) + body
    assert sent(sock) == [expected]
    assert total == len(expected)
    assert headers == {'content-length': len(body)}


def test_write_request_bytes_too_big_empty_headers() -> None:
    sock = FakeSocket()
    check_error(ValueError, 'need len(body) <= 16777216; got 16777217',
                write_request, Stream(sock), 'PUT', '/', {}, b'x' * (MAX_IO_SIZE + 1))
    assert sock.send_calls == []


def test_write_response_empty_bytes() -> None:
    sock = FakeSocket()
    write_response(Stream(sock), 200, 'OK', {}, b'')
    assert sent(sock) == [b'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n']


def test_write_response_head() -> None:
    # A HEAD response: the framing header describes the entity, no body.
    sock = FakeSocket()
    headers = {'content-length': 12}
    total = write_response(Stream(sock), 200, 'OK', headers, None)
    expected = b'HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\n'
    assert sent(sock) == [expected]
    assert total == len(expected)


def test_write_response_exactly_buf_len_one_send() -> None:
    preamble = b'HTTP/1.1 200 OK\r\ncontent-length: 32726\r\n\r\n'
    body = b'x' * (BUF_LEN - len(preamble))
    assert len(body) == 32726
    sock = FakeSocket()
    assert write_response(Stream(sock), 200, 'OK', {}, body) == BUF_LEN
    assert sent(sock) == [preamble + body]


def test_write_response_big_bytes_two_sends() -> None:
    body = b'x' * BUF_LEN
    sock = FakeSocket()
    total = write_response(Stream(sock), 200, 'OK', {}, body)
    preamble = b'HTTP/1.1 200 OK\r\ncontent-length: 32768\r\n\r\n'
    assert sent(sock) == [preamble, body]
    assert total == len(preamble) + BUF_LEN


def test_write_response_max_bytes() -> None:
    body = b'x' * MAX_IO_SIZE
    sock = FakeSocket()
    write_response(Stream(sock), 200, 'OK', {}, body)
    preamble = b'HTTP/1.1 200 OK\r\ncontent-length: 16777216\r\n\r\n'
    assert sent(sock) == [preamble, body]


@pytest.mark.parametrize('body', [b'x' * (MAX_IO_SIZE + 1), bytearray(MAX_IO_SIZE + 1)])
def test_write_response_bytes_too_big(body: Any) -> None:
    sock = FakeSocket()
    check_error(ValueError, 'need len(body) <= 16777216; got 16777217',
                write_response, Stream(sock), 200, 'OK', {}, body)
    assert sock.send_calls == []


def test_write_response_partial_sends() -> None:
    sock = FakeSocket(sends=[10] * 5)
    total = write_response(Stream(sock), 200, 'OK', {}, b'hello, world')
    expected = b'HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\nhello, world'
    assert sock.stream == expected
    assert total == len(expected)


def test_write_response_body() -> None:
    sock = FakeSocket()
    headers: Dict[str, Any] = {}
    body = Body(io.BytesIO(b'hello, world'), 12)
    total = write_response(Stream(sock), 200, 'OK', headers, body)
    expected = b'HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\nhello, world'
    assert sent(sock) == [expected]
    assert total == len(expected)
    assert headers == {'content-length': 12}
    assert body.state == 2


def test_write_response_relayed_body_one_send() -> None:
    # A proxy relaying a small body read from another connection.
    sock = FakeSocket()
    body = Body(Stream(FakeSocket(b'hello, world')), 12)
    total = write_response(Stream(sock), 200, 'OK', {}, body)
    expected = b'HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\nhello, world'
    assert sent(sock) == [expected]
    assert total == len(expected)


def test_write_request_body_iter() -> None:
    sock = FakeSocket()
    headers: Dict[str, Any] = {}
    body = BodyIter([b'hello', b', ', b'world'], 12)
    total = write_request(Stream(sock), 'PUT', '/a', headers, body)
    expected = b'PUT /a HTTP/1.1\r\ncontent-length: 12\r\n\r\nhello, world'
    assert sent(sock) == [expected]
    assert total == len(expected)


def test_write_response_chunked_body_iter() -> None:
    sock = FakeSocket()
    headers: Dict[str, Any] = {}
    total = write_response(Stream(sock), 200, 'OK', headers, ChunkedBodyIter(CHUNKS))
    expected = b'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n' + CHUNKED
    assert sent(sock) == [expected]
    assert total == len(expected)
    assert headers == {'transfer-encoding': 'chunked'}


def test_write_request_chunked_body() -> None:
    sock = FakeSocket()
    body = ChunkedBody(io.BytesIO(b'A\r\n0123456789\r\n0\r\n\r\n'))
    total = write_request(Stream(sock), 'POST', '/', {}, body)
    expected = (b'POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n'
                b'a\r\n0123456789\r\n0\r\n\r\n')
    assert sent(sock) == [expected]
    assert total == len(expected)


def test_write_response_big_streamed_body() -> None:
    data = bytes(range(256)) * 1024  # 256 KiB
    sock = FakeSocket()
    total = write_response(Stream(sock), 200, 'OK', {}, BodyIter([data], len(data)))
    preamble = b'HTTP/1.1 200 OK\r\ncontent-length: 262144\r\n\r\n'
    assert sent(sock) == [preamble, data]
    assert total == len(preamble) + len(data)


def test_write_response_bad_body_type() -> None:
    sock = FakeSocket()
    headers = {'x': 'y'}
    check_error(TypeError, "bad body type: <class 'str'>: 'hello'",
                write_response, Stream(sock), 200, 'OK', headers, 'hello')
    assert headers == {'x': 'y'}
    assert sock.send_calls == []


def test_write_request_framing_errors_send_nothing() -> None:
    sock = FakeSocket()
    check_error(ValueError, "'content-length' mismatch: 5 != 4",
                write_request, Stream(sock), 'PUT', '/', {'content-length': 4}, b'hello')
    check_error(ValueError, 'cannot have both content-length and transfer-encoding headers',
                write_request, Stream(sock), 'PUT', '/',
                {'transfer-encoding': 'chunked'}, b'hello')
    assert sock.send_calls == []


def test_write_render_errors_send_nothing() -> None:
    sock = FakeSocket()
    check_error(ValueError, "bad method: 'PATCH'",
                write_request, Stream(sock), 'PATCH', '/', {}, None)
    check_error(ValueError, 'need 100 <= status <= 599; got 600',
                write_response, Stream(sock), 600, 'OK', {}, None)
    assert sock.send_calls == []


def test_write_body_error_sends_nothing_small() -> None:
    # A body failing before anything was flushed: nothing goes out.
    sock = FakeSocket()
    writer = Stream(sock)
    check_error(ValueError, 'deceeds content_length: 2 < 5',
                write_response, writer, 200, 'OK', {}, BodyIter([b'ab'], 5))
    assert sock.send_calls == []


def test_write_closed_writer() -> None:
    sock = FakeSocket()
    writer = Stream(sock)
    writer.close()
    for body in (None, b'abc', BodyIter([b'abc'], 3)):
        check_error(ConnectionClosedError, 'Connection is closed',
                    write_response, writer, 200, 'OK', {}, body)
    assert sock.send_calls == []


# ---------------------------------------------------------------------------
# Round trips over a real socket pair

@pytest.mark.parametrize('body, expected', [
    (None, None),
    (b'hello', b'hello'),
    (bytearray(b'hello'), b'hello'),
    (BodyIter([b'he', b'llo'], 5), b'hello'),
    (ChunkedBodyIter(CHUNKS), CHUNKS),
])
def test_request_round_trip_socketpair(body: Any, expected: Any) -> None:
    (a, b) = socket.socketpair()
    try:
        method = 'GET' if body is None else 'PUT'
        write_request(Stream(a), method, '/foo?q', {'x-a': 'b'}, body)
        reader = Stream(b)
        (m, uri, headers, got, path, query) = read_request(reader)
        assert (m, uri, path, query) == (method, '/foo?q', ['foo'], 'q')
        assert headers['x-a'] == 'b'
        if expected is None:
            assert got is None
        elif type(expected) is list:
            assert list(got) == expected
        else:
            assert got.read() == expected
    finally:
        a.close()
        b.close()


def test_response_round_trip_socketpair() -> None:
    (a, b) = socket.socketpair()
    try:
        writer = Stream(a)
        write_response(writer, 200, 'OK', {}, b'hello')
        write_response(writer, 200, 'OK', {'content-length': 5}, None)  # HEAD
        write_response(writer, 404, 'Not Found', {}, None)
        reader = Stream(b)
        assert read_response(reader, 'GET').body.read() == b'hello'
        assert read_response(reader, 'HEAD') == (200, 'OK', {'content-length': 5}, None)
        assert read_response(reader, 'GET') == (404, 'Not Found', {}, None)
    finally:
        a.close()
        b.close()


# ---------------------------------------------------------------------------
# Interim (1xx) responses before the final one

@pytest.mark.parametrize('split', SPLITS)
@pytest.mark.parametrize('count', [1, 2, 4])
def test_read_response_skips_interim(split: Any, count: Any) -> None:
    data = (b'HTTP/1.1 100 Continue\r\n\r\n' * count
            + b'HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok')
    reader = fake_reader(data, split)
    response = read_response(reader, 'PUT')
    assert response[:3] == (201, 'Created', {'content-length': 2})
    assert response.body.read() == b'ok'


def test_read_response_too_many_interim() -> None:
    data = (b'HTTP/1.1 100 Continue\r\n\r\n' * 5
            + b'HTTP/1.1 200 OK\r\n\r\n')
    check_error(ProtocolError, 'more than 4 interim responses',
                read_response, fake_reader(data), 'GET')


def test_read_response_interim_with_headers() -> None:
    data = (b'HTTP/1.1 100 Continue\r\nX-Foo: bar\r\n\r\n'
            b'HTTP/1.1 200 OK\r\n\r\n')
    check_error(ProtocolError,
                'interim response with headers: {!r}'.format(data[:32]),
                read_response, fake_reader(data), 'GET')


def test_read_response_eof_after_interim() -> None:
    check_error(EmptyPreambleError, 'response preamble is empty',
                read_response, fake_reader(b'HTTP/1.1 100 Continue\r\n\r\n'), 'PUT')


def test_read_response_head_after_interim() -> None:
    data = (b'HTTP/1.1 100 Continue\r\n\r\n'
            b'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n')
    assert read_response(fake_reader(data), 'HEAD') == (
        200, 'OK', {'content-length': 5}, None
    )
