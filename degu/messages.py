# SPDX-License-Identifier: LGPL-3.0-or-later
"""Whole HTTP messages: read a request or response, write one.

This is where the pure parser and renderer meet the connection's
``Stream``.  It decides what a parsed preamble *means* for the body that follows
(the framing rules) and which framing header an outgoing body implies:

=========================  ==========================  ======================
body                       framing header              bytes on the wire
=========================  ==========================  ======================
``None``                   none                        nothing
``bytes``/``bytearray``    ``content-length: len``     the bytes
``Body``, ``BodyIter``     ``content-length: n``       exactly n bytes
``ChunkedBody``/``...Iter``  ``transfer-encoding``     chunks, ending in 0
=========================  ==========================  ======================

Degu never reads a body "until close": a response without a framing header
has no body.
"""

from collections import namedtuple
from typing import Any, Callable, Dict, Final, List, Optional, Tuple

from .bodies import Body, BodyIter, ChunkedBody, ChunkedBodyIter
from .caches import parse_request, parse_response, render_request, render_response
from .errors import EmptyPreambleError, ProtocolError
from .limits import BUF_LEN, MAX_INTERIM_RESPONSES, MAX_IO_SIZE, METHOD_BITS, PUT_POST_MASK
from .sockio import Stream

Headers = Dict[str, Any]

# What Connection.request() returns.
Response = namedtuple('Response', 'status reason headers body')
ResponseType = Response
# Builds a Response without the namedtuple's Python-level __new__.  Both
# are held as Finals: compiled, each is a C static, not a lookup per call.
_new_tuple: Final[Callable[..., Any]] = tuple.__new__
_RESPONSE: Final = Response


def set_default_header(headers: Headers, key: str, val: Any) -> None:
    """Set ``headers[key] = val`` unless present; a different value is an error."""
    if key in headers:
        existing = headers[key]
        if existing != val:
            raise ValueError(
                '{!r} mismatch: {!r} != {!r}'.format(key, val, existing)
            )
    else:
        headers[key] = val


def set_output_headers(headers: Headers, body: Any) -> None:
    """Add the framing header that *body* implies (see the module docstring).

    Output carrying both ``content-length`` and ``transfer-encoding`` is
    refused: a peer could frame it either way, which is how requests get
    smuggled.
    """
    kind = type(body)
    if kind is bytes or kind is bytearray:
        if 'content-length' not in headers:  # (the usual case, made quick)
            headers['content-length'] = len(body)
        else:
            set_default_header(headers, 'content-length', len(body))
    elif body is None:
        pass
    elif kind is Body or kind is BodyIter:
        set_default_header(headers, 'content-length', body.content_length)
    elif kind is ChunkedBody or kind is ChunkedBodyIter:
        set_default_header(headers, 'transfer-encoding', 'chunked')
    else:
        raise TypeError('bad body type: {!r}: {!r}'.format(kind, body))
    if len(headers) > 1 and 'transfer-encoding' in headers and 'content-length' in headers:
        raise ValueError(
            'cannot have both content-length and transfer-encoding headers'
        )


def frame_response(method: str, status: int, headers: Any, body: Any) -> None:
    """Check that a response may have the body it has; add its framing header.

    The one owner of the framing rules of responses (the server applies them
    to every response an app returns, before rendering it):

    * ``1xx`` statuses are interim only: a final response is ``200``-``599``;
    * ``204`` and ``304`` responses and the response to ``HEAD`` have no
      body (a client would read it as the next response);
    * the framing header is the one the body implies
      (``set_output_headers()``); without a body, ``content-length: 0``, so
      every client knows at once where the response ends (a response with
      no framing header at all is read "until close" by generic clients);
    * except that a ``HEAD`` response may carry a framing header describing
      the body a ``GET`` would have, and a ``304`` a ``content-length``
      describing the cached representation; neither gets one added.
    """
    if status < 200:
        raise ValueError(
            'need 200 <= status <= 599 for a final response; got {}'.format(status)
        )
    if body is not None:
        if method == 'HEAD':
            raise TypeError(
                'request method is HEAD, but response body is not None: {!r}'.format(
                    type(body)
                )
            )
        if status == 204 or status == 304:
            raise ValueError(
                'a {} response cannot have a body; got a {!r}'.format(status, type(body))
            )
        set_output_headers(headers, body)
        return
    if type(headers) is not dict or method == 'HEAD':
        return  # (the renderer refuses a headers that is not a dict)
    if 'transfer-encoding' in headers or headers.get('content-length', 0) != 0:
        if status != 304 or 'transfer-encoding' in headers:
            # A framing header that promises a body that never comes.
            raise ValueError(
                'response body is None, but headers announce one: {!r}'.format(headers)
            )
    elif status == 204:
        if 'content-length' in headers:
            raise ValueError(
                'a 204 response cannot have a content-length: {!r}'.format(headers)
            )
    elif status != 304:
        headers['content-length'] = 0


Request = Tuple[str, str, Headers, Any, List[str], Optional[str]]


