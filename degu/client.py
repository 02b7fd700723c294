# SPDX-License-Identifier: LGPL-3.0-or-later
"""The HTTP client: ``Client`` knows where the server is, ``Connection`` talks.

``Client(address)`` is a small, stateless, thread-safe description of a
server: its address, the headers every request carries (``host``, optional
``authorization``), a timeout.  ``Client.connect()`` opens a new socket and
returns a ``Connection``, which sends requests one at a time and reads each
response::

    Connection.request(method, uri, headers, body)
        -> checks (method, body allowed, previous response body consumed)
        -> write request -> read response -> Response(status, reason, headers, body)

A ``Connection`` is not thread-safe.  Any exception inside ``request()``
closes it (its stream position is unknown afterwards); later calls raise
``ValueError('Connection is closed')``.
"""

import socket
from typing import Any, ClassVar, Dict, Final, Optional, Tuple

from . import addresses
from ._mypyc import mypyc_attr
from .bodies import _IncomingBody, api
from .errors import TYPE_ERROR, TYPE_ERROR2, ConnectionClosedError, bad_method
from .limits import BODY_CONSUMED, CLIENT_TIMEOUT, METHOD_BITS, PUT_POST_MASK
from .messages import Response, read_response, set_default_header, write_request
from .options import CLIENT_OPTIONS, client_options
from .ranges import Range
from .sockio import Stream

# Read once per request: a Final here is a C static in a compiled build,
# where the imported name is a lookup in the module's dict each time.
_METHOD_BITS: Final = METHOD_BITS

__all__ = ('Client', 'SSLClient', 'Connection', 'Response')

# Kept for code that read it here; the value lives in degu.limits.
DEFAULT_TIMEOUT = CLIENT_TIMEOUT

BaseHeaders = Optional[Tuple[Tuple[str, str], ...]]


class Connection:
    """One client connection: send requests, read responses, in turn.

    Built by ``Client.connect()``; ``sock`` is any connected socket-like
    object with ``close()``, ``recv_into()`` and ``send()``.
    """

    __slots__ = ('sock', 'base_headers', '_stream', '_response_body')

    # Checked arguments are typed Any: a compiled (mypyc) build must run the
    # checks below, with their messages, not reject the call on its own.
    def __init__(self, sock: Any, base_headers: Any) -> None:
        try:
            for name in ('close', 'recv_into', 'send'):
                if not callable(getattr(sock, name)):
                    raise TypeError('sock.{}() is not callable'.format(name))
            if base_headers is not None and type(base_headers) is not tuple:
                raise TypeError(
                    TYPE_ERROR2.format('base_headers', tuple, type(base_headers))
                )
        except BaseException:
            close = getattr(sock, 'close', None)
            if callable(close):
                close()
            raise
        self.sock = sock
        self.base_headers: BaseHeaders = base_headers
        # The socket's timeout (the Client's ``timeout`` option) also bounds
        # how long a whole response preamble may take to arrive.
        gettimeout = getattr(sock, 'gettimeout', None)
        self._stream = Stream(sock, gettimeout() if callable(gettimeout) else None)
        if self._stream.timeout is not None:
            self._stream.arm()  # kernel timeouts where possible (one syscall per I/O)
        # (Typed, so that a compiled build reads its _state natively.)
        self._response_body: Optional[_IncomingBody] = None

    @property
    def closed(self) -> bool:
        return self._stream.closed

    @property
    def api(self) -> Any:
        return api

    @property
    def bodies(self) -> Any:
        """Deprecated alias of ``api``."""
        return api

    def close(self) -> Any:
        """Close the socket; the first call returns ``sock.close()``'s result."""
        self._response_body = None
        return self._stream.close()

    def request(self, method: Any, uri: Any, headers: Any,
                body: Any) -> Response:
        """Send one request and return its ``Response``.

        ``headers`` is updated in place with the base headers and the
        framing header.  The body of the previous response must have been
        consumed first.
        """
        stream = self._stream
        if stream._closed:
            reason = stream.reason
            raise ConnectionClosedError(
                'Connection is closed' if reason is None
                else 'Connection is closed: ' + reason
            )
        try:
            bit = _METHOD_BITS.get(method, 0) if type(method) is str else 0
            if not bit:
                raise bad_method(method)
            if body is not None and not (bit & PUT_POST_MASK):
                raise ValueError(
                    'when method is {!r}, body must be None; got a {!r}'.format(
                        method, type(body)
                    )
                )
            previous = self._response_body
            if previous is not None and previous._state != BODY_CONSUMED:
                raise ValueError(
                    'response body not consumed: {!r}'.format(previous)
                )
            if self.base_headers:
                headers.update(self.base_headers)
            write_request(stream, method, uri, headers, body)
            response = read_response(stream, method)
            self._response_body = response.body
            return response
        except BaseException:
            self.close()
            raise

    def get(self, uri: str, headers: Dict[str, Any]) -> Response:
        return self.request('GET', uri, headers, None)

    def head(self, uri: str, headers: Dict[str, Any]) -> Response:
        return self.request('HEAD', uri, headers, None)

    def delete(self, uri: str, headers: Dict[str, Any]) -> Response:
        return self.request('DELETE', uri, headers, None)

    def put(self, uri: str, headers: Dict[str, Any], body: Any) -> Response:
        return self.request('PUT', uri, headers, body)

    def post(self, uri: str, headers: Dict[str, Any], body: Any) -> Response:
        return self.request('POST', uri, headers, body)

    def get_range(self, uri: str, headers: Dict[str, Any], start: Any,
                  stop: Any) -> Response:
        """GET bytes ``start`` up to (not including) ``stop``.

        ``stop=None`` asks from ``start`` to the end (``bytes=N-``); a
        negative ``start`` with ``stop=None`` asks for the last ``-start``
        bytes (``bytes=-N``).  (Typed ``Any``: ``Range`` checks them.)
        """
        set_default_header(headers, 'range', Range(start, stop))
        return self.request('GET', uri, headers, None)


