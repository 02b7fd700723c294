# SPDX-License-Identifier: LGPL-3.0-or-later
"""The HTTP server: blocking sockets, one thread per connection.

The server's life, drawn::

    Server(address, app)            bind + listen (degu.addresses)
        serve_forever()             accept loop (one BoundedSemaphore slot
            |                       per live connection)
            +-- thread per connection: degu.handler.serve_connection()
                    [TLS handshake]                 (SSLServer only)
                    app.on_connect(session, sock)   (optional; must be True)
                    loop:  read request -> app(session, request, api)
                           -> check response -> write response
                    until: peer closes, an error, a closing status,
                           max_requests, or the timeout
                    close the Stream, release the slot

This module owns the listening socket, the options and the threads; what
happens on one connection is ``degu.handler``'s job, the objects the app is
handed (``Session``, ``Request``) are ``degu.session``'s.
"""

import errno
import logging
import socket
import _thread
import threading
import time
from typing import Any, Callable, ClassVar, Dict, Optional, Set, Tuple

from . import addresses
from ._mypyc import mypyc_attr
from .handler import LiveConnection, Switch, answer, serve_connection
from .limits import ACCEPT_RETRY_DELAY, SHUTDOWN_POLL, SLOT_WAIT, THREAD_STACK_SIZE
from .options import SERVER_OPTIONS, server_options
from .session import Request, Session
from .sockio import Stream

__all__ = ('Server', 'SSLServer', 'Session', 'Request')

log = logging.getLogger('degu.server')

# accept() errors that say nothing about the listening socket itself, after
# which the accept loop pauses ACCEPT_RETRY_DELAY seconds and goes on.
ACCEPT_RETRY_ERRNOS = frozenset([
    errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM,
    errno.ECONNABORTED, errno.EPROTO, errno.EPERM,
])

# Serializes the process-wide stack_size() around our thread starts.
_stack_size_lock = threading.Lock()

# What a connection the server cannot take is told (it will not linger: the
# accept loop must go on at once).
UNAVAILABLE = answer(503, 'Service Unavailable')


def _forget_dummy_thread(ident: Any) -> None:
    """Drop the ``threading`` entry a connection thread may have been given.

    A thread started with ``_thread`` is unknown to ``threading`` until
    something calls ``threading.current_thread()`` in it (``logging`` does,
    for every record); ``threading`` then registers a "dummy" thread for it,
    which Python before 3.13 never removes: ``threading.active_count()`` and
    ``enumerate()`` would count every connection that ever logged.
    """
    active = getattr(threading, '_active', None)
    lock = getattr(threading, '_active_limbo_lock', None)
    dummy = getattr(threading, '_DummyThread', None)
    if active is None or lock is None or dummy is None:
        return
    with lock:
        if type(active.get(ident)) is dummy:
            del active[ident]


def _refuse(stream: Stream) -> None:
    """Tell a connection the server cannot serve it now, and close it."""
    try:
        stream.sock.setblocking(False)
        stream.send_all(UNAVAILABLE)
    except (OSError, ValueError):
        pass  # the client is gone, or not reading: it will see the close
    stream.close()


def _allowed(stream: Stream, uids: Tuple[int, ...]) -> bool:
    """Whether an AF_UNIX peer's uid (``SO_PEERCRED``) is in *uids*; if not, close it.

    A peer whose credentials cannot be read is refused too.
    """
    try:
        creds = addresses.credentials(stream.sock)
    except OSError:
        creds = None
    if creds is not None and creds[1] in uids:
        return True
    if creds is None:
        log.warning('Refused an AF_UNIX peer: its uid is unknown')
    else:
        log.warning('Refused an AF_UNIX peer: uid %d (pid %d) is not in allowed_uids',
                    creds[1], creds[0])
    stream.close()
    return False


def _app_name(app: Any) -> str:
    """``module.qualname`` of a function or class, ``module.Class(<...>)`` of an instance."""
    qualname = getattr(app, '__qualname__', None)
    if qualname is not None:
        return '{}.{}'.format(getattr(app, '__module__', '?'), qualname)
    kind = type(app)
    return '{}.{}(<...>)'.format(kind.__module__, kind.__qualname__)


