# SPDX-License-Identifier: LGPL-3.0-or-later
"""Unit tests for degu.server: Server and SSLServer (SPEC §10.3, §13).

These tests build the objects and check their options, attributes, reprs and
error messages.  The few that need a running accept loop (shutdown, the
context manager) start ``serve_forever()`` in a daemon thread of the test
process; everything that talks HTTP lives in test_e2e.py.
"""

import _thread
import errno
import functools
import logging
import os
import shutil
import socket
import tempfile
import threading
from typing import Any, Iterator, List, Tuple

import pytest

from degu import server
from degu.base import (
    DELETE_BIT,
    GET_BIT,
    HEAD_BIT,
    POST_BIT,
    PUT_BIT,
    TYPE_ERROR,
    TYPE_ERROR2,
)
from degu.client import Client
from degu.server import Request, Server, Session
from test_degu.helpers import HAVE_IPV6

HAVE_ABSTRACT = os.uname().sysname == 'Linux'


# Deliberately wrong arguments, typed Any so mypy lets the tests pass them.
NOT_CALLABLE: Any = 'not callable'


def app(session: Any, request: Any, api: Any) -> Any:
    if request.body is not None:
        request.body.read()
    return (200, 'OK', {}, b'hello, world')


class AppClass:
    def __call__(self, session: Any, request: Any, api: Any) -> Any:
        return app(session, request, api)


class AppWithConnect(AppClass):
    def on_connect(self, session: Any, sock: Any) -> bool:
        return True


class AppBadConnect(AppClass):
    on_connect = 'nope'


@pytest.fixture
def tmpdir_short() -> Iterator[str]:
    """A short temporary directory (AF_UNIX paths are limited to 108 bytes)."""
    path = tempfile.mkdtemp(prefix='degu.')
    yield path
    shutil.rmtree(path)


def test_all() -> None:
    assert server.__all__ == ('Server', 'SSLServer', 'Session', 'Request')


# ---------------------------------------------------------------------------
# Server: addresses

def test_server_inet() -> None:
    srv = Server(('127.0.0.1', 0), app)
    try:
        assert srv.sock.family == socket.AF_INET
        assert srv.sock.type == socket.SOCK_STREAM
        assert srv.address == srv.sock.getsockname()
        assert srv.address[0] == '127.0.0.1'
        assert srv.address[1] > 0
        # §13.12: a fixed port can be reused at once after a restart.
        assert srv.sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) != 0
    finally:
        srv.close()


@pytest.mark.skipif(not HAVE_IPV6, reason='no IPv6 loopback')
def test_server_inet6() -> None:
    srv = Server(('::1', 0, 0, 0), app)
    try:
        assert srv.sock.family == socket.AF_INET6
        assert srv.address == srv.sock.getsockname()
        assert len(srv.address) == 4
        assert srv.address[0] == '::1'
        assert srv.address[1] > 0
        assert srv.sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) != 0
    finally:
        srv.close()


def test_server_unix_path(tmpdir_short: str) -> None:
    filename = os.path.join(tmpdir_short, 'my.sock')
    srv = Server(filename, app)
    try:
        assert srv.sock.family == socket.AF_UNIX
        assert srv.address == filename
        assert os.path.exists(filename)
    finally:
        srv.close()


@pytest.mark.skipif(not HAVE_ABSTRACT, reason='abstract AF_UNIX needs Linux')
def test_server_unix_abstract() -> None:
    srv = Server(b'', app)
    try:
        assert srv.sock.family == socket.AF_UNIX
        assert type(srv.address) is bytes
        # The kernel picks a name: a NUL then five hex digits.
        assert srv.address[:1] == b'\x00'
        assert len(srv.address) == 6
    finally:
        srv.close()


def test_server_listening_socket() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(('127.0.0.1', 0))
    sock.listen(5)
    srv = Server(sock, app)
    try:
        assert srv.sock is sock
        assert srv.address == sock.getsockname()
    finally:
        srv.close()


@pytest.mark.parametrize('address', [
    ('127.0.0.1',),
    ('127.0.0.1', 0, 0),
    ('::1', 0, 0, 0, 0),
    (),
])
def test_server_address_bad_length(address: Any) -> None:
    with pytest.raises(ValueError) as cm:
        Server(address, app)
    assert str(cm.value) == 'address: must have 2 or 4 items; got {!r}'.format(
        address
    )


