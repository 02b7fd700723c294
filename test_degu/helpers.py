# SPDX-License-Identifier: LGPL-3.0-or-later
"""Helpers shared by the test modules: live servers, raw sockets, polling
and child processes."""

import socket
import subprocess
import threading
import time
from typing import Any, Callable, List, Tuple, TypeVar

import pytest

from degu.client import Client, Connection
from degu.server import Server

# Bound for anything that should happen at once (a server answering or
# closing, a thread ending).  Only reached when a test fails.
PATIENCE = 5.0


def _have_ipv6() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(('::1', 0))
    except OSError:
        return False
    return True


# Whether this host can bind the IPv6 loopback address (tests of ::1 skip
# without it).
HAVE_IPV6 = _have_ipv6()

# The reason phrase of each status the server answers errors with.
REASONS = {
    400: 'Bad Request', 408: 'Request Timeout', 413: 'Content Too Large',
    414: 'URI Too Long', 417: 'Expectation Failed',
    431: 'Request Header Fields Too Large', 500: 'Internal Server Error',
    501: 'Not Implemented', 503: 'Service Unavailable',
    505: 'HTTP Version Not Supported',
}


def answer(status: int, reason: str = '') -> bytes:
    """The server's error answer: framed, empty, saying it closes."""
    return 'HTTP/1.1 {} {}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n'.format(
        status, reason or REASONS[status]
    ).encode()


T = TypeVar('T', bound='Background')


class Background:
    """*server*'s ``serve_forever()`` running in a daemon thread, until
    ``stop()`` (or the end of a ``with`` block).

    *server* is anything with ``serve_forever()`` and ``shutdown()``: a
    ``Server``, a ``Workers``.  ``stop()`` fails the test when
    ``serve_forever()`` has not returned *patience* seconds after
    ``shutdown()`` did.
    """

    def __init__(self, server: Any, patience: float = PATIENCE) -> None:
        self.server = server
        self.patience = patience
        self.thread = threading.Thread(
            target=self.server.serve_forever, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(self.patience)
        assert not self.thread.is_alive(), 'serve_forever() did not return'

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()


class Live(Background):
    """A ``Server`` whose ``serve_forever()`` runs in a daemon thread."""

    server: Server

    def __init__(self, address: Any, app: Any, **options: Any) -> None:
        super().__init__(Server(address, app, **options))
        self.address = self.server.address

    def client(self, **options: Any) -> Client:
        options.setdefault('timeout', PATIENCE)
        return Client(self.address, **options)

    def connect(self, **options: Any) -> Connection:
        return self.client(**options).connect()

    def raw(self) -> socket.socket:
        """A plain connected socket (timeout PATIENCE) for byte-level checks."""
        return self.client().create_socket()


def recv_all(sock: socket.socket) -> bytes:
    """Read until the peer closes (EOF or reset).

    Fails the test, showing what did arrive, when the peer neither closes
    nor sends within the socket's timeout: a server must never sit on a
    request it refused.
    """
    parts: List[bytes] = []
    while True:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break
        except socket.timeout:
            pytest.fail('peer neither closed nor answered; got {!r}'.format(
                b''.join(parts)[:200]
            ))
        if not data:
            break
        parts.append(data)
    return b''.join(parts)


def read_until_closed(sock: socket.socket, patience: float = PATIENCE) -> bytes:
    """``recv_all()`` with the socket's timeout set to *patience* seconds."""
    sock.settimeout(patience)
    return recv_all(sock)


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    """Read exactly *size* bytes (under the socket's own timeout); fails the
    test if the peer closes first."""
    data = b''
    while len(data) < size:
        more = sock.recv(size - len(data))
        assert more, 'connection closed after {!r}'.format(data)
        data += more
    return data


def exchange(address: Any, data: bytes) -> bytes:
    """Send raw *data* on a new connection, close the sending side, and
    return every byte the server sends back until it closes."""
    sock = Client(address, timeout=PATIENCE).create_socket()
    try:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        return recv_all(sock)
    finally:
        sock.close()


def wait_until(condition: Callable[[], Any], what: str = 'a condition',
               patience: float = PATIENCE) -> Any:
    """Poll *condition()* until it returns something true, and return that.

    For what another thread or process does in its own time (a server
    updates its sessions and logs after it sent the response the client
    already read).  Fails the test, saying *what* it waited for, after
    *patience* seconds.
    """
    deadline = time.monotonic() + patience
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail('gave up waiting for ' + what)
        time.sleep(0.01)


def reap(proc: 'subprocess.Popen[bytes]') -> None:
    """Kill *proc* if it still runs, wait for it, and close its stdout pipe."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def tcp_pair() -> Tuple[socket.socket, socket.socket]:
    """A connected pair of TCP sockets over loopback (``socketpair()`` is AF_UNIX)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(('127.0.0.1', 0))
        listener.listen(1)
        ours = socket.create_connection(listener.getsockname())
        (theirs, _) = listener.accept()
    return (ours, theirs)


def draining(sock: socket.socket) -> Tuple[threading.Thread, bytearray]:
    """Read *sock* in a thread until its peer closes; the thread, and the
    ``bytearray`` it reads into (whole once the thread has ended)."""
    got = bytearray()

    def drain() -> None:
        while True:
            piece = sock.recv(1048576)
            if not piece:
                return
            got.extend(piece)

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    return (thread, got)
