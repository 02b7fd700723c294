"""Serve one connection: the server's request loop, and what ends it.

A ``Server`` accepts a socket and hands it to ``serve_connection()``, in a
thread of its own.  From then on everything about that connection happens
here, in this order::

    Stream(sock)                        the connection, from now on
    [stream.wrap(TLS handshake)]        SSLServer only
    app.on_connect(session, sock)       optional; anything but True refuses
    loop:
        read_request(stream)            None: the client closed, we are done
        [owe 100 Continue]              Expect: 100-continue
        app(session, request, api)      the app answers
        check_response()                the RGI contract: shape, body read
        check_response_framing()        the framing rules (degu.messages)
        write_response(stream, ...)     render and send
    until the session is closed (a closing status, max_requests...)
    stream.close()                      the one place the socket is closed

Whatever goes wrong ends this connection only; every other connection keeps
being served.  Each connection is logged on the ``'degu.server'`` logger
when it starts and when it ends (never per request).
"""

import logging
import socket
from typing import Any, Tuple

from .addresses import credentials, nodelay
from .bodies import api
from .errors import TYPE_ERROR
from .limits import BODY_CONSUMED
from .messages import Response, check_response_framing, read_request, write_response
from .session import Request, Session
from .sockio import Stream

log = logging.getLogger('degu.server')

# Statuses >= 400 after which the connection stays open: the request was
# understood and fully handled, so the stream is still in a known state.
KEEP_ALIVE_ERRORS = frozenset([404, 409, 412])

# The interim response a client asking ``Expect: 100-continue`` waits for.
CONTINUE = b'HTTP/1.1 100 Continue\r\n\r\n'


def serve_connection(server: Any, stream: Stream, address: Any) -> None:
    """Serve *stream* until it ends, then close it and log how it went.

    *server* gives the app and the options (``app``, ``_on_connect``,
    ``_wrap``, ``timeout``, ``max_requests``); *address* is the peer's, as
    ``accept()`` returned it.
    """
    session: Any = address
    try:
        session = _new_session(server, stream.sock, address)
        log.info('+ %s New connection', session)
        stream.wrap(server._wrap)
        on_connect = server._on_connect
        if on_connect is not None and on_connect(session, stream.sock) is not True:
            log.warning('- %s Rejected by app.on_connect()', session)
            return
        serve_requests(server.app, stream, session)
        log.info('- %s Handled %d requests: %s',
                 session, session.requests, session.message)
    except OSError as e:
        # Timeouts, resets, refused TLS handshakes: the peer went away or
        # misbehaved at the socket level; not a bug worth a traceback.
        log.info('- %s Handled %d requests: %r', session, _requests(session), e)
    except Exception:
        log.exception('- %s Error after handling %d requests:',
                      session, _requests(session))
    finally:
        stream.close()


def _new_session(server: Any, sock: Any, address: Any) -> Session:
    """Set up the accepted socket and build the app's ``Session`` for it."""
    sock.settimeout(server.timeout)
    if sock.family != socket.AF_UNIX:
        nodelay(sock)
    if not address:
        # An AF_UNIX peer that did not bind a name of its own.
        address = sock.getsockname()
    return Session(address, credentials(sock), server.max_requests)


def _requests(session: Any) -> int:
    return session.requests if type(session) is Session else 0


def serve_requests(app: Any, stream: Stream, session: Session) -> None:
    """The request/response loop of one connection."""
    while not session._closed:
        incoming = read_request(stream)
        if incoming is None:
            session.close('client closed the connection')
            break
        (method, uri, headers, body, path, query) = incoming
        if 'expect' in headers:
            _expect_continue(stream, headers['expect'], body)
        request = Request(method, uri, headers, body, [], path, query)
        response = app(session, request, api)
        unread = body is not None and stream.owes
        (status, reason, rheaders, rbody) = check_response(request, response, unread)
        write_response(stream, status, reason, rheaders, rbody)
        if unread:
            session.close('request body not sent after expect: 100-continue')
        elif status >= 400 and status not in KEEP_ALIVE_ERRORS:
            session.close('{} {}'.format(status, reason))
        session._requests += 1
        if session._requests >= session._max_requests:
            session.close('max_requests')


def _expect_continue(stream: Stream, expect: str, body: Any) -> None:
    """Handle ``Expect: 100-continue``, the only expectation HTTP defines."""
    if expect.lower() != '100-continue':
        raise ValueError('bad expect: {!r}'.format(expect))
    # Nothing is owed for a 'content-length: 0' body: the client holds no
    # bytes back (RFC 9110 section 10.1.1).
    if body is not None and (body.chunked or body.content_length):
        stream.owe(CONTINUE)


def check_response(request: Request, response: Any,
                   unread_ok: bool = False) -> Tuple[int, str, Any, Any]:
    """Apply the RGI checks of an app's response, in order.

    The shape (a 4-tuple, or the ``Response`` a client connection returned,
    which a proxy may hand back as it is), the status, that the request body
    was read, then the framing rules of ``degu.messages``.  *unread_ok* is
    True when the client is still waiting for ``100 Continue``: it has not
    sent the body, so answering without reading it is fine.
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
    check_response_framing(request._method, status, headers, body)
    return (status, reason, headers, body)
