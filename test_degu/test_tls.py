# SPDX-License-Identifier: LGPL-3.0-or-later
"""Tests for degu.tls: context building, checks, and real TLS handshakes.

The handshakes run between a server context and a client context over a
``socket.socketpair()`` (and once over TCP loopback), the server side in a
thread, using the session-wide ``pki`` fixture (a ``TempPKI``).
"""

import shutil
import socket
import ssl
import subprocess
import threading
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest

from degu import tls
from degu.errors import TYPE_ERROR
from degu.sslhelpers import TempPKI
from degu.tls import (
    build_client_sslctx,
    build_server_sslctx,
    check_client_sslctx,
    check_server_sslctx,
)

pytestmark = pytest.mark.skipif(
    shutil.which('openssl') is None, reason='needs the openssl binary'
)

# The TLS 1.2 suites Degu allows (SPEC §13.1), in the order of tls.TLS12_CIPHERS, and
# OpenSSL's TLS 1.3 suites (test_tls_e2e.py checks against these too).
ALLOWED_TLS12 = (
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
)
TLS13_SUITES = {
    'TLS_AES_256_GCM_SHA384',
    'TLS_AES_128_GCM_SHA256',
    'TLS_CHACHA20_POLY1305_SHA256',
}
TIMEOUT = 5


