# SPDX-License-Identifier: LGPL-3.0-or-later
"""A throw-away public key infrastructure for testing Degu over TLS.

This module drives the ``openssl`` command line tool (it must be on ``PATH``)
to create RSA keys, self-signed certificate authorities and certificates
issued by them.  It is meant for tests and demos, never for production keys:
the keys are unencrypted and sit in a plain directory.

Every subprocess is run with an argument list (never through a shell) and its
standard output is returned as ``bytes``; a failing ``openssl`` raises
``subprocess.CalledProcessError`` carrying the tool's ``stderr``.

Identities are content addressed: a key's *id* is :func:`hash_pubkey` of its
PEM encoded public key, and every file of an identity is named
``{ssldir}/{id}.{ext}``:

======  ===========================================================
``key``   the RSA private key
``ca``    a self-signed CA certificate, subject ``/CN={id}``
``csr``   a certificate signing request, subject ``/CN={id}``
``cert``  a certificate issued by some CA for the key
``srl``   the serial-number file of a CA (``{ca_id}.srl``)
======  ===========================================================

:class:`PKI` manages such a directory; :class:`TempPKI` creates one in a fresh
temporary directory with a server CA + server certificate and, by default, a
client CA + client certificate, and exposes ready-made ``sslconfig`` dicts for
``build_server_sslctx()`` / ``build_client_sslctx()``.
"""

import base64
import hashlib
import os
import shutil
import subprocess
import tempfile
from typing import Dict, Optional, Tuple, Union

from .errors import TYPE_ERROR

__all__ = (
    'DAYS',
    'KEY_BITS',
    'safe_write',
    'b32enc',
    'random_id',
    'hash_pubkey',
    'make_subject',
    'create_key',
    'create_ca',
    'create_csr',
    'issue_cert',
    'get_pubkey',
    'get_csr_pubkey',
    'get_cert_pubkey',
    'PKI',
    'TempPKI',
)

# Validity of every certificate we create, in days (about ten years).
DAYS = 3650

# RSA key sizes accepted by create_key().  1024 is refused: OpenSSL 3 at its
# default security level will not use such a key in a TLS handshake.
KEY_BITS = (2048, 3072, 4096)

# b32enc() input: whole 5-byte groups (so no '=' padding), 1 to 12 of them.
B32_MIN_BYTES = 5
B32_MAX_BYTES = 60

# Bytes of the SHA-512 digest kept by hash_pubkey(): 30 bytes -> 48 characters.
PUBKEY_HASH_BYTES = 30

# Type of an sslconfig dict as produced here (all values are str or bool).
SSLConfig = Dict[str, Union[str, bool]]


