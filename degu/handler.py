# SPDX-License-Identifier: LGPL-3.0-or-later
"""Serve one connection: the server's request loop, and how it ends.

A ``Server`` accepts a socket and hands it to ``serve_connection()``, in a
thread of its own.  From then on everything about that connection happens
here, in this order::

    Stream(sock)                        the connection, from now on
    [stream.wrap(TLS handshake)]        SSLServer only
    app.on_connect(session, sock)       optional; anything but True refuses
    stream.arm()                        its timeout, in the kernel if it can
    loop:
        read_request(stream)            None: the client closed, we are done
        [owe 100 Continue]              Expect: 100-continue
        app(session, request, api)      the app answers
        check_response()                the RGI contract: its shape
        closing()                       will the connection stay open?
        frame_response()                the framing rules (degu.messages)
        send_response(stream, ...)      render and send
    until the client closes, or the server closes after a response
    stream.close()                      the one place the socket is closed

The server closes after a response -- and says so in it, with
``connection: close`` -- when the request asked for it, when the app did not
read the request body (the stream's position is lost), on a status >= 400
other than 404, 409 and 412 (``KEEP_ALIVE_ERRORS``), and at
``max_requests``.  It then *lingers*: it shuts its write side and drops what
the client still sends for a moment, so that the client reads the response
rather than a reset.

When something fails, whose fault it is decides what happens:

==========================  =========================  ========================
what failed                 answer (if nothing of the  log (``degu.server``)
                            response was sent yet)
==========================  =========================  ========================
the peer's request          its ``ProtocolError``'s    one INFO line, the
(``ProtocolError``)         status: 400, 413, 414...   message cut short
a request that stalls       ``408 Request Timeout``    one INFO line
the socket (reset, ...)     none                       one INFO line
the app (raised, returned   ``500 Internal Server      ERROR, with the
something invalid)          Error``                    traceback
==========================  =========================  ========================

Every answer is framed (``content-length: 0``) and says ``connection:
close``; no traceback ever goes to the peer.  Whatever goes wrong ends this
connection only.
"""

import logging
import socket
import threading
import time
from typing import Any, Final, Optional, Tuple

from .addresses import credentials, nodelay
from .bodies import _IncomingBody, api
from .errors import TYPE_ERROR, ExpectationFailedError, ProtocolError, error_status
from .limits import BODY_CONSUMED, MAX_LOGGED_MESSAGE
from .messages import Response, frame_response, read_request, send_response, wants_close
from .session import Request, Session
from .sockio import Stream

# (A C static when compiled, read once per request: see degu.client.)
_API: Final = api

log = logging.getLogger('degu.server')

# One line per request, when the server's access_log option is on (see
# log_access() for the format).
access_log = logging.getLogger('degu.access')
ACCESS_FORMAT: Final = '%s "%s %s" %d %d %.6f'

# Statuses >= 400 after which the connection stays open: the request was
# understood and fully handled, so the stream is still in a known state.
KEEP_ALIVE_ERRORS: Final = frozenset([404, 409, 412])

# The interim response a client asking ``Expect: 100-continue`` waits for.
CONTINUE: Final = b'HTTP/1.1 100 Continue\r\n\r\n'

# Where a request is when something fails (see _fault()).
READING: Final = 0    # its preamble or (before the app) its framing
IN_APP: Final = 1     # the app is running (and maybe reading the body)
ANSWERING: Final = 2  # checking, rendering and sending what the app returned


def answer(status: int, reason: str) -> bytes:
    """The whole of an error answer: framed, empty, closing.

    >>> answer(400, 'Bad Request')
    b'HTTP/1.1 400 Bad Request\\r\\ncontent-length: 0\\r\\nconnection: close\\r\\n\\r\\n'
    """
    return 'HTTP/1.1 {} {}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n'.format(
        status, reason
    ).encode('ascii')


def _cut(text: str) -> str:
    """*text* at most ``MAX_LOGGED_MESSAGE`` characters long."""
    if len(text) <= MAX_LOGGED_MESSAGE:
        return text
    return text[:MAX_LOGGED_MESSAGE - 3] + '...'


