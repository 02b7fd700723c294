# SPDX-License-Identifier: LGPL-3.0-or-later
"""Hostile input end to end, through real sockets (SPEC §1, §4, §7-§9, §13.15-17).

What a server owes a hostile peer: a request outside the subset gets a
minimal framed answer whose status says what was wrong (``connection:
close``, no body, no traceback), then the connection is closed, and the
server goes on serving everyone else.  What a client owes its caller facing
a hostile server: a ``ValueError`` or a ``ConnectionError`` (a
``TimeoutError`` when the server says nothing), a closed ``Connection``, and
``ValueError('Connection is closed')`` on every later call.

Servers run ``Server(...).serve_forever()`` in a daemon thread of the test
process (the fd/thread leak check runs one in a child process, so that the
counts are the server's own).  "Answered, then closed" is checked on a raw
socket by reading until the server closes: exactly the answer must arrive
first.  (The server lingers before closing, so the answer is not lost to a
reset.)

No test asserts how long something took, except where the brief is about
time itself (a flood must be refused within the slot wait plus a margin);
waits that should end at once are bounded by ``PATIENCE`` and only reach it
when a test fails.
"""

import logging
import os
import select
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
from typing import (
    Any, Callable, Dict, Iterator, List, NamedTuple, Tuple, Union,
)

import pytest

from degu.base import BodyIter, ChunkedBodyIter
from degu.client import Client, Connection
from degu.errors import EmptyPreambleError, ProtocolError
from degu.limits import BUF_LEN
from degu.misc import TempServer
from degu.server import SLOT_WAIT, Server
from test_degu import helpers
from test_degu.helpers import PATIENCE, read_until_closed, recv_exactly, wait_until

CONTINUE = b'HTTP/1.1 100 Continue\r\n\r\n'
CURL = shutil.which('curl') or ''
HAVE_PROC_FD = os.path.isdir('/proc/self/fd')


# ---------------------------------------------------------------------------
# Live servers, raw sockets

class Live(helpers.Live):
    """A ``helpers.Live`` server on 127.0.0.1, that can say it is alive."""

    def __init__(self, app: Any, **options: Any) -> None:
        super().__init__(('127.0.0.1', 0), app, **options)

    def check_alive(self) -> None:
        """A valid request on a new connection gets its answer."""
        conn = self.connect()
        try:
            check_echo(conn, '/alive')
        finally:
            conn.close()


def check_echo(conn: Connection, uri: str) -> None:
    response = conn.get(uri, {})
    assert response.status == 200
    assert response.body.read() == uri.encode()


def send_quietly(sock: socket.socket, pieces: Tuple[bytes, ...],
                 eof: bool) -> None:
    """Send *pieces* (and EOF); the server may close before it has them all."""
    try:
        for piece in pieces:
            sock.sendall(piece)
        if eof:
            sock.shutdown(socket.SHUT_WR)
    except OSError:  # EPIPE, ECONNRESET, ENOTCONN (shutdown after a reset)
        pass


def reset(sock: socket.socket) -> None:
    """Close with SO_LINGER 0: the peer gets a reset, not an orderly FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    sock.close()


def read_body(body: Any) -> bytes:
    """Consume a request body the way an app should (pieces, then the end)."""
    if body is None:
        return b''
    if body.chunked:
        return body.read()
    parts: List[bytes] = []
    while True:
        data = body.read(65536)
        if not data:
            return b''.join(parts)
        parts.append(data)


class EchoApp:
    """Reads any request body and answers with it (or with the URI).

    Records the URI of every request it sees and every exception its body
    read raised.  ``/noread`` answers without reading the body; ``/slow...``
    sets ``entered`` before reading, so a test knows the read has begun.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.uris: List[str] = []
        self.headers: List[Dict[str, Any]] = []
        self.errors: List[BaseException] = []
        self.entered = threading.Event()

    def reset(self) -> None:
        with self.lock:
            self.uris.clear()
            self.headers.clear()
            self.errors.clear()
        self.entered.clear()

    def __call__(self, session: Any, request: Any, api: Any) -> Any:
        with self.lock:
            self.uris.append(request.uri)
            self.headers.append(dict(request.headers))
        if request.path == ['noread']:
            return (200, 'OK', {}, b'early')
        if request.path[:1] == ['slow']:
            self.entered.set()
        try:
            data = read_body(request.body)
        except Exception as e:
            with self.lock:
                self.errors.append(e)
            raise
        if request.method == 'HEAD':
            return (200, 'OK', {}, None)
        if request.path == ['big']:
            return (200, 'OK', {}, b'x' * (8 * 1024 * 1024))
        if request.body is None:
            data = request.uri.encode()
        return (200, 'OK', {}, data)


@pytest.fixture(scope='module')
def echo() -> Iterator[Tuple[Live, EchoApp]]:
    """One echo server for the module.

    Its timeout is above PATIENCE, so a server that waits for more instead of
    closing fails read_until_closed(); max_connections lets every case of
    the table be open at once.
    """
    app = EchoApp()
    live = Live(app, timeout=2 * PATIENCE, max_connections=len(CASES) + 10)
    yield (live, app)
    live.stop()


# ---------------------------------------------------------------------------
# The table of malformed requests

def request(*lines: bytes, body: bytes = b'') -> bytes:
    return b'\r\n'.join(lines) + b'\r\n\r\n' + body


def get(*headers: bytes) -> bytes:
    return request(b'GET / HTTP/1.1', *headers)


def post(*headers: bytes, body: bytes = b'') -> bytes:
    return request(b'POST /upload HTTP/1.1', *headers, body=body)


def chunked(body: bytes) -> bytes:
    return post(b'Transfer-Encoding: chunked', body=body)


def line(first: bytes) -> bytes:
    return request(first, b'Host: example.com')


def tls_client_hello() -> bytes:
    """The first flight of a real TLS client (a ClientHello record)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming = ssl.MemoryBIO()
    outgoing = ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname='example.com')
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    assert hello[0:1] == b'\x16'  # a handshake record
    return hello


SMUGGLED = b'GET /smuggled HTTP/1.1\r\n\r\n'
HTTP2_PREFACE = (
    b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'
    b'\x00\x00\x00\x04\x00\x00\x00\x00\x00'  # an empty SETTINGS frame
)


class Case(NamedTuple):
    """One hostile request: the bytes (sent in pieces), then maybe EOF.

    ``eof``: the client shuts down its sending side after the last piece.
    Needed where the server cannot know the request is bad before the peer
    stops (no ``\\r\\n\\r\\n`` ever comes, a body is cut short).
    ``calls``: how many times the app must be reached (1 when the error is
    found while the app reads the body, else 0).  ``status``: the server's
    answer.
    """

    name: str
    pieces: Tuple[bytes, ...]
    eof: bool = False
    calls: int = 0
    status: int = 400


# The statuses other than 400 (degu.errors says which class is which).
STATUSES = {
    'cl_overlong': 413, 'chunk_size_8_digits': 413, 'chunk_size_over_16_mib': 413,
    'te_identity': 501, 'te_gzip_chunked': 501,
    'options': 501, 'connect': 501, 'trace': 501, 'patch': 501,
    'lowercase_get': 501, 'mixed_case_get': 501,  # methods are case-sensitive
    'name_over_64': 431, 'preamble_over_32k': 431, 'preamble_one_byte_over': 431,
    'preamble_fills_buffer': 431,
    'http_1_0': 505, 'http_2_0': 505, 'http2_preface': 505,
    'expect_bad_value': 417,
}
REASONS = {
    400: 'Bad Request', 413: 'Content Too Large', 417: 'Expectation Failed',
    431: 'Request Header Fields Too Large', 501: 'Not Implemented',
    505: 'HTTP Version Not Supported',
}


def answer(status: int) -> bytes:
    """The server's answer to a bad request: framed, empty, closing."""
    return ('HTTP/1.1 {} {}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n'
            .format(status, REASONS[status]).encode())


