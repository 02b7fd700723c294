# SPDX-License-Identifier: LGPL-3.0-or-later
"""TLS end to end: ``SSLServer`` and ``SSLClient`` over real sockets.

``test_tls.py`` checks contexts and bare handshakes; this module checks what
the server and client do with them: requests with every kind of body
through TLS on every address family, mutual and anonymous authentication, refusals
(untrusted server, client without or with a foreign certificate), what
``app.on_connect()`` sees, which protocol and cipher get negotiated, that a
misbehaving peer (plaintext, a stalled or trickled handshake) costs only its
own connection, and interoperability with ``openssl s_client``.

Servers run ``serve_forever()`` in a daemon thread of the test process and
are shut down at the end of each test.  Certificates come from the
session-wide ``pki`` fixture; ``other_pki`` (one per module) supplies a
foreign CA.
"""

import contextlib
import io
import logging
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

from degu.client import SSLClient
from degu.server import SSLServer
from degu.sslhelpers import TempPKI
from degu.tls import build_client_sslctx, build_server_sslctx
from test_degu.helpers import HAVE_IPV6, Background, recv_all, wait_until
from test_degu.test_tls import ALLOWED_TLS12, TLS13_SUITES

pytestmark = pytest.mark.skipif(
    shutil.which('openssl') is None, reason='TempPKI needs the openssl binary'
)

IPv4 = ('127.0.0.1', 0)
IPv6 = ('::1', 0, 0, 0)

# Upper bound for anything a test waits for (a guard against hanging, not
# an expectation about speed).
GUARD = 10

SECURITY_WARNING = 'Security concern: sslctx allows unauthenticated clients!'


@pytest.fixture(scope='module')
def other_pki() -> Iterator[TempPKI]:
    """A second, unrelated PKI: its CAs are trusted by no one else here."""
    temp_pki = TempPKI()
    yield temp_pki
    temp_pki.__del__()


# ---------------------------------------------------------------------------
# Helpers

def common_name(cert: Dict[str, Any], field: str = 'subject') -> str:
    """The CN of the *field* (``'subject'`` or ``'issuer'``) of a peer cert."""
    for rdn in cert[field]:
        for (key, value) in rdn:
            if key == 'commonName':
                return str(value)
    raise AssertionError('no commonName in {!r}'.format(cert[field]))


def known(value: Optional[str]) -> str:
    """An id of a ``TempPKI(client_pki=True)`` (typed ``Optional[str]``)."""
    assert value is not None
    return value


class App:
    """An echo app whose ``on_connect`` records what it was given.

    ``on_connect`` stores the peer's CN and the negotiated protocol and
    cipher in ``session.store``; every response carries them back in
    ``x-*`` headers, with ``session.requests`` and ``session.credentials``.
    ``result`` is what ``on_connect`` returns (or raises, if an exception).
    """

    def __init__(self, result: Any = True) -> None:
        self.result = result
        self.seen: List[Dict[str, Any]] = []

    def on_connect(self, session: Any, sock: Any) -> Any:
        cert = sock.getpeercert()
        self.seen.append({
            'type': type(sock),
            'peercert': cert,
            'version': sock.version(),
            'cipher': sock.cipher(),
            'requests': session.requests,
            'store': session.store,
        })
        session.store['_peer'] = common_name(cert) if cert else 'anonymous'
        session.store['_tls'] = (sock.version(), sock.cipher()[0])
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result

    def __call__(self, session: Any, request: Any, api: Any) -> Any:
        (version, cipher) = session.store['_tls']
        headers = {
            'x-peer': session.store['_peer'],
            'x-tls-version': version,
            'x-tls-cipher': cipher,
            'x-requests': str(session.requests),
            'x-credentials': repr(session.credentials),
        }
        body = request.body
        if body is None:
            text = '{} {}'.format(request.method, request.uri)
            return (200, 'OK', headers, text.encode())
        if body.chunked:
            return (200, 'OK', headers, api.ChunkedBodyIter(list(body)))
        data = body.read()
        half = len(data) // 2
        return (200, 'OK', headers,
                api.BodyIter([data[:half], data[half:]], len(data)))


