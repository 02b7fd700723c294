# SPDX-License-Identifier: LGPL-3.0-or-later
"""Tests for degu.handler: serving one connection, and the response checks.

``serve_connection()`` runs here over one end of a ``socket.socketpair()``,
with a stand-in for the server (the attributes the handler reads); the
other end plays the client.  Everything through a real listening server is
in test_e2e.py and test_hardening.py.
"""

import io
import logging
import os
import socket
import threading
from typing import Any, List, Optional, Tuple

import pytest

from degu.bodies import Body
from degu.errors import TYPE_ERROR, ProtocolError
from degu.handler import (
    CONTINUE,
    LiveConnection,
    Switch,
    answer,
    check_response,
    serve_connection,
)
from degu.messages import Response
from degu.session import Request
from degu.sockio import Stream


class FakeServer:
    """What serve_connection() reads from a Server."""

    def __init__(self, app: Any, on_connect: Any = None, max_requests: int = 1000,
                 timeout: float = 5) -> None:
        self.app = app
        self._on_connect = on_connect
        self.max_requests = max_requests
        self.timeout = timeout

    def _wrap(self, sock: Any) -> Any:
        return sock


def live(stream: Stream) -> LiveConnection:
    return LiveConnection(stream, Switch())


def start(server: FakeServer, timeout: Optional[float] = None
          ) -> Tuple[socket.socket, socket.socket, threading.Thread]:
    """Serve one socketpair connection in a thread (the Stream's preamble
    *timeout* as given): the server's end, the client's end and the thread."""
    (ours, theirs) = socket.socketpair()
    thread = threading.Thread(
        target=serve_connection,
        args=(server, live(Stream(ours, timeout, server_side=True)), b''),
    )
    thread.start()
    return (ours, theirs, thread)


def run(server: FakeServer, data: bytes) -> bytes:
    """Serve one connection that sends *data* then closes its write side."""
    (ours, theirs, thread) = start(server)
    try:
        theirs.sendall(data)
        theirs.shutdown(socket.SHUT_WR)
    except BrokenPipeError:  # the handler closed first
        pass
    theirs.settimeout(5)
    received = b''
    while True:
        try:
            more = theirs.recv(65536)
        except ConnectionResetError:  # closed with our bytes unread
            break
        if not more:
            break
        received += more
    thread.join(5)
    assert not thread.is_alive()
    theirs.close()
    assert ours.fileno() == -1  # closed by the handler, via its Stream
    return received


def hello(session: Any, request: Any, api: Any) -> Any:
    return (200, 'OK', {}, b'hello')


HELLO = b'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello'
HELLO_CLOSE = (b'HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 5\r\n\r\n'
               b'hello')


def test_answer() -> None:
    assert answer(505, 'HTTP Version Not Supported') == (
        b'HTTP/1.1 505 HTTP Version Not Supported\r\ncontent-length: 0\r\n'
        b'connection: close\r\n\r\n'
    )


def test_access_log(caplog: Any) -> None:
    # One line per request, answered or refused; only when asked for.
    def app(session: Any, request: Any, api: Any) -> Any:
        if request.path == ['nope']:
            return (404, 'Not Found', {}, None)
        return (200, 'OK', {}, b'hello')
    (ours, theirs) = socket.socketpair()
    conn = LiveConnection(Stream(ours, server_side=True), Switch(), True)
    thread = threading.Thread(target=serve_connection,
                              args=(FakeServer(app), conn, b''))
    with caplog.at_level(logging.INFO, logger='degu.access'):
        thread.start()
        theirs.sendall(b'GET /a?b HTTP/1.1\r\n\r\nHEAD /nope HTTP/1.1\r\n\r\n'
                       b'GET / HTTP/1.0\r\n\r\n')
        theirs.shutdown(socket.SHUT_WR)
        thread.join(5)
    theirs.close()
    lines = [r for r in caplog.records if r.name == 'degu.access']
    assert [r.levelno for r in lines] == [logging.INFO] * 3
    text = [r.getMessage() for r in lines]
    assert text[0].startswith('unix:{}/{}/{} "GET /a?b" 200 {} '.format(
        os.getpid(), os.getuid(), os.getgid(), len(HELLO)))
    assert text[1].startswith('unix:{}/{}/{} "HEAD /nope" 404 '.format(
        os.getpid(), os.getuid(), os.getgid()))
    assert text[2].startswith('unix:{}/{}/{} "- -" 505 {} '.format(
        os.getpid(), os.getuid(), os.getgid(),
        len(answer(505, 'HTTP Version Not Supported'))))
    seconds = float(text[0].split()[-1])
    assert 0 <= seconds < 5


