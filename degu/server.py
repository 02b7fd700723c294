"""The HTTP server: blocking sockets, one thread per connection.

The server's life, drawn::

    Server(address, app)            bind + listen
        serve_forever()             accept loop (one BoundedSemaphore slot
            |                       per live connection)
            +-- thread per connection:
                    [TLS handshake]                 (SSLServer only)
                    app.on_connect(session, sock)   (optional; must be True)
                    loop:  read request -> app(session, request, api)
                           -> check response -> write response
                    until: peer closes, an error, a closing status,
                           max_requests, or the timeout
                    close socket, release slot

Whatever goes wrong on one connection (a malformed request, an app that
raises or returns garbage, a body left unread, a timeout) closes that
connection at once with nothing sent, and is logged once; every other
connection keeps being served.  Logging is per connection, never per request,
on the ``'degu.server'`` logger.
"""

import errno
import logging
import os
import socket
import struct
import threading
from typing import Any, Callable, ClassVar, Dict, List, Optional, Tuple, Union

from .bodies import api
from .errors import TYPE_ERROR, TYPE_ERROR2
from .limits import (
    BODY_CONSUMED,
    DEFAULT_SESSION_REQUESTS,
    MAX_SESSION_REQUESTS,
)
from .messages import Response, read_request, write_response
from .limits import DELETE_BIT, GET_BIT, HEAD_BIT, POST_BIT, PUT_BIT
from .sockio import Reader, Writer
from .util import relative_uri, shift_path

__all__ = ('Server', 'SSLServer', 'Session', 'Request')

log = logging.getLogger('degu.server')

# Statuses >= 400 after which the connection stays open: the request was
# understood and fully handled, so the stream is still in a known state.
KEEP_ALIVE_ERRORS = frozenset([404, 409, 412])

# The interim response a client asking ``Expect: 100-continue`` waits for.
CONTINUE = b'HTTP/1.1 100 Continue\r\n\r\n'

# Listen backlog.  The accept loop does nothing but accept and start threads,
# yet it shares the GIL with every connection thread, so a burst of connects
# can outrun it; a full backlog makes Linux drop the SYN and the client waits
# a whole second to retry.  128 (the traditional SOMAXCONN, and what nginx
# used for years) absorbs bursts; max_connections still bounds the work.
LISTEN_BACKLOG = 128

# Stack size of each connection thread.  Threads otherwise get the platform
# default (8 MiB on Linux): only touched pages cost memory, but 1 MiB keeps the
# address space of a busy server small while leaving ample room for an app
# that recurses (1000 Python frames need far less than that).
THREAD_STACK_SIZE = 1024 * 1024

# accept() errors that say nothing about the listening socket itself, after
# which the accept loop pauses ACCEPT_RETRY_DELAY seconds and goes on.
ACCEPT_RETRY_ERRNOS = frozenset([
    errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM,
    errno.ECONNABORTED, errno.EPROTO, errno.EPERM,
])
ACCEPT_RETRY_DELAY = 0.1

# Serializes the process-wide threading.stack_size() around our Thread.start().
_stack_size_lock = threading.Lock()

# How long a new connection may wait for a free slot before it is refused.
SLOT_WAIT = 2.0

_METHOD_BITS = {
    'GET': GET_BIT, 'PUT': PUT_BIT, 'POST': POST_BIT, 'HEAD': HEAD_BIT,
    'DELETE': DELETE_BIT,
}

# Server option defaults.
DEFAULT_OPTIONS: Dict[str, Any] = {
    'max_connections': 50,
    'max_requests': 1000,
    'timeout': 30,
}

Address = Union[Tuple[Any, ...], str, bytes]


def _unsupported_options(cls_name: str, options: Dict[str, Any],
                         allowed: Tuple[str, ...]) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError('unsupported {}() **options: {}'.format(
            cls_name, ', '.join(unknown)
        ))


