# SPDX-License-Identifier: LGPL-3.0-or-later
"""Tests for degu.addresses: the address forms, their text forms, sockets."""

import os
import socket
import sys
import threading
from typing import Any

import pytest

from degu import addresses
from degu.addresses import (
    ADDRESS_CONSTANTS,
    describe,
    family,
    host_header,
    parse_address,
)
from degu.errors import TYPE_ERROR
from test_degu.helpers import tcp_pair

LINUX = sys.platform.startswith('linux')


# -- family ----------------------------------------------------------------------

@pytest.mark.parametrize('address, expected', [
    (('127.0.0.1', 0), socket.AF_INET),
    (('example.com', 80), socket.AF_INET),
    (('::1', 0, 0, 0), socket.AF_INET6),
    ('/tmp/degu.socket', socket.AF_UNIX),
] + ([(b'', socket.AF_UNIX), (b'\x00degu', socket.AF_UNIX)] if LINUX else []))
def test_family(address: Any, expected: int) -> None:
    assert family(address) == expected


@pytest.mark.parametrize('address', [(), ('::1',), ('::1', 0, 0), ('a', 1, 2, 3, 4)])
def test_family_bad_tuple(address: Any) -> None:
    with pytest.raises(ValueError) as cm:
        family(address)
    assert str(cm.value) == 'address: must have 2 or 4 items; got {!r}'.format(address)


@pytest.mark.parametrize('address', ['relative.sock', '/tmp/../tmp/x', '/tmp/x/', ''])
def test_family_bad_filename(address: str) -> None:
    with pytest.raises(ValueError) as cm:
        family(address)
    assert str(cm.value) == 'address: bad socket filename: {!r}'.format(address)


@pytest.mark.parametrize('address', [None, 8000, ['::1', 0], bytearray(b'x')])
def test_family_bad_type(address: Any) -> None:
    with pytest.raises(TypeError) as cm:
        family(address)
    assert str(cm.value) == TYPE_ERROR.format(
        'address', (tuple, str, bytes), type(address), address
    )


def test_constants() -> None:
    assert ADDRESS_CONSTANTS == (
        ('::1', 0, 0, 0), ('::', 0, 0, 0), ('127.0.0.1', 0), ('0.0.0.0', 0)
    )
    for address in ADDRESS_CONSTANTS:
        assert family(address) in (socket.AF_INET, socket.AF_INET6)


# -- parse_address ---------------------------------------------------------------

@pytest.mark.parametrize('text, expected', [
    ('127.0.0.1:8000', ('127.0.0.1', 8000)),
    ('127.0.0.1:0', ('127.0.0.1', 0)),
    ('0.0.0.0:65535', ('0.0.0.0', 65535)),
    ('localhost:80', ('localhost', 80)),
    ('[::1]:8000', ('::1', 8000, 0, 0)),
    ('[::]:0', ('::', 0, 0, 0)),
    ('[fe80::1%3]:5984', ('fe80::1', 5984, 0, 3)),
    ('/tmp/degu.socket', '/tmp/degu.socket'),
    ('/tmp/../tmp/degu.socket', '/tmp/degu.socket'),
])
def test_parse_address(text: str, expected: Any) -> None:
    assert parse_address(text) == expected


def test_parse_address_relative_path() -> None:
    assert parse_address('./app.socket') == os.path.join(os.getcwd(), 'app.socket')
    assert parse_address('run/app.socket') == os.path.join(os.getcwd(), 'run', 'app.socket')


def test_parse_address_scope_by_name() -> None:
    (index, name) = socket.if_nameindex()[0]
    assert parse_address('[fe80::1%{}]:80'.format(name)) == ('fe80::1', 80, 0, index)


@pytest.mark.skipif(not LINUX, reason='abstract AF_UNIX names are Linux-only')
def test_parse_address_abstract() -> None:
    assert parse_address('@degu') == b'\x00degu'
    assert parse_address('@') == b''