def test_no_access_log_by_default(caplog: Any) -> None:
    with caplog.at_level(logging.INFO, logger='degu.access'):
        run(FakeServer(hello), b'GET / HTTP/1.1\r\n\r\n')
    assert [r for r in caplog.records if r.name == 'degu.access'] == []


def test_keep_alive_then_client_closes(caplog: Any) -> None:
    with caplog.at_level(logging.INFO, logger='degu.server'):
        out = run(FakeServer(hello), b'GET / HTTP/1.1\r\n\r\n' * 3)
    assert out == HELLO * 3
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0].endswith(' New connection')
    assert messages[-1].endswith(' Handled 3 requests: client closed the connection')
    assert all(r.levelno == logging.INFO for r in caplog.records)


def test_max_requests_said_in_the_last_response(caplog: Any) -> None:
    with caplog.at_level(logging.INFO, logger='degu.server'):
        out = run(FakeServer(hello, max_requests=2), b'GET / HTTP/1.1\r\n\r\n' * 3)
    assert out == HELLO + HELLO_CLOSE
    assert caplog.records[-1].getMessage().endswith(' Handled 2 requests: max_requests')


def test_client_asks_to_close() -> None:
    for value in (b'close', b'Close', b'keep-alive, close', b'TE,  CLOSE'):
        data = b'GET / HTTP/1.1\r\nConnection: ' + value + b'\r\n\r\n'
        assert run(FakeServer(hello), data * 2) == HELLO_CLOSE
    data = b'GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n'
    assert run(FakeServer(hello), data * 2) == HELLO * 2


def test_app_asks_to_close() -> None:
    def app(session: Any, request: Any, api: Any) -> Any:
        return (200, 'OK', {'connection': 'close'}, b'hello')
    assert run(FakeServer(app), b'GET / HTTP/1.1\r\n\r\n' * 2) == HELLO_CLOSE


def test_app_bad_connection_header(caplog: Any) -> None:
    def app(session: Any, request: Any, api: Any) -> Any:
        return (200, 'OK', {'connection': 'keep-alive'}, b'hello')
    with caplog.at_level(logging.INFO, logger='degu.server'):
        out = run(FakeServer(app), b'GET / HTTP/1.1\r\n\r\n' * 2)
    assert out == answer(500, 'Internal Server Error')
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert str(errors[0].exc_info[1]) == (
        "response headers['connection'] can only be 'close'; got 'keep-alive'"
    )


def test_closing_status() -> None:
    def app(session: Any, request: Any, api: Any) -> Any:
        return (403, 'Forbidden', {}, None)
    out = run(FakeServer(app), b'GET / HTTP/1.1\r\n\r\n' * 2)
    assert out == (b'HTTP/1.1 403 Forbidden\r\nconnection: close\r\n'
                   b'content-length: 0\r\n\r\n')


def test_keep_alive_status_is_framed() -> None:
    def app(session: Any, request: Any, api: Any) -> Any:
        return (404, 'Not Found', {}, None)
    out = run(FakeServer(app), b'GET / HTTP/1.1\r\n\r\n' * 2)
    assert out == b'HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n' * 2


def test_unread_body_answered_then_closed(caplog: Any) -> None:
    # An app may answer without reading the body (a 405, a 401): the answer
    # goes out, says it closes, and nothing after it is read as a request.
    def app(session: Any, request: Any, api: Any) -> Any:
        return (405, 'Method Not Allowed', {}, None)
    data = b'PUT / HTTP/1.1\r\ncontent-length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n'
    with caplog.at_level(logging.INFO, logger='degu.server'):
        out = run(FakeServer(app), data)
    assert out == (b'HTTP/1.1 405 Method Not Allowed\r\nconnection: close\r\n'
                   b'content-length: 0\r\n\r\n')
    assert caplog.records[-1].getMessage().endswith(
        ' Handled 1 requests: request body not read'
    )