UNAVAILABLE = (b'HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n'
               b'connection: close\r\n\r\n')
ANSWER_500 = (b'HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n'
              b'connection: close\r\n\r\n')


def case(name: str, data: Union[bytes, Tuple[bytes, ...]], eof: bool = False,
         calls: int = 0) -> Case:
    pieces = data if isinstance(data, tuple) else (data,)
    return Case(name, pieces, eof, calls, STATUSES.get(name, 400))


CASES = [
    # -- request smuggling: framing headers ---------------------------------
    case('cl_and_te', post(b'Content-Length: 5', b'Transfer-Encoding: chunked',
                           body=b'0\r\n\r\n' + SMUGGLED)),
    case('te_and_cl', post(b'Transfer-Encoding: chunked', b'Content-Length: 30',
                           body=b'0\r\n\r\n' + SMUGGLED)),
    case('cl_duplicate_same', post(b'Content-Length: 5', b'Content-Length: 5',
                                   body=b'hello')),
    case('cl_duplicate_differ', post(b'Content-Length: 5', b'Content-Length: 31',
                                     body=b'hello' + SMUGGLED)),
    case('cl_duplicate_case', post(b'Content-Length: 5', b'content-length: 5',
                                   body=b'hello')),
    case('te_duplicate', chunked(b'0\r\n\r\n').replace(
        b'chunked', b'chunked\r\nTransfer-Encoding: chunked')),
    case('cl_plus', post(b'Content-Length: +5', body=b'hello')),
    case('cl_minus', post(b'Content-Length: -5', body=b'hello')),
    case('cl_hex', post(b'Content-Length: 0x5', body=b'hello')),
    case('cl_underscore', post(b'Content-Length: 1_0', body=b'helloworld')),
    case('cl_leading_zero', post(b'Content-Length: 05', body=b'hello')),
    case('cl_leading_space', post(b'Content-Length:  5', body=b'hello')),
    case('cl_trailing_space', post(b'Content-Length: 5 ', body=b'hello')),
    case('cl_overlong', post(b'Content-Length: 10000000000000000', body=b'x')),
    case('cl_empty', post(b'Content-Length: ', body=b'hello')),
    case('cl_list', post(b'Content-Length: 5, 5', body=b'hello')),
    case('cl_float', post(b'Content-Length: 5.0', body=b'hello')),
    case('cl_arabic_digit', post(b'Content-Length: \xd9\xa5', body=b'hello')),
    case('cl_underscored_name', post(b'Content_Length: 5', body=b'hello')),
    case('te_identity', post(b'Transfer-Encoding: identity', body=b'hello')),
    case('te_gzip_chunked', post(b'Transfer-Encoding: gzip, chunked',
                                 body=b'0\r\n\r\n')),
    case('te_trailing_space', post(b'Transfer-Encoding: chunked ',
                                   body=b'0\r\n\r\n')),
    case('te_space_before_colon', post(b'Transfer-Encoding : chunked',
                                       body=b'0\r\n\r\n')),
    # -- chunked bodies (found while the app reads) --------------------------
    case('chunk_size_negative', chunked(b'-5\r\nhello\r\n0\r\n\r\n'), calls=1),
    case('chunk_size_hex_prefix', chunked(b'0x5\r\nhello\r\n0\r\n\r\n'), calls=1),
    case('chunk_size_plus', chunked(b'+5\r\nhello\r\n0\r\n\r\n'), calls=1),
    case('chunk_size_leading_zero', chunked(b'05\r\nhello\r\n0\r\n\r\n'), calls=1),
    case('chunk_size_space', chunked(b'5 \r\nhello\r\n0\r\n\r\n'), calls=1),
    case('chunk_size_underscore', chunked(b'1_0\r\n0123456789abcdef\r\n0\r\n\r\n'),
         calls=1),
    case('chunk_size_empty', chunked(b'\r\nhello\r\n0\r\n\r\n'), calls=1),
    case('chunk_size_not_hex', chunked(b'g\r\nhello\r\n0\r\n\r\n'), calls=1),
    case('chunk_size_8_digits', chunked(b'10000000\r\n'), calls=1),
    case('chunk_size_over_16_mib', chunked(b'1000001\r\n'), calls=1),
    case('chunk_data_bad_terminator', chunked(b'5\r\nhelloXY0\r\n\r\n'), calls=1),
    case('chunk_data_lf_terminator', chunked(b'5\r\nhello\n0\r\n\r\n'), calls=1),
    case('chunk_data_longer_than_size',
         chunked(b'5\r\nhello world\r\n0\r\n\r\n'), calls=1),
    case('chunk_line_bare_lf', chunked(b'5\nhello\r\n0\r\n\r\n'), calls=1),
    case('chunk_trailer', chunked(b'5\r\nhello\r\n0\r\nX-Trailer: yes\r\n\r\n'),
         calls=1),
    case('chunk_trailer_smuggle',
         chunked(b'0\r\nContent-Length: 26\r\n\r\n' + SMUGGLED), calls=1),
    case('chunk_ext_no_value', chunked(b'5;k\r\nhello\r\n0\r\n\r\n'), calls=1),
    case('chunk_ext_empty', chunked(b'5;\r\nhello\r\n0\r\n\r\n'), calls=1),
    case('chunk_ext_no_key', chunked(b'5;=v\r\nhello\r\n0\r\n\r\n'), calls=1),
    case('chunk_ext_two', chunked(b'5;a=b;c=d\r\nhello\r\n0\r\n\r\n'), calls=1),
    case('chunk_ext_quoted_space', chunked(b'5;k="a b"\r\nhello\r\n0\r\n\r\n'),
         calls=1),
    case('chunk_ext_bad_key', chunked(b'5;k!=v\r\nhello\r\n0\r\n\r\n'), calls=1),
    case('chunk_ext_non_ascii', chunked(b'5;k=\xff\r\nhello\r\n0\r\n\r\n'),
         calls=1),
    case('chunk_ext_over_4096', chunked(b'5;k=' + b'v' * 5000 + b'\r\nhello\r\n'),
         calls=1),
    # -- line endings ---------------------------------------------------------
    case('bare_lf', b'GET / HTTP/1.1\nHost: example.com\n\n', eof=True),
    case('bare_cr', b'GET / HTTP/1.1\rHost: example.com\r\r', eof=True),
    case('bare_lf_request_line', b'GET / HTTP/1.1\n\r\n\r\n'),
    case('bare_lf_in_header', get(b'Host: example.com\nX-Smuggle: yes')),
    case('bare_cr_in_header', get(b'Host: example.com\rX-Smuggle: yes')),
    case('empty_line_first', b'\r\n' + get(b'Host: example.com')),
    # -- header syntax --------------------------------------------------------
    case('space_before_colon', get(b'Host : example.com')),
    case('no_space_after_colon', get(b'Host:example.com')),
    case('obs_fold_space', get(b'X-Folded: first', b' second')),
    case('obs_fold_tab', get(b'X-Folded: first', b'\tsecond')),
    case('obs_fold_header_like', get(b'X-Folded: first', b' Content-Length: 5')),
    case('tab_after_colon', get(b'X-Tab:\tvalue')),
    case('tab_in_value', get(b'X-Tab: a\tb')),
    case('nul_in_name', get(b'X-\x00Name: value')),
    case('ctl_in_value', get(b'X-Ctl: a\x01b')),
    case('del_in_value', get(b'X-Del: a\x7fb')),
    case('non_ascii_name', get(b'X-Caf\xc3\xa9: value')),
    case('non_ascii_value', get(b'X-Name: caf\xc3\xa9')),
    case('empty_name', get(b': value')),
    case('name_over_64', get(b'X-' + b'n' * 63 + b': value')),
    case('empty_value', get(b'X-Empty: ')),
    case('no_colon', get(b'X-Nothing value')),
    case('duplicate_host', get(b'Host: a.example', b'host: b.example')),
    case('range_with_body', post(b'Range: bytes=0-1', b'Content-Length: 5',
                                 body=b'hello')),
    case('content_range_in_request', get(b'Content-Range: bytes 0-1/2')),
    # -- request targets ------------------------------------------------------
    case('pct_dotdot', line(b'GET /%2e%2e/etc/passwd HTTP/1.1')),
    case('pct_dot', line(b'GET /a/%2E/b HTTP/1.1')),
    case('pct_backslash', line(b'GET /a%5C..%5Cb HTTP/1.1')),
    case('pct_nul', line(b'GET /a%00b HTTP/1.1')),
    case('pct_one_digit', line(b'GET /a%2 HTTP/1.1')),
    case('dot', line(b'GET /a/./b HTTP/1.1')),
    case('pct_slash', line(b'GET /a%2Fb HTTP/1.1')),
    case('dotdot', line(b'GET /.. HTTP/1.1')),
    case('dotdot_middle', line(b'GET /foo/../bar HTTP/1.1')),
    case('dotdot_last', line(b'GET /foo/.. HTTP/1.1')),
    case('double_slash', line(b'GET //etc/passwd HTTP/1.1')),
    case('backslash', line(b'GET /foo\\..\\bar HTTP/1.1')),
    case('fragment', line(b'GET /foo#bar HTTP/1.1')),
    case('space_in_uri', line(b'GET /foo bar HTTP/1.1')),
    case('nul_in_uri', line(b'GET /foo\x00 HTTP/1.1')),
    case('tab_in_uri', line(b'GET /foo\tbar HTTP/1.1')),
    case('non_ascii_uri', line(b'GET /caf\xc3\xa9 HTTP/1.1')),
    case('absolute_form', line(b'GET http://example.com/ HTTP/1.1')),
    case('absolute_form_slash', line(b'GET /http://example.com/ HTTP/1.1')),
    case('asterisk_options', line(b'OPTIONS * HTTP/1.1')),
    case('asterisk_get', line(b'GET * HTTP/1.1')),
    case('authority_form', line(b'CONNECT example.com:443 HTTP/1.1')),
    # -- methods and versions -------------------------------------------------
    case('options', line(b'OPTIONS / HTTP/1.1')),
    case('connect', line(b'CONNECT / HTTP/1.1')),
    case('trace', line(b'TRACE / HTTP/1.1')),
    case('patch', line(b'PATCH / HTTP/1.1')),
    case('lowercase_get', line(b'get / HTTP/1.1')),
    case('mixed_case_get', line(b'Get / HTTP/1.1')),
    case('double_space', line(b'GET  / HTTP/1.1')),
    case('leading_space', line(b' GET / HTTP/1.1')),
    case('http_1_0', line(b'GET / HTTP/1.0')),
    case('http_2_0', line(b'GET / HTTP/2.0')),
    case('http_1_10', line(b'GET / HTTP/1.10')),
    case('lowercase_version', line(b'GET / http/1.1')),
    case('version_trailing_space', line(b'GET / HTTP/1.1 ')),
    case('version_missing', line(b'GET /index.html')),
    case('version_missing_short', b'GET /\r\n\r\n'),
    case('version_twice', line(b'GET / HTTP/1.1 HTTP/1.1')),
    # -- sizes ----------------------------------------------------------------
    case('preamble_over_32k', get(b'X-Big: ' + b'a' * BUF_LEN)),
    case('preamble_one_byte_over',
         get(b'X-Big: ' + b'a' * (BUF_LEN - len(get(b'X-Big: ')) + 1))),
    case('preamble_fills_buffer', get(b'X-Big: ' + b'a' * BUF_LEN)[:BUF_LEN]),
    # -- bodies where none may be ---------------------------------------------
    case('get_with_cl', get(b'Content-Length: 5') + b'hello'),
    case('get_with_te', get(b'Transfer-Encoding: chunked') + b'0\r\n\r\n'),
    case('head_with_cl', line(b'HEAD / HTTP/1.1').replace(
        b'Host', b'Content-Length: 5\r\nHost') + b'hello'),
    case('delete_with_cl', request(b'DELETE /x HTTP/1.1', b'Content-Length: 26',
                                   body=SMUGGLED)),
    case('delete_with_te', request(b'DELETE /x HTTP/1.1',
                                   b'Transfer-Encoding: chunked',
                                   body=b'0\r\n\r\n')),
    # -- truncated messages (the client stops sending) ------------------------
    case('preamble_truncated', (b'GET / HTTP/1.1\r\nHost: exa',), eof=True),
    case('cl_body_truncated', (post(b'Content-Length: 10'), b'hello'), eof=True,
         calls=1),
    case('chunk_data_truncated', (chunked(b''), b'5\r\nhel'), eof=True, calls=1),
    case('chunk_line_truncated', (chunked(b''), b'5'), eof=True, calls=1),
    case('last_chunk_missing', (chunked(b''), b'5\r\nhello\r\n'), eof=True,
         calls=1),
    case('last_chunk_crlf_missing', (chunked(b''), b'5\r\nhello\r\n0\r\n'),
         eof=True, calls=1),
    # -- other protocols and noise --------------------------------------------
    case('tls_client_hello', tls_client_hello(), eof=True),
    case('http2_preface', HTTP2_PREFACE),
    case('nul_bytes', b'\x00' * 1000, eof=True),
    case('binary_noise', bytes(range(256)) * 4, eof=True),
    case('expect_bad_value', post(b'Content-Length: 5', b'Expect: 200-ok',
                                  body=b'hello')),
]