def safe_write(filename: str, data: bytes) -> None:
    """Write *data* into a new file *filename*, readable only by its owner.

    The file must not exist yet (``FileExistsError`` otherwise), so a key can
    never be silently overwritten, and it is created with mode ``0o400``
    atomically rather than chmod-ed after the secret is already on disk.
    """
    if type(data) is not bytes:
        raise TypeError(TYPE_ERROR.format('data', bytes, type(data), data))
    fd = os.open(filename, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
    with open(fd, 'wb') as fp:
        fp.write(data)


def b32enc(data: bytes) -> str:
    """Return the RFC 3548 base32 encoding of *data* as ``str``.

    Only whole 5-byte groups are accepted (5 to 60 bytes), so the result never
    needs ``'='`` padding and is safe in file names.
    """
    if type(data) is not bytes:
        raise TypeError(TYPE_ERROR.format('data', bytes, type(data), data))
    if not (B32_MIN_BYTES <= len(data) <= B32_MAX_BYTES):
        raise ValueError(
            'need {} <= len(data) <= {}; got {}'.format(
                B32_MIN_BYTES, B32_MAX_BYTES, len(data)
            )
        )
    if len(data) % 5 != 0:
        raise ValueError(
            'len(data) must be a multiple of 5; got {}'.format(len(data))
        )
    return base64.b32encode(data).decode('ascii')


def random_id(numbytes: int = 15) -> str:
    """Return *numbytes* of ``os.urandom()``, base32 encoded."""
    return b32enc(os.urandom(numbytes))


def hash_pubkey(data: bytes) -> str:
    """Return the id of a PEM encoded public key.

    That is the base32 encoding of the first 30 bytes of its SHA-512 digest
    (48 characters).
    """
    return b32enc(hashlib.sha512(data).digest()[:PUBKEY_HASH_BYTES])


def make_subject(cn: str) -> str:
    """Return the ``openssl -subj`` argument for common name *cn*."""
    return '/CN={}'.format(cn)


def _openssl(*args: str) -> bytes:
    """Run ``openssl *args`` (no shell) and return its standard output."""
    result = subprocess.run(
        ['openssl'] + list(args),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        check=True,
    )
    return result.stdout


def _check_bits(bits: int) -> int:
    """Refuse an RSA key size not in ``KEY_BITS``."""
    if type(bits) is not int:
        raise TypeError(TYPE_ERROR.format('bits', int, type(bits), bits))
    if bits not in KEY_BITS:
        raise ValueError(
            'bits must be one of {!r}; got {!r}'.format(KEY_BITS, bits)
        )
    return bits


def create_key(bits: int) -> bytes:
    """Return a new PEM encoded RSA private key of *bits* bits.

    *bits* must be one of ``KEY_BITS``, else
    ``ValueError('bits must be one of (2048, 3072, 4096); got 1024')``.
    """
    return _openssl('genrsa', str(_check_bits(bits)))


def create_ca(key_file: str, subject: str) -> bytes:
    """Return a new self-signed CA certificate (PEM) for *key_file*."""
    return _openssl(
        'req', '-new', '-x509', '-sha384', '-days', str(DAYS),
        '-key', key_file, '-subj', subject,
    )


def create_csr(key_file: str, subject: str) -> bytes:
    """Return a new certificate signing request (PEM) for *key_file*."""
    return _openssl(
        'req', '-new', '-sha384', '-key', key_file, '-subj', subject,
    )


def issue_cert(csr_file: str, ca_file: str, key_file: str,
               srl_file: str) -> bytes:
    """Return the certificate (PEM) that CA *ca_file* issues for *csr_file*.

    *key_file* is the CA's private key and *srl_file* its serial-number file
    (created on first use).
    """
    return _openssl(
        'x509', '-req', '-sha384', '-days', str(DAYS), '-CAcreateserial',
        '-in', csr_file, '-CA', ca_file, '-CAkey', key_file,
        '-CAserial', srl_file,
    )


def get_pubkey(key_file: str) -> bytes:
    """Return the PEM encoded public key of private key *key_file*."""
    return _openssl('rsa', '-pubout', '-in', key_file)


def get_csr_pubkey(csr_file: str) -> bytes:
    """Return the PEM encoded public key inside request *csr_file*."""
    return _openssl('req', '-pubkey', '-noout', '-in', csr_file)


def get_cert_pubkey(cert_file: str) -> bytes:
    """Return the PEM encoded public key inside certificate *cert_file*."""
    return _openssl('x509', '-pubkey', '-noout', '-in', cert_file)


class PKI:
    """The keys, CAs and certificates kept in directory *ssldir*.

    Each method that creates something writes exactly one new file (mode
    ``0o400``, never overwriting) and returns its id or filename.
    """

    def __init__(self, ssldir: str) -> None:
        if type(ssldir) is not str:
            raise TypeError(
                TYPE_ERROR.format('ssldir', str, type(ssldir), ssldir)
            )
        self.ssldir = ssldir

    def __repr__(self) -> str:
        return '{}({!r})'.format(type(self).__name__, self.ssldir)

    def path(self, _id: str, ext: str) -> str:
        """Return the filename ``{ssldir}/{_id}.{ext}``."""
        return os.path.join(self.ssldir, '{}.{}'.format(_id, ext))

    def create_key(self, bits: int = 4096) -> str:
        """Create a new private key and return its id.

        The key is first written under a random name; once its public key is
        known it is renamed to ``{id}.key``.
        """
        data = create_key(bits)
        tmp_file = self.path(random_id(), 'key')
        safe_write(tmp_file, data)
        _id = hash_pubkey(get_pubkey(tmp_file))
        os.rename(tmp_file, self.path(_id, 'key'))
        return _id

    def create_ca(self, _id: str) -> str:
        """Create the self-signed CA ``{_id}.ca`` and return its filename."""
        ca_file = self.path(_id, 'ca')
        safe_write(ca_file, create_ca(self.path(_id, 'key'), make_subject(_id)))
        return ca_file

    def create_csr(self, _id: str) -> str:
        """Create the request ``{_id}.csr`` and return its filename."""
        csr_file = self.path(_id, 'csr')
        safe_write(
            csr_file, create_csr(self.path(_id, 'key'), make_subject(_id))
        )
        return csr_file

    def issue_cert(self, _id: str, ca_id: str) -> str:
        """Let CA *ca_id* certify ``{_id}.csr``; return the ``.cert`` filename."""
        cert_file = self.path(_id, 'cert')
        data = issue_cert(
            self.path(_id, 'csr'),
            self.path(ca_id, 'ca'),
            self.path(ca_id, 'key'),
            self.path(ca_id, 'srl'),
        )
        safe_write(cert_file, data)
        return cert_file

    def get_server_sslconfig(self, server_id: str,
                             client_ca_id: str) -> SSLConfig:
        """Server: present *server_id*, require clients of *client_ca_id*."""
        return {
            'cert_file': self.path(server_id, 'cert'),
            'key_file': self.path(server_id, 'key'),
            'ca_file': self.path(client_ca_id, 'ca'),
        }

    def get_anonymous_server_sslconfig(self, server_id: str) -> SSLConfig:
        """Server: present *server_id*, accept clients without certificate."""
        return {
            'cert_file': self.path(server_id, 'cert'),
            'key_file': self.path(server_id, 'key'),
            'allow_unauthenticated_clients': True,
        }

    def get_client_sslconfig(self, server_ca_id: str,
                             client_id: str) -> SSLConfig:
        """Client: trust *server_ca_id*, present *client_id*.

        The certificates carry ids, not host names, hence no hostname check.
        """
        return {
            'ca_file': self.path(server_ca_id, 'ca'),
            'check_hostname': False,
            'cert_file': self.path(client_id, 'cert'),
            'key_file': self.path(client_id, 'key'),
        }

    def get_anonymous_client_sslconfig(self, server_ca_id: str) -> SSLConfig:
        """Client: trust *server_ca_id*, present no certificate."""
        return {
            'ca_file': self.path(server_ca_id, 'ca'),
            'check_hostname': False,
        }


class TempPKI(PKI):
    """A complete test PKI in a new ``TempPKI.*`` temporary directory.

    Creates a server CA and a server certificate issued by it and, when
    *client_pki* is true, a client CA and a client certificate issued by
    that.  With ``client_pki=False`` the attributes ``client_ca_id`` and
    ``client_id`` are ``None`` and the two properties that need a client CA
    or certificate (``server_sslconfig``, ``client_sslconfig``) raise
    ``ValueError('TempPKI(client_pki=False) has no client PKI')``.

    Each ``*_sslconfig`` property returns a fresh dict, so callers may mutate
    it.  The directory is removed by ``__del__`` (which may also be called
    explicitly; calling it again does nothing).
    """

    # The directory this instance created and must remove; None until
    # mkdtemp() succeeded, so __del__ is safe after a failed __init__.
    _tmpdir: Optional[str] = None

    def __init__(self, client_pki: bool = True, bits: int = 2048) -> None:
        if type(client_pki) is not bool:
            raise TypeError(
                TYPE_ERROR.format('client_pki', bool, type(client_pki),
                                  client_pki)
            )
        _check_bits(bits)  # before creating anything, so nothing can leak
        self._tmpdir = tempfile.mkdtemp(prefix='TempPKI.')
        super().__init__(self._tmpdir)
        self.client_pki = client_pki
        self.client_ca_id: Optional[str] = None
        self.client_id: Optional[str] = None
        try:
            self.server_ca_id = self._create_ca(bits)
            self.server_id = self._create_cert(bits, self.server_ca_id)
            if client_pki:
                self.client_ca_id = self._create_ca(bits)
                self.client_id = self._create_cert(bits, self.client_ca_id)
        except BaseException:
            self._remove()
            raise

    def __del__(self) -> None:
        self._remove()

    def _remove(self) -> None:
        """Remove the directory, once; later calls do nothing."""
        tmpdir = self._tmpdir
        if tmpdir is not None:
            self._tmpdir = None
            shutil.rmtree(tmpdir, ignore_errors=True)

    def _create_ca(self, bits: int) -> str:
        ca_id = self.create_key(bits)
        self.create_ca(ca_id)
        return ca_id

    def _create_cert(self, bits: int, ca_id: str) -> str:
        _id = self.create_key(bits)
        self.create_csr(_id)
        self.issue_cert(_id, ca_id)
        return _id

    def _client_ids(self) -> Tuple[str, str]:
        """Return ``(client_ca_id, client_id)``, or refuse without them."""
        if self.client_ca_id is None or self.client_id is None:
            raise ValueError('TempPKI(client_pki=False) has no client PKI')
        return (self.client_ca_id, self.client_id)

    @property
    def server_sslconfig(self) -> SSLConfig:
        """Server requiring client certificates from the client CA."""
        (client_ca_id, _) = self._client_ids()
        return self.get_server_sslconfig(self.server_id, client_ca_id)

    @property
    def client_sslconfig(self) -> SSLConfig:
        """Client trusting the server CA and presenting the client cert."""
        (_, client_id) = self._client_ids()
        return self.get_client_sslconfig(self.server_ca_id, client_id)

    @property
    def anonymous_server_sslconfig(self) -> SSLConfig:
        """Server accepting clients without a certificate."""
        return self.get_anonymous_server_sslconfig(self.server_id)

    @property
    def anonymous_client_sslconfig(self) -> SSLConfig:
        """Client trusting the server CA, presenting no certificate."""
        return self.get_anonymous_client_sslconfig(self.server_ca_id)
