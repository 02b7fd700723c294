# SPDX-License-Identifier: LGPL-3.0-or-later
"""The clients, run in the benchmark's own process, and the TLS set-up they share."""

import http.client
import shutil
import socket
import time
from typing import Any, Callable, Dict, Optional

from .servers import recv_exactly
from .workload import BATCH, PING_BODY, PING_SIZE, PING_URI, SLICE_MAX_REQUESTS


class Ping:
    """A ping-pong client: ``run()`` does round trips on one connection."""

    def __init__(self, family: str, address: Any, sslctx: Any) -> None:
        self.family = family
        self.address = address
        self.sslctx = sslctx

    def open(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def round_trips(self, count: int) -> None:
        raise NotImplementedError

    def run(self, seconds: float) -> int:
        """Round trips for *seconds* (checked every ``BATCH``); returns the count."""
        stop = time.perf_counter() + seconds
        done = 0
        while done < SLICE_MAX_REQUESTS:
            self.round_trips(BATCH)
            done += BATCH
            if time.perf_counter() >= stop:
                break
        return done


def connect_raw(family: str, address: Any, sslctx: Any) -> socket.socket:
    if family == 'unix':
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(address)
        return sock
    sock = socket.create_connection(address[:2])
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if sslctx is not None:
        wrapped: socket.socket = sslctx.wrap_socket(sock, server_hostname=address[0])
        return wrapped
    return sock


class RawPing(Ping):
    def open(self) -> None:
        self.sock = connect_raw(self.family, self.address, self.sslctx)
        self.buf = bytearray(PING_SIZE)
        self.view = memoryview(self.buf)

    def close(self) -> None:
        self.sock.close()

    def round_trips(self, count: int) -> None:
        sock = self.sock
        view = self.view
        for _ in range(count):
            sock.sendall(PING_BODY)
            if not recv_exactly(sock, view):
                raise ConnectionError('raw server closed the connection')
        if self.buf != PING_BODY:
            raise ValueError('raw echo mismatch')


def degu_client(family: str, address: Any, sslctx: Any) -> Any:
    from degu.client import Client, SSLClient
    if family == 'tls':
        return SSLClient(sslctx, address)
    return Client(address)


class DeguPing(Ping):
    def open(self) -> None:
        self.conn = degu_client(self.family, self.address, self.sslctx).connect()

    def close(self) -> None:
        self.conn.close()

    def round_trips(self, count: int) -> None:
        request = self.conn.request
        for _ in range(count):
            response = request('POST', PING_URI, {}, PING_BODY)
            data = response.body.read()
        if response.status != 200 or data != PING_BODY:
            raise ValueError('degu echo mismatch: {!r}'.format(response))


class UnixHTTPConnection(http.client.HTTPConnection):
    """``http.client`` over ``AF_UNIX`` (the stdlib has no such class)."""

    def __init__(self, path: str) -> None:
        super().__init__('localhost')
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(self.path)
        self.sock = sock


def stdlib_connection(family: str, address: Any, sslctx: Any) -> http.client.HTTPConnection:
    if family == 'unix':
        return UnixHTTPConnection(address)
    if family == 'tls':
        return http.client.HTTPSConnection(address[0], address[1], context=sslctx)
    return http.client.HTTPConnection(address[0], address[1])


class StdlibPing(Ping):
    def open(self) -> None:
        self.conn = stdlib_connection(self.family, self.address, self.sslctx)
        self.conn.connect()

    def close(self) -> None:
        self.conn.close()

    def round_trips(self, count: int) -> None:
        conn = self.conn
        for _ in range(count):
            conn.request('POST', PING_URI, PING_BODY)
            response = conn.getresponse()
            data = response.read()
        if response.status != 200 or data != PING_BODY:
            raise ValueError('stdlib echo mismatch')


PING_CLASSES: Dict[str, Callable[[str, Any, Any], Ping]] = {
    'raw': RawPing,
    'degu': DeguPing,
    'stdlib': StdlibPing,
}


class TLSSetup:
    """A throw-away PKI (``degu.misc.TempPKI``) and the contexts built from it.

    ``skip_reason`` says why the ``tls`` family cannot run, or is None.
    """

    def __init__(self) -> None:
        self.pki: Any = None
        self.server_sslconfig: Optional[Dict[str, Any]] = None
        self.client_sslctx: Any = None
        self.skip_reason: Optional[str] = None
        if shutil.which('openssl') is None:
            self.skip_reason = 'the openssl binary (needed by TempPKI) is missing'
            return
        try:
            from degu.client import build_client_sslctx
            from degu.misc import TempPKI
            from degu.server import build_server_sslctx
            self.pki = TempPKI()
            self.server_sslconfig = self.pki.server_sslconfig
            build_server_sslctx(self.server_sslconfig)
            self.client_sslctx = build_client_sslctx(self.pki.client_sslconfig)
        except Exception as e:
            self.skip_reason = 'TLS setup failed: {!r}'.format(e)

    def cleanup(self) -> None:
        # TempPKI removes its directory when it is deleted.
        self.pki = None


def family_skip_reason(family: str, tls: Optional[TLSSetup]) -> Optional[str]:
    """Why *family* cannot be measured on this machine, or None."""
    if family == 'unix' and not hasattr(socket, 'AF_UNIX'):
        return 'AF_UNIX is not available on this platform'
    if family == 'inet6':
        if not socket.has_ipv6:
            return 'IPv6 is not available'
        try:
            probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            try:
                probe.bind(('::1', 0, 0, 0))
            finally:
                probe.close()
        except OSError as e:
            return 'cannot bind ::1 ({})'.format(e)
    if family == 'tls':
        if tls is None:
            return 'TLS not set up'
        return tls.skip_reason
    return None