def test_case_table() -> None:
    # The table is what the brief asks for: at least 60 cases, unique names.
    assert len(CASES) >= 60
    assert len({c.name for c in CASES}) == len(CASES)
    # The preamble cases really are over the limit, the fitting one is not.
    big = [c for c in CASES if c.name.startswith('preamble_')]
    for c in big:
        data = c.pieces[0]
        assert data.find(b'\r\n\r\n', 0, BUF_LEN) < 0
    exact = get(b'X-Big: ' + b'a' * (BUF_LEN - len(get(b'X-Big: '))))
    assert len(exact) == BUF_LEN


@pytest.mark.parametrize('hostile', CASES, ids=[c.name for c in CASES])
def test_malformed_request(echo: Tuple[Live, EchoApp], hostile: Case) -> None:
    (live, app) = echo
    app.reset()
    sock = live.raw()
    try:
        send_quietly(sock, hostile.pieces, hostile.eof)
        assert read_until_closed(sock) == answer(hostile.status)
    finally:
        sock.close()
    assert len(app.uris) == hostile.calls
    assert not any('smuggled' in uri for uri in app.uris)
    if hostile.calls:
        # A failing body breaks the stream before its error reaches the app:
        # the peer's fault, a ProtocolError.
        wait_until(lambda: bool(app.errors), 'the app to see the error')
        assert len(app.errors) == 1 and isinstance(app.errors[0], ProtocolError)
    live.check_alive()