def address_family(address: Any) -> int:
    """Return the socket family for one of Degu's address forms.

    A 2-tuple is ``AF_INET``, a 4-tuple ``AF_INET6``, a ``str`` an absolute
    filesystem path and ``bytes`` a Linux abstract name, both ``AF_UNIX``.
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
        if not hasattr(socket, 'AF_UNIX') or not _HAVE_ABSTRACT:
            raise ValueError(
                'address: abstract AF_UNIX names need Linux; got {!r}'.format(address)
            )
        return socket.AF_UNIX
    raise TypeError(TYPE_ERROR.format(
        'address', (tuple, str, bytes), type(address), address
    ))


_HAVE_ABSTRACT = os.uname().sysname == 'Linux'


def build_server_sock(address: Any) -> socket.socket:
    """Bind and listen on *address*, or adopt an already listening socket."""
    if isinstance(address, socket.socket):
        return address
    family = address_family(address)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if family != socket.AF_UNIX:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(LISTEN_BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


def get_credentials(sock: socket.socket) -> Optional[Tuple[int, int, int]]:
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


class Session:
    """One connection as the app sees it: who, how many requests, and a store.

    The same object is passed with every request on the connection, so
    ``store`` is the place for per-connection state (an authenticated peer,
    an upstream connection of a proxy).
    """

    __slots__ = ('_address', '_credentials', '_max_requests', '_requests',
                 '_store', '_closed', '_message')

    # Checked arguments are typed Any: a compiled (mypyc) build must run the
    # checks below, with their messages, not reject the call on its own.
    def __init__(self, address: Any, credentials: Any = None,
                 max_requests: Any = None) -> None:
        if credentials is not None:
            if type(credentials) is not tuple:
                raise TypeError(
                    TYPE_ERROR2.format('credentials', tuple, type(credentials))
                )
            if len(credentials) != 3:
                raise ValueError('credentials: need a 3-tuple; got a {}-tuple'.format(
                    len(credentials)
                ))
        if max_requests is None:
            max_requests = DEFAULT_SESSION_REQUESTS
        elif type(max_requests) is not int:
            raise TypeError(TYPE_ERROR.format(
                'max_requests', int, type(max_requests), max_requests
            ))
        elif not (0 <= max_requests <= MAX_SESSION_REQUESTS):
            raise ValueError('need 0 <= max_requests <= {}; got {}'.format(
                MAX_SESSION_REQUESTS, max_requests
            ))
        self._address = address
        self._credentials: Optional[Tuple[Any, Any, Any]] = credentials
        self._max_requests: int = max_requests
        self._requests = 0
        self._store: Dict[Any, Any] = {}
        self._closed = False
        self._message: Optional[str] = None

    @property
    def address(self) -> Any:
        return self._address

    @property
    def credentials(self) -> Optional[Tuple[Any, Any, Any]]:
        return self._credentials

    @property
    def max_requests(self) -> int:
        return self._max_requests

    @property
    def requests(self) -> int:
        return self._requests

    @property
    def store(self) -> Dict[Any, Any]:
        return self._store

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def message(self) -> Optional[str]:
        return self._message

    def close(self, message: str) -> None:
        """Close after the current response; the first message is kept."""
        if not self._closed:
            self._closed = True
            self._message = message

    def __repr__(self) -> str:
        if self._credentials is None:
            return 'Session({!r})'.format(self._address)
        return 'Session({!r}, {!r})'.format(self._address, self._credentials)

    def __str__(self) -> str:
        if self._credentials is None:
            return repr(self._address)
        return '{!r} {!r}'.format(self._address, self._credentials)


class Request:
    """One request as the app sees it.

    ``mount`` and ``path`` split the URI's path components: routing moves
    components from the front of ``path`` to the end of ``mount`` with
    ``shift_path()``, so an app mounted at ``/api`` sees only the rest.
    """

    __slots__ = ('_method', '_m', '_uri', '_headers', '_body', '_mount',
                 '_path', '_query')

    # method, mount and path are checked below, hence typed Any (see Session).
    def __init__(self, method: Any, uri: str, headers: Dict[str, Any],
                 body: Any, mount: Any, path: Any,
                 query: Optional[str]) -> None:
        bit = _METHOD_BITS.get(method, 0) if type(method) is str else 0
        if not bit:
            if type(method) is not str:
                raise TypeError(
                    TYPE_ERROR.format('method', str, type(method), method)
                )
            raise ValueError('bad method: {!r}'.format(method))
        if type(mount) is not list:
            raise TypeError(TYPE_ERROR2.format('mount', list, type(mount)))
        if type(path) is not list:
            raise TypeError(TYPE_ERROR2.format('path', list, type(path)))
        self._method: str = method
        self._m = bit
        self._uri = uri
        self._headers = headers
        self._body = body
        self._mount: List[str] = mount
        self._path: List[str] = path
        self._query = query

    @property
    def method(self) -> str:
        return self._method

    @property
    def m(self) -> int:
        return self._m

    @property
    def uri(self) -> str:
        return self._uri

    @property
    def headers(self) -> Dict[str, Any]:
        return self._headers

    @property
    def body(self) -> Any:
        return self._body

    @property
    def mount(self) -> List[str]:
        return self._mount

    @property
    def path(self) -> List[str]:
        return self._path

    @property
    def query(self) -> Optional[str]:
        return self._query

    def shift_path(self) -> Optional[str]:
        """Move the next path component onto ``mount`` and return it (None if none)."""
        if not self._path:
            return None
        return shift_path(self)

    def build_proxy_uri(self) -> str:
        """The URI for an upstream server: remaining path plus query."""
        return relative_uri(self)

    def __repr__(self) -> str:
        return (
            'Request(method={!r}, uri={!r}, headers={!r}, body={!r}, '
            'mount={!r}, path={!r}, query={!r})'.format(
                self._method, self._uri, self._headers, self._body,
                self._mount, self._path, self._query,
            )
        )


def _check_response(request: Request, response: Any,
                    unread_ok: bool = False) -> Tuple[int, str, Any, Any]:
    """Apply the checks of an app's response, in order (SPEC §8.3).

    *unread_ok* is True when the client is still waiting for ``100 Continue``:
    then it has not sent the body, so answering without reading it is fine
    (the connection is closed after the response).
    """
    kind = type(response)
    if kind is not tuple and kind is not Response:
        raise TypeError(
            'response: need a {!r}; got a {!r}'.format(tuple, kind)
        )
    if len(response) != 4:
        raise ValueError(
            'response: need a 4-tuple; got a {}-tuple'.format(len(response))
        )
    (status, reason, headers, body) = response
    if type(status) is not int:
        raise TypeError(TYPE_ERROR.format('status', int, type(status), status))
    if not (100 <= status <= 599):
        raise ValueError('need 100 <= status <= 599; got {}'.format(status))
    request_body = request._body
    if (request_body is not None and request_body.state != BODY_CONSUMED
            and not unread_ok):
        raise ValueError('request body not consumed: {!r}'.format(request_body))
    if body is not None:
        if request._method == 'HEAD':
            raise TypeError(
                'request method is HEAD, but response body is not None: {!r}'.format(
                    type(body)
                )
            )
    elif (headers and request._method != 'HEAD' and status != 304
            and type(headers) is dict
            and ('content-length' in headers or 'transfer-encoding' in headers)):
        # A framing header promises a body that would never come: the client
        # would wait for it, then read it from the next response.
        raise ValueError(
            'response body is None, but headers announce one: {!r}'.format(headers)
        )
    return (status, reason, headers, body)


def _app_name(app: Any) -> str:
    """``module.qualname`` of a function or class, ``module.Class(<...>)`` of an instance."""
    qualname = getattr(app, '__qualname__', None)
    if qualname is not None:
        return '{}.{}'.format(getattr(app, '__module__', '?'), qualname)
    kind = type(app)
    return '{}.{}(<...>)'.format(kind.__module__, kind.__qualname__)


class Server:
    """An HTTP/1.1 server for one RGI app.

    >>> def app(session, request, api):
    ...     return (200, 'OK', {}, b'hello, world')
    >>> server = Server(('127.0.0.1', 0), app)
    >>> server.address[0]
    '127.0.0.1'
    >>> server.close()
    """

    _options: ClassVar[Tuple[str, ...]] = ('max_connections', 'max_requests', 'timeout')

    def __init__(self, address: Any, app: Callable[..., Any],
                 **options: Any) -> None:
        self.sock = build_server_sock(address)
        try:
            self._configure(app, options)
        except BaseException:
            if self.sock is not address:
                self.sock.close()
            raise
        self.address = self.sock.getsockname()
        self._shutdown = threading.Event()
        self._lock = threading.Lock()

    def _configure(self, app: Any, options: Dict[str, Any]) -> None:
        if not callable(app):
            raise TypeError('app: not callable: {!r}'.format(app))
        on_connect = getattr(app, 'on_connect', None)
        if on_connect is not None and not callable(on_connect):
            raise TypeError('app.on_connect: not callable: {!r}'.format(app))
        _unsupported_options(type(self).__name__, options, self._options)
        merged = dict(DEFAULT_OPTIONS)
        merged.update(options)
        max_connections = merged['max_connections']
        if type(max_connections) is not int:
            raise TypeError(TYPE_ERROR.format(
                'max_connections', int, type(max_connections), max_connections
            ))
        if max_connections <= 0:
            raise ValueError(
                'max_connections must be > 0; got {!r}'.format(max_connections)
            )
        max_requests = merged['max_requests']
        if type(max_requests) is not int:
            raise TypeError(TYPE_ERROR.format(
                'max_requests', int, type(max_requests), max_requests
            ))
        if not (1 <= max_requests <= MAX_SESSION_REQUESTS):
            raise ValueError('need 1 <= max_requests <= {}; got {}'.format(
                MAX_SESSION_REQUESTS, max_requests
            ))
        timeout = merged['timeout']
        if type(timeout) not in (int, float):
            raise TypeError(TYPE_ERROR.format(
                'timeout', (int, float), type(timeout), timeout
            ))
        if not (timeout > 0):
            raise ValueError('timeout must be > 0; got {!r}'.format(timeout))
        self.app = app
        self._on_connect = on_connect
        self.options = options
        self.max_connections = max_connections
        self.max_requests = max_requests
        self.timeout = timeout

    def __repr__(self) -> str:
        return '{}({!r}, {})'.format(
            type(self).__name__, self.address, _app_name(self.app)
        )

    # -- lifetime ----------------------------------------------------------

    def __enter__(self) -> 'Server':
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.shutdown()
        self.close()

    def close(self) -> None:
        """Close the listening socket (stops a running ``serve_forever()``)."""
        self.shutdown()

    def shutdown(self) -> None:
        """Make ``serve_forever()`` return; safe to call from any thread.

        Connections already being served finish (or time out) on their own.
        """
        self._shutdown.set()
        with self._lock:
            try:
                # Wakes a thread blocked in accept() (on Linux it returns
                # EINVAL at once); harmless if no one is accepting.
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()

    # -- the accept loop ---------------------------------------------------

    def serve_forever(self) -> None:
        """Accept connections until ``shutdown()``, one thread per connection."""
        log.info('Starting Degu %s @ %r', type(self).__name__, self.address)
        log.info('[timeout=%r, max_connections=%r, max_requests=%r]',
                 self.timeout, self.max_connections, self.max_requests)
        slots = threading.BoundedSemaphore(self.max_connections)
        listener = self.sock
        # A new connection waits up to SLOT_WAIT for a slot.  Once a whole
        # wait has failed the server is saturated, and the connections queued
        # behind that one are refused at once until a slot is free again:
        # waiting SLOT_WAIT for each of them in turn would let a flood of
        # N connections hold the accept loop for N * SLOT_WAIT seconds.
        wait: float = SLOT_WAIT
        try:
            while not self._shutdown.is_set():
                try:
                    (sock, address) = listener.accept()
                except OSError as e:
                    if self._shutdown.is_set():
                        break
                    if e.errno not in ACCEPT_RETRY_ERRNOS:
                        raise
                    # Out of file descriptors or memory, or the peer gave up
                    # while queued: the server itself is fine, so wait a
                    # moment for resources instead of dying.
                    log.warning('accept() failed, retrying: %r', e)
                    self._shutdown.wait(ACCEPT_RETRY_DELAY)
                    continue
                if not slots.acquire(timeout=wait):
                    wait = 0.0
                    log.warning('Too many connections, rejecting %r', address)
                    sock.close()
                    continue
                wait = SLOT_WAIT
                try:
                    self._start_connection(slots, sock, address)
                except BaseException:
                    sock.close()
                    slots.release()
                    raise
        finally:
            with self._lock:
                listener.close()

    def _start_connection(self, slots: threading.BoundedSemaphore,
                          sock: socket.socket, address: Any) -> None:
        sock.settimeout(self.timeout)
        if sock.family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not address:
            address = sock.getsockname()
        session = Session(address, get_credentials(sock), self.max_requests)
        thread = threading.Thread(
            target=self._worker, args=(slots, sock, session), daemon=True
        )
        # stack_size() is process-wide, so set it only around our start(),
        # one server at a time.
        with _stack_size_lock:
            previous = threading.stack_size(THREAD_STACK_SIZE)
            try:
                thread.start()
            finally:
                threading.stack_size(previous)

    # -- one connection ------------------------------------------------------

    def _worker(self, slots: threading.BoundedSemaphore,
                sock: socket.socket, session: Session) -> None:
        try:
            log.info('+ %s New connection', session)
            self._handle(sock, session)
        except OSError as e:
            # Timeouts, resets, refused TLS handshakes: the peer went away
            # or misbehaved at the socket level; not a bug worth a traceback.
            log.info('- %s Handled %d requests: %r', session, session.requests, e)
        except Exception:
            log.exception('- %s Error after handling %d requests:',
                          session, session.requests)
        finally:
            try:
                sock.close()
            finally:
                slots.release()

    def _wrap(self, sock: socket.socket) -> socket.socket:
        """Hook for SSLServer: the TLS handshake, run in the connection's thread."""
        return sock

    def _close(self, sock: socket.socket) -> None:
        """Hook for SSLServer: end the connection (TLS says goodbye first)."""
        sock.close()

    def _handle(self, sock: socket.socket, session: Session) -> None:
        sock = self._wrap(sock)
        try:
            on_connect = self._on_connect
            if on_connect is not None and on_connect(session, sock) is not True:
                log.warning('- %s Rejected by app.on_connect()', session)
                return
            self._serve(sock, session)
            log.info('- %s Handled %d requests: %s',
                     session, session.requests, session.message)
        finally:
            self._close(sock)

    def _serve(self, sock: socket.socket, session: Session) -> None:
        """The request/response loop of one connection."""
        reader = Reader(sock, self.timeout)
        writer = Writer(sock)
        app = self.app
        try:
            while not session._closed:
                (method, uri, headers, body, path, query) = read_request(reader)
                if 'expect' in headers:
                    _expect_continue(reader, headers['expect'], body)
                request = Request(method, uri, headers, body, [], path, query)
                response = app(session, request, api)
                unread = body is not None and reader.has_interim()
                (status, reason, rheaders, rbody) = _check_response(
                    request, response, unread
                )
                write_response(writer, status, reason, rheaders, rbody)
                if unread:
                    session.close('request body not sent after expect: 100-continue')
                elif status >= 400 and status not in KEEP_ALIVE_ERRORS:
                    session.close('{} {}'.format(status, reason))
                session._requests += 1
                if session._requests >= session._max_requests:
                    session.close('max_requests')
        finally:
            # The socket is closed by _handle() (for TLS after close_notify),
            # not by the reader when it is garbage collected on return.
            reader.mark_closed()


