# SPDX-License-Identifier: LGPL-3.0-or-later
"""Mutation fuzzing through a real socket: the server against garbled requests.

``test_fuzz.py`` feeds mutated input to the pure parsers.  Here the same
mutations (its ``mutate()``) go to a live ``Server`` over loopback TCP,
split into random pieces sent one after another (cut points favour the
neighbourhood of CR and LF, where the reader looks for line ends), followed
by EOF.  Each input gets a new connection.

The server's answer must be exactly what a reference model predicts: the
model walks the same bytes with the pure functions (``parse_request``,
``parse_chunk``) and the rules of doc/http.rst, and says which requests get
a response, which error answer the first bad one gets, and where the
connection ends.  So every input ends with the predicted responses, then
maybe one error answer, then the close -- never a hang (a read that times
out fails), never a partial or extra response, and however the bytes were
split.  (Whether a ``100 Continue`` goes out depends on how the pieces
arrived -- none is owed when body bytes came with the preamble -- so
interim responses are left out of the comparison; test_hardening.py checks
them.)  The server must be alive and correct afterwards.

Environment variables (as in ``test_fuzz.py``): ``DEGU_FUZZ_SEED`` changes
the seed, ``DEGU_FUZZ_COUNT`` the number of inputs (default 300, and 20000
for the ``slow`` test, run with ``--run-slow``).
"""

import random
import socket
import threading
import time
from typing import Any, Iterator, List, Optional, Tuple

import pytest

from degu.client import Client
from degu.errors import error_status
from degu.limits import BUF_LEN, MAX_LINE_LEN
from degu.messages import wants_close
from degu.parsing import parse_chunk, parse_request
from degu.server import Server

from .helpers import Live
from .test_fuzz import env_int, make_rng, mutate

FAST_COUNT = 300
SLOW_COUNT = 20000

# Bound for a read that should end at once; only reached when a test fails.
PATIENCE = 5.0

CONTINUE = b'HTTP/1.1 100 Continue\r\n\r\n'
CR = 13

# Valid requests, bodies and pipelining included; every one is answered.
CORPUS = [
    b'GET / HTTP/1.1\r\n\r\n',
    b'GET /foo/bar/?stuff=junk HTTP/1.1\r\nHost: example.com\r\n'
    b'Accept: */*\r\n\r\n',
    b'PUT /foo HTTP/1.1\r\nContent-Length: 12\r\nContent-Type: text/plain'
    b'\r\n\r\nhello, world',
    b'POST /a?b=c&d HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n'
    b'5\r\nhello\r\n6;k=v\r\n world\r\n0\r\n\r\n',
    b'GET /x HTTP/1.1\r\nRange: bytes=16-20\r\n\r\n',
    b'DELETE /a/b/c HTTP/1.1\r\nX-Foo: "bar" (baz); <q>, [r]\r\n\r\n',
    b'HEAD /... HTTP/1.1\r\nAuthorization: Basic Zm9vOmJhcg==\r\n\r\n',
    b'POST /upload HTTP/1.1\r\nContent-Length: 3\r\n'
    b'Expect: 100-continue\r\n\r\nabc',
    b'PUT /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n'
    b'Expect: 100-continue\r\n\r\n3;a=b\r\nabc\r\n0\r\n\r\n',
    b'GET /one HTTP/1.1\r\n\r\nPOST /two HTTP/1.1\r\nContent-Length: 2\r\n'
    b'\r\nhiGET /three?x HTTP/1.1\r\n\r\n',
]


# ---------------------------------------------------------------------------
# The app and the reference model of the server

def read_body(body: Any) -> int:
    """Consume a request body like an app should; return its length."""
    if body.chunked:
        return len(body.read())
    total = 0
    while True:
        data = body.read(65536)
        if not data:
            return total
        total += len(data)


def fuzz_app(session: Any, request: Any, api: Any) -> Any:
    """Answers what it saw: ``'{method} {uri} {body length or -1}'``."""
    size = -1 if request.body is None else read_body(request.body)
    if request.method == 'HEAD':
        return (200, 'OK', {}, None)
    text = '{} {} {}'.format(request.method, request.uri, size)
    return (200, 'OK', {}, text.encode())