@pytest.mark.parametrize('address', ['foo', 'foo/bar.sock', '/tmp/../tmp/x.sock',
                                     '/tmp//x.sock', '/tmp/x.sock/'])
def test_server_address_bad_filename(address: str) -> None:
    with pytest.raises(ValueError) as cm:
        Server(address, app)
    assert str(cm.value) == 'address: bad socket filename: {!r}'.format(address)


@pytest.mark.parametrize('address', [
    ['127.0.0.1', 0], 1234, None, bytearray(b''), 1.5,
])
def test_server_address_bad_type(address: Any) -> None:
    with pytest.raises(TypeError) as cm:
        Server(address, app)
    assert str(cm.value) == TYPE_ERROR.format(
        'address', (tuple, str, bytes), type(address), address
    )


def test_server_address_in_use(tmpdir_short: str) -> None:
    filename = os.path.join(tmpdir_short, 'taken.sock')
    first = Server(filename, app)
    second = Server(('127.0.0.1', 0), app)
    try:
        for address in (filename, second.address):
            with pytest.raises(OSError) as cm:
                Server(address, app)
            assert cm.value.errno == errno.EADDRINUSE
    finally:
        first.close()
        second.close()


def test_server_address_checked_before_app() -> None:
    with pytest.raises(ValueError) as cm:
        Server('relative.sock', NOT_CALLABLE)
    assert str(cm.value) == "address: bad socket filename: 'relative.sock'"


# ---------------------------------------------------------------------------
# Server: app and options

@pytest.mark.parametrize('bad', ['app', None, 17, b'x'])
def test_server_app_not_callable(bad: Any) -> None:
    with pytest.raises(TypeError) as cm:
        Server(('127.0.0.1', 0), bad)
    assert str(cm.value) == 'app: not callable: {!r}'.format(bad)


def test_server_on_connect_not_callable() -> None:
    bad = AppBadConnect()
    with pytest.raises(TypeError) as cm:
        Server(('127.0.0.1', 0), bad)
    assert str(cm.value) == 'app.on_connect: not callable: {!r}'.format(bad)


def test_server_on_connect_callable() -> None:
    srv = Server(('127.0.0.1', 0), AppWithConnect())
    srv.close()


@pytest.mark.skipif(not HAVE_ABSTRACT, reason='abstract AF_UNIX needs Linux')
def test_server_failure_closes_socket() -> None:
    # A failed constructor must not leave the name bound: binding the same
    # abstract name again only works if the first socket was closed.
    name = b'\x00degu-test-' + os.urandom(8).hex().encode()
    with pytest.raises(TypeError):
        Server(name, NOT_CALLABLE)
    with pytest.raises(TypeError):
        Server(name, app, nope=1)
    srv = Server(name, app)
    assert srv.address == name
    srv.close()


def test_server_failure_keeps_given_socket() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(('127.0.0.1', 0))
    sock.listen(5)
    with pytest.raises(TypeError):
        Server(sock, NOT_CALLABLE)
    assert sock.fileno() >= 0  # the caller's socket is the caller's to close
    sock.close()


def test_server_default_options() -> None:
    srv = Server(('127.0.0.1', 0), app)
    try:
        assert srv.app is app
        assert srv.options == {}
        assert srv.max_connections == 50
        assert srv.max_requests == 1000
        assert srv.timeout == 30
        assert srv.allowed_uids is None
    finally:
        srv.close()


def test_server_options() -> None:
    srv = Server(('127.0.0.1', 0), app, max_connections=7, max_requests=75000,
                 timeout=0.25)
    try:
        assert srv.options == {'max_connections': 7, 'max_requests': 75000,
                               'timeout': 0.25}
        assert srv.max_connections == 7
        assert srv.max_requests == 75000
        assert srv.timeout == 0.25
    finally:
        srv.close()
    srv = Server(('127.0.0.1', 0), app, max_requests=1, timeout=3)
    try:
        assert srv.max_requests == 1
        assert srv.timeout == 3
    finally:
        srv.close()
    uids = (os.getuid(), 65534)
    srv = Server(('127.0.0.1', 0), app, allowed_uids=uids)
    try:
        assert srv.allowed_uids is uids
    finally:
        srv.close()