# ---------------------------------------------------------------------------
# One connection

class Switch:
    """A flag that every connection of a server reads, cheaply, per request."""

    __slots__ = ('on',)

    def __init__(self) -> None:
        self.on = False


class LiveConnection:
    """A connection being served, as the server's shutdown sees it.

    ``idle`` is true while the connection waits for a request (or lingers
    on its way out): a shutdown may end it at once.  Otherwise a request is
    in flight, and a shutdown lets it finish: its response then says
    ``connection: close`` (``stopping.on`` is the server's flag).
    """

    __slots__ = ('stream', 'stopping', 'idle', 'ident', 'access')

    def __init__(self, stream: Stream, stopping: Switch,
                 access: bool = False) -> None:
        self.stream = stream
        self.stopping = stopping
        self.idle = False
        self.ident: Optional[int] = None  # its thread's, once it runs
        self.access = access  # log each request on 'degu.access'

    def stop_if_idle(self) -> None:
        if self.idle:
            self.stream.interrupt(socket.SHUT_RD)

    def abort(self) -> None:
        self.stream.interrupt(socket.SHUT_RDWR)


def serve_connection(server: Any, live: LiveConnection, address: Any) -> None:
    """Serve a connection until it ends, then close it and log how it went.

    *server* gives the app and the options (``app``, ``_on_connect``,
    ``_wrap``, ``timeout``, ``max_requests``); *address* is the peer's, as
    ``accept()`` returned it.
    """
    stream = live.stream
    session: Optional[Session] = None
    linger = False
    try:
        session = _new_session(server, stream.sock, address)
        log.info('+ %s New connection', session)
        stream.wrap(server._wrap)
        on_connect = server._on_connect
        if on_connect is not None and on_connect(session, stream.sock) is not True:
            log.warning('- %s Rejected by app.on_connect()', session)
            linger = True
            return
        # From here on only the stream uses the socket: its timeouts can go
        # into the kernel (on_connect() saw the socket as settimeout() left it).
        stream.arm()
        linger = serve_requests(server.app, live, session)
        log.info('- %s Handled %d requests: %s',
                 session, session.requests, session.message)
    except OSError as e:
        # Timeouts, resets, refused TLS handshakes: the peer went away or
        # misbehaved at the socket level; not a bug worth a traceback.
        log.info('- %s Handled %d requests: %r', _who(session, address),
                 _requests(session), e)
    except Exception:
        # Raised by app.on_connect(): the app's bug.
        log.exception('- %s Error after handling %d requests:',
                      _who(session, address), _requests(session))
    finally:
        live.idle = True  # lingering: a shutdown may cut it short
        stream.close(linger)


def _new_session(server: Any, sock: Any, address: Any) -> Session:
    """Set up the accepted socket and build the app's ``Session`` for it."""
    sock.settimeout(server.timeout)  # (for a TLS handshake too)
    if sock.family != socket.AF_UNIX:
        nodelay(sock)
    if not address:
        # An AF_UNIX peer that did not bind a name of its own.
        address = sock.getsockname()
    return Session(address, credentials(sock), server.max_requests)


def _who(session: Optional[Session], address: Any) -> Any:
    return repr(address) if session is None else session


def _requests(session: Optional[Session]) -> int:
    return 0 if session is None else session.requests


# ---------------------------------------------------------------------------
# The request loop

def serve_requests(app: Any, live: LiveConnection, session: Session) -> bool:
    """Answer requests until the connection ends; True if the server ends it.

    (When the server ends it, the caller lingers before closing.)
    """
    stream = live.stream
    stopping = live.stopping
    while not stopping.on:
        live.idle = True
        if stopping.on:  # (a shutdown that came in between)
            break
        ending = exchange(app, live, stream, session)
        if ending is not None:
            return ending
    session.close('the server is shutting down')
    return False


