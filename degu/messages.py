"""Whole HTTP messages: read a request or response, write one.

This is where the pure parser and renderer meet the connection reader and
writer.  It decides what a parsed preamble *means* for the body that follows
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
from typing import Any, Dict, List, Optional, Tuple

from .bodies import Body, BodyIter, ChunkedBody, ChunkedBodyIter
from .errors import EmptyPreambleError
from .limits import BUF_LEN, MAX_IO_SIZE
from .caches import parse_request, parse_response, render_request, render_response
from .sockio import Reader, Writer

Headers = Dict[str, Any]

# A server may send a few interim (1xx) responses before the final one; more
# than this is a misbehaving peer, not a slow one.
MAX_INTERIM_RESPONSES = 4

# What Connection.request() returns.
Response = namedtuple('Response', 'status reason headers body')
ResponseType = Response


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
    if body is not None:
        kind = type(body)
        if kind is bytes or kind is bytearray:
            set_default_header(headers, 'content-length', len(body))
        elif kind is Body or kind is BodyIter:
            set_default_header(headers, 'content-length', body.content_length)
        elif kind is ChunkedBody or kind is ChunkedBodyIter:
            set_default_header(headers, 'transfer-encoding', 'chunked')
        else:
            raise TypeError('bad body type: {!r}: {!r}'.format(kind, body))
    if 'content-length' in headers and 'transfer-encoding' in headers:
        raise ValueError(
            'cannot have both content-length and transfer-encoding headers'
        )


def _announced_body(reader: Reader, headers: Headers) -> Any:
    """The body a preamble's framing header announces (``None`` for neither)."""
    if 'content-length' in headers:
        return Body(reader, headers['content-length'])
    if 'transfer-encoding' in headers:
        return ChunkedBody(reader)
    return None


def read_request(
    reader: Reader,
) -> Tuple[str, str, Headers, Any, List[str], Optional[str]]:
    """Read one request: ``(method, uri, headers, body, path, query)``.

    Raises ``EmptyPreambleError`` if the client closed the connection
    cleanly before sending anything.
    """
    preamble = reader.read_preamble()
    if preamble is None:
        raise EmptyPreambleError('request preamble is empty')
    (method, uri, headers, path, query) = parse_request(preamble)
    return (method, uri, headers, _announced_body(reader, headers), path, query)


def read_response(reader: Reader, method: str) -> Response:
    """Read the response to a *method* request (``HEAD`` responses have no body).

    Interim ``1xx`` responses (a ``100 Continue`` answering an app's own
    ``expect`` header) carry no body and are skipped, at most
    ``MAX_INTERIM_RESPONSES`` of them.
    """
    preamble = reader.read_preamble()
    if preamble is None:
        raise EmptyPreambleError('response preamble is empty')
    (status, reason, headers) = parse_response(preamble)
    if status < 200:
        (status, reason, headers) = _skip_interim(reader, preamble, headers)
    body = None if method == 'HEAD' else _announced_body(reader, headers)
    # tuple.__new__ builds the namedtuple without its Python-level __new__.
    return tuple.__new__(Response, (status, reason, headers, body))


def _skip_interim(reader: Reader, preamble: bytes,
                  headers: Headers) -> Tuple[int, str, Headers]:
    """Read past interim responses to the final one's ``(status, reason, headers)``."""
    for _ in range(MAX_INTERIM_RESPONSES):
        if headers:
            raise ValueError(
                'interim response with headers: {!r}'.format(preamble[:32])
            )
        next_preamble = reader.read_preamble()
        if next_preamble is None:
            raise EmptyPreambleError('response preamble is empty')
        preamble = next_preamble
        (status, reason, headers) = parse_response(preamble)
        if status >= 200:
            return (status, reason, headers)
    raise ValueError('more than {} interim responses'.format(MAX_INTERIM_RESPONSES))


def _write_message(writer: Writer, preamble: bytes, body: Any) -> int:
    """Send a preamble and its body; a small bytes body shares its ``send()``."""
    total = len(preamble)
    if body is None:
        writer.send_all(preamble)
        return total
    if type(body) is bytes or type(body) is bytearray:
        size = len(body)
        if size > MAX_IO_SIZE:
            raise ValueError(
                'need len(body) <= {}; got {}'.format(MAX_IO_SIZE, size)
            )
        if total + size <= BUF_LEN:
            writer.send_all(preamble + body)
        else:
            writer.send_all(preamble)
            writer.send_all(body)
        return total + size
    writer.write(preamble)
    written: int = body.write_to(writer)
    total += written
    writer.flush()
    return total


def write_request(
    writer: Writer, method: str, uri: str, headers: Headers, body: Any
) -> int:
    """Add the framing header, render and send a request; return bytes sent."""
    set_output_headers(headers, body)
    return _write_message(writer, render_request(method, uri, headers), body)


def write_response(
    writer: Writer, status: int, reason: str, headers: Headers, body: Any
) -> int:
    """Add the framing header, render and send a response; return bytes sent."""
    set_output_headers(headers, body)
    return _write_message(writer, render_response(status, reason, headers), body)