@pytest.mark.parametrize('options, message', [
    ({'foo': 1}, 'unsupported Server() **options: foo'),
    ({'foo': 1, 'bar': 2}, 'unsupported Server() **options: bar, foo'),
    ({'timeout': 1, 'zz': 1, 'aa': 2, 'max_connections': 3},
     'unsupported Server() **options: aa, zz'),
])
def test_server_unknown_options(options: Any, message: str) -> None:
    with pytest.raises(TypeError) as cm:
        Server(('127.0.0.1', 0), app, **options)
    assert str(cm.value) == message


def test_server_unknown_options_subclass_name() -> None:
    class MyServer(Server):
        pass
    with pytest.raises(TypeError) as cm:
        MyServer(('127.0.0.1', 0), app, junk=True)
    assert str(cm.value) == 'unsupported MyServer() **options: junk'


@pytest.mark.parametrize('name, value', [
    ('max_connections', 1.0),
    ('max_connections', True),
    ('max_connections', '5'),
    ('max_requests', 10.0),
    ('max_requests', False),
    ('max_requests', None),
    ('timeout', '1'),
    ('timeout', True),
    ('timeout', None),
    ('allowed_uids', [0]),
    ('allowed_uids', 0),
])
def test_server_option_bad_type(name: str, value: Any) -> None:
    with pytest.raises(TypeError) as cm:
        Server(('127.0.0.1', 0), app, **{name: value})
    want: Any = {'timeout': (int, float), 'allowed_uids': (tuple, type(None))}.get(name, int)
    assert str(cm.value) == TYPE_ERROR.format(name, want, type(value), value)


@pytest.mark.parametrize('name, value, message', [
    ('max_connections', 0, 'max_connections must be > 0; got 0'),
    ('max_connections', -1, 'max_connections must be > 0; got -1'),
    ('max_requests', 0, 'need 1 <= max_requests <= 75000; got 0'),
    ('max_requests', -1, 'need 1 <= max_requests <= 75000; got -1'),
    ('max_requests', 75001, 'need 1 <= max_requests <= 75000; got 75001'),
    ('timeout', 0, 'timeout must be > 0; got 0'),
    ('timeout', 0.0, 'timeout must be > 0; got 0.0'),
    ('timeout', -0.5, 'timeout must be > 0; got -0.5'),
    ('timeout', float('nan'), 'timeout must be > 0; got nan'),
])
def test_server_option_bad_value(name: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError) as cm:
        Server(('127.0.0.1', 0), app, **{name: value})
    assert str(cm.value) == message


# ---------------------------------------------------------------------------
# Server: repr

def test_server_repr_function() -> None:
    srv = Server(('127.0.0.1', 0), app)
    try:
        assert repr(srv) == 'Server({!r}, test_degu.test_server.app)'.format(
            srv.address
        )
    finally:
        srv.close()


def test_server_repr_variants(tmpdir_short: str) -> None:
    def nested(session: Any, request: Any, api: Any) -> Any:
        return app(session, request, api)

    filename = os.path.join(tmpdir_short, 's')
    cases: List[Tuple[Any, str]] = [
        (AppClass(), 'test_degu.test_server.AppClass(<...>)'),
        (AppClass, 'test_degu.test_server.AppClass'),
        (nested, 'test_degu.test_server.test_server_repr_variants.<locals>.nested'),
        (functools.partial(app), 'functools.partial(<...>)'),
    ]
    for (the_app, name) in cases:
        srv = Server(filename, the_app)
        try:
            assert repr(srv) == "Server({!r}, {})".format(filename, name)
        finally:
            srv.close()
            os.unlink(filename)


def test_server_repr_subclass() -> None:
    class MyServer(Server):
        pass
    srv = MyServer(('127.0.0.1', 0), app)
    try:
        assert repr(srv) == 'MyServer({!r}, test_degu.test_server.app)'.format(
            srv.address
        )
    finally:
        srv.close()


# ---------------------------------------------------------------------------
# Server: lifetime (serve_forever in a thread, shutdown, context manager)

def _start(srv: Server) -> threading.Thread:
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    return thread


