# SPDX-License-Identifier: LGPL-3.0-or-later
"""Tests for degu.sslhelpers (runs the real ``openssl`` binary)."""

import gc
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Tuple, Type

import pytest

from degu import sslhelpers
from degu.errors import TYPE_ERROR
from degu.sslhelpers import PKI, TempPKI

pytestmark = pytest.mark.skipif(
    shutil.which('openssl') is None, reason='needs the openssl binary'
)

B32_ALPHABET = set('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567')


def openssl_text(*args: str) -> str:
    """Run openssl (for inspecting what sslhelpers produced)."""
    return subprocess.run(
        ['openssl'] + list(args), check=True, stdout=subprocess.PIPE
    ).stdout.decode()


def subject_and_issuer(cert_file: str) -> List[str]:
    """E.g. ``['subject=CN = foo', 'issuer=CN = bar']``."""
    return openssl_text(
        'x509', '-noout', '-subject', '-issuer', '-in', cert_file
    ).splitlines()


def mode_of(filename: str) -> int:
    return stat.S_IMODE(os.stat(filename).st_mode)


@pytest.fixture
def tempdir_in_tmp_path(tmp_path: Path,
                        monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make ``tempfile.mkdtemp()`` create its directories in *tmp_path*."""
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path))
    return tmp_path


# ---------------------------------------------------------------------------
# Pure helpers

def test_constants() -> None:
    assert sslhelpers.DAYS == 3650
    assert sslhelpers.KEY_BITS == (2048, 3072, 4096)


def test_safe_write(tmp_path: Path) -> None:
    filename = str(tmp_path / 'foo.key')
    assert sslhelpers.safe_write(filename, b'secret') is None
    with open(filename, 'rb') as fp:
        assert fp.read() == b'secret'
    assert mode_of(filename) == 0o400

    # Never overwrites:
    with pytest.raises(FileExistsError):
        sslhelpers.safe_write(filename, b'other')
    with open(filename, 'rb') as fp:
        assert fp.read() == b'secret'


@pytest.mark.parametrize('data', ['secret', bytearray(b'secret'), None])
def test_safe_write_type(tmp_path: Path, data: Any) -> None:
    filename = str(tmp_path / 'foo.key')
    with pytest.raises(TypeError) as cm:
        sslhelpers.safe_write(filename, data)
    assert str(cm.value) == TYPE_ERROR.format('data', bytes, type(data), data)
    assert not os.path.exists(filename)


@pytest.mark.parametrize('data, expected', [
    (b'fooba', 'MZXW6YTB'),  # RFC 4648 test vector
    (b'foobarbazq', 'MZXW6YTBOJRGC6TR'),
    (b'\x00' * 5, 'AAAAAAAA'),
    (b'\xff' * 5, '77777777'),
    (b'\x00' * 60, 'A' * 96),
    (b'\xff' * 60, '7' * 96),
])
def test_b32enc(data: bytes, expected: str) -> None:
    assert sslhelpers.b32enc(data) == expected


@pytest.mark.parametrize('data, message', [
    (b'', 'need 5 <= len(data) <= 60; got 0'),
    (b'abcd', 'need 5 <= len(data) <= 60; got 4'),
    (b'a' * 61, 'need 5 <= len(data) <= 60; got 61'),
    (b'a' * 65, 'need 5 <= len(data) <= 60; got 65'),
    (b'abcdef', 'len(data) must be a multiple of 5; got 6'),
    (b'a' * 59, 'len(data) must be a multiple of 5; got 59'),
])
def test_b32enc_value(data: bytes, message: str) -> None:
    with pytest.raises(ValueError) as cm:
        sslhelpers.b32enc(data)
    assert str(cm.value) == message


@pytest.mark.parametrize('data', ['fooba', bytearray(b'fooba'), 5])
def test_b32enc_type(data: Any) -> None:
    with pytest.raises(TypeError) as cm:
        sslhelpers.b32enc(data)
    assert str(cm.value) == TYPE_ERROR.format('data', bytes, type(data), data)


@pytest.mark.parametrize('args, length', [((), 24), ((5,), 8), ((30,), 48)])
def test_random_id(args: Tuple[int, ...], length: int) -> None:
    ids = {sslhelpers.random_id(*args) for _ in range(20)}
    assert len(ids) == 20
    for _id in ids:
        assert type(_id) is str
        assert len(_id) == length
        assert set(_id) <= B32_ALPHABET


def test_random_id_value() -> None:
    with pytest.raises(ValueError) as cm:
        sslhelpers.random_id(16)
    assert str(cm.value) == 'len(data) must be a multiple of 5; got 16'


def test_hash_pubkey() -> None:
    assert sslhelpers.hash_pubkey(b'The PEM encoded public key') == (
        '6RK4BB3YAIHDDJNOFOABZDS4WNEESGEW6LBRPH6AQETUNOMG'
    )
    assert len(sslhelpers.hash_pubkey(b'')) == 48


def test_make_subject() -> None:
    assert sslhelpers.make_subject('foo') == '/CN=foo'
    _id = sslhelpers.random_id(30)
    assert sslhelpers.make_subject(_id) == '/CN=' + _id


@pytest.mark.parametrize('bits', [512, 1024, 2047, 8192, 0, -2048])
def test_create_key_value(bits: int) -> None:
    with pytest.raises(ValueError) as cm:
        sslhelpers.create_key(bits)
    assert str(cm.value) == (
        'bits must be one of (2048, 3072, 4096); got {!r}'.format(bits)
    )


@pytest.mark.parametrize('bits', ['2048', 2048.0, True, None])
def test_create_key_type(bits: Any) -> None:
    with pytest.raises(TypeError) as cm:
        sslhelpers.create_key(bits)
    assert str(cm.value) == TYPE_ERROR.format('bits', int, type(bits), bits)


# ---------------------------------------------------------------------------
# The openssl wrappers, on one key made for this module

@pytest.fixture(scope='module')
def keydir(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, str]:
    """One 2048-bit key file and an empty directory next to it."""
    tmp = tmp_path_factory.mktemp('sslhelpers')
    key_file = str(tmp / 'my.key')
    sslhelpers.safe_write(key_file, sslhelpers.create_key(2048))
    return {'dir': str(tmp), 'key': key_file}


def test_create_key(keydir: Dict[str, str]) -> None:
    with open(keydir['key'], 'rb') as fp:
        data = fp.read()
    assert data.startswith(b'-----BEGIN PRIVATE KEY-----\n')
    text = openssl_text('pkey', '-noout', '-text', '-in', keydir['key'])
    assert 'Private-Key: (2048 bit' in text


def test_wrappers(keydir: Dict[str, str]) -> None:
    d = keydir['dir']
    key_file = keydir['key']
    pubkey = sslhelpers.get_pubkey(key_file)
    assert pubkey.startswith(b'-----BEGIN PUBLIC KEY-----\n')
    assert pubkey.endswith(b'-----END PUBLIC KEY-----\n')

    # A self-signed CA:
    ca = sslhelpers.create_ca(key_file, '/CN=MyCA')
    assert ca.startswith(b'-----BEGIN CERTIFICATE-----\n')
    ca_file = os.path.join(d, 'my.ca')
    sslhelpers.safe_write(ca_file, ca)
    assert sslhelpers.get_cert_pubkey(ca_file) == pubkey
    assert subject_and_issuer(ca_file) == ['subject=CN = MyCA', 'issuer=CN = MyCA']
    text = openssl_text('x509', '-noout', '-text', '-in', ca_file)
    assert 'CA:TRUE' in text
    assert 'Signature Algorithm: sha384WithRSAEncryption' in text

    # A request for the same key (enough to exercise the commands):
    csr = sslhelpers.create_csr(key_file, '/CN=Me')
    assert csr.startswith(b'-----BEGIN CERTIFICATE REQUEST-----\n')
    csr_file = os.path.join(d, 'my.csr')
    sslhelpers.safe_write(csr_file, csr)
    assert sslhelpers.get_csr_pubkey(csr_file) == pubkey
    assert 'sha384WithRSAEncryption' in openssl_text(
        'req', '-noout', '-text', '-in', csr_file
    )

    # Issued by the CA, serial file created on the way:
    srl_file = os.path.join(d, 'my.srl')
    assert not os.path.exists(srl_file)
    cert = sslhelpers.issue_cert(csr_file, ca_file, key_file, srl_file)
    assert cert.startswith(b'-----BEGIN CERTIFICATE-----\n')
    assert os.path.isfile(srl_file)
    cert_file = os.path.join(d, 'my.cert')
    sslhelpers.safe_write(cert_file, cert)
    assert sslhelpers.get_cert_pubkey(cert_file) == pubkey
    assert subject_and_issuer(cert_file) == ['subject=CN = Me', 'issuer=CN = MyCA']
    assert 'sha384WithRSAEncryption' in openssl_text(
        'x509', '-noout', '-text', '-in', cert_file
    )

    # Valid for DAYS days (checkend exits 0 if still valid after N seconds):
    for filename in (ca_file, cert_file):
        day = 24 * 60 * 60
        still = ['openssl', 'x509', '-noout', '-in', filename, '-checkend']
        assert subprocess.run(
            still + [str((sslhelpers.DAYS - 1) * day)], stdout=subprocess.DEVNULL
        ).returncode == 0
        assert subprocess.run(
            still + [str((sslhelpers.DAYS + 1) * day)], stdout=subprocess.DEVNULL
        ).returncode == 1


@pytest.mark.parametrize('func, nargs', [
    (sslhelpers.create_ca, 2),
    (sslhelpers.create_csr, 2),
    (sslhelpers.issue_cert, 4),
    (sslhelpers.get_pubkey, 1),
    (sslhelpers.get_csr_pubkey, 1),
    (sslhelpers.get_cert_pubkey, 1),
])
def test_openssl_failure(tmp_path: Path, func: Callable[..., bytes],
                         nargs: int) -> None:
    missing = str(tmp_path / 'missing')
    args = [missing] * nargs
    if func in (sslhelpers.create_ca, sslhelpers.create_csr):
        args[1] = '/CN=foo'
    with pytest.raises(subprocess.CalledProcessError) as cm:
        func(*args)
    assert cm.value.cmd[0] == 'openssl'
    assert cm.value.stderr  # openssl's explanation is kept
    assert os.listdir(str(tmp_path)) == []


# ---------------------------------------------------------------------------
# PKI

def test_PKI_init() -> None:
    pki = PKI('/some/dir')
    assert pki.ssldir == '/some/dir'
    assert repr(pki) == "PKI('/some/dir')"

    class MyPKI(PKI):
        pass

    assert repr(MyPKI('/foo')) == "MyPKI('/foo')"
    for bad in [b'/some/dir', None]:
        with pytest.raises(TypeError) as cm:
            PKI(bad)
        assert str(cm.value) == TYPE_ERROR.format('ssldir', str, type(bad), bad)


def test_PKI_path() -> None:
    pki = PKI('/some/dir')
    assert pki.path('FOO', 'key') == '/some/dir/FOO.key'
    assert pki.path('BAR', 'cert') == '/some/dir/BAR.cert'


def test_PKI_sslconfigs() -> None:
    pki = PKI('/d')
    assert pki.get_server_sslconfig('S', 'CC') == {
        'cert_file': '/d/S.cert',
        'key_file': '/d/S.key',
        'ca_file': '/d/CC.ca',
    }
    assert pki.get_anonymous_server_sslconfig('S') == {
        'cert_file': '/d/S.cert',
        'key_file': '/d/S.key',
        'allow_unauthenticated_clients': True,
    }
    assert pki.get_client_sslconfig('SC', 'C') == {
        'ca_file': '/d/SC.ca',
        'check_hostname': False,
        'cert_file': '/d/C.cert',
        'key_file': '/d/C.key',
    }
    assert pki.get_anonymous_client_sslconfig('SC') == {
        'ca_file': '/d/SC.ca',
        'check_hostname': False,
    }


def test_PKI_create(tmp_path: Path) -> None:
    pki = PKI(str(tmp_path))
    ca_id = pki.create_key(2048)
    assert len(ca_id) == 48 and set(ca_id) <= B32_ALPHABET
    key_file = pki.path(ca_id, 'key')
    # Only the renamed key is left, and its name is its public key's hash:
    assert os.listdir(str(tmp_path)) == [ca_id + '.key']
    assert mode_of(key_file) == 0o400
    assert ca_id == sslhelpers.hash_pubkey(sslhelpers.get_pubkey(key_file))

    ca_file = pki.create_ca(ca_id)
    assert ca_file == pki.path(ca_id, 'ca')
    assert mode_of(ca_file) == 0o400
    assert subject_and_issuer(ca_file) == [
        'subject=CN = ' + ca_id, 'issuer=CN = ' + ca_id
    ]
    with pytest.raises(FileExistsError):
        pki.create_ca(ca_id)

    # For brevity the CA certifies itself a second time:
    csr_file = pki.create_csr(ca_id)
    assert csr_file == pki.path(ca_id, 'csr')
    assert mode_of(csr_file) == 0o400
    cert_file = pki.issue_cert(ca_id, ca_id)
    assert cert_file == pki.path(ca_id, 'cert')
    assert mode_of(cert_file) == 0o400
    assert sslhelpers.get_cert_pubkey(cert_file) == sslhelpers.get_pubkey(key_file)
    assert sorted(os.listdir(str(tmp_path))) == sorted(
        ca_id + ext for ext in ('.key', '.ca', '.csr', '.cert', '.srl')
    )


def test_PKI_create_key_default_bits() -> None:
    # 4096-bit keys take seconds to make, so only the default is checked.
    assert PKI.create_key.__defaults__ == (4096,)


# ---------------------------------------------------------------------------
# TempPKI (the shared session fixture ``pki`` is a TempPKI())

def test_TempPKI(pki: TempPKI) -> None:
    assert isinstance(pki, PKI)
    assert os.path.isdir(pki.ssldir)
    assert os.path.dirname(pki.ssldir) == tempfile.gettempdir()
    assert os.path.basename(pki.ssldir).startswith('TempPKI.')
    assert repr(pki) == 'TempPKI({!r})'.format(pki.ssldir)
    assert pki.client_pki is True
    ids = [pki.server_ca_id, pki.server_id, pki.client_ca_id, pki.client_id]
    assert len(set(ids)) == 4
    for _id in ids:
        assert type(_id) is str and len(_id) == 48
        key_file = pki.path(_id, 'key')
        assert _id == sslhelpers.hash_pubkey(sslhelpers.get_pubkey(key_file))
    assert 'Private-Key: (2048 bit' in openssl_text(
        'pkey', '-noout', '-text', '-in', pki.path(pki.server_id, 'key')
    )
    for (ca_id, _id) in [(pki.server_ca_id, pki.server_id),
                         (pki.client_ca_id, pki.client_id)]:
        assert subject_and_issuer(pki.path(_id, 'cert')) == [
            'subject=CN = ' + _id, 'issuer=CN = ' + ca_id
        ]
        assert subject_and_issuer(pki.path(ca_id, 'ca')) == [
            'subject=CN = ' + ca_id, 'issuer=CN = ' + ca_id
        ]
        # The certificate really verifies against its CA (and only that one):
        verify = ['openssl', 'verify', '-CAfile', pki.path(ca_id, 'ca'),
                  pki.path(_id, 'cert')]
        assert subprocess.run(verify, stdout=subprocess.DEVNULL).returncode == 0


def test_TempPKI_cert_needs_its_own_ca(pki: TempPKI) -> None:
    verify = ['openssl', 'verify', '-CAfile', pki.path(pki.client_ca_id, 'ca'),
              pki.path(pki.server_id, 'cert')]
    result = subprocess.run(verify, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert result.returncode != 0


def test_TempPKI_sslconfigs(pki: TempPKI) -> None:
    def p(_id: str, ext: str) -> str:
        return os.path.join(pki.ssldir, '{}.{}'.format(_id, ext))

    expected = {
        'server_sslconfig': {
            'cert_file': p(pki.server_id, 'cert'),
            'key_file': p(pki.server_id, 'key'),
            'ca_file': p(pki.client_ca_id, 'ca'),
        },
        'client_sslconfig': {
            'ca_file': p(pki.server_ca_id, 'ca'),
            'check_hostname': False,
            'cert_file': p(pki.client_id, 'cert'),
            'key_file': p(pki.client_id, 'key'),
        },
        'anonymous_server_sslconfig': {
            'cert_file': p(pki.server_id, 'cert'),
            'key_file': p(pki.server_id, 'key'),
            'allow_unauthenticated_clients': True,
        },
        'anonymous_client_sslconfig': {
            'ca_file': p(pki.server_ca_id, 'ca'),
            'check_hostname': False,
        },
    }
    for (name, config) in expected.items():
        first = getattr(pki, name)
        assert type(first) is dict
        assert first == config
        for value in first.values():
            if type(value) is str:
                assert os.path.isfile(value)
        # A fresh dict each time: mutating one does not leak into the next.
        first.clear()
        assert getattr(pki, name) == config


@pytest.fixture(scope='module')
def server_only_pki() -> Iterator[TempPKI]:
    temp_pki = TempPKI(client_pki=False)
    yield temp_pki
    temp_pki.__del__()


def test_TempPKI_no_client(server_only_pki: TempPKI) -> None:
    pki = server_only_pki
    assert pki.client_pki is False
    assert pki.client_ca_id is None
    assert pki.client_id is None
    assert pki.server_ca_id != pki.server_id
    assert sorted(os.listdir(pki.ssldir)) == sorted(
        [pki.server_ca_id + ext for ext in ('.key', '.ca', '.srl')]
        + [pki.server_id + ext for ext in ('.key', '.csr', '.cert')]
    )
    for name in ('server_sslconfig', 'client_sslconfig'):
        with pytest.raises(ValueError) as cm:
            getattr(pki, name)
        assert str(cm.value) == 'TempPKI(client_pki=False) has no client PKI'
    assert pki.anonymous_server_sslconfig == {
        'cert_file': pki.path(pki.server_id, 'cert'),
        'key_file': pki.path(pki.server_id, 'key'),
        'allow_unauthenticated_clients': True,
    }
    assert pki.anonymous_client_sslconfig == {
        'ca_file': pki.path(pki.server_ca_id, 'ca'),
        'check_hostname': False,
    }


def test_TempPKI_del(server_only_pki: TempPKI) -> None:
    # Runs after test_TempPKI_no_client (same module fixture).
    ssldir = server_only_pki.ssldir
    assert os.path.isdir(ssldir)
    assert server_only_pki.__del__() is None
    assert not os.path.exists(ssldir)
    assert server_only_pki.__del__() is None  # idempotent
    assert not os.path.exists(ssldir)


def test_TempPKI_gc(tempdir_in_tmp_path: Path) -> None:
    temp_pki = TempPKI(client_pki=False)
    ssldir = temp_pki.ssldir
    assert os.path.dirname(ssldir) == str(tempdir_in_tmp_path)
    assert os.path.isdir(ssldir)
    del temp_pki
    gc.collect()
    assert os.listdir(str(tempdir_in_tmp_path)) == []


@pytest.mark.parametrize('kw, exc, message', [
    ({'client_pki': 1}, TypeError,
     TYPE_ERROR.format('client_pki', bool, int, 1)),
    ({'client_pki': None}, TypeError,
     TYPE_ERROR.format('client_pki', bool, type(None), None)),
    ({'bits': 1024}, ValueError,
     'bits must be one of (2048, 3072, 4096); got 1024'),
    ({'bits': '2048'}, TypeError,
     TYPE_ERROR.format('bits', int, str, '2048')),
])
def test_TempPKI_args(tempdir_in_tmp_path: Path, kw: Dict[str, Any],
                      exc: Type[Exception], message: str) -> None:
    with pytest.raises(exc) as cm:
        TempPKI(**kw)
    assert str(cm.value) == message
    assert os.listdir(str(tempdir_in_tmp_path)) == []  # nothing created


def test_TempPKI_failure_cleans_up(tempdir_in_tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_create_ca(key_file: str, subject: str) -> bytes:
        assert os.path.isfile(key_file)
        raise RuntimeError('broken openssl')

    monkeypatch.setattr(sslhelpers, 'create_ca', broken_create_ca)
    with pytest.raises(RuntimeError) as cm:
        TempPKI()
    assert str(cm.value) == 'broken openssl'
    assert os.listdir(str(tempdir_in_tmp_path)) == []
