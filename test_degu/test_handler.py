"""Tests for degu.handler: serving one connection, and the response checks.

``serve_connection()`` runs here over one end of a ``socket.socketpair()``,
with a stand-in for the server (the attributes the handler reads); the
other end plays the client.  Everything through a real listening server is
in test_e2e.py and test_hardening.py.
"""

import io
import logging
import socket
import threading
from typing import Any, List, Optional

import pytest

from degu.bodies import Body
from degu.errors import TYPE_ERROR
from degu.handler import CONTINUE, check_response, serve_connection
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


def run(server: FakeServer, data: bytes) -> bytes:
    """Serve one connection that sends *data* then closes its write side."""
    (ours, theirs) = socket.socketpair()
    thread = threading.Thread(
        target=serve_connection, args=(server, Stream(ours, server_side=True), b'')
    )
    thread.start()
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


def test_keep_alive_then_client_closes(caplog: Any) -> None:
    with caplog.at_level(logging.INFO, logger='degu.server'):
        out = run(FakeServer(hello), b'GET / HTTP/1.1\r\n\r\n' * 3)
    assert out == HELLO * 3
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0].endswith(' New connection')
    assert messages[-1].endswith(' Handled 3 requests: client closed the connection')
    assert all(r.levelno == logging.INFO for r in caplog.records)


def test_max_requests() -> None:
    out = run(FakeServer(hello, max_requests=2), b'GET / HTTP/1.1\r\n\r\n' * 3)
    assert out == HELLO * 2


def test_closing_status() -> None:
    def app(session: Any, request: Any, api: Any) -> Any:
        return (403, 'Forbidden', {}, None)
    out = run(FakeServer(app), b'GET / HTTP/1.1\r\n\r\n' * 2)
    assert out == b'HTTP/1.1 403 Forbidden\r\n\r\n'


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


def test_app_error_is_logged_with_traceback(caplog: Any) -> None:
    def app(session: Any, request: Any, api: Any) -> Any:
        raise RuntimeError('oops')
    with caplog.at_level(logging.INFO, logger='degu.server'):
        run(FakeServer(app), b'GET / HTTP/1.1\r\n\r\n')
    record = caplog.records[-1]
    assert record.levelno == logging.ERROR
    assert record.getMessage().endswith(' Error after handling 0 requests:')
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError


def test_expect_continue_owed_then_paid() -> None:
    def app(session: Any, request: Any, api: Any) -> Any:
        return (200, 'OK', {}, request.body.read())
    out = run(FakeServer(app),
              b'PUT / HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nhi')
    assert out == CONTINUE + b'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi'


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


def test_check_response_request_body_not_consumed() -> None:
    body = Body(io.BytesIO(b'abc'), 3)
    with pytest.raises(ValueError) as cm:
        check_response(request('PUT', body), (200, 'OK', {}, None))
    assert str(cm.value) == 'request body not consumed: Body(<rfile>, 3)'
    # Unless the client still waits for 100 Continue (it sent nothing).
    assert check_response(request('PUT', body), (200, 'OK', {}, None), True)
    body.read()
    assert check_response(request('PUT', body), (200, 'OK', {}, None))