def _expect_continue(reader: Reader, expect: str, body: Any) -> None:
    """Handle ``Expect: 100-continue``, the only expectation HTTP defines."""
    if expect.lower() != '100-continue':
        raise ValueError('bad expect: {!r}'.format(expect))
    # Nothing is owed for a 'content-length: 0' body: the client holds no
    # bytes back (RFC 9110 section 10.1.1).  Owing it anyway left the
    # interim unsent after the app's read, which closed the connection.
    if body is not None and (body.chunked or body.content_length):
        reader.send_before_body(CONTINUE)


class SSLServer(Server):
    """A ``Server`` that speaks TLS; the handshake runs in each connection's thread.

    ``sslctx`` is a config dict (see ``degu.tls.build_server_sslctx``) or an
    ``ssl.SSLContext`` that passes the same safety checks.  Authenticate
    peers in ``app.on_connect(session, sock)``: ``sock`` is the
    ``ssl.SSLSocket``, so ``sock.getpeercert()`` is available.
    """

    def __init__(self, sslctx: Any, address: Any, app: Callable[..., Any],
                 **options: Any) -> None:
        from .tls import check_server_sslctx
        import ssl
        self.sslctx = check_server_sslctx(sslctx)
        if self.sslctx.verify_mode == ssl.CERT_NONE:
            log.warning('Security concern: sslctx allows unauthenticated clients!')
        super().__init__(address, app, **options)

    def __repr__(self) -> str:
        return '{}(<sslctx>, {!r}, {})'.format(
            type(self).__name__, self.address, _app_name(self.app)
        )

    def _wrap(self, sock: socket.socket) -> socket.socket:
        try:
            return self.sslctx.wrap_socket(sock, server_side=True)
        except BaseException:
            sock.close()
            raise

    def _close(self, sock: socket.socket) -> None:
        """Send TLS ``close_notify``, then close the socket.

        TLS requires each side to send ``close_notify`` before closing its
        write side (RFC 8446 section 6.1); peers such as ``openssl s_client``
        otherwise report an unexpected EOF.  The socket is made non-blocking
        first, so a peer that neither reads nor answers cannot hold this
        thread: the alert is sent if it fits in the send buffer, and the
        peer's own ``close_notify`` is not waited for (that attempt ends in
        ``SSLWantReadError``, as expected).
        """
        import ssl
        try:
            if isinstance(sock, ssl.SSLSocket) and sock.fileno() >= 0:
                sock.settimeout(0)
                sock.unwrap()
        except (OSError, ValueError):
            # Want-read (normal, see above), a peer already gone, or a
            # connection that failed with a fatal alert: just close.
            pass
        finally:
            sock.close()


def build_server_sslctx(sslconfig: Any) -> Any:
    """Build a safe server ``ssl.SSLContext`` from a config dict (see degu.tls)."""
    from .tls import build_server_sslctx as build
    return build(sslconfig)