def test_preamble_at_the_limit_is_served(echo: Tuple[Live, EchoApp]) -> None:
    # The control for the size cases: a preamble of exactly BUF_LEN bytes.
    (live, app) = echo
    data = get(b'X-Big: ' + b'a' * (BUF_LEN - len(get(b'X-Big: '))))
    sock = live.raw()
    try:
        sock.sendall(data)
        assert recv_exactly(sock, 20) == b'HTTP/1.1 200 OK\r\ncon'
    finally:
        sock.close()


def test_all_cases_at_once_then_valid(echo: Tuple[Live, EchoApp]) -> None:
    # Every hostile connection open at the same time: each gets its answer
    # and is closed, and a keep-alive connection opened before them all
    # still works afterwards.
    (live, app) = echo
    conn = live.connect()
    try:
        check_echo(conn, '/before')
        socks = []
        for _ in CASES:
            socks.append(live.raw())
            # Let the accept loop keep up: its backlog is only 5, and a
            # dropped SYN costs the client a 1 s retransmit.
            time.sleep(0.002)
        try:
            for (sock, hostile) in zip(socks, CASES):
                send_quietly(sock, hostile.pieces, hostile.eof)
            for (sock, hostile) in zip(socks, CASES):
                assert read_until_closed(sock) == answer(hostile.status)
        finally:
            for sock in socks:
                sock.close()
        check_echo(conn, '/after')
    finally:
        conn.close()
    live.check_alive()


# ---------------------------------------------------------------------------
# Expect: 100-continue (§13.15)

@pytest.mark.parametrize('expect', [b'100-continue', b'100-Continue'])
def test_expect_continue_content_length(echo: Tuple[Live, EchoApp],
                                        expect: bytes) -> None:
    (live, app) = echo
    sock = live.raw()
    try:
        sock.sendall(request(b'PUT /up HTTP/1.1', b'Content-Length: 11',
                             b'Expect: ' + expect))
        assert recv_exactly(sock, len(CONTINUE)) == CONTINUE
        sock.sendall(b'hello world')
        expected = b'HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\nhello world'
        assert recv_exactly(sock, len(expected)) == expected
        # The connection is still good for the next request.
        sock.sendall(get())
        expected = b'HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n/'
        assert recv_exactly(sock, len(expected)) == expected
    finally:
        sock.close()


def test_expect_continue_chunked(echo: Tuple[Live, EchoApp]) -> None:
    (live, app) = echo
    sock = live.raw()
    try:
        sock.sendall(request(b'POST /up HTTP/1.1', b'Transfer-Encoding: chunked',
                             b'Expect: 100-continue'))
        assert recv_exactly(sock, len(CONTINUE)) == CONTINUE
        sock.sendall(b'5\r\nhello\r\n6;k=v\r\n world\r\n0\r\n\r\n')
        expected = b'HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\nhello world'
        assert recv_exactly(sock, len(expected)) == expected
    finally:
        sock.close()


def test_expect_continue_empty_body(echo: Tuple[Live, EchoApp]) -> None:
    # 'content-length: 0': nothing is held back, so no 100 Continue is owed;
    # the response comes and the connection stays open.
    (live, app) = echo
    sock = live.raw()
    try:
        sock.sendall(request(b'PUT /up HTTP/1.1', b'Content-Length: 0',
                             b'Expect: 100-continue') + get())
        expected = (b'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'
                    b'HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n/')
        assert recv_exactly(sock, len(expected)) == expected
        sock.sendall(get())
        assert recv_exactly(sock, len(expected) - 38) == expected[38:]
    finally:
        sock.close()


def test_expect_continue_app_does_not_read(echo: Tuple[Live, EchoApp]) -> None:
    # The response goes out, no 100 Continue, then the connection closes:
    # the body was never asked for, so the stream position is unknown.
    (live, app) = echo
    app.reset()
    sock = live.raw()
    try:
        sock.sendall(request(b'PUT /noread HTTP/1.1', b'Content-Length: 5',
                             b'Expect: 100-continue'))
        assert read_until_closed(sock) == (
            b'HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 5\r\n\r\nearly'
        )
    finally:
        sock.close()
    assert app.uris == ['/noread']
    live.check_alive()


def test_expect_continue_without_body(echo: Tuple[Live, EchoApp]) -> None:
    # Nothing to wait for: no interim response, keep-alive goes on.
    (live, app) = echo
    sock = live.raw()
    try:
        sock.sendall(get(b'Expect: 100-continue') + get())
        expected = b'HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n/'
        assert recv_exactly(sock, 2 * len(expected)) == 2 * expected
    finally:
        sock.close()


@pytest.mark.parametrize('value', [
    b'200-ok', b'continue', b'100', b'100-continue, foo', b'100-continuez',
])
def test_expect_bad_value(echo: Tuple[Live, EchoApp], value: bytes) -> None:
    (live, app) = echo
    app.reset()
    sock = live.raw()
    try:
        sock.sendall(request(b'PUT /up HTTP/1.1', b'Content-Length: 5',
                             b'Expect: ' + value))
        assert read_until_closed(sock) == answer(417)
    finally:
        sock.close()
    assert app.uris == []
    live.check_alive()


