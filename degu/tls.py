# SPDX-License-Identifier: LGPL-3.0-or-later
"""Build and vet the ``ssl.SSLContext`` used by ``SSLServer`` and ``SSLClient``.

Degu's TLS policy, in one place:

* TLS 1.2 or newer.  Contexts are ``PROTOCOL_TLS_SERVER`` /
  ``PROTOCOL_TLS_CLIENT`` with ``minimum_version = TLSVersion.TLSv1_2``, so
  TLS 1.3 is negotiated whenever the peer can (all its suites are AEAD with
  forward secrecy).  No deprecated protocol constant is used, so building a
  context emits no ``DeprecationWarning``.
* For TLS 1.2 only ephemeral ECDH with AEAD ciphers (``TLS12_CIPHERS``).
* ``OP_NO_COMPRESSION`` always (compression leaks secrets, cf. CRIME).
* The server uses curve ``secp384r1``, ``OP_SINGLE_ECDH_USE`` and prefers its
  own cipher order (``OP_CIPHER_SERVER_PREFERENCE``).
* The server requires client certificates unless
  ``allow_unauthenticated_clients`` is given; the client always verifies
  the server.

An *sslconfig* is a plain ``dict`` describing a context:

=================================  ==============================================
``cert_file``, ``key_file``        own certificate and private key (PEM files)
``ca_file``, ``ca_path``           CAs trusted to sign the peer's certificate
``allow_unauthenticated_clients``  server only; must be ``True`` if present
``check_hostname``                 client only; ``bool``, default ``True``
=================================  ==============================================

Every filename must be a ``str`` equal to its ``os.path.abspath()``: relative
or unnormalized paths are refused so a context never depends on the current
directory.

``check_server_sslctx()`` / ``check_client_sslctx()`` accept either such a
dict (and build it) or a pre-built ``ssl.SSLContext``, which they refuse
unless it is at least as strict as Degu's policy requires.
"""

import os
import ssl
from typing import Any, Dict, Tuple, Union

from .errors import TYPE_ERROR

__all__ = (
    'TLS12_CIPHERS',
    'ECDH_CURVE',
    'build_server_sslctx',
    'build_client_sslctx',
    'check_server_sslctx',
    'check_client_sslctx',
)

# TLS 1.2 suites: ephemeral ECDH key exchange + AEAD cipher, nothing else.
# The first two are Degu's historic pair; ChaCha20 is fast on devices without
# AES instructions.  (TLS 1.3 suites are not configured by this string; all of
# OpenSSL's defaults for 1.3 qualify.)
TLS12_CIPHERS = ':'.join((
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
))

# Elliptic curve of the server's ephemeral key exchange.
ECDH_CURVE = 'secp384r1'

# Oldest protocol version a context may allow.
MIN_VERSION = ssl.TLSVersion.TLSv1_2

# Keys of an sslconfig that name files or directories.
SERVER_PATH_KEYS = ('cert_file', 'key_file', 'ca_file', 'ca_path')
CLIENT_PATH_KEYS = ('ca_file', 'ca_path', 'cert_file', 'key_file')

SSLConfig = Dict[str, Any]


def _check_paths(sslconfig: SSLConfig, keys: Tuple[str, ...]) -> None:
    """Refuse a filename that is not a ``str`` equal to its abspath."""
    for key in keys:
        if key not in sslconfig:
            continue
        value = sslconfig[key]
        if type(value) is not str:
            name = 'sslconfig[{!r}]'.format(key)
            raise TypeError(TYPE_ERROR.format(name, str, type(value), value))
        if value != os.path.abspath(value):
            raise ValueError(
                'sslconfig[{!r}] is not an absolute, normalized path: '
                '{!r}'.format(key, value)
            )


def _check_sslconfig_type(sslconfig: SSLConfig) -> None:
    if type(sslconfig) is not dict:
        raise TypeError(
            TYPE_ERROR.format('sslconfig', dict, type(sslconfig), sslconfig)
        )


def _new_context(server_side: bool) -> ssl.SSLContext:
    """Return a context with the settings shared by server and client."""
    if server_side:
        sslctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    else:
        sslctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    sslctx.minimum_version = MIN_VERSION
    sslctx.set_ciphers(TLS12_CIPHERS)
    sslctx.options |= ssl.OP_NO_COMPRESSION
    return sslctx