def response_bytes(method: str, uri: str, size: int, close: bool = False) -> bytes:
    """What the server sends for fuzz_app's answer."""
    connection = b'connection: close\r\n' if close else b''
    if method == 'HEAD':
        return b'HTTP/1.1 200 OK\r\n' + connection + b'\r\n'
    body = '{} {} {}'.format(method, uri, size).encode()
    return (b'HTTP/1.1 200 OK\r\n' + connection
            + b'content-length: %d\r\n\r\n' % len(body) + body)


def answer(status: int) -> bytes:
    """The server's answer to a bad request: framed, empty, closing."""
    reasons = {400: 'Bad Request', 413: 'Content Too Large', 414: 'URI Too Long',
               417: 'Expectation Failed', 431: 'Request Header Fields Too Large',
               501: 'Not Implemented', 505: 'HTTP Version Not Supported'}
    return ('HTTP/1.1 {} {}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n'
            .format(status, reasons[status]).encode())


def chunked_end(data: bytes, pos: int) -> Tuple[int, int]:
    """Where a chunked body starting at *pos* ends, and its data length.

    Or ``(-1, status)`` when the server's reader must fail on it (with the
    status of its answer): a size line without CRLF within MAX_LINE_LEN
    bytes (or a bare LF), a bad size line, data not followed by CRLF, or too
    few bytes before EOF.
    """
    total = 0
    while True:
        lf = data.find(b'\n', pos, pos + MAX_LINE_LEN)
        if lf <= pos or data[lf - 1] != CR:
            return (-1, 400)
        try:
            (size, _extension) = parse_chunk(data[pos:lf - 1])
        except ValueError as e:
            return (-1, error_status(e)[0])
        start = lf + 1
        pos = start + size + 2
        if pos > len(data) or data[pos - 2:pos] != b'\r\n':
            return (-1, 400)
        total += size
        if size == 0:
            return (pos, total)


def expected_output(data: bytes) -> bytes:
    """Everything the server sends when *data* is sent, then EOF (no 1xx).

    Requests are taken one after another, exactly as the server's reader
    sees the stream; the first one it must refuse gets its error answer and
    ends the connection.
    """
    out: List[bytes] = []
    pos = 0
    while pos < len(data):
        end = data.find(b'\r\n\r\n', pos, pos + BUF_LEN)
        if end < 0:
            # No terminator before the buffer is full, or before EOF.
            out.append(answer(431 if len(data) - pos >= BUF_LEN else 400))
            break
        try:
            (method, uri, headers, _path, _query) = parse_request(data[pos:end])
        except ValueError as e:
            out.append(answer(error_status(e)[0]))
            break
        pos = end + 4
        if 'expect' in headers and headers['expect'].lower() != '100-continue':
            out.append(answer(417))
            break
        size = -1
        if 'content-length' in headers and method in ('PUT', 'POST'):
            size = headers['content-length']
            if pos + size > len(data):
                out.append(answer(400))  # the body ends early
                break
            pos += size
        elif 'transfer-encoding' in headers:
            (pos, size) = chunked_end(data, pos)
            if pos < 0:
                out.append(answer(size))
                break
        close = wants_close(headers)
        out.append(response_bytes(method, uri, size, close))
        if close:
            break
    return b''.join(out)


def without_interim(data: bytes) -> bytes:
    return data.replace(CONTINUE, b'')


def test_model_on_corpus() -> None:
    # The model answers every request of the corpus, and refuses what it must.
    for data in CORPUS:
        expected = expected_output(data)
        assert expected.count(b'HTTP/1.1 200 OK') == data.count(b' HTTP/1.1\r\n')
    assert expected_output(CORPUS[7]) == response_bytes('POST', '/upload', 3)
    assert expected_output(CORPUS[3][:-1]) == answer(400)
    assert expected_output(b'GET / HTTP/1.1\r\n\r\nGET / HTTP/1.0\r\n\r\n') == (
        response_bytes('GET', '/', -1) + answer(505)
    )
    assert expected_output(
        b'POST / HTTP/1.1\r\nContent-Length: 0\r\nExpect: 100-continue\r\n\r\n'
        b'GET / HTTP/1.1\r\n\r\n'
    ) == response_bytes('POST', '/', 0) + response_bytes('GET', '/', -1)
    assert expected_output(
        b'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n'
    ) == answer(400)
    assert expected_output(b'GET / HTTP/1.1\r\nConnection: close\r\n\r\n' * 2) == (
        response_bytes('GET', '/', -1, close=True)
    )
    assert expected_output(b'DELETE / HTTP/1.1\r\nContent-Length: 0\r\n\r\n') == (
        response_bytes('DELETE', '/', -1)
    )