@pytest.mark.skipif(not CURL, reason='curl not installed')
def test_expect_continue_curl_upload(echo: Tuple[Live, EchoApp]) -> None:
    # curl waits up to --expect100-timeout for "100 Continue" before sending
    # the body; a server that never says it makes curl stall until
    # --max-time, which fails the test.
    (live, app) = echo
    app.reset()
    data = os.urandom(4096).hex().encode()[:4096]
    tmpdir = tempfile.mkdtemp(prefix='degu.')
    try:
        filename = os.path.join(tmpdir, 'upload')
        with open(filename, 'wb') as fp:
            fp.write(data)
        url = 'http://127.0.0.1:{}/upload'.format(live.address[1])
        result = subprocess.run(
            [CURL, '--silent', '--show-error', '--http1.1', '--max-time', '10',
             '--expect100-timeout', '60', '-H', 'Expect: 100-continue',
             '--upload-file', filename, url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30,
        )
    finally:
        shutil.rmtree(tmpdir)
    assert result.returncode == 0, result.stderr
    assert result.stdout == data
    assert app.headers[-1]['expect'] == '100-continue'
    assert app.headers[-1]['content-length'] == 4096


# ---------------------------------------------------------------------------
# Slow clients (§13.16)

@pytest.fixture(scope='module')
def quick() -> Iterator[Tuple[Live, EchoApp]]:
    """An echo server with a 1 s timeout."""
    app = EchoApp()
    live = Live(app, timeout=1)
    yield (live, app)
    live.stop()


def test_trickling_preamble_cut_off(quick: Tuple[Live, EchoApp]) -> None:
    # One byte per 0.1 s: 200 bytes would take 20 s; the server allows 1 s
    # for the whole preamble, however steadily the bytes come.
    (live, app) = quick
    data = get(b'X-Pad: ' + b'p' * (200 - len(get(b'X-Pad: '))))
    assert len(data) == 200
    sock = live.raw()
    sent = 0
    closed = False
    try:
        for byte in data:
            try:
                sock.send(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            sent += 1
            (readable, _, _) = select.select([sock], [], [], 0.1)
            if readable:
                assert read_until_closed(sock) == (
                    b'HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n'
                    b'connection: close\r\n\r\n'
                )
                closed = True
                break
    finally:
        sock.close()
    assert closed
    assert sent < len(data)


def test_idle_connections_reaped(quick: Tuple[Live, EchoApp]) -> None:
    # In parallel: a connection that never sends, one idle after a
    # request, and the control: a slow but complete preamble is served.
    (live, app) = quick
    silent = live.raw()
    idle = live.raw()
    slow = live.raw()
    try:
        idle.sendall(get())
        expected = b'HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n/'
        assert recv_exactly(idle, len(expected)) == expected
        for byte in get():
            slow.send(bytes([byte]))
            time.sleep(0.02)
        assert recv_exactly(slow, len(expected)) == expected
        assert read_until_closed(silent) == b''
        assert read_until_closed(idle) == b''
        assert read_until_closed(slow) == b''
    finally:
        for sock in (silent, idle, slow):
            sock.close()
    live.check_alive()


# ---------------------------------------------------------------------------
# The client facing a hostile server

class Hostile:
    """A raw server thread: reads each request preamble, answers canned bytes.

    ``answers`` holds one canned reply per request; after the last one the
    connection ends as ``end`` says: ``'close'``, ``'reset'`` (SO_LINGER 0)
    or ``'hold'`` (keep it open, silent, until the test ends).
    """

    def __init__(self, answers: List[bytes], end: str = 'close') -> None:
        self.listener = socket.socket()
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen(1)
        self.address = self.listener.getsockname()
        self.answers = answers
        self.end = end
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        (sock, _) = self.listener.accept()
        try:
            sock.settimeout(PATIENCE)
            buf = b''
            for answer in self.answers:
                while b'\r\n\r\n' not in buf:
                    data = sock.recv(4096)
                    if not data:
                        return
                    buf += data
                buf = buf.partition(b'\r\n\r\n')[2]
                sock.sendall(answer)
            if self.end == 'hold':
                self.done.wait(PATIENCE)
            elif self.end == 'reset':
                time.sleep(0.05)  # let the bytes above arrive first
                reset(sock)
        finally:
            sock.close()

    def client(self, timeout: float = PATIENCE) -> Client:
        return Client(self.address, timeout=timeout)

    def stop(self) -> None:
        self.done.set()
        self.thread.join(PATIENCE)
        self.listener.close()


@pytest.fixture
def hostile() -> Iterator[Callable[..., Hostile]]:
    servers: List[Hostile] = []

    def start(answers: List[bytes], end: str = 'close') -> Hostile:
        server = Hostile(answers, end)
        servers.append(server)
        return server
    yield start
    for server in servers:
        server.stop()


OK = b'HTTP/1.1 200 OK'
NOT_FOUND = "b'\\r\\n\\r\\n' not found in "

# (id, canned response, how the server ends, exception, message)
BAD_RESPONSES = [
    ('http_1_0', b'HTTP/1.0 200 OK\r\n\r\n', ValueError,
     "bad response line: b'HTTP/1.0 200 OK'"),
    ('lowercase_version', b'http/1.1 200 OK\r\n\r\n', ValueError,
     "bad response line: b'http/1.1 200 OK'"),
    ('status_short', b'HTTP/1.1 20\r\n\r\n', ValueError,
     "response line too short: b'HTTP/1.1 20'"),
    ('double_space', b'HTTP/1.1  200 OK\r\n\r\n', ValueError,
     "bad response line: b'HTTP/1.1  200 OK'"),
    ('status_99', b'HTTP/1.1 099 Low\r\n\r\n', ValueError, "bad status: b'099'"),
    ('status_600', b'HTTP/1.1 600 High\r\n\r\n', ValueError, "bad status: b'600'"),
    ('status_letters', b'HTTP/1.1 2OO OK\r\n\r\n', ValueError,
     "bad status: b'2OO'"),
    ('reason_tab', b'HTTP/1.1 200 O\tK\r\n\r\n', ValueError,
     "bad reason: b'O\\tK'"),
    ('reason_non_ascii', b'HTTP/1.1 200 \xc3\x96K\r\n\r\n', ValueError,
     "bad reason: b'\\xc3\\x96K'"),
    ('bare_lf', b'HTTP/1.1 200 OK\n\n', ValueError,
     NOT_FOUND + "b'HTTP/1.1 200 OK\\n\\n'..."),
    ('header_no_colon', OK + b'\r\nContent-Length 5\r\n\r\nhello', ValueError,
     "bad header line: b'Content-Length 5'"),
    ('header_space_before_colon', OK + b'\r\nContent-Length : 5\r\n\r\nhello',
     ValueError, "bad bytes in header name: b'Content-Length '"),
    ('header_obs_fold', OK + b'\r\nX-A: b\r\n continued\r\n\r\n', ValueError,
     "bad header line: b' continued'"),
    ('header_tab', OK + b'\r\nX-A: b\tc\r\n\r\n', ValueError,
     "bad bytes in header value: b'b\\tc'"),
    ('header_non_ascii', OK + b'\r\nX-A: \xff\r\n\r\n', ValueError,
     "bad bytes in header value: b'\\xff'"),
    ('header_duplicate', OK + b'\r\nX-A: b\r\nx-a: c\r\n\r\n', ValueError,
     "duplicate header: b'x-a: c'"),
    ('cl_duplicate', OK + b'\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n'
     b'hello', ValueError, "duplicate header: b'Content-Length: 5'"),
    ('cl_and_te', OK + b'\r\nContent-Length: 5\r\nTransfer-Encoding: chunked'
     b'\r\n\r\n0\r\n\r\n', ValueError,
     'cannot have both content-length and transfer-encoding headers'),
    ('cl_negative', OK + b'\r\nContent-Length: -5\r\n\r\n', ValueError,
     "bad content-length: b'-5'"),
    ('cl_hex', OK + b'\r\nContent-Length: 0x5\r\n\r\nhello', ValueError,
     "bad content-length: b'0x5'"),
    ('cl_overlong', OK + b'\r\nContent-Length: 10000000000000000\r\n\r\n',
     ValueError, "content-length too long: b'1000000000000000'..."),
    ('te_gzip', OK + b'\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', ValueError,
     "bad transfer-encoding: b'gzip, chunked'"),
    ('range_in_response', OK + b'\r\nRange: bytes=0-1\r\n\r\n', ValueError,
     "response cannot include a 'range' header"),
    ('content_range_bad', OK + b'\r\nContent-Range: bytes 5-1/10\r\n\r\n',
     ValueError, "bad content-range: b'bytes 5-1/10'"),
    ('oversize_preamble', OK + b'\r\nX-Big: ' + b'a' * BUF_LEN, ValueError,
     NOT_FOUND + "b'HTTP/1.1 200 OK\\r\\nX-Big: aaaaaaaa'..."),
    ('truncated_preamble', OK + b'\r\nContent-Le', ValueError,
     NOT_FOUND + "b'HTTP/1.1 200 OK\\r\\nContent-Le'..."),
    ('nothing', b'', EmptyPreambleError, 'response preamble is empty'),
]


@pytest.mark.parametrize('name, answer, error, message', BAD_RESPONSES,
                         ids=[r[0] for r in BAD_RESPONSES])
def test_client_bad_response(hostile: Callable[..., Hostile], name: str,
                             answer: bytes, error: type, message: str) -> None:
    server = hostile([answer])
    conn = server.client().connect()
    with pytest.raises(error) as info:
        conn.request('GET', '/', {}, None)
    assert str(info.value) == message
    assert isinstance(info.value, (ValueError, ConnectionError))
    check_closed(conn)


def check_closed(conn: Connection) -> None:
    assert conn.closed is True
    with pytest.raises(ValueError) as info:
        conn.request('GET', '/', {}, None)
    assert str(info.value) == 'Connection is closed'
    assert conn.closed is True


CHUNKED = OK + b'\r\nTransfer-Encoding: chunked\r\n\r\n'

# (id, canned response, exception, message) -- the error comes from the body.
BAD_BODIES = [
    ('chunk_size_not_hex', CHUNKED + b'zz\r\n', "bad chunk_size: b'zz'"),
    ('chunk_size_negative', CHUNKED + b'-5\r\nhello\r\n', "bad chunk_size: b'-5'"),
    ('chunk_size_over_16_mib', CHUNKED + b'1000001\r\n',
     'need chunk_size <= 16777216; got 16777217'),
    ('chunk_bad_terminator', CHUNKED + b'5\r\nhelloXY0\r\n\r\n',
     "bad chunk data termination: b'XY'"),
    ('chunk_trailer', CHUNKED + b'5\r\nhello\r\n0\r\nX-T: v\r\n\r\n',
     "bad chunk data termination: b'X-'"),
    ('chunk_ext_no_value', CHUNKED + b'5;k\r\nhello\r\n0\r\n\r\n',
     "bad chunk extension: b'k'"),
    ('chunk_truncated', CHUNKED + b'5\r\nhel',
     'expected to read 7 bytes, but received 3'),
    ('chunk_last_missing', CHUNKED + b'5\r\nhello\r\n',
     "b'\\r\\n' not found in b''..."),
    ('cl_truncated', OK + b'\r\nContent-Length: 10\r\n\r\nhello',
     'expected to read 10 bytes, but received 5'),
]


@pytest.mark.parametrize('name, answer, message', BAD_BODIES,
                         ids=[r[0] for r in BAD_BODIES])
def test_client_bad_response_body(hostile: Callable[..., Hostile], name: str,
                                  answer: bytes, message: str) -> None:
    server = hostile([answer])
    conn = server.client().connect()
    response = conn.request('GET', '/', {}, None)
    assert response.status == 200
    with pytest.raises(ValueError) as info:
        response.body.read()
    assert str(info.value) == message
    check_closed(conn)


def test_client_head_body_desync(hostile: Callable[..., Hostile]) -> None:
    # A HEAD response has no body, so the 5 bytes a hostile server adds
    # are read as the start of the next response -- and refused.
    server = hostile([
        OK + b'\r\nContent-Length: 5\r\n\r\nhello',
        OK + b'\r\n\r\n',
    ])
    conn = server.client().connect()
    response = conn.request('HEAD', '/', {}, None)
    assert (response.status, response.body) == (200, None)
    with pytest.raises(ValueError) as info:
        conn.request('GET', '/', {}, None)
    assert str(info.value) == "bad response line: b'helloHTTP/1.1 200 OK'"
    check_closed(conn)


def test_client_skips_interim_responses(hostile: Callable[..., Hostile]) -> None:
    # 1xx responses are interim (RFC 9110 section 15.2): the final response
    # follows.  Taking one for the answer would pair every later request
    # with the response to the one before it.
    server = hostile([
        b'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n'
        + OK + b'\r\nContent-Length: 5\r\n\r\nfirst',
        OK + b'\r\nContent-Length: 6\r\n\r\nsecond',
    ])
    conn = server.client().connect()
    response = conn.request('GET', '/', {}, None)
    assert (response.status, response.body.read()) == (200, b'first')
    response = conn.request('GET', '/', {}, None)
    assert (response.status, response.body.read()) == (200, b'second')
    conn.close()


@pytest.mark.parametrize('interim', [
    b'HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\nhello',
    b'HTTP/1.1 100 Continue\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    b'HTTP/1.1 103 Early Hints\r\nLink: </style>; rel=preload\r\n\r\n',
], ids=['content_length', 'chunked', 'early_hints'])
def test_client_interim_response_with_headers(hostile: Callable[..., Hostile],
                                              interim: bytes) -> None:
    # Degu's client refuses headers on an interim response (a framing
    # header there could only desynchronize the stream).
    server = hostile([interim + OK + b'\r\n\r\n'])
    conn = server.client().connect()
    with pytest.raises(ValueError) as info:
        conn.request('GET', '/', {}, None)
    assert str(info.value) == 'interim response with headers: {!r}'.format(
        interim[:32]
    )
    check_closed(conn)


def test_client_expect_header_against_degu_server(echo: Tuple[Live, EchoApp]) -> None:
    # A caller may send ``expect: 100-continue`` itself (the body goes out
    # at once anyway); the server's "100 Continue" must not be taken for
    # the response.
    (live, app) = echo
    conn = live.connect()
    try:
        for body in (b'hello', b'', BodyIter([b'he', b'llo'], 5),
                     ChunkedBodyIter([(None, b'hello'), (None, b'')])):
            response = conn.request('PUT', '/up', {'expect': '100-continue'}, body)
            assert response.status == 200
            if body == b'':
                assert response.body is None  # content-length: 0, folded
            else:
                assert response.body.read() == b'hello'
        check_echo(conn, '/next')
    finally:
        conn.close()


@pytest.mark.parametrize('end', ['close', 'reset'])
def test_client_server_leaves_at_once(hostile: Callable[..., Hostile],
                                      end: str) -> None:
    # The server goes away before reading anything.
    server = hostile([], end=end)
    conn = server.client().connect()
    with pytest.raises(ConnectionError):
        conn.request('GET', '/', {}, None)
    check_closed(conn)


def test_client_server_leaves_mid_upload(hostile: Callable[..., Hostile]) -> None:
    # The server reads the preamble only and closes: sending the rest of
    # an 8 MiB body fails.
    server = hostile([b''], end='close')
    conn = server.client().connect()
    with pytest.raises(ConnectionError):
        conn.request('PUT', '/', {}, b'x' * (8 * 1024 * 1024))
    check_closed(conn)


def test_client_server_resets_mid_body(hostile: Callable[..., Hostile]) -> None:
    server = hostile([OK + b'\r\nContent-Length: 10\r\n\r\nhello'], end='reset')
    conn = server.client().connect()
    response = conn.request('GET', '/', {}, None)
    with pytest.raises(ConnectionResetError):
        response.body.read()
    check_closed(conn)


@pytest.mark.parametrize('answer', [
    b'',
    OK + b'\r\nContent-Le',
], ids=['silent', 'partial_preamble'])
def test_client_timeout(hostile: Callable[..., Hostile], answer: bytes) -> None:
    server = hostile([answer], end='hold')
    conn = server.client(timeout=0.5).connect()
    with pytest.raises(socket.timeout):
        conn.request('GET', '/', {}, None)
    check_closed(conn)


def test_client_trickled_response_preamble_cut_off() -> None:
    """The client's timeout bounds a whole response preamble, not each recv()."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(('127.0.0.1', 0))
    listener.listen(1)
    stop = threading.Event()
    sent: List[int] = []

    def trickle() -> None:
        (sock, _) = listener.accept()
        try:
            sock.recv(4096)
            for byte in OK + b'\r\nX-Slow: ' + b'a' * 100 + b'\r\n\r\n':
                if stop.wait(0.1):
                    break
                sock.sendall(bytes([byte]))
                sent.append(byte)
        except OSError:
            pass
        finally:
            sock.close()

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        conn = Client(listener.getsockname(), timeout=0.5).connect()
        with pytest.raises((socket.timeout, TimeoutError)):  # (one from 3.10)
            conn.request('GET', '/', {}, None)
        # Each byte arrived well within 0.5 s, yet the client gave up long
        # before the ~130-byte preamble was complete.
        assert len(sent) < 40
        check_closed(conn)
    finally:
        stop.set()
        thread.join(PATIENCE)
        listener.close()


def test_client_timeout_mid_body(hostile: Callable[..., Hostile]) -> None:
    server = hostile([OK + b'\r\nContent-Length: 10\r\n\r\nhello'], end='hold')
    conn = server.client(timeout=0.5).connect()
    response = conn.request('GET', '/', {}, None)
    with pytest.raises(socket.timeout):
        response.body.read()
    check_closed(conn)


# ---------------------------------------------------------------------------
# Faults: apps that fail, peers that vanish, floods, leaks

class Header:
    """A header value whose ``str()`` raises."""

    def __str__(self) -> str:
        raise RuntimeError('no string for you')


def _raise(error: Exception) -> Any:
    raise error


def _fail_iter(size: int) -> Iterator[bytes]:
    yield b'p' * size
    raise RuntimeError('source failed half-way')


# More than the writer buffers, so it goes out before the failure.
BIG = 2 * BUF_LEN

# (name, response builder, whether a partial response goes out first)
BAD_APPS: Dict[str, Tuple[Callable[[Any], Any], bool]] = {
    'raises_value_error': (lambda r: _raise(ValueError('bad')), False),
    'raises_zero_division': (lambda r: 1 / 0, False),
    'raises_key_error': (lambda r: r.headers['missing'], False),
    'returns_none': (lambda r: None, False),
    'returns_list': (lambda r: [200, 'OK', {}, None], False),
    'returns_3_tuple': (lambda r: (200, 'OK', {}), False),
    'returns_5_tuple': (lambda r: (200, 'OK', {}, None, None), False),
    'status_str': (lambda r: ('200', 'OK', {}, None), False),
    'status_600': (lambda r: (600, 'OK', {}, None), False),
    'reason_bytes': (lambda r: (200, b'OK', {}, None), False),
    'headers_list': (lambda r: (200, 'OK', [('x', 'y')], None), False),
    'header_key_uppercase': (lambda r: (200, 'OK', {'X-Up': 'y'}, None), False),
    'header_value_non_ascii': (lambda r: (200, 'OK', {'x': 'caf\xe9'}, None),
                               False),
    'header_value_str_raises': (lambda r: (200, 'OK', {'x': Header()}, None),
                                False),
    'body_str': (lambda r: (200, 'OK', {}, 'hello'), False),
    'body_int': (lambda r: (200, 'OK', {}, 17), False),
    'content_length_mismatch': (
        lambda r: (200, 'OK', {'content-length': 3}, b'hello'), False),
    'both_framing_headers': (
        lambda r: (200, 'OK', {'transfer-encoding': 'chunked'}, b'hello'), False),
    'too_many_headers': (
        lambda r: (200, 'OK', {'x{}'.format(i): 'v' for i in range(21)}, None),
        False),
    # Streamed bodies fail before anything is flushed ...
    'body_iter_raises': (
        lambda r: (200, 'OK', {}, BodyIter(_fail_iter(10), 100)), True),
    'body_iter_short': (
        lambda r: (200, 'OK', {}, BodyIter([b'short'], 100)), False),
    'chunked_iter_no_end': (
        lambda r: (200, 'OK', {}, ChunkedBodyIter([(None, b'abc')])), False),
    # ... or after: the preamble and some data went out, the rest is cut.
    'body_iter_raises_late': (
        lambda r: (200, 'OK', {}, BodyIter(_fail_iter(BIG), 2 * BIG)), True),
    'body_iter_short_late': (
        lambda r: (200, 'OK', {}, BodyIter([b'q' * BIG], 2 * BIG)), True),
    'chunked_iter_no_end_late': (
        lambda r: (200, 'OK', {}, ChunkedBodyIter([(None, b'c' * BIG)])), True),
}


class FaultApp:
    """``/<name>`` answers with ``BAD_APPS[name]``; anything else echoes the URI."""

    def __call__(self, session: Any, request: Any, api: Any) -> Any:
        if request.path and request.path[0] in BAD_APPS:
            return BAD_APPS[request.path[0]][0](request)
        if request.path == ['unread']:
            return (200, 'OK', {}, b'did not read the body')
        if request.path == ['head-body']:
            return (200, 'OK', {}, b'body for a HEAD')
        return (200, 'OK', {}, request.uri.encode())


@pytest.fixture(scope='module')
def faulty() -> Iterator[Live]:
    live = Live(FaultApp(), timeout=2 * PATIENCE)
    yield live
    live.stop()


FAULTS = sorted(BAD_APPS) + ['unread', 'head-body']


@pytest.mark.parametrize('name', FAULTS)
def test_bad_app_costs_one_connection(faulty: Live, name: str) -> None:
    # A keep-alive connection opened before the fault survives it; the
    # faulty one gets a 500 (or, when the preamble went out already, a
    # cut-off streamed body).
    keep = faulty.connect()
    try:
        check_echo(keep, '/before')
        sock = faulty.raw()
        try:
            if name == 'unread':
                sock.sendall(request(b'PUT /unread HTTP/1.1',
                                     b'Content-Length: 5', body=b'hello'))
            elif name == 'head-body':
                sock.sendall(request(b'HEAD /head-body HTTP/1.1'))
            else:
                sock.sendall(request('GET /{} HTTP/1.1'.format(name).encode()))
            received = read_until_closed(sock)
        finally:
            sock.close()
        if name in BAD_APPS and BAD_APPS[name][1]:
            # Streamed: the preamble went out, the body was cut off.
            (preamble, _, body) = received.partition(b'\r\n\r\n')
            assert preamble in (
                b'HTTP/1.1 200 OK\r\ncontent-length: %d' % (2 * BIG),
                b'HTTP/1.1 200 OK\r\ncontent-length: 100',
                b'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked',
            )
            assert 0 < len(body) < 2 * BIG
            assert not body.endswith(b'0\r\n\r\n')
        elif name == 'unread':
            # Not a fault any more: answered, and closed after it.
            assert received == (
                b'HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 21\r\n'
                b'\r\ndid not read the body'
            )
        else:
            assert received == ANSWER_500
        check_echo(keep, '/after')
    finally:
        keep.close()
    faulty.check_alive()


def test_peer_resets_while_server_reads(echo: Tuple[Live, EchoApp]) -> None:
    (live, app) = echo
    app.reset()
    sock = live.raw()
    sock.sendall(request(b'PUT /slow HTTP/1.1', b'Content-Length: 100000',
                         body=b'x' * 1000))
    assert app.entered.wait(PATIENCE)
    time.sleep(0.05)  # let the app block in recv()
    reset(sock)
    wait_until(lambda: bool(app.errors), 'the app to see the reset')
    assert isinstance(app.errors[0], ConnectionResetError)
    live.check_alive()


def test_peer_resets_while_server_writes(echo: Tuple[Live, EchoApp],
                                         caplog: Any) -> None:
    # An 8 MiB response; the peer reads a little, then resets.
    (live, app) = echo
    caplog.set_level(logging.INFO, logger='degu.server')
    sock = live.raw()
    sock.sendall(request(b'GET /big HTTP/1.1'))
    assert recv_exactly(sock, 16) == b'HTTP/1.1 200 OK\r'
    # The server logs the session as the peer's address, i.e. our sockname.
    ending = '- {!r} Handled 0 requests: '.format(sock.getsockname())
    reset(sock)

    def ended() -> List[Any]:
        return [r for r in caplog.records if r.getMessage().startswith(ending)]
    wait_until(lambda: bool(ended()), 'the server to log ' + repr(ending))
    record = ended()[0]
    assert record.levelno == logging.INFO  # a ConnectionError, not a bug
    assert record.getMessage()[len(ending):].startswith(
        ('ConnectionResetError', 'BrokenPipeError')
    )
    live.check_alive()


def test_max_connections_flood() -> None:
    # max_connections=5 and 20 clients at once, each sending a request: 5
    # are served (and keep their slots), the 15 others are refused -- closed,
    # nothing sent -- within the slot wait plus a margin, not one slot wait
    # per refused connection in turn (that would take 15 * SLOT_WAIT).
    app = EchoApp()
    baseline = threading.active_count()
    live = Live(app, max_connections=5, timeout=4 * PATIENCE)
    expected = b'HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n/'
    lock = threading.Lock()
    outcomes: List[bytes] = []
    socks: List[socket.socket] = []

    def client() -> None:
        # Blocking connect: SYNs dropped by the full backlog are retried.
        sock = socket.create_connection(live.address, timeout=4 * PATIENCE)
        with lock:
            socks.append(sock)
        send_quietly(sock, (get(),), False)
        data = b''
        try:
            while len(data) < len(expected):
                more = sock.recv(len(expected) - len(data))
                if not more:
                    break
                data += more
        except ConnectionResetError:
            pass
        with lock:
            outcomes.append(data)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(20)]
    try:
        for thread in threads:
            thread.start()
        # The margin covers SYNs the full backlog dropped: clients resend
        # them after 1 s, 3 s, 7 s.
        limit = SLOT_WAIT + 2 * PATIENCE
        deadline = time.monotonic() + limit
        for thread in threads:
            thread.join(max(0, deadline - time.monotonic()))
        assert len(outcomes) == 20, (
            'only {} of 20 clients answered or refused within {} s'.format(
                len(outcomes), limit)
        )
        # The refused ones are told so (unless a reset beat the answer).
        refused = [o for o in outcomes if o != expected]
        assert len(refused) == 15
        assert all(o in (b'', UNAVAILABLE[:len(expected)]) for o in refused), refused
    finally:
        with lock:
            for sock in socks:
                sock.close()
    # Once the flood is gone (its threads ended), new requests succeed.
    wait_until(lambda: threading.active_count() <= baseline + 1,
               'the connection threads to end')
    for _ in range(5):
        live.check_alive()
    live.stop()


def _stats_app(session: Any, request: Any, api: Any) -> Any:
    """Runs in a child process; ``/stats`` reports open fds and live threads."""
    if request.path == ['stats']:
        headers = {
            'x-fds': str(len(os.listdir('/proc/self/fd'))),
            'x-threads': str(threading.active_count()),
        }
        return (200, 'OK', headers, None)
    if request.path == ['raise']:
        raise ValueError('this connection only')
    data = read_body(request.body)
    return (200, 'OK', {}, data or request.uri.encode())


def _stats(client: Client) -> Tuple[int, int]:
    conn = client.connect()
    try:
        response = conn.get('/stats', {})
        return (int(response.headers['x-fds']),
                int(response.headers['x-threads']))
    finally:
        conn.close()


def churn(client: Client, count: int) -> None:
    """*count* sequential connections; 4 in 10 misbehave, each in its own way."""
    for i in range(count):
        kind = i % 10
        if kind == 1:  # malformed request
            sock = client.create_socket()
            sock.sendall(b'GET /\x00 HTTP/1.1\r\n\r\n')
            assert read_until_closed(sock) == answer(400)
            sock.close()
        elif kind == 3:  # the app raises
            conn = client.connect()
            assert conn.get('/raise', {}).status == 500
            conn.close()
        elif kind == 5:  # reset mid-body
            sock = client.create_socket()
            sock.sendall(request(b'PUT /x HTTP/1.1', b'Content-Length: 9',
                                 body=b'abc'))
            reset(sock)
        elif kind == 7:  # connect and leave
            client.create_socket().close()
        else:
            conn = client.connect()
            check_echo(conn, '/{}'.format(i))
            conn.close()


def measure_growth(count: int) -> Tuple[Tuple[int, int], Tuple[int, int]]:
    """``((fds, threads) before, (fds, threads) after)`` *count* connections.

    The server runs in a child process, so the counts are its own.  "After"
    is polled for up to PATIENCE seconds: the threads of the last
    connections may still be on their way out.
    """
    server = TempServer(('127.0.0.1', 0), _stats_app, timeout=PATIENCE)
    try:
        client = Client(server.address, timeout=PATIENCE)
        before = _stats(client)
        churn(client, count)
        deadline = time.monotonic() + PATIENCE
        while True:
            after = _stats(client)
            if after[0] <= before[0] + FD_SLACK and after[1] <= before[1] + 1:
                break
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        return (before, after)
    finally:
        server.terminate()


# A couple of fds may legitimately come and go (a log handler, a socket of
# the measuring connection still closing).
FD_SLACK = 2


@pytest.mark.skipif(not HAVE_PROC_FD, reason='needs /proc/self/fd')
def test_no_fd_or_thread_growth() -> None:
    (before, after) = measure_growth(500)
    assert after[0] <= before[0] + FD_SLACK, (before, after)
    assert after[1] <= before[1] + 1, (before, after)


# ---------------------------------------------------------------------------
# Server.shutdown() (§13.17)

def test_shutdown_returns_promptly() -> None:
    live = Live(EchoApp())
    live.check_alive()
    live.server.shutdown()
    live.thread.join(PATIENCE)
    assert not live.thread.is_alive()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(live.address, timeout=PATIENCE)
    live.server.shutdown()  # a second time is harmless


def test_shutdown_context_manager() -> None:
    with Server(('127.0.0.1', 0), EchoApp()) as server:
        address = server.address
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        conn = Client(address, timeout=PATIENCE).connect()
        check_echo(conn, '/inside')
        conn.close()
    thread.join(PATIENCE)
    assert not thread.is_alive()
    assert server.sock.fileno() == -1
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=PATIENCE)


def test_shutdown_lets_in_flight_request_finish() -> None:
    entered = threading.Event()
    release = threading.Event()

    def app(session: Any, request: Any, api: Any) -> Any:
        entered.set()
        assert release.wait(PATIENCE)
        return (200, 'OK', {}, b'finished')

    live = Live(app)
    sock = live.raw()
    idle = live.raw()
    stopper = threading.Thread(target=live.server.shutdown, daemon=True)
    try:
        sock.sendall(get())
        assert entered.wait(PATIENCE)
        stopper.start()
        # The accept loop stops at once, and the idle connection is closed
        # at once; shutdown() itself waits for the request in flight.
        live.thread.join(PATIENCE)
        assert not live.thread.is_alive()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(live.address, timeout=PATIENCE)
        assert read_until_closed(idle) == b''
        assert stopper.is_alive()
        release.set()
        # The response goes out whole, saying the connection closes.
        assert read_until_closed(sock) == (
            b'HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 8\r\n\r\n'
            b'finished'
        )
        stopper.join(PATIENCE)
        assert not stopper.is_alive()
    finally:
        release.set()
        sock.close()
        idle.close()
