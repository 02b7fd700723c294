# SPDX-License-Identifier: LGPL-3.0-or-later
"""Where a server listens and a client connects: Degu's one address argument.

Degu takes every address in one of four forms, and the form alone says the
socket family::

    ('127.0.0.1', 8000)         2-tuple   AF_INET  (an IPv4 address or a name)
    ('::1', 8000, 0, 0)         4-tuple   AF_INET6 (flowinfo, scope id)
    '/run/app.socket'           str       AF_UNIX  socket file (absolute path)
    b'\\x00app'                  bytes     AF_UNIX  Linux abstract name
                                                   (b'' lets the kernel pick)

This module is the one place that knows those forms: it tells the family
(``family()``), turns the text people type into them (``parse_address()``,
for the command line), binds a listening socket (``bind()``) or connects one
(``connect()``), reads an ``AF_UNIX`` peer's credentials (``credentials()``),
builds a client's default ``host`` header (``host_header()``) and writes an
address back as text a person can use (``describe()``).

(The text forms, ``HOST:PORT``, ``[V6ADDR]:PORT``, ``[V6ADDR%SCOPE]:PORT``,
a path with a ``/`` and ``@NAME``, are described with ``parse_address()``.)
"""

import os
import socket
import struct
import sys
from typing import Any, Optional, Tuple

from .errors import TYPE_ERROR
from .limits import LISTEN_BACKLOG, MAX_PORT

__all__ = (
    'IPv6_LOOPBACK', 'IPv6_ANY', 'IPv4_LOOPBACK', 'IPv4_ANY',
    'ADDRESS_CONSTANTS', 'family', 'parse_address', 'bind', 'connect',
    'credentials', 'host_header', 'describe',
)

# Listen on a kernel-chosen port of the loopback or the wildcard address.
IPv6_LOOPBACK = ('::1', 0, 0, 0)
IPv6_ANY = ('::', 0, 0, 0)
IPv4_LOOPBACK = ('127.0.0.1', 0)
IPv4_ANY = ('0.0.0.0', 0)
ADDRESS_CONSTANTS = (IPv6_LOOPBACK, IPv6_ANY, IPv4_LOOPBACK, IPv4_ANY)

# Abstract AF_UNIX names (a leading NUL byte, no file) exist only on Linux.
HAVE_ABSTRACT = sys.platform.startswith('linux')

Address = Any  # tuple, str or bytes
Credentials = Tuple[int, int, int]


# ---------------------------------------------------------------------------
# The forms and their families

def family(address: Any) -> int:
    """The socket family of one of Degu's address forms.

    >>> family(('127.0.0.1', 8000)) == socket.AF_INET
    True
    >>> family('/run/app.socket') == socket.AF_UNIX
    True
    >>> family('app.socket')
    Traceback (most recent call last):
      ...
    ValueError: address: bad socket filename: 'app.socket'
    """
    if type(address) is tuple:
        if len(address) == 4:
            return socket.AF_INET6
        if len(address) == 2:
            return socket.AF_INET
        raise ValueError(
            'address: must have 2 or 4 items; got {!r}'.format(address)
        )
    if type(address) is str:
        if os.path.abspath(address) != address:
            raise ValueError('address: bad socket filename: {!r}'.format(address))
        return socket.AF_UNIX
    if type(address) is bytes:
        if not HAVE_ABSTRACT:
            raise ValueError(
                'address: abstract AF_UNIX names need Linux; got {!r}'.format(address)
            )
        return socket.AF_UNIX
    raise TypeError(TYPE_ERROR.format(
        'address', (tuple, str, bytes), type(address), address
    ))


# ---------------------------------------------------------------------------
# Text forms (the command line)

def _parse_port(text: str, original: str) -> int:
    if not (text.isdigit() and text.isascii()) or len(text) > 5:
        raise ValueError('bad port in address {!r}: {!r}'.format(original, text))
    port = int(text)
    if port > MAX_PORT:
        raise ValueError('port out of range in address {!r}: {}'.format(original, port))
    return port


def _parse_scope(scope: str, original: str) -> int:
    if scope.isdigit() and scope.isascii():
        return int(scope)
    try:
        return socket.if_nametoindex(scope)
    except OSError:
        raise ValueError(
            'unknown IPv6 scope in address {!r}: {!r}'.format(original, scope)
        ) from None