def exchange(app: Any, live: LiveConnection, stream: Stream,
             session: Session) -> Optional[bool]:
    """Read one request and answer it.

    Returns ``None`` to go on with the next request, ``False`` when the
    client closed the connection, ``True`` when the server closes it.  (One
    function per exchange, so that nothing of this request -- its body, the
    app's response -- stays referenced while the connection waits for the
    next one.)
    """
    phase = READING
    request: Optional[Request] = None
    sent = -1
    started = 0.0
    try:
        incoming = read_request(stream)
        live.idle = False
        if live.access:
            started = time.monotonic()
        if incoming is None:
            if live.stopping.on:
                session.close('the server is shutting down')
            else:
                session.close('client closed the connection')
            return False
        (method, uri, headers, body, path, query) = incoming
        if 'expect' in headers:
            _expect_continue(stream, headers['expect'], body)
        request = Request(method, uri, headers, body, [], path, query)
        phase = IN_APP
        response = app(session, request, _API)
        phase = ANSWERING
        (status, reason, rheaders, rbody) = check_response(request, response)
        why = closing(live, session, request, status, reason, rheaders)
        frame_response(method, status, rheaders, rbody)
        if why is not None:
            session.close(why)  # before the response that says so goes out
        sent = stream.sent
        send_response(stream, status, reason, rheaders, rbody)
    except Exception as e:
        (linger, status, size) = _fault(e, phase, stream, session, request, sent)
        if live.access and size:
            log_access(session, request, status, size, started)
        return linger
    session._requests += 1
    if live.access:
        log_access(session, request, status, stream.sent - sent, started)
    return None if why is None else True


def peer_name(session: Session) -> str:
    """The peer as an access log line shows it.

    ``127.0.0.1:40000``, ``[::1]:40000``; over ``AF_UNIX``, ``unix:`` and the
    peer's ``pid/uid/gid`` when known.

    >>> peer_name(Session(('::1', 40000, 0, 0)))
    '[::1]:40000'
    >>> peer_name(Session(b'\\x00abc', (12, 1000, 1000)))
    'unix:12/1000/1000'
    """
    address = session._address
    if type(address) is tuple:
        host = address[0]
        if ':' in host:
            host = '[' + host + ']'
        return '{}:{}'.format(host, address[1])
    credentials = session._credentials
    if credentials is None:
        return 'unix'
    return 'unix:{}/{}/{}'.format(*credentials)


def log_access(session: Session, request: Optional[Request], status: int,
               size: int, started: float) -> None:
    """One access log line: peer, method and URI, status, bytes, seconds.

    ``127.0.0.1:40000 "GET /index.html" 200 1234 0.000210`` -- the bytes are
    those of the whole response on the wire, the seconds from the request's
    arrival to its response sent.  A request too malformed to say what it
    was shows ``"- -"``.
    """
    if request is None:
        (method, uri) = ('-', '-')
    else:
        (method, uri) = (request._method, request._uri)
    elapsed = time.monotonic() - started if started else 0.0
    access_log.info(ACCESS_FORMAT, peer_name(session), method, uri, status,
                    max(size, 0), elapsed)


def _expect_continue(stream: Stream, expect: str, body: Any) -> None:
    """Handle ``Expect: 100-continue``, the only expectation HTTP defines."""
    if expect.lower() != '100-continue':
        raise ExpectationFailedError('bad expect: {!r}'.format(expect))
    # Nothing is owed for a 'content-length: 0' body (the client holds no
    # bytes back), nor when the body already started to arrive with the
    # preamble: the client did not wait (RFC 9110 section 10.1.1).
    if body is not None and (body.chunked or body.content_length):
        if not stream.buffered():
            stream.owe(CONTINUE)


def check_response(request: Request, response: Any) -> Tuple[int, Any, Any, Any]:
    """Check the shape of what an app returned; ``(status, reason, headers, body)``.

    A 4-tuple, or the ``Response`` a client connection returned (which a
    proxy may hand back as it is), with an ``int`` status.  The rest is
    checked where it is used: the framing by ``frame_response()``, the
    headers and the reason by the renderer.
    """
    kind = type(response)
    if kind is not tuple and kind is not Response:
        raise TypeError(
            'response: need a {!r}; got a {!r}'.format(tuple, kind)
        )
    items: Tuple[Any, ...] = response  # (indexed natively when compiled)
    if len(items) != 4:
        raise ValueError(
            'response: need a 4-tuple; got a {}-tuple'.format(len(items))
        )
    status = items[0]
    if type(status) is not int:
        raise TypeError(TYPE_ERROR.format('status', int, type(status), status))
    if not (100 <= status <= 599):
        raise ValueError('need 100 <= status <= 599; got {}'.format(status))
    checked: Tuple[int, Any, Any, Any] = response
    return checked