BAD_ADDRESSES = [
    ('', 'address is empty'),
    ('nope', "need HOST:PORT, [V6ADDR]:PORT or a socket path; got 'nope'"),
    ('::1:8000', "IPv6 addresses need brackets, like [::1]:8000; got '::1:8000'"),
    (':80', "host is empty in address ':80'"),
    ('127.0.0.1:', "bad port in address '127.0.0.1:': ''"),
    ('127.0.0.1:http', "bad port in address '127.0.0.1:http': 'http'"),
    ('127.0.0.1:-1', "bad port in address '127.0.0.1:-1': '-1'"),
    ('127.0.0.1:+80', "bad port in address '127.0.0.1:+80': '+80'"),
    ('127.0.0.1:123456', "bad port in address '127.0.0.1:123456': '123456'"),
    ('127.0.0.1:65536', "port out of range in address '127.0.0.1:65536': 65536"),
    ('127.0.0.1:\u0661', "bad port in address '127.0.0.1:\u0661': '\u0661'"),
    ('[::1]', "bad IPv6 address, need [V6ADDR]:PORT; got '[::1]'"),
    ('[::1:80', "bad IPv6 address, need [V6ADDR]:PORT; got '[::1:80'"),
    ('[::1]80', "bad IPv6 address, need [V6ADDR]:PORT; got '[::1]80'"),
    ('[::1]:x', "bad port in address '[::1]:x': 'x'"),
    ('[]:80', "bad IPv6 address in '[]:80': ''"),
    ('[127.0.0.1]:80', "bad IPv6 address in '[127.0.0.1]:80': '127.0.0.1'"),
    ('[%3]:80', "bad IPv6 address in '[%3]:80': ''"),
    ('[fe80::1%nosuchif0]:80',
     "unknown IPv6 scope in address '[fe80::1%nosuchif0]:80': 'nosuchif0'"),
]


@pytest.mark.parametrize('text, message', BAD_ADDRESSES)
def test_parse_address_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as e:
        parse_address(text)
    assert str(e.value) == message


def test_parse_address_type() -> None:
    with pytest.raises(TypeError) as e:
        parse_address(b'127.0.0.1:80')  # type: ignore[arg-type]
    assert str(e.value) == "address: need a str; got <class 'bytes'>"


# -- describe ----------------------------------------------------------------------

@pytest.mark.parametrize('address, tls, text', [
    (('127.0.0.1', 8000), False, 'http://127.0.0.1:8000/'),
    (('0.0.0.0', 80), False, 'http://0.0.0.0:80/'),
    (('127.0.0.1', 8443), True, 'https://127.0.0.1:8443/'),
    (('::1', 8000, 0, 0), False, 'http://[::1]:8000/'),
    (('fe80::1', 8000, 0, 3), True, 'https://[fe80::1]:8000/'),
    ('/run/app.socket', False, 'unix:/run/app.socket'),
    ('/run/app.socket', True, 'tls+unix:/run/app.socket'),
    (b'\x00degu', False, '@degu'),
    (b'\x00degu', True, 'tls+@degu'),
])
def test_describe(address: Any, tls: bool, text: str) -> None:
    assert describe(address, tls) == text


def test_describe_round_trips_the_text_forms() -> None:
    for text in ('/run/app.socket', '@degu'):
        assert describe(parse_address(text)) in (text, 'unix:' + text)


# -- bind, connect, credentials ------------------------------------------------------

def _accept_one(listener: socket.socket, out: list) -> None:
    (sock, address) = listener.accept()
    out.append((sock, address))


@pytest.mark.parametrize('address', [('127.0.0.1', 0), ('::1', 0, 0, 0)]
                         + ([b''] if LINUX else []))
def test_bind_connect(address: Any) -> None:
    listener = addresses.bind(address)
    try:
        assert listener.family == family(address)
        accepted: list = []
        thread = threading.Thread(target=_accept_one, args=(listener, accepted))
        thread.start()
        sock = addresses.connect(listener.getsockname(), 5)
        thread.join()
        try:
            assert sock.gettimeout() == 5
            if sock.family != socket.AF_UNIX:
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
                assert listener.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) != 0
                assert addresses.credentials(accepted[0][0]) is None
            else:
                (pid, uid, gid) = addresses.credentials(accepted[0][0])
                assert (pid, uid, gid) == (os.getpid(), os.getuid(), os.getgid())
        finally:
            sock.close()
            accepted[0][0].close()
    finally:
        listener.close()


def test_bind_unix_file(tmp_path: Any) -> None:
    path = str(tmp_path / 'degu.socket')
    listener = addresses.bind(path)
    try:
        assert listener.getsockname() == path
        sock = addresses.connect(path, None)
        sock.close()
    finally:
        listener.close()


def test_bind_ipv6_needs_a_4_tuple() -> None:
    # A 2-tuple is AF_INET: an IPv6 host there is refused clearly, up front.
    with pytest.raises(ValueError) as cm:
        addresses.bind(('::1', 0))
    assert str(cm.value) == (
        "address: an IPv6 address needs a 4-tuple, like ('::1', 0, 0, 0); got ('::1', 0)"
    )