def build_server_sslctx(sslconfig: SSLConfig) -> ssl.SSLContext:
    """Return a new server ``ssl.SSLContext`` described by *sslconfig*.

    Checks, in this order (messages exactly as shown):

    1. *sslconfig* must be a ``dict`` (``TypeError``, TYPE_ERROR template).
    2. ``cert_file``, ``key_file``, ``ca_file``, ``ca_path`` (when present)
       must be ``str`` (``TypeError``) and absolute, normalized paths:
       ``ValueError("sslconfig['ca_file'] is not an absolute, normalized path: 'foo.ca'")``.
    3. ``cert_file`` is required:
       ``ValueError("sslconfig['cert_file'] is required")``; the context
       is built and ``load_cert_chain(cert_file, key_file)`` called
       (``key_file`` is optional: the key may be inside ``cert_file``).
    4. With ``allow_unauthenticated_clients``: its value must be ``True``
       (``ValueError('True is only allowed value for allow_unauthenticated_clients')``)
       and neither CA key may be present
       (``ValueError('ca_file/ca_path with allow_unauthenticated_clients')``);
       the context then has ``verify_mode == CERT_NONE``.
    5. Otherwise ``ca_file`` or ``ca_path`` is needed
       (``ValueError('must include ca_file or ca_path (or allow_unauthenticated_clients)')``);
       ``verify_mode`` is ``CERT_REQUIRED`` and the CAs are loaded.
    """
    _check_sslconfig_type(sslconfig)
    _check_paths(sslconfig, SERVER_PATH_KEYS)
    if 'cert_file' not in sslconfig:
        raise ValueError("sslconfig['cert_file'] is required")
    sslctx = _new_context(True)
    sslctx.set_ecdh_curve(ECDH_CURVE)
    sslctx.options |= ssl.OP_SINGLE_ECDH_USE | ssl.OP_CIPHER_SERVER_PREFERENCE
    sslctx.load_cert_chain(sslconfig['cert_file'], sslconfig.get('key_file'))
    if 'allow_unauthenticated_clients' in sslconfig:
        if sslconfig['allow_unauthenticated_clients'] is not True:
            raise ValueError(
                'True is only allowed value for allow_unauthenticated_clients'
            )
        if 'ca_file' in sslconfig or 'ca_path' in sslconfig:
            raise ValueError(
                'ca_file/ca_path with allow_unauthenticated_clients'
            )
        sslctx.verify_mode = ssl.CERT_NONE
        return sslctx
    if 'ca_file' not in sslconfig and 'ca_path' not in sslconfig:
        raise ValueError(
            'must include ca_file or ca_path (or allow_unauthenticated_clients)'
        )
    sslctx.verify_mode = ssl.CERT_REQUIRED
    sslctx.load_verify_locations(
        cafile=sslconfig.get('ca_file'), capath=sslconfig.get('ca_path')
    )
    return sslctx


def build_client_sslctx(sslconfig: SSLConfig) -> ssl.SSLContext:
    """Return a new client ``ssl.SSLContext`` described by *sslconfig*.

    Checks, in this order (messages exactly as shown):

    1. *sslconfig* must be a ``dict`` (``TypeError``, TYPE_ERROR template).
    2. ``check_hostname`` (default ``True``) must be exactly a ``bool``
       (``TypeError``, TYPE_ERROR with name ``"sslconfig['check_hostname']"``).
    3. ``key_file`` needs ``cert_file``:
       ``ValueError("sslconfig['key_file'] provided without sslconfig['cert_file']")``.
    4. ``ca_file``, ``ca_path``, ``cert_file``, ``key_file``: ``str`` and
       absolute, normalized paths (same messages as the server).
    5. The context always verifies the server (``CERT_REQUIRED``).  With
       ``ca_file``/``ca_path`` only those CAs are trusted; without them the
       system CAs are, and then ``check_hostname`` must be ``True``
       (``ValueError('check_hostname must be True when using default verify paths')``)
       since any publicly certified host would pass otherwise.
    6. ``cert_file`` (+ optional ``key_file``) is loaded when present, and
       ``check_hostname`` is set.
    """
    _check_sslconfig_type(sslconfig)
    check_hostname = sslconfig.get('check_hostname', True)
    if type(check_hostname) is not bool:
        raise TypeError(
            TYPE_ERROR.format("sslconfig['check_hostname']", bool,
                              type(check_hostname), check_hostname)
        )
    if 'key_file' in sslconfig and 'cert_file' not in sslconfig:
        raise ValueError(
            "sslconfig['key_file'] provided without sslconfig['cert_file']"
        )
    _check_paths(sslconfig, CLIENT_PATH_KEYS)
    sslctx = _new_context(False)
    sslctx.verify_mode = ssl.CERT_REQUIRED
    if 'ca_file' in sslconfig or 'ca_path' in sslconfig:
        sslctx.load_verify_locations(
            cafile=sslconfig.get('ca_file'), capath=sslconfig.get('ca_path')
        )
    else:
        if check_hostname is not True:
            raise ValueError(
                'check_hostname must be True when using default verify paths'
            )
        sslctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if 'cert_file' in sslconfig:
        sslctx.load_cert_chain(
            sslconfig['cert_file'], sslconfig.get('key_file')
        )
    sslctx.check_hostname = check_hostname
    return sslctx