def closing(live: LiveConnection, session: Session, request: Request,
            status: int, reason: Any, headers: Any) -> Optional[str]:
    """Why the connection closes after this response (``None``: it stays open).

    When it closes, the response says so: ``connection: close`` is added to
    *headers*.  An app may ask for it too (``connection`` is a hop-by-hop
    header: ``close`` is the only value an app may give).
    """
    why: Optional[str] = None
    body: Optional[_IncomingBody] = request._body  # (read_request() made it)
    if body is not None and body._state != BODY_CONSUMED:
        if live.stream.owes:
            why = 'request body not sent after expect: 100-continue'
        else:
            why = 'request body not read'
    elif session._closed:
        why = session._message  # the app closed the session
    elif 'connection' in request._headers and wants_close(request._headers):
        why = 'the client asked to close'
    elif status >= 400 and status not in KEEP_ALIVE_ERRORS:
        why = '{} {}'.format(status, reason)
    elif session._requests + 1 >= session._max_requests:
        why = 'max_requests'
    elif live.stopping.on:
        why = 'the server is shutting down'
    if type(headers) is dict and 'connection' in headers:
        if headers['connection'] != 'close':
            raise ValueError(
                "response headers['connection'] can only be 'close'; got {!r}".format(
                    headers['connection']
                )
            )
        if why is None:
            why = 'the app asked to close'
    elif why is not None and type(headers) is dict:
        headers['connection'] = 'close'
    return why


def _fault(error: Exception, phase: int, stream: Stream, session: Session,
           request: Optional[Request], sent: int) -> Tuple[bool, int, int]:
    """Log *error* by whose fault it is; answer it if nothing was sent yet.

    Returns whether to linger before closing, the status of the answer and
    its size in bytes (``0`` when none was sent).
    """
    if isinstance(error, OSError):
        session.close(repr(error))
        if isinstance(error, (TimeoutError, socket.timeout)) and phase != ANSWERING and not (
                phase == READING and stream.buffered() == 0):
            # A request that stalled half-way (an idle connection that
            # times out is just closed; a response whose body's source
            # stalled, a proxy's upstream, say, is no request timeout).
            return (True, 408, _answer(stream, 408, 'Request Timeout', phase, sent))
        return (False, 0, 0)
    if isinstance(error, ProtocolError) and _peers_fault(phase, stream, request):
        (status, reason) = error_status(error)
        session.close('{} {}: {}'.format(status, reason, _cut(str(error))))
    else:
        (status, reason) = error_status(RuntimeError())
        log.exception('- %s Error after handling %d requests:',
                      session, session.requests)
        session.close('{} {}: {}'.format(status, reason, _cut(repr(error))))
    return (True, status, _answer(stream, status, reason, phase, sent))


def _peers_fault(phase: int, stream: Stream, request: Optional[Request]) -> bool:
    """Whether a ``ProtocolError`` is about our own peer's request.

    Always while reading the request; during the app, when it came from
    reading the request body (the stream broke, or the body is left unread,
    such as a body too big for ``read()``).  A ``ProtocolError`` the app got
    from elsewhere (its own client to another server) is the app's problem.
    """
    if phase == READING or stream.broken:
        return True
    body = None if request is None else request._body
    return body is not None and body._state != BODY_CONSUMED


def _answer(stream: Stream, status: int, reason: str, phase: int, sent: int) -> int:
    """Send an error answer, unless some of a response already went out.

    Returns the size of the answer sent, ``0`` if none was.
    """
    if phase == ANSWERING and sent >= 0 and stream.sent != sent:
        return 0  # part of a response is on the wire: all we can do is close
    stream.discard()
    data = answer(status, reason)
    try:
        stream.send_all(data)
    except (OSError, ValueError):
        return 0  # the peer is gone already
    return len(data)