def test_on_connect_refuses(caplog: Any) -> None:
    seen: List[Any] = []

    def on_connect(session: Any, sock: Any) -> Any:
        seen.append((session.requests, type(sock)))
        return 1  # truthy is not enough: only True accepts
    with caplog.at_level(logging.INFO, logger='degu.server'):
        assert run(FakeServer(hello, on_connect), b'GET / HTTP/1.1\r\n\r\n') == b''
    assert seen == [(0, socket.socket)]
    record = caplog.records[-1]
    assert record.levelno == logging.WARNING
    assert record.getMessage().endswith(' Rejected by app.on_connect()')


def test_app_error_answered_500_and_logged_with_traceback(caplog: Any) -> None:
    def app(session: Any, request: Any, api: Any) -> Any:
        raise RuntimeError('oops')
    with caplog.at_level(logging.INFO, logger='degu.server'):
        out = run(FakeServer(app), b'GET / HTTP/1.1\r\n\r\n' * 2)
    assert out == answer(500, 'Internal Server Error')
    (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert error.getMessage().endswith(' Error after handling 0 requests:')
    assert error.exc_info is not None and error.exc_info[0] is RuntimeError
    assert caplog.records[-1].getMessage().endswith(
        " Handled 0 requests: 500 Internal Server Error: RuntimeError('oops')"
    )


def test_peer_fault_one_bounded_line(caplog: Any) -> None:
    # A bad chunk: the peer's fault, answered with its status, logged once,
    # at INFO, without a traceback, the message cut short.
    def app(session: Any, request: Any, api: Any) -> Any:
        return (200, 'OK', {}, request.body.read())
    data = (b'POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello'
            + b'X' * 5000)
    with caplog.at_level(logging.INFO, logger='degu.server'):
        out = run(FakeServer(app), data)
    assert out == answer(400, 'Bad Request')
    assert [r.levelno for r in caplog.records] == [logging.INFO, logging.INFO]
    last = caplog.records[-1]
    assert last.exc_info is None
    assert last.getMessage().endswith(
        " Handled 0 requests: 400 Bad Request: bad chunk data termination: b'XX'"
    )


def test_peer_fault_body_too_big_for_read() -> None:
    def app(session: Any, request: Any, api: Any) -> Any:
        return (200, 'OK', {}, request.body.read())
    data = b'PUT / HTTP/1.1\r\ncontent-length: 16777217\r\n\r\nabc'
    assert run(FakeServer(app), data) == answer(413, 'Content Too Large')


def test_app_protocol_error_from_elsewhere_is_the_apps() -> None:
    # A ProtocolError that did not come from this request (the app's own
    # client got a bad answer elsewhere) is the app's problem: 500.
    def app(session: Any, request: Any, api: Any) -> Any:
        raise ProtocolError('bad upstream response')
    assert run(FakeServer(app), b'GET / HTTP/1.1\r\n\r\n') == answer(
        500, 'Internal Server Error'
    )


def test_expect_continue_owed_then_paid() -> None:
    def app(session: Any, request: Any, api: Any) -> Any:
        return (200, 'OK', {}, request.body.read())
    (_, theirs, thread) = start(FakeServer(app))
    theirs.settimeout(5)
    theirs.sendall(b'PUT / HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n')
    assert theirs.recv(100) == CONTINUE
    theirs.sendall(b'hi')
    theirs.shutdown(socket.SHUT_WR)
    assert theirs.recv(100) == b'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi'
    thread.join(5)
    theirs.close()


def test_expect_continue_not_owed_when_the_body_came_along() -> None:
    # The client did not wait: no interim response (RFC 9110 section 10.1.1).
    def app(session: Any, request: Any, api: Any) -> Any:
        return (200, 'OK', {}, request.body.read())
    out = run(FakeServer(app),
              b'PUT / HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nhi')
    assert out == b'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi'


def test_expect_continue_unread() -> None:
    def app(session: Any, request: Any, api: Any) -> Any:
        return (401, 'Unauthorized', {}, None)
    out = run(FakeServer(app),
              b'PUT / HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n')
    assert out == (b'HTTP/1.1 401 Unauthorized\r\nconnection: close\r\n'
                   b'content-length: 0\r\n\r\n')


def test_other_expectation_417() -> None:
    out = run(FakeServer(hello),
              b'PUT / HTTP/1.1\r\nContent-Length: 2\r\nExpect: magic\r\n\r\nhi')
    assert out == answer(417, 'Expectation Failed')


def test_stalled_request_408() -> None:
    (_, theirs, thread) = start(FakeServer(hello, timeout=0.2), 0.2)
    theirs.sendall(b'GET / HTTP/1.1\r\n')  # and then nothing
    theirs.settimeout(5)
    assert theirs.recv(1000) == answer(408, 'Request Timeout')
    theirs.shutdown(socket.SHUT_WR)
    thread.join(5)
    theirs.close()


def test_idle_timeout_is_just_closed() -> None:
    (_, theirs, thread) = start(FakeServer(hello, timeout=0.2), 0.2)
    theirs.settimeout(5)
    assert theirs.recv(1000) == b''
    thread.join(5)
    theirs.close()


def test_nothing_answered_after_a_response_started() -> None:
    # The preamble went out: an error in the body can only cut it off.
    def app(session: Any, request: Any, api: Any) -> Any:
        def source() -> Any:
            yield b'x' * 10
            raise ZeroDivisionError()
        return (200, 'OK', {}, api.BodyIter(source(), 20))
    out = run(FakeServer(app), b'GET / HTTP/1.1\r\n\r\n')
    assert out == b'HTTP/1.1 200 OK\r\ncontent-length: 20\r\n\r\n' + b'x' * 10


def test_linger_lets_the_client_read_the_answer() -> None:
    # The client sends a big body the app never reads, then reads: it gets
    # the answer, not a reset, because the server drains before closing.
    def app(session: Any, request: Any, api: Any) -> Any:
        return (413, 'Content Too Large', {}, None)
    (_, theirs, thread) = start(FakeServer(app))
    theirs.settimeout(5)
    theirs.sendall(b'PUT / HTTP/1.1\r\ncontent-length: 300000\r\n\r\n')
    sent = 0
    try:
        while sent < 300000:
            sent += theirs.send(b'z' * 65536)
    except OSError:
        pass
    theirs.shutdown(socket.SHUT_WR)
    received = b''
    while True:
        more = theirs.recv(65536)
        if not more:
            break
        received += more
    assert received.startswith(b'HTTP/1.1 413 Content Too Large\r\n')
    thread.join(5)
    theirs.close()


# -- check_response ------------------------------------------------------------

def request(method: str = 'GET', body: Any = None) -> Request:
    return Request(method, '/', {}, body, [], [], None)


@pytest.mark.parametrize('response', [
    (200, 'OK', {}, None),
    Response(200, 'OK', {}, None),
    (404, 'Not Found', {}, b''),
])
def test_check_response_good(response: Any) -> None:
    assert check_response(request(), response) == tuple(response)


@pytest.mark.parametrize('response, exc, message', [
    ([200, 'OK', {}, None], TypeError,
     "response: need a <class 'tuple'>; got a <class 'list'>"),
    ((200, 'OK', {}), ValueError, 'response: need a 4-tuple; got a 3-tuple'),
    (('200', 'OK', {}, None), TypeError, TYPE_ERROR.format('status', int, str, '200')),
    ((99, 'OK', {}, None), ValueError, 'need 100 <= status <= 599; got 99'),
    ((600, 'OK', {}, None), ValueError, 'need 100 <= status <= 599; got 600'),
])
def test_check_response_bad(response: Any, exc: type, message: str) -> None:
    with pytest.raises(exc) as cm:
        check_response(request(), response)
    assert type(cm.value) is exc
    assert str(cm.value) == message


def test_check_response_leaves_the_request_body_alone() -> None:
    # An unread body is not the response's fault (the connection closes).
    body = Body(io.BytesIO(b'abc'), 3)
    assert check_response(request('PUT', body), (200, 'OK', {}, None))