def _check_version(sslctx: ssl.SSLContext, server_side: bool) -> None:
    """Refuse a context that may negotiate something older than TLS 1.2.

    Accepted: the protocol of our side (``PROTOCOL_TLS_SERVER`` or
    ``PROTOCOL_TLS_CLIENT``) or the deprecated generic ``PROTOCOL_TLS``, with
    ``minimum_version`` at least TLS 1.2; or the legacy ``PROTOCOL_TLSv1_2``
    (which can speak nothing but TLS 1.2, and reports ``minimum_version`` as
    ``MINIMUM_SUPPORTED``).
    """
    own = ssl.PROTOCOL_TLS_SERVER if server_side else ssl.PROTOCOL_TLS_CLIENT
    protocol = sslctx.protocol
    if protocol == ssl.PROTOCOL_TLSv1_2:
        return
    if protocol != own and protocol != ssl.PROTOCOL_TLS:
        raise ValueError(
            'sslctx.protocol must be ssl.{} or ssl.PROTOCOL_TLSv1_2; '
            'got ssl.{}'.format(own.name, protocol.name)
        )
    version = sslctx.minimum_version
    if version < MIN_VERSION:
        raise ValueError(
            'sslctx.minimum_version must be at least ssl.TLSVersion.TLSv1_2; '
            'got ssl.TLSVersion.{}'.format(version.name)
        )


def _check_type(sslctx: Any) -> ssl.SSLContext:
    # Exact type: a subclass could override the properties checked below.
    if type(sslctx) is not ssl.SSLContext:
        raise TypeError('sslctx must be an ssl.SSLContext')
    return sslctx


def check_server_sslctx(
        sslctx: Union[SSLConfig, ssl.SSLContext]) -> ssl.SSLContext:
    """Return a context fit for ``SSLServer``, building it from a dict.

    A ``dict`` is passed to ``build_server_sslctx()``.  Anything else must be
    an ``ssl.SSLContext`` (exactly; ``TypeError('sslctx must be an ssl.SSLContext')``)
    that passes, in this order:

    * protocol ``PROTOCOL_TLS_SERVER`` (or the deprecated ``PROTOCOL_TLS``)
      or the legacy ``PROTOCOL_TLSv1_2``:
      ``ValueError('sslctx.protocol must be ssl.PROTOCOL_TLS_SERVER or ssl.PROTOCOL_TLSv1_2; got ssl.PROTOCOL_TLS_CLIENT')``;
    * unless legacy, ``minimum_version >= TLSv1_2``:
      ``ValueError('sslctx.minimum_version must be at least ssl.TLSVersion.TLSv1_2; got ssl.TLSVersion.MINIMUM_SUPPORTED')``;
    * ``verify_mode`` not ``CERT_OPTIONAL`` (a server either authenticates
      its clients or knowingly does not):
      ``ValueError('sslctx.verify_mode cannot be ssl.CERT_OPTIONAL')``.

    ``CERT_NONE`` is accepted (``SSLServer`` logs a warning about it).
    The very same context object is returned.
    """
    if type(sslctx) is dict:
        return build_server_sslctx(sslctx)
    ctx = _check_type(sslctx)
    _check_version(ctx, True)
    if ctx.verify_mode == ssl.CERT_OPTIONAL:
        raise ValueError('sslctx.verify_mode cannot be ssl.CERT_OPTIONAL')
    return ctx


def check_client_sslctx(
        sslctx: Union[SSLConfig, ssl.SSLContext]) -> ssl.SSLContext:
    """Return a context fit for ``SSLClient``, building it from a dict.

    A ``dict`` is passed to ``build_client_sslctx()``.  Anything else must be
    an ``ssl.SSLContext`` (exactly; ``TypeError('sslctx must be an ssl.SSLContext')``)
    that passes, in this order:

    * protocol ``PROTOCOL_TLS_CLIENT`` (or the deprecated ``PROTOCOL_TLS``)
      or the legacy ``PROTOCOL_TLSv1_2``:
      ``ValueError('sslctx.protocol must be ssl.PROTOCOL_TLS_CLIENT or ssl.PROTOCOL_TLSv1_2; got ssl.PROTOCOL_TLS_SERVER')``;
    * unless legacy, ``minimum_version >= TLSv1_2``:
      ``ValueError('sslctx.minimum_version must be at least ssl.TLSVersion.TLSv1_2; got ssl.TLSVersion.TLSv1_1')``;
    * compression off:
      ``ValueError('sslctx.options must include ssl.OP_NO_COMPRESSION')``;
    * the server is verified:
      ``ValueError('sslctx.verify_mode must be ssl.CERT_REQUIRED')``.

    The very same context object is returned.
    """
    if type(sslctx) is dict:
        return build_client_sslctx(sslctx)
    ctx = _check_type(sslctx)
    _check_version(ctx, False)
    if not (ctx.options & ssl.OP_NO_COMPRESSION):
        raise ValueError('sslctx.options must include ssl.OP_NO_COMPRESSION')
    if ctx.verify_mode != ssl.CERT_REQUIRED:
        raise ValueError('sslctx.verify_mode must be ssl.CERT_REQUIRED')
    return ctx