def read_request(stream: Stream) -> Optional[Request]:
    """Read one request: ``(method, uri, headers, body, path, query)``.

    Returns ``None`` when the client closed the connection before sending
    anything: the normal end of a keep-alive connection, not an error.
    """
    preamble = stream.read_preamble()
    if preamble is None:
        return None
    (method, uri, headers, path, query) = parse_request(preamble)
    body: Any = None
    if 'content-length' in headers:
        length = headers['content-length']
        if length or METHOD_BITS[method] & PUT_POST_MASK:
            body = Body(stream, length)
        else:
            # "No body", said explicitly (requests sends it with DELETE):
            # the app sees a request without one.
            del headers['content-length']
    elif 'transfer-encoding' in headers:
        body = ChunkedBody(stream)
    return (method, uri, headers, body, path, query)


def connection_options(value: str) -> List[str]:
    """The names a ``connection`` header lists, lowercase.

    >>> connection_options('Keep-Alive, x-trace')
    ['keep-alive', 'x-trace']
    """
    return [t.strip() for t in value.lower().split(',') if t.strip()]


def wants_close(headers: Headers) -> bool:
    """True if a ``connection`` header says ``close`` (one of its tokens)."""
    value = headers.get('connection')
    if value is None:
        return False
    value = value.lower()
    return value == 'close' or 'close' in [t.strip() for t in value.split(',')]


def read_response(stream: Stream, method: str) -> Response:
    """Read the response to a *method* request (``HEAD`` responses have no body).

    Interim ``1xx`` responses (a ``100 Continue`` answering an app's own
    ``expect`` header) carry no body and are skipped, at most
    ``MAX_INTERIM_RESPONSES`` of them.
    """
    preamble = stream.read_preamble()
    if preamble is None:
        raise EmptyPreambleError('response preamble is empty')
    (status, reason, headers) = parse_response(preamble)
    if status < 200:
        (status, reason, headers) = _skip_interim(stream, preamble, headers)
    if 'connection' in headers:
        # Hop-by-hop: acted on here (the stream closes once this response
        # is read), never passed up to the caller, and neither are the
        # headers it names (RFC 9110 section 7.6.1), but for the framing
        # header, which says where this response ends.
        if wants_close(headers):
            stream.close_after("the server sent 'connection: close'")
        for name in connection_options(headers.pop('connection')):
            if name != 'content-length' and name != 'transfer-encoding':
                headers.pop(name, None)
    body: Any = None
    if status == 204 or status == 304 or method == 'HEAD':
        pass  # whatever framing header it has describes another body
    elif 'content-length' in headers:
        length = headers['content-length']
        if length:
            body = Body(stream, length)
        else:
            # How a server frames "no body": the caller sees just that.
            del headers['content-length']
    elif 'transfer-encoding' in headers:
        body = ChunkedBody(stream)
    if body is None:
        stream.finished()
    return _new_tuple(_RESPONSE, (status, reason, headers, body))


def _skip_interim(stream: Stream, preamble: bytes,
                  headers: Headers) -> Tuple[int, str, Headers]:
    """Read past interim responses to the final one's ``(status, reason, headers)``."""
    for _ in range(MAX_INTERIM_RESPONSES):
        if headers:
            raise ProtocolError(
                'interim response with headers: {!r}'.format(preamble[:32])
            )
        next_preamble = stream.read_preamble()
        if next_preamble is None:
            raise EmptyPreambleError('response preamble is empty')
        preamble = next_preamble
        (status, reason, headers) = parse_response(preamble)
        if status >= 200:
            return (status, reason, headers)
    raise ProtocolError(
        'more than {} interim responses'.format(MAX_INTERIM_RESPONSES)
    )


def _write_message(stream: Stream, preamble: bytes, body: Any) -> int:
    """Send a preamble and its body; a small bytes body shares its ``send()``."""
    total = len(preamble)
    if type(body) is bytes or type(body) is bytearray:
        size = len(body)
        if total + size <= BUF_LEN:
            stream.send_all(preamble + body)
            return total + size
        if size > MAX_IO_SIZE:
            raise ValueError(
                'need len(body) <= {}; got {}'.format(MAX_IO_SIZE, size)
            )
        stream.send_all(preamble)
        stream.send_all(body)
        return total + size
    if body is None:
        stream.send_all(preamble)
        return total
    stream.write(preamble)
    written: int = body.write_to(stream)
    total += written
    stream.flush()
    return total


def write_request(
    stream: Stream, method: str, uri: str, headers: Headers, body: Any
) -> int:
    """Add the framing header, render and send a request; return bytes sent."""
    set_output_headers(headers, body)
    return _write_message(stream, render_request(method, uri, headers), body)


def write_response(
    stream: Stream, status: int, reason: str, headers: Headers, body: Any
) -> int:
    """Add the framing header, render and send a response; return bytes sent."""
    set_output_headers(headers, body)
    return _write_message(stream, render_response(status, reason, headers), body)


def send_response(
    stream: Stream, status: int, reason: Any, headers: Any, body: Any
) -> int:
    """Render and send a response already framed by ``frame_response()``."""
    return _write_message(stream, render_response(status, reason, headers), body)