def simple_app(session: Any, request: Any, api: Any) -> Any:
    return (200, 'OK', {}, b'hello')


@contextlib.contextmanager
def serving(sslctx: Any, address: Any, app: Callable[..., Any],
            **options: Any) -> Iterator[SSLServer]:
    """An ``SSLServer`` running in a daemon thread until the block ends.

    On exit, waits until every connection thread has ended too (all clients
    are closed by then), so that no server thread outlives its test and
    logs into the next one.
    """
    threads = threading.active_count()
    try:
        with Background(SSLServer(sslctx, address, app, **options), GUARD) as running:
            yield running.server
    finally:
        wait_until(lambda: threading.active_count() <= threads,
                   'the connection threads to end', GUARD)


def get(client: SSLClient, uri: str = '/') -> Tuple[Any, bytes]:
    """One GET on a new connection: ``(response, body)``."""
    conn = client.connect()
    try:
        response = conn.get(uri, {})
        return (response, response.body.read())
    finally:
        conn.close()


def end_records(caplog: pytest.LogCaptureFixture,
                address: Any) -> List[logging.LogRecord]:
    """The records ending the connection from *address* (a client's sockname).

    Those are the ones whose message starts with ``'- '`` and whose first
    argument is that connection's ``Session``.
    """
    return [
        r for r in caplog.records
        if r.name == 'degu.server' and r.msg.startswith('- ')
        and type(r.args) is tuple and getattr(r.args[0], 'address', None) == address
    ]


def wait_end_record(caplog: pytest.LogCaptureFixture,
                    address: Any) -> logging.LogRecord:
    wait_until(lambda: len(end_records(caplog, address)) > 0,
               'the end of the connection to be logged', GUARD)
    records = end_records(caplog, address)
    assert len(records) == 1
    return records[0]


def logged_exception(record: logging.LogRecord) -> Optional[BaseException]:
    """The exception that ended a connection, as its end record reports it.

    Socket-level failures (``OSError``: timeouts, resets, failed TLS
    handshakes) are one INFO line ``'- %s Handled %d requests: %r'`` with
    the exception as last argument; anything else is logged with its
    traceback (``exc_info``).
    """
    if record.exc_info is not None:
        return record.exc_info[1]
    if type(record.args) is tuple and len(record.args) == 3:
        last = record.args[2]
        if isinstance(last, BaseException):
            return last
    return None


HAVE_ABSTRACT = os.uname().sysname == 'Linux'