def test_bind_adopts_a_listening_socket() -> None:
    sock = socket.socket()
    try:
        assert addresses.bind(sock) is sock
    finally:
        sock.close()


def test_bind_failure_closes_the_socket() -> None:
    listener = addresses.bind(('127.0.0.1', 0))
    try:
        with pytest.raises(OSError):
            addresses.bind(listener.getsockname())
    finally:
        listener.close()


def test_connect_refused() -> None:
    listener = addresses.bind(('127.0.0.1', 0))
    address = listener.getsockname()
    listener.close()
    with pytest.raises(ConnectionRefusedError):
        addresses.connect(address, 5)


# -- host_header -------------------------------------------------------------------

@pytest.mark.parametrize('args, host', [
    ((80, 'example.com', 80), 'example.com'),
    ((80, 'example.com', 8080), 'example.com:8080'),
    ((443, 'example.com', 443), 'example.com'),
    ((443, 'example.com', 80), 'example.com:80'),
    ((80, '127.0.0.1', 5984), '127.0.0.1:5984'),
    ((80, '::1', 80, 0, 0), '[::1]'),
    ((80, 'fe80::1', 5984, 0, 3), '[fe80::1]:5984'),
    ((443, '::1', 443, 0, 0), '[::1]'),
])
def testhost_header(args: Any, host: str) -> None:
    assert host_header(*args) == host


@pytest.mark.parametrize('args, name, value', [
    ((80, b'example.com', 80), 'host', b'example.com'),
    ((80, None, 80), 'host', None),
    ((80, 'example.com', '80'), 'port', '80'),
    ((80, 'example.com', 80.0), 'port', 80.0),
    ((80, 'example.com', True), 'port', True),
])
def testhost_header_types(args: Any, name: str, value: Any) -> None:
    want = str if name == 'host' else int
    with pytest.raises(TypeError) as cm:
        host_header(*args)
    assert str(cm.value) == TYPE_ERROR.format(name, want, type(value), value)




# -- kernel timeouts ---------------------------------------------------------

def _rcvtimeo(sock: socket.socket) -> float:
    """The receive timeout in ms (the kernel keeps it in clock ticks)."""
    import struct
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.calcsize('ll'))
    (seconds, micro) = struct.unpack('ll', raw)
    return seconds * 1000 + micro / 1000


def test_timeval() -> None:
    import struct
    assert addresses.timeval(1.5) == struct.pack('ll', 1, 500000)
    assert addresses.timeval(30) == struct.pack('ll', 30, 0)
    # Never 0 (which would mean no timeout at all), never 1000000 us.
    assert addresses.timeval(1e-9) == struct.pack('ll', 0, 1)
    assert addresses.timeval(0.9999999) == struct.pack('ll', 1, 0)
    assert addresses.timeval(0) == struct.pack('ll', 0, 1)


def test_kernel_timeouts() -> None:
    (a, b) = tcp_pair()
    try:
        a.settimeout(5)
        assert addresses.kernel_timeouts(a, 2.25) is True
        assert a.gettimeout() is None  # blocking: no poll() before each call
        assert abs(_rcvtimeo(a) - 2250) <= 10
        addresses.recv_timeout(a, 0.5)
        assert abs(_rcvtimeo(a) - 500) <= 10
        # A timed-out recv() fails with EAGAIN (Stream makes it socket.timeout).
        addresses.recv_timeout(a, 0.05)
        with pytest.raises(BlockingIOError):
            a.recv(1)
        # Nothing changes where the rule does not apply.
        assert _rcvtimeo(b) == 0
        for timeout in (None, 0, -1, '5', True):
            assert addresses.kernel_timeouts(b, timeout) is False
        assert _rcvtimeo(b) == 0
    finally:
        a.close()
        b.close()


def test_kernel_timeouts_only_for_plain_sockets() -> None:
    class Sub(socket.socket):
        pass

    sock = Sub(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.settimeout(3)
        assert addresses.kernel_timeouts(sock, 3) is False
        assert sock.gettimeout() == 3
    finally:
        sock.close()
    assert addresses.kernel_timeouts(object(), 3) is False
    # AF_UNIX too.
    (a, b) = socket.socketpair()
    with a, b:
        a.settimeout(3)
        assert addresses.kernel_timeouts(a, 3) is True
        assert a.gettimeout() is None