def parse_address(text: str) -> Address:
    """Turn an address as a person types it into one of Degu's forms.

    =========================  ===========================================
    ``HOST:PORT``              ``(HOST, PORT)`` -- IPv4 address or name
    ``[V6ADDR]:PORT``          ``(V6ADDR, PORT, 0, 0)``
    ``[V6ADDR%SCOPE]:PORT``    ``(V6ADDR, PORT, 0, SCOPE_ID)``; SCOPE is a
                               number or an interface name such as ``eth0``
    anything with a ``/``      an ``AF_UNIX`` socket file (made absolute)
    ``@NAME`` (Linux)          the abstract ``AF_UNIX`` name ``b'\\0NAME'``;
                               a lone ``@`` lets the kernel pick one
    =========================  ===========================================

    >>> parse_address('127.0.0.1:8000')
    ('127.0.0.1', 8000)
    >>> parse_address('[::1]:0')
    ('::1', 0, 0, 0)
    >>> parse_address('[fe80::1%3]:5984')
    ('fe80::1', 5984, 0, 3)
    >>> parse_address('/run/app.socket')
    '/run/app.socket'
    >>> parse_address('@degu')
    b'\\x00degu'
    >>> parse_address('::1:8000')
    Traceback (most recent call last):
      ...
    ValueError: IPv6 addresses need brackets, like [::1]:8000; got '::1:8000'
    """
    if type(text) is not str:
        raise TypeError('address: need a str; got {!r}'.format(type(text)))
    if not text:
        raise ValueError('address is empty')
    if '/' in text:
        return os.path.abspath(text)
    if text.startswith('@'):
        if not HAVE_ABSTRACT:
            raise ValueError(
                'abstract AF_UNIX names need Linux; got {!r}'.format(text)
            )
        name = text[1:]
        return b'\x00' + name.encode() if name else b''
    if text.startswith('['):
        (inside, sep, rest) = text[1:].partition(']')
        if not sep or not rest.startswith(':'):
            raise ValueError(
                'bad IPv6 address, need [V6ADDR]:PORT; got {!r}'.format(text)
            )
        port = _parse_port(rest[1:], text)
        (host, pct, scope) = inside.partition('%')
        if not host or ':' not in host:
            raise ValueError('bad IPv6 address in {!r}: {!r}'.format(text, host))
        scope_id = _parse_scope(scope, text) if pct else 0
        return (host, port, 0, scope_id)
    (host, sep, port_text) = text.rpartition(':')
    if not sep:
        raise ValueError(
            'need HOST:PORT, [V6ADDR]:PORT or a socket path; got {!r}'.format(text)
        )
    if ':' in host:
        raise ValueError(
            'IPv6 addresses need brackets, like [::1]:8000; got {!r}'.format(text)
        )
    if not host:
        raise ValueError('host is empty in address {!r}'.format(text))
    return (host, _parse_port(port_text, text))


def describe(address: Address, tls: bool = False) -> str:
    """An address as a person would use it: a URL, or where the socket is.

    >>> describe(('127.0.0.1', 8000))
    'http://127.0.0.1:8000/'
    >>> describe(('::1', 8443, 0, 0), tls=True)
    'https://[::1]:8443/'
    >>> describe('/run/app.socket')
    'unix:/run/app.socket'
    >>> describe(b'\\x00degu')
    '@degu'
    """
    if type(address) is tuple:
        scheme = 'https' if tls else 'http'
        host = address[0]
        if ':' in host:
            host = '[' + host + ']'
        return '{}://{}:{}/'.format(scheme, host, address[1])
    prefix = 'tls+' if tls else ''
    if type(address) is str:
        return prefix + 'unix:' + address
    if type(address) is bytes:
        name = address[1:] if address[:1] == b'\x00' else address
        return prefix + '@' + name.decode(errors='backslashreplace')
    return repr(address)


# ---------------------------------------------------------------------------
# Sockets