# Public: subclassed by applications, also in a compiled build.
@mypyc_attr(allow_interpreted_subclasses=True)
class Server:
    """An HTTP/1.1 server for one RGI app.

    >>> def app(session, request, api):
    ...     return (200, 'OK', {}, b'hello, world')
    >>> server = Server(('127.0.0.1', 0), app)
    >>> server.address[0]
    '127.0.0.1'
    >>> server.close()
    """

    _options: ClassVar[Tuple[str, ...]] = SERVER_OPTIONS

    def __init__(self, address: Any, app: Callable[..., Any],
                 **options: Any) -> None:
        self.sock = addresses.bind(address)
        try:
            self._configure(app, options)
        except BaseException:
            if self.sock is not address:
                self.sock.close()
            raise
        self.address = self.sock.getsockname()
        self._shutdown = threading.Event()
        # The same flag, as the connections read it (cheaply, per request).
        self._stopping = Switch()
        self._lock = threading.Lock()
        # The connections being served (guarded by _lock).
        self._live: Set[LiveConnection] = set()

    def _configure(self, app: Any, options: Dict[str, Any]) -> None:
        if not callable(app):
            raise TypeError('app: not callable: {!r}'.format(app))
        on_connect = getattr(app, 'on_connect', None)
        if on_connect is not None and not callable(on_connect):
            raise TypeError('app.on_connect: not callable: {!r}'.format(app))
        checked = server_options(type(self).__name__, options, self._options)
        self.app = app
        self._on_connect = on_connect
        self.options = options
        self.max_connections: int = checked['max_connections']
        self.max_requests: int = checked['max_requests']
        self.timeout: Any = checked['timeout']
        self.shutdown_timeout: Any = checked['shutdown_timeout']
        self.access_log: bool = checked['access_log']
        self.allowed_uids: Optional[Tuple[int, ...]] = checked['allowed_uids']

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
        """Stop serving, gracefully; safe to call from any thread.

        ``serve_forever()`` stops accepting at once.  Connections waiting
        for their next request are closed at once; a request in flight may
        finish (its response says ``connection: close``) for up to
        ``shutdown_timeout`` seconds, after which its connection is cut.
        Returns once every connection has ended (a call from inside one of
        them does not wait for that one).
        """
        self._stopping.on = True
        self._shutdown.set()
        with self._lock:
            try:
                # Wakes a thread blocked in accept() (on Linux it returns
                # EINVAL at once); harmless if no one is accepting.
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
        self._drain()

    def _drain(self) -> None:
        """End the live connections: the idle ones now, the others in time."""
        me = threading.get_ident()
        deadline = time.monotonic() + self.shutdown_timeout
        while True:
            with self._lock:
                live = [c for c in self._live if c.ident != me]
            if not live:
                return
            if time.monotonic() >= deadline:
                break
            for conn in live:
                conn.stop_if_idle()
            time.sleep(SHUTDOWN_POLL)
        log.warning('Shutdown: cutting off %d connections still busy after %r s',
                    len(live), self.shutdown_timeout)
        for conn in live:
            conn.abort()
        # Give the cut connections a moment to end (each removes itself
        # from _live), as long as joining each thread briefly would.
        deadline = time.monotonic() + SHUTDOWN_POLL * len(live)
        while time.monotonic() < deadline:
            with self._lock:
                if not any(c in self._live for c in live):
                    return
            time.sleep(SHUTDOWN_POLL / 4)

    # -- the accept loop ---------------------------------------------------

    def serve_forever(self) -> None:
        """Accept connections until ``shutdown()``, one thread per connection."""
        log.info('Starting Degu %s @ %r', type(self).__name__, self.address)
        log.info('[timeout=%r, max_connections=%r, max_requests=%r]',
                 self.timeout, self.max_connections, self.max_requests)
        slots = threading.BoundedSemaphore(self.max_connections)
        listener = self.sock
        # Who may connect is checked on AF_UNIX only (TCP peers have no uid).
        uids = self.allowed_uids if listener.family == socket.AF_UNIX else None
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
                stream = Stream(sock, self.timeout, server_side=True)
                if uids is not None and not _allowed(stream, uids):
                    continue  # before it takes a slot or a thread
                if not slots.acquire(timeout=wait):
                    wait = 0.0
                    log.warning('Too many connections, rejecting %r', address)
                    _refuse(stream)
                    continue
                wait = SLOT_WAIT
                if not self._start(slots, stream, address):
                    # The system would not give us a thread (a task limit,
                    # RLIMIT_NPROC): refuse this one, and give it a moment.
                    slots.release()
                    _refuse(stream)
                    self._shutdown.wait(ACCEPT_RETRY_DELAY)
        finally:
            with self._lock:
                listener.close()

    def _start(self, slots: threading.BoundedSemaphore, stream: Stream,
               address: Any) -> bool:
        """Serve *stream* in a thread of its own; False if none could start."""
        live = LiveConnection(stream, self._stopping, self.access_log)
        with self._lock:
            if self._shutdown.is_set():
                return False  # a connection that came in during shutdown()
            self._live.add(live)
        try:
            # stack_size() is process-wide, so set it only around our
            # start, one server at a time.  The thread is started with
            # _thread, not threading.Thread: Thread.start() waits until the
            # new thread has run, which under load means waiting for the GIL
            # twice (for the new thread, then back), up to a switch interval
            # each.  With hundreds of busy connections the accept loop then
            # started ~100 threads a second and the last of a burst of 500
            # connects waited seconds for its first answer.
            with _stack_size_lock:
                previous = _thread.stack_size(THREAD_STACK_SIZE)
                try:
                    _thread.start_new_thread(self._connection,
                                             (slots, live, address))
                finally:
                    _thread.stack_size(previous)
        except RuntimeError as e:  # "can't start new thread"
            log.warning('Cannot start a thread, rejecting %r: %r', address, e)
            with self._lock:
                self._live.discard(live)
            return False
        return True

    # -- one connection (in its own thread) ----------------------------------

    def _connection(self, slots: threading.BoundedSemaphore,
                    live: LiveConnection, address: Any) -> None:
        live.ident = threading.get_ident()
        try:
            serve_connection(self, live, address)
        finally:
            with self._lock:
                self._live.discard(live)
            slots.release()
            _forget_dummy_thread(live.ident)

    def _wrap(self, sock: socket.socket) -> socket.socket:
        """Hook for SSLServer: the TLS handshake, run in the connection's thread."""
        return sock


# Public: subclassed by applications, also in a compiled build.
@mypyc_attr(allow_interpreted_subclasses=True)
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
        wrapped: socket.socket = self.sslctx.wrap_socket(sock, server_side=True)
        return wrapped


def build_server_sslctx(sslconfig: Any) -> Any:
    """Build a safe server ``ssl.SSLContext`` from a config dict (see degu.tls)."""
    from .tls import build_server_sslctx as build
    return build(sslconfig)