def test_server_shutdown_returns_serve_forever() -> None:
    srv = Server(('127.0.0.1', 0), app)
    thread = _start(srv)
    conn = Client(srv.address).connect()
    assert conn.get('/', {}).body.read() == b'hello, world'
    srv.shutdown()
    thread.join(5)
    assert not thread.is_alive()
    assert srv.sock.fileno() == -1  # listening socket closed
    # The idle connection was closed by the shutdown.
    with pytest.raises(ConnectionError):
        conn.get('/', {})
    # No new connections are accepted.
    with pytest.raises(ConnectionRefusedError):
        Client(srv.address).connect()
    srv.shutdown()  # idempotent


def test_server_shutdown_before_serve_forever() -> None:
    srv = Server(('127.0.0.1', 0), app)
    srv.shutdown()
    thread = _start(srv)
    thread.join(5)
    assert not thread.is_alive()


def test_server_shutdown_from_app_thread(tmpdir_short: str) -> None:
    # shutdown() is thread-safe: an app may stop its own server.
    holder: List[Server] = []

    def stopping_app(session: Any, request: Any, api: Any) -> Any:
        holder[0].shutdown()
        return (200, 'OK', {}, None)

    srv = Server(os.path.join(tmpdir_short, 'x'), stopping_app)
    holder.append(srv)
    thread = _start(srv)
    conn = Client(srv.address).connect()
    assert conn.get('/', {}).status == 200
    thread.join(5)
    assert not thread.is_alive()
    conn.close()


def test_server_context_manager() -> None:
    with Server(('127.0.0.1', 0), app) as srv:
        assert type(srv) is Server
        thread = _start(srv)
        conn = Client(srv.address).connect()
        assert conn.get('/', {}).body.read() == b'hello, world'
        conn.close()
    thread.join(5)
    assert not thread.is_alive()
    assert srv.sock.fileno() == -1


def test_server_context_manager_on_error() -> None:
    with pytest.raises(ZeroDivisionError):
        with Server(('127.0.0.1', 0), app) as srv:
            thread = _start(srv)
            1 / 0
    thread.join(5)
    assert not thread.is_alive()
    assert srv.sock.fileno() == -1


class FlakyListener(socket.socket):
    """A listening socket whose first accept() fails like a full fd table."""

    failures = 1

    def accept(self) -> Any:
        if self.failures:
            self.failures -= 1
            raise OSError(errno.EMFILE, 'Too many open files')
        return super().accept()


def test_accept_errors_do_not_stop_the_server(caplog: Any) -> None:
    listener = FlakyListener(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(('127.0.0.1', 0))
    listener.listen(5)

    def app(session: Any, request: Any, api: Any) -> Any:
        return (200, 'OK', {}, b'still here')
    server = Server(listener, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    with caplog.at_level(logging.WARNING, logger='degu.server'):
        thread.start()
        conn = Client(server.address, timeout=5).connect()
        assert conn.get('/', {}).body.read() == b'still here'
        conn.close()
    server.shutdown()
    thread.join(5)
    assert not thread.is_alive()
    assert any('accept() failed, retrying' in r.getMessage() for r in caplog.records)


def test_other_accept_errors_still_raise() -> None:
    class BrokenListener(socket.socket):
        def accept(self) -> Any:
            raise OSError(errno.EINVAL, 'Invalid argument')
    listener = BrokenListener(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(('127.0.0.1', 0))
    listener.listen(5)
    server = Server(listener, lambda s, r, a: (200, 'OK', {}, None))
    with pytest.raises(OSError) as info:
        server.serve_forever()
    assert info.value.errno == errno.EINVAL


def test_forget_dummy_thread() -> None:
    # A thread not started by threading gets a dummy entry once something in
    # it asks for current_thread() (logging does); the server drops it.
    seen: List[int] = []
    done = threading.Event()

    def body() -> None:
        threading.current_thread()
        seen.append(threading.active_count())
        server._forget_dummy_thread(threading.get_ident())
        seen.append(threading.active_count())
        server._forget_dummy_thread(threading.get_ident())  # again: harmless
        done.set()

    before = threading.active_count()
    _thread.start_new_thread(body, ())
    assert done.wait(5)
    assert seen == [before + 1, before]
    server._forget_dummy_thread(threading.main_thread().ident)  # a real one stays
    assert threading.main_thread() in threading.enumerate()