@pytest.fixture(params=['AF_INET', 'AF_INET6', 'AF_UNIX', 'abstract'])
def address(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A server address of each family (an AF_UNIX path in a short temp dir)."""
    family = request.param
    if family == 'AF_INET':
        yield IPv4
    elif family == 'AF_INET6':
        if not HAVE_IPV6:
            pytest.skip('IPv6 loopback not available')
        yield IPv6
    elif family == 'AF_UNIX':
        tmpdir = tempfile.mkdtemp(prefix='degu-tls.')
        try:
            yield os.path.join(tmpdir, 'server.socket')
        finally:
            shutil.rmtree(tmpdir)
    else:
        if not HAVE_ABSTRACT:
            pytest.skip('abstract AF_UNIX names need Linux')
        yield b''


# ---------------------------------------------------------------------------
# Mutual TLS on every address family

def test_mutual_tls_requests(pki: TempPKI, address: Any) -> None:
    app = App()
    big = os.urandom(1024 * 1024 + 7)  # spans many TLS records
    chunks = [(('k', 'v'), b'hello'), (None, b', '), (('x', 'y.z'), b'world'),
              (None, b'')]
    with serving(pki.server_sslconfig, address, app) as server:
        client = SSLClient(pki.client_sslconfig, server.address)
        conn = client.connect()
        try:
            assert type(conn.sock) is ssl.SSLSocket
            responses = []

            r = conn.get('/foo/bar?baz=1', {})
            assert r.status == 200 and r.reason == 'OK'
            assert r.body.read() == b'GET /foo/bar?baz=1'
            responses.append(r)

            r = conn.post('/upload', {}, big)
            assert r.headers['content-length'] == len(big)
            assert r.body.read() == big
            responses.append(r)

            r = conn.post('/chunks', {}, conn.api.ChunkedBodyIter(chunks))
            assert r.headers['transfer-encoding'] == 'chunked'
            assert r.body.chunked is True
            assert list(r.body) == chunks
            responses.append(r)

            r = conn.put('/iter', {}, conn.api.BodyIter([b'a', b'', b'bc'], 3))
            assert r.body.read() == b'abc'
            responses.append(r)

            r = conn.put('/file', {}, conn.api.Body(io.BytesIO(b'file'), 4))
            assert r.body.read() == b'file'
            responses.append(r)

            wire = io.BytesIO(b'3;a=b\r\nfoo\r\n0\r\n\r\n')
            r = conn.post('/wire', {}, conn.api.ChunkedBody(wire))
            assert list(r.body) == [(('a', 'b'), b'foo'), (None, b'')]
            responses.append(r)

            r = conn.get('/last', {})
            assert r.body.read() == b'GET /last'
            responses.append(r)
        finally:
            conn.close()
    # Seven requests, one connection, one on_connect call.
    assert [r.headers['x-requests'] for r in responses] == [
        '0', '1', '2', '3', '4', '5', '6',
    ]
    assert len(app.seen) == 1
    for r in responses:
        assert r.headers['x-peer'] == pki.client_id
        assert r.headers['x-tls-version'] in ('TLSv1.2', 'TLSv1.3')
    if type(address) is tuple:
        assert responses[0].headers['x-credentials'] == 'None'
    else:
        # Peer credentials are still taken from the AF_UNIX socket under TLS.
        credentials = (os.getpid(), os.getuid(), os.getgid())
        assert responses[0].headers['x-credentials'] == repr(credentials)


def test_many_connections_one_server(pki: TempPKI) -> None:
    # Connections come and go; each gets its own handshake and session.
    app = App()
    with serving(pki.server_sslconfig, IPv4, app) as server:
        client = SSLClient(pki.client_sslconfig, server.address)
        conns = [client.connect() for _ in range(3)]
        try:
            for (i, conn) in enumerate(conns):
                r = conn.get('/{}'.format(i), {})
                assert r.body.read() == 'GET /{}'.format(i).encode()
                assert r.headers['x-requests'] == '0'
        finally:
            for conn in conns:
                conn.close()
    assert len(app.seen) == 3
    assert len({id(seen['store']) for seen in app.seen}) == 3


# ---------------------------------------------------------------------------
# Anonymous clients

@pytest.mark.parametrize('config', [
    'anonymous_client_sslconfig',
    'client_sslconfig',  # has a certificate, but is never asked for it
])
def test_anonymous_clients(pki: TempPKI, caplog: pytest.LogCaptureFixture,
                           config: str) -> None:
    caplog.set_level(logging.WARNING, logger='degu.server')
    app = App()
    with serving(pki.anonymous_server_sslconfig, IPv4, app) as server:
        assert server.sslctx.verify_mode == ssl.CERT_NONE
        client = SSLClient(getattr(pki, config), server.address)
        (r, body) = get(client, '/anon')
    assert (r.status, body) == (200, b'GET /anon')
    assert r.headers['x-peer'] == 'anonymous'
    assert len(app.seen) == 1
    assert app.seen[0]['type'] is ssl.SSLSocket
    assert app.seen[0]['peercert'] is None
    warnings = [r for r in caplog.records if r.getMessage() == SECURITY_WARNING]
    assert len(warnings) == 1
    assert warnings[0].name == 'degu.server'
    assert warnings[0].levelno == logging.WARNING


def cert_none_context(pki: TempPKI) -> ssl.SSLContext:
    sslctx = build_server_sslctx(pki.server_sslconfig)
    sslctx.verify_mode = ssl.CERT_NONE
    return sslctx


@pytest.mark.parametrize('make, warned', [
    (lambda pki: pki.anonymous_server_sslconfig, True),
    (cert_none_context, True),
    (lambda pki: pki.server_sslconfig, False),
    (lambda pki: build_server_sslctx(pki.server_sslconfig), False),
], ids=['anonymous-config', 'CERT_NONE-context', 'config', 'context'])
def test_security_warning(pki: TempPKI, caplog: pytest.LogCaptureFixture,
                          make: Callable[[TempPKI], Any], warned: bool) -> None:
    caplog.set_level(logging.WARNING, logger='degu.server')
    server = SSLServer(make(pki), IPv4, simple_app)
    server.close()
    messages = [r.getMessage() for r in caplog.records if r.name == 'degu.server']
    assert messages == ([SECURITY_WARNING] if warned else [])


# ---------------------------------------------------------------------------
# Refusals

def test_client_refuses_untrusted_server(pki: TempPKI, other_pki: TempPKI,
                                         caplog: pytest.LogCaptureFixture) -> None:
    # An impostor: its certificate comes from a CA our client does not trust
    # (though it would accept our client's certificate).
    config = other_pki.server_sslconfig
    config['ca_file'] = pki.path(known(pki.client_ca_id), 'ca')
    app = App()
    with serving(config, IPv4, app) as server:
        client = SSLClient(pki.client_sslconfig, server.address)
        with pytest.raises(ssl.SSLCertVerificationError) as cm:
            client.connect()
        assert cm.value.reason == 'CERTIFICATE_VERIFY_FAILED'
        assert cm.value.verify_message == 'unable to get local issuer certificate'
        # The client that trusts the impostor's CA does get through.
        trusting = pki.client_sslconfig
        trusting['ca_file'] = other_pki.path(other_pki.server_ca_id, 'ca')
        (r, body) = get(SSLClient(trusting, server.address))
        assert r.headers['x-peer'] == pki.client_id
    assert len(app.seen) == 1


def refused_client_config(pki: TempPKI, other_pki: TempPKI,
                          who: str) -> Dict[str, Any]:
    if who == 'no certificate':
        return pki.anonymous_client_sslconfig
    # A certificate from another CA (trusting our server, though).
    config = other_pki.client_sslconfig
    config['ca_file'] = pki.path(pki.server_ca_id, 'ca')
    return config


@pytest.mark.parametrize('version', [
    ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3,
], ids=['TLSv1.2', 'TLSv1.3'])
@pytest.mark.parametrize('who, server_reason', [
    ('no certificate', 'PEER_DID_NOT_RETURN_A_CERTIFICATE'),
    ('foreign certificate', 'CERTIFICATE_VERIFY_FAILED'),
], ids=['no-cert', 'foreign-cert'])
def test_server_refuses_client(pki: TempPKI, other_pki: TempPKI,
                               caplog: pytest.LogCaptureFixture, who: str,
                               server_reason: str,
                               version: ssl.TLSVersion) -> None:
    caplog.set_level(logging.INFO, logger='degu.server')
    sslctx = build_client_sslctx(refused_client_config(pki, other_pki, who))
    sslctx.minimum_version = sslctx.maximum_version = version
    app = App()
    with serving(pki.server_sslconfig, IPv4, app) as server:
        client = SSLClient(sslctx, server.address)
        assert client.sslctx is sslctx
        # TLS 1.2 fails in connect(); with TLS 1.3 the client finishes its
        # side of the handshake first and learns of the refusal on reading.
        with pytest.raises((ssl.SSLError, ConnectionError)):
            conn = client.connect()
            try:
                conn.get('/', {})
            finally:
                conn.close()
        # The server keeps serving good clients.
        (r, body) = get(SSLClient(pki.client_sslconfig, server.address))
        assert (r.status, r.headers['x-peer']) == (200, pki.client_id)
        assert r.headers['x-tls-version'] == 'TLSv1.3'
    # The refused handshake ended its connection, logged with its reason.
    errors = [logged_exception(r) for r in caplog.records
              if r.name == 'degu.server' and r.msg.startswith('- ')]
    refusals = [e for e in errors if isinstance(e, ssl.SSLError)]
    assert len(refusals) == 1
    assert refusals[0].reason == server_reason
    # on_connect never saw the refused client.
    assert len(app.seen) == 1
    assert common_name(app.seen[0]['peercert']) == pki.client_id


# ---------------------------------------------------------------------------
# app.on_connect()

def test_on_connect_sees_ssl_socket(pki: TempPKI) -> None:
    app = App()
    with serving(pki.server_sslconfig, IPv4, app) as server:
        client = SSLClient(pki.client_sslconfig, server.address)
        conn = client.connect()
        try:
            r1 = conn.get('/one', {})
            r1.body.read()
            r2 = conn.get('/two', {})
            r2.body.read()
        finally:
            conn.close()
    assert len(app.seen) == 1
    seen = app.seen[0]
    assert seen['type'] is ssl.SSLSocket
    # Called after the handshake, before any request.
    assert seen['version'] in ('TLSv1.2', 'TLSv1.3')
    assert seen['requests'] == 0
    assert common_name(seen['peercert']) == pki.client_id
    assert common_name(seen['peercert'], 'issuer') == pki.client_ca_id
    # What on_connect stored is what the app saw, for every request.
    assert seen['store'] == {
        '_peer': pki.client_id,
        '_tls': (seen['version'], seen['cipher'][0]),
    }
    assert r1.headers['x-peer'] == r2.headers['x-peer'] == pki.client_id


@pytest.mark.parametrize('result', [
    False, None, 1, 'True', RuntimeError('on_connect failed'),
], ids=['False', 'None', '1', 'str', 'raises'])
def test_on_connect_rejects(pki: TempPKI, caplog: pytest.LogCaptureFixture,
                            result: Any) -> None:
    caplog.set_level(logging.INFO, logger='degu.server')
    app = App(result)
    with serving(pki.server_sslconfig, IPv4, app) as server:
        client = SSLClient(pki.client_sslconfig, server.address)
        conn = client.connect()
        sockname = conn.sock.getsockname()
        try:
            with pytest.raises((ssl.SSLError, ConnectionError)):
                conn.get('/', {})
        finally:
            conn.close()
        record = wait_end_record(caplog, sockname)
    assert len(app.seen) == 1
    assert app.seen[0]['type'] is ssl.SSLSocket
    if isinstance(result, BaseException):
        assert record.levelno == logging.ERROR
        assert logged_exception(record) is result
    else:
        assert record.levelno == logging.WARNING
        assert record.getMessage() == '- {!r} Rejected by app.on_connect()'.format(
            sockname
        )


# ---------------------------------------------------------------------------
# Protocol versions and ciphers

@pytest.mark.parametrize('side', ['client', 'server'])
@pytest.mark.parametrize('version', ['TLSv1.2', 'TLSv1.3'])
def test_negotiated(pki: TempPKI, side: str, version: str) -> None:
    # One side is limited to *version* with a pre-built context; the other
    # is Degu's default (TLS 1.2 or 1.3).
    server_ctx = build_server_sslctx(pki.server_sslconfig)
    client_ctx = build_client_sslctx(pki.client_sslconfig)
    limited = server_ctx if side == 'server' else client_ctx
    if version == 'TLSv1.2':
        limited.maximum_version = ssl.TLSVersion.TLSv1_2
    else:
        limited.minimum_version = ssl.TLSVersion.TLSv1_3
    app = App()
    with serving(server_ctx, IPv4, app) as server:
        assert server.sslctx is server_ctx
        client = SSLClient(client_ctx, server.address)
        assert client.sslctx is client_ctx
        conn = client.connect()
        try:
            r = conn.post('/', {}, b'ping')
            assert r.body.read() == b'ping'
            client_view = (conn.sock.version(), conn.sock.cipher()[0])
        finally:
            conn.close()
    server_view = (r.headers['x-tls-version'], r.headers['x-tls-cipher'])
    assert server_view == client_view
    assert server_view[0] == version
    if version == 'TLSv1.2':
        assert server_view[1] in ALLOWED_TLS12
        # The server's first choice for an RSA certificate.
        assert server_view[1] == 'ECDHE-RSA-AES128-GCM-SHA256'
    else:
        assert server_view[1] in TLS13_SUITES
    print('negotiated ({} limited to {}): {} {}'.format(side, version, *server_view))


def test_default_negotiates_tls13(pki: TempPKI) -> None:
    app = App()
    with serving(pki.server_sslconfig, IPv4, app) as server:
        (r, body) = get(SSLClient(pki.client_sslconfig, server.address))
    assert r.headers['x-tls-version'] == 'TLSv1.3'
    assert r.headers['x-tls-cipher'] in TLS13_SUITES


# ---------------------------------------------------------------------------
# Misbehaving peers cost only their own connection

def test_plaintext_http_to_tls_port(pki: TempPKI,
                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger='degu.server')
    app = App()
    with serving(pki.server_sslconfig, IPv4, app) as server:
        client = SSLClient(pki.client_sslconfig, server.address)
        conn = client.connect()
        try:
            r = conn.get('/before', {})
            assert r.body.read() == b'GET /before'
            with socket.create_connection(server.address, timeout=GUARD) as raw:
                sockname = raw.getsockname()
                raw.sendall(b'GET / HTTP/1.1\r\nhost: example.com\r\n\r\n')
                received = recv_all(raw)
            assert not received.startswith(b'HTTP/')
            # The open connection is unaffected, and new ones are welcome.
            r = conn.get('/after', {})
            assert r.body.read() == b'GET /after'
            assert r.headers['x-requests'] == '1'
        finally:
            conn.close()
        (r, body) = get(client)
        assert body == b'GET /'
        record = wait_end_record(caplog, sockname)
    error = logged_exception(record)
    assert isinstance(error, ssl.SSLError)
    assert error.reason == 'HTTP_REQUEST'
    assert len(app.seen) == 2


def test_stalled_handshakes_time_out(pki: TempPKI,
                                     caplog: pytest.LogCaptureFixture) -> None:
    # Both slots are taken by clients that never send a ClientHello; the
    # server drops them after its timeout and then serves a good client.
    caplog.set_level(logging.INFO, logger='degu.server')
    app = App()
    with serving(pki.server_sslconfig, IPv4, app,
                 timeout=0.5, max_connections=2) as server:
        stalled = [socket.create_connection(server.address, timeout=GUARD)
                   for _ in range(2)]
        try:
            for sock in stalled:
                assert recv_all(sock) == b''
            socknames = [sock.getsockname() for sock in stalled]
        finally:
            for sock in stalled:
                sock.close()
        (r, body) = get(SSLClient(pki.client_sslconfig, server.address))
        assert (r.status, body) == (200, b'GET /')
        records = [wait_end_record(caplog, name) for name in socknames]
    for record in records:
        assert record.levelno == logging.INFO
        assert record.msg == '- %s Handled %d requests: %r'
        assert type(record.args) is tuple and record.args[1] == 0
        error = logged_exception(record)
        assert isinstance(error, socket.timeout)  # TimeoutError on 3.10+
        assert 'handshake' in str(error)
    assert len(app.seen) == 1


def test_handshake_runs_in_connection_thread(pki: TempPKI) -> None:
    # A peer stalling its handshake must not block the accept loop: a good
    # client gets through while it stalls (the server timeout is long).
    app = App()
    with serving(pki.server_sslconfig, IPv4, app, timeout=30) as server:
        with socket.create_connection(server.address, timeout=GUARD) as stalled:
            client = SSLClient(pki.client_sslconfig, server.address,
                               timeout=GUARD)
            for i in range(2):
                (r, body) = get(client)
                assert body == b'GET /'
            # The stalled peer is still connected: nothing was sent to it.
            stalled.settimeout(0)
            with pytest.raises(BlockingIOError):
                stalled.recv(1)
    assert len(app.seen) == 2


def client_hello(pki: TempPKI) -> bytes:
    """The first flight of a Degu client: a complete TLS ClientHello record."""
    sslctx = build_client_sslctx(pki.client_sslconfig)
    (incoming, outgoing) = (ssl.MemoryBIO(), ssl.MemoryBIO())
    sslobj = sslctx.wrap_bio(incoming, outgoing)
    with pytest.raises(ssl.SSLWantReadError):
        sslobj.do_handshake()
    hello = outgoing.read()
    assert hello[:1] == b'\x16'  # a handshake record
    return hello


def test_trickled_handshake_times_out(pki: TempPKI) -> None:
    # Sending the ClientHello one byte at a time (far slower than the
    # timeout in total, far faster per byte) must not hold the connection:
    # the timeout bounds the whole handshake, not each recv().
    hello = client_hello(pki)
    app = App()
    with serving(pki.server_sslconfig, IPv4, app, timeout=0.5) as server:
        with socket.create_connection(server.address, timeout=GUARD) as sock:
            with pytest.raises(ConnectionError):
                for i in range(len(hello)):
                    sock.sendall(hello[i:i + 1])
                    time.sleep(GUARD / len(hello))
                recv_all(sock)  # not reached unless the server waited
    assert app.seen == []


# ---------------------------------------------------------------------------
# The server ends TLS connections with close_notify

def closing_status_app(session: Any, request: Any, api: Any) -> Any:
    return (400, 'Bad Request', {}, b'no')


@pytest.mark.parametrize('app, options, request_bytes, expected', [
    (simple_app, {'max_requests': 1}, b'GET / HTTP/1.1\r\n\r\n',
     b'HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 5\r\n\r\nhello'),
    (closing_status_app, {}, b'GET / HTTP/1.1\r\n\r\n',
     b'HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 2\r\n\r\nno'),
    (App(False), {}, b'', b''),
], ids=['max_requests', 'closing-status', 'on_connect-False'])
def test_server_sends_close_notify(pki: TempPKI, app: Any,
                                   options: Dict[str, Any],
                                   request_bytes: bytes,
                                   expected: bytes) -> None:
    # TLS requires close_notify before closing (RFC 8446 section 6.1).  A
    # strict client (suppress_ragged_eofs=False) gets a clean EOF, not
    # SSLEOFError('EOF occurred in violation of protocol').
    sslctx = build_client_sslctx(pki.client_sslconfig)
    with serving(pki.server_sslconfig, IPv4, app, **options) as server:
        raw = socket.create_connection(server.address, timeout=GUARD)
        with sslctx.wrap_socket(raw, suppress_ragged_eofs=False) as sock:
            sock.sendall(request_bytes)
            received = b''
            while True:
                data = sock.recv(4096)
                if not data:
                    break
                received += data
    assert received == expected


# ---------------------------------------------------------------------------
# Interoperability with the openssl command-line client

@pytest.mark.parametrize('with_cert', [True, False])
def test_openssl_s_client(pki: TempPKI, with_cert: bool) -> None:
    client_id = known(pki.client_id)
    app = App()
    # max_requests=1: the server closes after one response, which ends
    # s_client (-quiet implies -ign_eof, so stdin EOF does not).
    with serving(pki.server_sslconfig, IPv4, app, max_requests=1) as server:
        cmd = [
            'openssl', 's_client', '-quiet', '-verify_return_error',
            '-connect', '127.0.0.1:{}'.format(server.address[1]),
            '-CAfile', pki.path(pki.server_ca_id, 'ca'),
        ]
        if with_cert:
            cmd.extend(['-cert', pki.path(client_id, 'cert'),
                        '-key', pki.path(client_id, 'key')])
        request = b'GET /interop HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n'
        done = subprocess.run(cmd, input=request, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=GUARD)
    if not with_cert:
        assert done.returncode != 0
        assert b'HTTP/' not in done.stdout
        assert b'alert certificate required' in done.stderr
        assert app.seen == []
        return
    # A clean end: the server sent close_notify before closing.
    assert b'unexpected eof' not in done.stderr
    assert done.returncode == 0
    (preamble, sep, body) = done.stdout.partition(b'\r\n\r\n')
    lines = preamble.split(b'\r\n')
    assert lines[0] == b'HTTP/1.1 200 OK'
    assert b'x-peer: ' + client_id.encode() in lines
    assert b'x-tls-version: TLSv1.3' in lines
    assert b'content-length: 12' in lines
    assert body == b'GET /interop'
    assert len(app.seen) == 1