def legacy_context(protocol: Any) -> ssl.SSLContext:
    """An ``SSLContext`` of a deprecated protocol, without the warning."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        return ssl.SSLContext(protocol)


def set_minimum_version(sslctx: ssl.SSLContext, version: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        sslctx.minimum_version = version


def common_name(peercert: Any) -> str:
    """The CN of a ``getpeercert()`` dict."""
    for rdn in peercert['subject']:
        for (key, value) in rdn:
            if key == 'commonName':
                return str(value)
    raise AssertionError('no commonName')


# ---------------------------------------------------------------------------
# A real handshake

class Outcome:
    """What each side saw: protocol, cipher, peer certificate, or an error."""

    def __init__(self) -> None:
        self.version: Dict[str, Optional[str]] = {}
        self.cipher: Dict[str, Any] = {}
        self.peercert: Dict[str, Any] = {}
        self.error: Dict[str, BaseException] = {}
        self.echo: Optional[bytes] = None

    def negotiated(self) -> Tuple[str, str]:
        """``(protocol, cipher)``, after checking both sides agree."""
        assert self.error == {}
        assert self.echo == b'ping'
        assert self.version['server'] == self.version['client']
        assert self.cipher['server'] == self.cipher['client']
        return (str(self.version['client']), self.cipher['client'][0])


def socketpair_transport() -> Tuple[socket.socket, socket.socket]:
    return socket.socketpair()


def tcp_transport() -> Tuple[socket.socket, socket.socket]:
    with socket.create_server(('127.0.0.1', 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        (server, _) = listener.accept()
    return (server, client)


def handshake(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext,
              server_hostname: Optional[str] = None,
              transport: Callable[[], Tuple[socket.socket, socket.socket]]
              = socketpair_transport) -> Outcome:
    """Connect *client_ctx* to *server_ctx*; the client sends b'ping' and
    the server echoes it back.

    With TLS 1.3 a client learns that the server refused its certificate
    only when it reads, hence the echo.  A failing server keeps its socket
    open until the client is done, so the client reliably reads the alert
    (rather than sometimes failing its write on a closed socket).
    """
    outcome = Outcome()
    client_done = threading.Event()
    (server_sock, client_sock) = transport()
    server_sock.settimeout(TIMEOUT)
    client_sock.settimeout(TIMEOUT)

    def serve() -> None:
        with server_ctx.wrap_socket(server_sock, server_side=True,
                                    do_handshake_on_connect=False) as s:
            try:
                s.do_handshake()
                outcome.version['server'] = s.version()
                outcome.cipher['server'] = s.cipher()
                outcome.peercert['server'] = s.getpeercert()
                s.sendall(s.recv(4))
            except BaseException as e:
                outcome.error['server'] = e
                client_done.wait(TIMEOUT)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with client_ctx.wrap_socket(client_sock,
                                    server_hostname=server_hostname) as c:
            outcome.version['client'] = c.version()
            outcome.cipher['client'] = c.cipher()
            outcome.peercert['client'] = c.getpeercert()
            c.sendall(b'ping')
            outcome.echo = c.recv(4)
    except BaseException as e:
        outcome.error['client'] = e
    finally:
        client_done.set()
        client_sock.close()
        thread.join()
    return outcome


def reason(outcome: Outcome, side: str) -> str:
    error = outcome.error[side]
    assert isinstance(error, ssl.SSLError), repr(error)
    return str(error.reason)


@pytest.fixture(scope='module')
def server_ctx(pki: TempPKI) -> ssl.SSLContext:
    return build_server_sslctx(pki.server_sslconfig)


@pytest.fixture(scope='module')
def client_ctx(pki: TempPKI) -> ssl.SSLContext:
    return build_client_sslctx(pki.client_sslconfig)


@pytest.mark.parametrize('transport', [socketpair_transport, tcp_transport])
def test_mutual_tls(pki: TempPKI, server_ctx: ssl.SSLContext,
                    client_ctx: ssl.SSLContext,
                    transport: Callable[[], Tuple[socket.socket, socket.socket]]
                    ) -> None:
    outcome = handshake(server_ctx, client_ctx, transport=transport)
    (protocol, cipher) = outcome.negotiated()
    assert protocol == 'TLSv1.3'
    assert cipher in TLS13_SUITES
    # Each side authenticated the other:
    assert common_name(outcome.peercert['server']) == pki.client_id
    assert common_name(outcome.peercert['client']) == pki.server_id


def test_anonymous_tls(pki: TempPKI) -> None:
    server = build_server_sslctx(pki.anonymous_server_sslconfig)
    client = build_client_sslctx(pki.anonymous_client_sslconfig)
    outcome = handshake(server, client)
    assert outcome.negotiated()[0] == 'TLSv1.3'
    assert outcome.peercert['server'] is None
    assert common_name(outcome.peercert['client']) == pki.server_id
    # A client certificate is simply not asked for:
    outcome = handshake(server, build_client_sslctx(pki.client_sslconfig))
    assert outcome.negotiated()[0] == 'TLSv1.3'
    assert outcome.peercert['server'] is None


@pytest.mark.parametrize('max_version, client_reason', [
    (ssl.TLSVersion.MAXIMUM_SUPPORTED, 'TLSV13_ALERT_CERTIFICATE_REQUIRED'),
    (ssl.TLSVersion.TLSv1_2, 'SSLV3_ALERT_HANDSHAKE_FAILURE'),
])
def test_client_without_cert_refused(pki: TempPKI, server_ctx: ssl.SSLContext,
                                     max_version: ssl.TLSVersion,
                                     client_reason: str) -> None:
    client = build_client_sslctx(pki.anonymous_client_sslconfig)
    client.maximum_version = max_version
    outcome = handshake(server_ctx, client)
    assert reason(outcome, 'server') == 'PEER_DID_NOT_RETURN_A_CERTIFICATE'
    assert reason(outcome, 'client') == client_reason
    assert outcome.echo is None


def test_client_with_untrusted_cert_refused(pki: TempPKI,
                                            server_ctx: ssl.SSLContext) -> None:
    # The server's own certificate is valid, but not issued by the client CA.
    config = pki.client_sslconfig
    config['cert_file'] = pki.path(pki.server_id, 'cert')
    config['key_file'] = pki.path(pki.server_id, 'key')
    outcome = handshake(server_ctx, build_client_sslctx(config))
    error = outcome.error['server']
    assert isinstance(error, ssl.SSLCertVerificationError)
    assert error.reason == 'CERTIFICATE_VERIFY_FAILED'
    # (OpenSSL sends the server CA along from the client's trust store.)
    assert error.verify_message == 'self-signed certificate in certificate chain'
    assert reason(outcome, 'client') == 'TLSV1_ALERT_UNKNOWN_CA'
    assert outcome.echo is None


def test_client_refuses_untrusted_server(pki: TempPKI,
                                         server_ctx: ssl.SSLContext) -> None:
    # The client trusts only the client CA, which did not sign the server.
    config = pki.client_sslconfig
    config['ca_file'] = pki.path(pki.client_ca_id, 'ca')
    outcome = handshake(server_ctx, build_client_sslctx(config))
    error = outcome.error['client']
    assert isinstance(error, ssl.SSLCertVerificationError)
    assert error.reason == 'CERTIFICATE_VERIFY_FAILED'
    assert error.verify_message == 'unable to get local issuer certificate'
    assert reason(outcome, 'server') == 'TLSV1_ALERT_UNKNOWN_CA'


def test_check_hostname(pki: TempPKI, server_ctx: ssl.SSLContext) -> None:
    # The certificates name ids, not hosts: with check_hostname a client
    # must refuse them for 'localhost'.
    config = pki.client_sslconfig
    config['check_hostname'] = True
    client = build_client_sslctx(config)
    outcome = handshake(server_ctx, client, server_hostname='localhost')
    error = outcome.error['client']
    assert isinstance(error, ssl.SSLCertVerificationError)
    assert "Hostname mismatch, certificate is not valid for 'localhost'." in (
        error.verify_message
    )
    with socket.socket() as sock:
        with pytest.raises(ValueError) as cm:
            client.wrap_socket(sock, server_hostname=None)
    assert str(cm.value) == 'check_hostname requires server_hostname'


@pytest.mark.parametrize('side', ['server', 'client'])
def test_tls12_forced(pki: TempPKI, side: str) -> None:
    server = build_server_sslctx(pki.server_sslconfig)
    client = build_client_sslctx(pki.client_sslconfig)
    (server if side == 'server' else client).maximum_version = (
        ssl.TLSVersion.TLSv1_2
    )
    (protocol, cipher) = handshake(server, client).negotiated()
    assert protocol == 'TLSv1.2'
    # The server's first choice for its RSA key:
    assert cipher == 'ECDHE-RSA-AES128-GCM-SHA256'


@pytest.mark.parametrize('cipher', [
    'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-CHACHA20-POLY1305',
])
def test_tls12_each_rsa_cipher(pki: TempPKI, server_ctx: ssl.SSLContext,
                               cipher: str) -> None:
    client = build_client_sslctx(pki.client_sslconfig)
    client.maximum_version = ssl.TLSVersion.TLSv1_2
    client.set_ciphers(cipher)
    assert handshake(server_ctx, client).negotiated() == ('TLSv1.2', cipher)


def test_tls12_server_preference(pki: TempPKI,
                                 server_ctx: ssl.SSLContext) -> None:
    client = build_client_sslctx(pki.client_sslconfig)
    client.maximum_version = ssl.TLSVersion.TLSv1_2
    client.set_ciphers(':'.join(reversed(ALLOWED_TLS12)))
    assert tls12_cipher_names(client)[0] == 'ECDHE-RSA-CHACHA20-POLY1305'
    (_, cipher) = handshake(server_ctx, client).negotiated()
    assert cipher == 'ECDHE-RSA-AES128-GCM-SHA256'


@pytest.mark.parametrize('ciphers', [
    'ECDHE-RSA-AES128-SHA256',  # CBC
    'ECDHE-RSA-AES256-SHA',  # CBC, SHA-1
    'AES128-GCM-SHA256',  # no forward secrecy
    'DHE-RSA-AES128-GCM-SHA256',  # finite-field DH
])
def test_tls12_other_ciphers_refused(pki: TempPKI, server_ctx: ssl.SSLContext,
                                     ciphers: str) -> None:
    client = build_client_sslctx(pki.client_sslconfig)
    client.maximum_version = ssl.TLSVersion.TLSv1_2
    client.set_ciphers(ciphers + ':@SECLEVEL=0')
    outcome = handshake(server_ctx, client)
    assert reason(outcome, 'server') == 'NO_SHARED_CIPHER'
    assert 'client' in outcome.error


def test_tls11_refused(pki: TempPKI, server_ctx: ssl.SSLContext) -> None:
    client = legacy_context(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.load_verify_locations(pki.path(pki.server_ca_id, 'ca'))
    client.set_ciphers('ALL:@SECLEVEL=0')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        client.minimum_version = ssl.TLSVersion.TLSv1
        client.maximum_version = ssl.TLSVersion.TLSv1_1
    outcome = handshake(server_ctx, client)
    assert reason(outcome, 'server') == 'UNSUPPORTED_PROTOCOL'
    assert 'client' in outcome.error


def test_legacy_tls12_client(pki: TempPKI, server_ctx: ssl.SSLContext) -> None:
    # A pre-built legacy PROTOCOL_TLSv1_2 context passes the client check
    # and talks to our server.
    client = legacy_context(ssl.PROTOCOL_TLSv1_2)
    client.verify_mode = ssl.CERT_REQUIRED
    client.load_verify_locations(pki.path(pki.server_ca_id, 'ca'))
    client.load_cert_chain(pki.path(pki.client_id, 'cert'),
                           pki.path(pki.client_id, 'key'))
    assert check_client_sslctx(client) is client
    (protocol, cipher) = handshake(server_ctx, client).negotiated()
    assert protocol == 'TLSv1.2'
    assert cipher in ALLOWED_TLS12


def test_server_ca_path(pki: TempPKI, tmp_path: Path,
                        client_ctx: ssl.SSLContext) -> None:
    # A ca_path directory holds CAs under their subject-hash names.
    ca_file = pki.path(pki.client_ca_id, 'ca')
    subject_hash = subprocess.run(
        ['openssl', 'x509', '-noout', '-subject_hash', '-in', ca_file],
        check=True, stdout=subprocess.PIPE,
    ).stdout.decode().strip()
    shutil.copy(ca_file, str(tmp_path / (subject_hash + '.0')))
    config = pki.server_sslconfig
    del config['ca_file']
    config['ca_path'] = str(tmp_path)
    server = build_server_sslctx(config)
    assert server.verify_mode == ssl.CERT_REQUIRED
    (protocol, _) = handshake(server, client_ctx).negotiated()
    assert protocol == 'TLSv1.3'


def test_server_key_inside_cert_file(pki: TempPKI, tmp_path: Path,
                                     client_ctx: ssl.SSLContext) -> None:
    combined = str(tmp_path / 'server.pem')
    with open(combined, 'wb') as out:
        for ext in ('cert', 'key'):
            with open(pki.path(pki.server_id, ext), 'rb') as fp:
                out.write(fp.read())
    config = pki.server_sslconfig
    del config['key_file']
    config['cert_file'] = combined
    outcome = handshake(build_server_sslctx(config), client_ctx)
    assert outcome.negotiated()[0] == 'TLSv1.3'
    assert common_name(outcome.peercert['client']) == pki.server_id


# ---------------------------------------------------------------------------
# The contexts themselves

def test_constants() -> None:
    assert tls.TLS12_CIPHERS == ':'.join(ALLOWED_TLS12)
    assert tls.ECDH_CURVE == 'secp384r1'


def tls12_cipher_names(sslctx: ssl.SSLContext) -> List[str]:
    return [c['name'] for c in sslctx.get_ciphers()
            if c['protocol'] == 'TLSv1.2']


def test_build_server_sslctx(pki: TempPKI) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        sslctx = build_server_sslctx(pki.server_sslconfig)
        anonymous = build_server_sslctx(pki.anonymous_server_sslconfig)
    for ctx in (sslctx, anonymous):
        assert type(ctx) is ssl.SSLContext
        assert ctx.protocol == ssl.PROTOCOL_TLS_SERVER
        assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
        assert ctx.maximum_version == ssl.TLSVersion.MAXIMUM_SUPPORTED
        wanted = (ssl.OP_NO_COMPRESSION | ssl.OP_SINGLE_ECDH_USE
                  | ssl.OP_CIPHER_SERVER_PREFERENCE)
        assert ctx.options & wanted == wanted
        assert ctx.check_hostname is False
        assert tls12_cipher_names(ctx) == list(ALLOWED_TLS12)
        assert check_server_sslctx(ctx) is ctx
    assert sslctx.verify_mode == ssl.CERT_REQUIRED
    [ca] = sslctx.get_ca_certs()
    assert common_name(ca) == pki.client_ca_id
    assert anonymous.verify_mode == ssl.CERT_NONE
    assert anonymous.get_ca_certs() == []


def test_build_client_sslctx(pki: TempPKI) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        sslctx = build_client_sslctx(pki.client_sslconfig)
        anonymous = build_client_sslctx(pki.anonymous_client_sslconfig)
        default = build_client_sslctx({})
    for ctx in (sslctx, anonymous, default):
        assert type(ctx) is ssl.SSLContext
        assert ctx.protocol == ssl.PROTOCOL_TLS_CLIENT
        assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
        assert ctx.maximum_version == ssl.TLSVersion.MAXIMUM_SUPPORTED
        assert ctx.options & ssl.OP_NO_COMPRESSION
        assert ctx.verify_mode == ssl.CERT_REQUIRED
        assert tls12_cipher_names(ctx) == list(ALLOWED_TLS12)
        assert check_client_sslctx(ctx) is ctx
    for ctx in (sslctx, anonymous):
        assert ctx.check_hostname is False
        [ca] = ctx.get_ca_certs()
        assert common_name(ca) == pki.server_ca_id
    assert default.check_hostname is True
    config = pki.anonymous_client_sslconfig
    del config['check_hostname']
    assert build_client_sslctx(config).check_hostname is True


@pytest.mark.parametrize('value', [None, [], 'foo', ('cert_file', '/x')])
@pytest.mark.parametrize('func', [build_server_sslctx, build_client_sslctx])
def test_build_sslconfig_type(func: Callable[[Any], ssl.SSLContext],
                              value: Any) -> None:
    with pytest.raises(TypeError) as cm:
        func(value)
    assert str(cm.value) == TYPE_ERROR.format(
        'sslconfig', dict, type(value), value
    )


BAD_PATHS = ['foo.pem', 'dir/foo.pem', '/dir/../foo.pem', '/dir//foo.pem',
             '/dir/./foo.pem', '/dir/', '']


@pytest.mark.parametrize('value', BAD_PATHS)
@pytest.mark.parametrize('key', ['cert_file', 'key_file', 'ca_file', 'ca_path'])
@pytest.mark.parametrize('func', [build_server_sslctx, build_client_sslctx])
def test_build_relative_path(func: Callable[[Any], ssl.SSLContext],
                             key: str, value: str) -> None:
    config = {'cert_file': '/c.pem', key: value}
    with pytest.raises(ValueError) as cm:
        func(config)
    assert str(cm.value) == (
        'sslconfig[{!r}] is not an absolute, normalized path: {!r}'.format(
            key, value)
    )


@pytest.mark.parametrize('value', [b'/foo.pem', None, Path('/foo.pem'), 17])
@pytest.mark.parametrize('key', ['cert_file', 'key_file', 'ca_file', 'ca_path'])
@pytest.mark.parametrize('func', [build_server_sslctx, build_client_sslctx])
def test_build_path_type(func: Callable[[Any], ssl.SSLContext],
                         key: str, value: Any) -> None:
    config = {'cert_file': '/c.pem', key: value}
    with pytest.raises(TypeError) as cm:
        func(config)
    assert str(cm.value) == TYPE_ERROR.format(
        'sslconfig[{!r}]'.format(key), str, type(value), value
    )


@pytest.mark.parametrize('func, keys', [
    (build_server_sslctx, ['cert_file', 'key_file', 'ca_file', 'ca_path']),
    (build_client_sslctx, ['ca_file', 'ca_path', 'cert_file', 'key_file']),
])
def test_build_path_order(func: Callable[[Any], ssl.SSLContext],
                          keys: List[str]) -> None:
    config = {key: 'rel' + key for key in keys}
    for key in keys:
        with pytest.raises(ValueError) as cm:
            func(config)
        assert str(cm.value).startswith('sslconfig[{!r}] '.format(key))
        config[key] = '/abs/' + key


def test_build_server_needs_cert_file() -> None:
    for config in [{}, {'key_file': '/k.pem', 'ca_file': '/ca.pem'}]:
        with pytest.raises(ValueError) as cm:
            build_server_sslctx(config)
        assert str(cm.value) == "sslconfig['cert_file'] is required"


def test_build_server_missing_files(tmp_path: Path) -> None:
    config = {'cert_file': str(tmp_path / 'missing.cert'),
              'allow_unauthenticated_clients': True}
    with pytest.raises(FileNotFoundError):
        build_server_sslctx(config)


@pytest.mark.parametrize('value', [False, 1, 'True', None, (True,)])
def test_build_server_allow_unauthenticated_value(pki: TempPKI,
                                                  value: Any) -> None:
    config = pki.anonymous_server_sslconfig
    config['allow_unauthenticated_clients'] = value
    with pytest.raises(ValueError) as cm:
        build_server_sslctx(config)
    assert str(cm.value) == (
        'True is only allowed value for allow_unauthenticated_clients'
    )


@pytest.mark.parametrize('extra', [
    {'ca_file': '/foo.ca'}, {'ca_path': '/foo'},
    {'ca_file': '/foo.ca', 'ca_path': '/foo'},
])
def test_build_server_allow_unauthenticated_with_ca(pki: TempPKI,
                                                    extra: Dict[str, str]
                                                    ) -> None:
    config = pki.anonymous_server_sslconfig
    config.update(extra)
    with pytest.raises(ValueError) as cm:
        build_server_sslctx(config)
    assert str(cm.value) == 'ca_file/ca_path with allow_unauthenticated_clients'


def test_build_server_needs_ca(pki: TempPKI) -> None:
    config = pki.server_sslconfig
    del config['ca_file']
    with pytest.raises(ValueError) as cm:
        build_server_sslctx(config)
    assert str(cm.value) == (
        'must include ca_file or ca_path (or allow_unauthenticated_clients)'
    )


@pytest.mark.parametrize('value', [1, 0, 'True', None, b''])
def test_build_client_check_hostname_type(value: Any) -> None:
    # Checked before anything else in the dict.
    config = {'check_hostname': value, 'key_file': 'relative'}
    with pytest.raises(TypeError) as cm:
        build_client_sslctx(config)
    assert str(cm.value) == TYPE_ERROR.format(
        "sslconfig['check_hostname']", bool, type(value), value
    )


def test_build_client_key_without_cert() -> None:
    # Checked before the paths.
    for config in [{'key_file': '/k.pem'}, {'key_file': 'k.pem'},
                   {'key_file': '/k.pem', 'ca_file': 'relative'}]:
        with pytest.raises(ValueError) as cm:
            build_client_sslctx(config)
        assert str(cm.value) == (
            "sslconfig['key_file'] provided without sslconfig['cert_file']"
        )


def test_build_client_default_paths_need_check_hostname() -> None:
    for config in [{'check_hostname': False},
                   {'check_hostname': False, 'cert_file': '/missing.pem'}]:
        with pytest.raises(ValueError) as cm:
            build_client_sslctx(config)
        assert str(cm.value) == (
            'check_hostname must be True when using default verify paths'
        )


def test_build_client_cert_with_key_inside(pki: TempPKI,
                                           tmp_path: Path) -> None:
    combined = str(tmp_path / 'client.pem')
    with open(combined, 'wb') as out:
        for ext in ('cert', 'key'):
            with open(pki.path(pki.client_id, ext), 'rb') as fp:
                out.write(fp.read())
    config = pki.client_sslconfig
    del config['key_file']
    config['cert_file'] = combined
    server = build_server_sslctx(pki.server_sslconfig)
    outcome = handshake(server, build_client_sslctx(config))
    assert outcome.negotiated()[0] == 'TLSv1.3'
    assert common_name(outcome.peercert['server']) == pki.client_id


# ---------------------------------------------------------------------------
# Checks of pre-built contexts

def test_check_builds_dicts(pki: TempPKI) -> None:
    server = check_server_sslctx(pki.server_sslconfig)
    assert type(server) is ssl.SSLContext
    assert server.protocol == ssl.PROTOCOL_TLS_SERVER
    assert server.verify_mode == ssl.CERT_REQUIRED
    client = check_client_sslctx(pki.client_sslconfig)
    assert type(client) is ssl.SSLContext
    assert client.protocol == ssl.PROTOCOL_TLS_CLIENT
    # And the dict errors come through:
    with pytest.raises(ValueError) as cm:
        check_server_sslctx({})
    assert str(cm.value) == "sslconfig['cert_file'] is required"
    with pytest.raises(ValueError) as cm:
        check_client_sslctx({'check_hostname': False})
    assert str(cm.value) == (
        'check_hostname must be True when using default verify paths'
    )


class MyContext(ssl.SSLContext):
    pass


@pytest.mark.parametrize('value', [
    None, 'sslctx', [], ssl.PROTOCOL_TLS_SERVER, MyContext(ssl.PROTOCOL_TLS_SERVER),
    MyContext(ssl.PROTOCOL_TLS_CLIENT),
])
@pytest.mark.parametrize('func', [check_server_sslctx, check_client_sslctx])
def test_check_type(func: Callable[[Any], ssl.SSLContext], value: Any) -> None:
    with pytest.raises(TypeError) as cm:
        func(value)
    assert str(cm.value) == 'sslctx must be an ssl.SSLContext'


def make_server_ctx() -> ssl.SSLContext:
    # The minimum is set explicitly: Python 3.9 leaves it at
    # MINIMUM_SUPPORTED (see test_bare_context_minimum_depends_on_python).
    sslctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sslctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return sslctx


def make_client_ctx() -> ssl.SSLContext:
    sslctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    sslctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return sslctx


@pytest.mark.parametrize('protocol, check', [
    (ssl.PROTOCOL_TLS_SERVER, tls.check_server_sslctx),
    (ssl.PROTOCOL_TLS_CLIENT, tls.check_client_sslctx),
])
def test_bare_context_minimum_depends_on_python(protocol: Any, check: Any) -> None:
    """Python 3.10+ defaults new contexts to TLS 1.2 at least; 3.9 does not,
    nor does a Python built to leave the minimum to OpenSSL's configuration
    (Debian's python3: ``--with-ssl-default-suites=openssl``).

    So there a context built without an explicit minimum is refused, with
    a message that says what to set.
    """
    sslctx = ssl.SSLContext(protocol)
    if protocol == ssl.PROTOCOL_TLS_CLIENT:
        sslctx.options |= ssl.OP_NO_COMPRESSION
    if sslctx.minimum_version == ssl.TLSVersion.TLSv1_2:
        assert check(sslctx) is sslctx
    else:
        with pytest.raises(ValueError) as cm:
            check(sslctx)
        assert str(cm.value) == (
            'sslctx.minimum_version must be at least ssl.TLSVersion.TLSv1_2; '
            'got ssl.TLSVersion.MINIMUM_SUPPORTED'
        )


def with_min(make: Callable[[], ssl.SSLContext],
             version: ssl.TLSVersion) -> Callable[[], ssl.SSLContext]:
    def build() -> ssl.SSLContext:
        sslctx = make()
        set_minimum_version(sslctx, version)
        return sslctx
    return build


def with_verify(make: Callable[[], ssl.SSLContext],
                mode: ssl.VerifyMode) -> Callable[[], ssl.SSLContext]:
    def build() -> ssl.SSLContext:
        sslctx = make()
        sslctx.check_hostname = False
        sslctx.verify_mode = mode
        return sslctx
    return build


def legacy(protocol: Any, mode: ssl.VerifyMode = ssl.CERT_NONE
           ) -> Callable[[], ssl.SSLContext]:
    def build() -> ssl.SSLContext:
        sslctx = legacy_context(protocol)
        sslctx.verify_mode = mode
        return sslctx
    return build


def without_compression_flag() -> ssl.SSLContext:
    sslctx = make_client_ctx()
    sslctx.options &= ~ssl.OP_NO_COMPRESSION
    return sslctx


def server_msg(got: str) -> str:
    return ('sslctx.protocol must be ssl.PROTOCOL_TLS_SERVER or '
            'ssl.PROTOCOL_TLSv1_2; got ssl.' + got)


def client_msg(got: str) -> str:
    return ('sslctx.protocol must be ssl.PROTOCOL_TLS_CLIENT or '
            'ssl.PROTOCOL_TLSv1_2; got ssl.' + got)


def version_msg(got: str) -> str:
    return ('sslctx.minimum_version must be at least '
            'ssl.TLSVersion.TLSv1_2; got ssl.TLSVersion.' + got)


V = ssl.TLSVersion

SERVER_GOOD = [
    make_server_ctx,
    with_min(make_server_ctx, V.TLSv1_3),
    with_min(make_server_ctx, V.MAXIMUM_SUPPORTED),
    with_verify(make_server_ctx, ssl.CERT_REQUIRED),
    legacy(ssl.PROTOCOL_TLSv1_2),
    legacy(ssl.PROTOCOL_TLSv1_2, ssl.CERT_REQUIRED),
    with_min(legacy(ssl.PROTOCOL_TLS), V.TLSv1_2),
]

SERVER_BAD = [
    (make_client_ctx, server_msg('PROTOCOL_TLS_CLIENT')),
    (legacy(ssl.PROTOCOL_TLSv1), server_msg('PROTOCOL_TLSv1')),
    (legacy(ssl.PROTOCOL_TLSv1_1), server_msg('PROTOCOL_TLSv1_1')),
    (with_min(make_server_ctx, V.MINIMUM_SUPPORTED), version_msg('MINIMUM_SUPPORTED')),
    (with_min(make_server_ctx, V.TLSv1), version_msg('TLSv1')),
    (with_min(make_server_ctx, V.TLSv1_1), version_msg('TLSv1_1')),
    (with_min(legacy(ssl.PROTOCOL_TLS), V.TLSv1_1), version_msg('TLSv1_1')),
    (with_verify(make_server_ctx, ssl.CERT_OPTIONAL),
     'sslctx.verify_mode cannot be ssl.CERT_OPTIONAL'),
    (legacy(ssl.PROTOCOL_TLSv1_2, ssl.CERT_OPTIONAL),
     'sslctx.verify_mode cannot be ssl.CERT_OPTIONAL'),
    # The version problem is reported first:
    (with_verify(with_min(make_server_ctx, V.TLSv1), ssl.CERT_OPTIONAL),
     version_msg('TLSv1')),
]

CLIENT_GOOD = [
    make_client_ctx,
    with_min(make_client_ctx, V.TLSv1_3),
    legacy(ssl.PROTOCOL_TLSv1_2, ssl.CERT_REQUIRED),
    with_verify(with_min(legacy(ssl.PROTOCOL_TLS), V.TLSv1_2), ssl.CERT_REQUIRED),
]

CLIENT_BAD = [
    (make_server_ctx, client_msg('PROTOCOL_TLS_SERVER')),
    (legacy(ssl.PROTOCOL_TLSv1, ssl.CERT_REQUIRED), client_msg('PROTOCOL_TLSv1')),
    (legacy(ssl.PROTOCOL_TLSv1_1, ssl.CERT_REQUIRED), client_msg('PROTOCOL_TLSv1_1')),
    (with_min(make_client_ctx, V.MINIMUM_SUPPORTED), version_msg('MINIMUM_SUPPORTED')),
    (with_min(make_client_ctx, V.TLSv1), version_msg('TLSv1')),
    (with_min(make_client_ctx, V.TLSv1_1), version_msg('TLSv1_1')),
    (without_compression_flag, 'sslctx.options must include ssl.OP_NO_COMPRESSION'),
    (with_verify(make_client_ctx, ssl.CERT_NONE),
     'sslctx.verify_mode must be ssl.CERT_REQUIRED'),
    (with_verify(make_client_ctx, ssl.CERT_OPTIONAL),
     'sslctx.verify_mode must be ssl.CERT_REQUIRED'),
    (legacy(ssl.PROTOCOL_TLSv1_2), 'sslctx.verify_mode must be ssl.CERT_REQUIRED'),
    # PROTOCOL_TLS defaults to CERT_NONE:
    (with_min(legacy(ssl.PROTOCOL_TLS), V.TLSv1_2),
     'sslctx.verify_mode must be ssl.CERT_REQUIRED'),
]


@pytest.mark.parametrize('make', SERVER_GOOD)
def test_check_server_sslctx_good(make: Callable[[], ssl.SSLContext]) -> None:
    sslctx = make()
    assert check_server_sslctx(sslctx) is sslctx


@pytest.mark.parametrize('make, message', SERVER_BAD)
def test_check_server_sslctx_bad(make: Callable[[], ssl.SSLContext],
                                 message: str) -> None:
    with pytest.raises(ValueError) as cm:
        check_server_sslctx(make())
    assert str(cm.value) == message


@pytest.mark.parametrize('make', CLIENT_GOOD)
def test_check_client_sslctx_good(make: Callable[[], ssl.SSLContext]) -> None:
    sslctx = make()
    assert check_client_sslctx(sslctx) is sslctx


@pytest.mark.parametrize('make, message', CLIENT_BAD)
def test_check_client_sslctx_bad(make: Callable[[], ssl.SSLContext],
                                 message: str) -> None:
    with pytest.raises(ValueError) as cm:
        check_client_sslctx(make())
    assert str(cm.value) == message


def test_no_deprecation_warning_anywhere(pki: TempPKI) -> None:
    # Building and checking Degu's own contexts touches no deprecated API.
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        for config in (pki.server_sslconfig, pki.anonymous_server_sslconfig):
            check_server_sslctx(check_server_sslctx(config))
        for config in (pki.client_sslconfig, pki.anonymous_client_sslconfig,
                       {}):
            check_client_sslctx(check_client_sslctx(config))
        # Nor does checking a legacy context someone else built:
        legacy_ctx = legacy_context(ssl.PROTOCOL_TLSv1_2)
        check_server_sslctx(legacy_ctx)