# Public: subclassed by applications, also in a compiled build.
@mypyc_attr(allow_interpreted_subclasses=True)
class Client:
    """Where a server is and how to talk to it; ``connect()`` opens a connection.

    >>> Client(('127.0.0.1', 5984)).host
    '127.0.0.1:5984'
    """

    _default_port: ClassVar[int] = 80
    _options: ClassVar[Tuple[str, ...]] = CLIENT_OPTIONS

    def __init__(self, address: Any, **options: Any) -> None:
        self.family = addresses.family(address)
        checked = client_options(type(self).__name__, options, self._options)
        self.address = address
        self.options = options
        if 'host' in checked:
            self.host: Optional[str] = checked['host']
        elif type(address) is tuple:
            self.host = addresses.host_header(self._default_port, *address)
        else:
            self.host = None
        self.authorization: Optional[str] = checked['authorization']
        self.timeout: Any = checked['timeout']
        self.on_connect: Any = checked['on_connect']
        self._headers: Dict[str, str] = {}
        if self.authorization:
            self._headers['authorization'] = self.authorization
        if self.host:
            self._headers['host'] = self.host
        self.base_headers = self._build_base_headers()

    def _build_base_headers(self) -> BaseHeaders:
        if not self._headers:
            return None
        return tuple(sorted(self._headers.items()))

    def set_base_header(self, name: Any, value: Any) -> None:
        """Set (or with ``None`` remove) a header sent with every request."""
        if type(name) is not str:
            raise TypeError(TYPE_ERROR.format('name', str, type(name), name))
        if name != name.lower() or not name:
            raise ValueError('name must be lowercase; got {!r}'.format(name))
        if value is None:
            self._headers.pop(name, None)
        elif type(value) is not str:
            raise TypeError(TYPE_ERROR.format('value', str, type(value), value))
        else:
            self._headers[name] = value
        self.base_headers = self._build_base_headers()

    def __repr__(self) -> str:
        return '{}({!r})'.format(type(self).__name__, self.address)

    def create_socket(self) -> socket.socket:
        """Open and connect a new socket to the server."""
        return addresses.connect(self.address, self.timeout)

    def connect(self) -> Connection:
        """Open a new ``Connection`` (and run the ``on_connect`` hook, if any)."""
        conn = Connection(self.create_socket(), self.base_headers)
        on_connect = self.on_connect
        if on_connect is not None:
            try:
                accepted = on_connect(conn)
            except BaseException:
                conn.close()
                raise
            if accepted is not True:
                conn.close()
                raise ValueError('on_connect() did not return True')
        return conn


# Public: subclassed by applications, also in a compiled build.
@mypyc_attr(allow_interpreted_subclasses=True)
class SSLClient(Client):
    """A ``Client`` that speaks TLS (``sslctx``: config dict or ``SSLContext``)."""

    _default_port: ClassVar[int] = 443
    _options: ClassVar[Tuple[str, ...]] = CLIENT_OPTIONS + ('ssl_host',)

    def __init__(self, sslctx: Any, address: Any, **options: Any) -> None:
        from .tls import check_client_sslctx
        self.sslctx = check_client_sslctx(sslctx)
        super().__init__(address, **options)
        default = address[0] if type(address) is tuple else None
        self.ssl_host = options.get('ssl_host', default)

    def __repr__(self) -> str:
        return '{}(<sslctx>, {!r})'.format(type(self).__name__, self.address)

    def create_socket(self) -> socket.socket:
        sock = super().create_socket()
        try:
            return self.sslctx.wrap_socket(sock, server_hostname=self.ssl_host)
        except BaseException:
            sock.close()
            raise


def build_client_sslctx(sslconfig: Any) -> Any:
    """Build a safe client ``ssl.SSLContext`` from a config dict (see degu.tls)."""
    from .tls import build_client_sslctx as build
    return build(sslconfig)