# ---------------------------------------------------------------------------
# Sending through a live server

@pytest.fixture(scope='module')
def live() -> Iterator[Tuple[Server, threading.Thread]]:
    with Live(('127.0.0.1', 0), fuzz_app, timeout=2 * PATIENCE) as running:
        yield (running.server, running.thread)


def cut_points(rng: random.Random, data: bytes) -> List[int]:
    """0-5 positions to split *data* at, often right next to CR or LF."""
    if len(data) < 2:
        return []
    near = [i + d for (i, byte) in enumerate(data) if byte in b'\r\n'
            for d in (0, 1) if 0 < i + d < len(data)]
    cuts = set()
    for _ in range(rng.randrange(6)):
        if near and rng.random() < 0.5:
            cuts.add(rng.choice(near))
        else:
            cuts.add(rng.randrange(1, len(data)))
    return sorted(cuts)


def exchange(address: Any, data: bytes, cuts: List[int],
             rng: random.Random) -> Tuple[bytes, str]:
    """Send *data* in pieces, then EOF; return what came back and how it ended."""
    sock = socket.create_connection(address, timeout=PATIENCE)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        bounds = [0] + cuts + [len(data)]
        try:
            for (start, stop) in zip(bounds, bounds[1:]):
                if start and rng.random() < 0.3:
                    time.sleep(0.001)  # so the server reads the pieces apart
                sock.sendall(data[start:stop])
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may close before it has everything
        parts: List[bytes] = []
        while True:
            try:
                more = sock.recv(65536)
            except ConnectionResetError:
                return (b''.join(parts), 'reset')
            except socket.timeout:
                return (b''.join(parts), 'hang')
            if not more:
                return (b''.join(parts), 'closed')
            parts.append(more)
    finally:
        sock.close()


def check_alive(address: Any) -> None:
    conn = Client(address, timeout=PATIENCE).connect()
    try:
        response = conn.get('/alive', {})
        assert response.status == 200
        assert response.body.read() == b'GET /alive -1'
    finally:
        conn.close()


def run(name: str, live: Tuple[Server, threading.Thread],
        count: int) -> Tuple[int, int]:
    """Send *count* mutated inputs; return (inputs answered, inputs refused).

    (Answered: at least its first request; refused: its first request gets
    an error answer.)
    """
    (server, thread) = live
    rng, seed = make_rng(name)
    answered = refused = 0
    for i in range(count):
        data = mutate(rng, CORPUS[i % len(CORPUS)])
        cuts = cut_points(rng, data)
        (got, how) = exchange(server.address, data, cuts, rng)
        got = without_interim(got)
        expected = expected_output(data)
        if how == 'hang' or got != expected:
            pytest.fail(
                'input {} (seed {}), sent as {!r} split at {}:\n'
                '{!r}\nserver ({}): {!r}\nexpected: {!r}'.format(
                    i, seed, name, cuts, data, how, got, expected
                ),
                pytrace=False,
            )
        if expected.startswith(b'HTTP/1.1 200 OK\r\n'):
            answered += 1
        else:
            refused += 1
        if i % 100 == 99:
            check_alive(server.address)
    assert thread.is_alive()
    check_alive(server.address)
    return (answered, refused)


def test_fuzz_live_server(live: Tuple[Server, threading.Thread]) -> None:
    count = env_int('DEGU_FUZZ_COUNT', FAST_COUNT)
    (answered, refused) = run('e2e', live, count)
    # Both outcomes are exercised, or the test proves little.
    assert answered + refused == count
    if count >= 100:
        assert answered > count // 10, (answered, refused)
        assert refused > count // 10, (answered, refused)


@pytest.mark.slow
def test_fuzz_live_server_long(live: Tuple[Server, threading.Thread]) -> None:
    count = env_int('DEGU_FUZZ_COUNT', SLOW_COUNT)
    (answered, refused) = run('e2e-long', live, count)
    assert answered > count // 10, (answered, refused)
    assert refused > count // 10, (answered, refused)