def bind(address: Any, backlog: int = LISTEN_BACKLOG) -> socket.socket:
    """A socket bound to *address* and listening, or *address* itself if it
    already is a listening socket (socket activation, pre-forked workers)."""
    if isinstance(address, socket.socket):
        return address
    kind = family(address)
    if kind == socket.AF_INET and type(address[0]) is str and ':' in address[0]:
        raise ValueError(
            'address: an IPv6 address needs a 4-tuple, like {!r}; got {!r}'.format(
                (address[0], address[1], 0, 0), address
            )
        )
    sock = socket.socket(kind, socket.SOCK_STREAM)
    try:
        if sock.family != socket.AF_UNIX:
            # A restarted server can take its port back at once, while
            # connections of its previous life sit in TIME_WAIT.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def connect(address: Any, timeout: Optional[float]) -> socket.socket:
    """A new socket connected to *address* (``TCP_NODELAY`` set over TCP)."""
    kind = family(address)
    if kind == socket.AF_INET:
        # Any 2-tuple: an IPv4 address, a DNS name, or even an IPv6 host.
        sock = socket.create_connection(address, timeout=timeout)
    else:
        sock = socket.socket(kind, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            if kind == socket.AF_UNIX and hasattr(socket, 'SO_PASSCRED'):
                # So that the server can read our credentials.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
            sock.connect(address)
        except BaseException:
            sock.close()
            raise
    if kind != socket.AF_UNIX:
        nodelay(sock)
    return sock


def nodelay(sock: socket.socket) -> None:
    """Send small messages at once (no Nagle delay) on a TCP socket."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


# The families kernel_timeouts() applies to.
KERNEL_TIMEOUT_FAMILIES = tuple(
    getattr(socket, name) for name in ('AF_INET', 'AF_INET6', 'AF_UNIX')
    if hasattr(socket, name)
)


def timeval(seconds: float) -> bytes:
    """*seconds* (> 0) as a ``struct timeval``, never rounded down to 0."""
    whole = int(seconds)
    micro = int(round((seconds - whole) * 1000000))
    if micro >= 1000000:
        (whole, micro) = (whole + 1, 0)
    if whole == 0 and micro == 0:
        micro = 1  # a zero timeval would mean "no timeout at all"
    return struct.pack('ll', whole, micro)


def kernel_timeouts(sock: Any, timeout: Any) -> bool:
    """Bound each ``recv()``/``send()`` of *sock* by *timeout*, in the kernel.

    A Python socket timeout (``settimeout()``) makes the socket
    non-blocking, and every ``recv()`` or ``send()`` a ``poll()`` first, then
    the call: two system calls where one would do.  On a ping-pong of small
    requests that ``poll()`` costs about a tenth of the raw socket's round
    trip.  Instead the socket is left blocking, and the kernel enforces the
    timeout (``SO_RCVTIMEO``, ``SO_SNDTIMEO``): a call that times out then
    fails with ``BlockingIOError`` (``EAGAIN``), which ``degu.sockio.Stream``
    turns back into ``socket.timeout``.

    Only for a plain ``socket.socket`` (a TLS socket keeps Python's timeout:
    its handshake and records need it) of a stream family Degu connects
    over, and a *timeout* > 0.  Returns False, changing nothing, when it does
    not apply or the options are refused.
    """
    if type(sock) is not socket.socket or type(timeout) not in (int, float) \
            or not timeout > 0 or sock.family not in KERNEL_TIMEOUT_FAMILIES:
        return False
    value = timeval(timeout)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)
        sock.settimeout(None)
    except (OSError, AttributeError):
        return False
    return True


def recv_timeout(sock: Any, seconds: float) -> None:
    """Change the kernel's receive timeout of a ``kernel_timeouts()`` socket."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval(seconds))


def credentials(sock: socket.socket) -> Optional[Credentials]:
    """``(pid, uid, gid)`` of the peer of an ``AF_UNIX`` socket (Linux), else None."""
    if sock.family != getattr(socket, 'AF_UNIX', None):
        return None
    if not hasattr(socket, 'SO_PEERCRED'):
        return None
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    size = struct.calcsize('3i')
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, size)
    (pid, uid, gid) = struct.unpack('3i', raw)
    return (pid, uid, gid)


# ---------------------------------------------------------------------------
# The client's default host header

def host_header(default_port: int, host: Any, port: Any, *extra: Any) -> str:
    """The ``host`` header for a tuple address (the port left out when default).

    >>> host_header(80, 'example.com', 80)
    'example.com'
    >>> host_header(80, 'fe80::1', 5984, 0, 3)
    '[fe80::1]:5984'
    """
    if type(host) is not str:
        raise TypeError(TYPE_ERROR.format('host', str, type(host), host))
    if type(port) is not int:
        raise TypeError(TYPE_ERROR.format('port', int, type(port), port))
    name: str = '[' + host + ']' if ':' in host else host
    if port == default_port:
        return name
    return '{}:{}'.format(name, port)
