# SPDX-License-Identifier: LGPL-3.0-or-later
"""Render outgoing preambles and chunk-size lines: pure functions to bytes.

The contract every function here follows:

* It takes values from an application (``str``, ``int``, ``dict``, tuples)
  and returns the exact ``bytes`` to put on the wire, or raises ``TypeError``
  (wrong type) or ``ValueError`` (bad value) naming what was wrong.  These
  are the app's (or the caller's) mistakes, so never a ``ProtocolError``.
  Nothing is written anywhere; ``degu.sockio`` does the sending.
* **The renderer is the parser**: every field is checked with exactly the
  rules ``degu.parsing`` applies to input (the same byte tables, the same
  functions), so Degu never sends what Degu would refuse.  A request target
  must pass ``parse_uri``; a header line must pass ``parse_header_line``
  (so values are ``VCHAR``/``SP`` without edge spaces, and the four
  structured headers hold what their parsers accept); the header set must
  pass the parser's combination rules.  Only two rules are stricter on
  output: names must already be lower case, and a reason may not be empty.
* Headers go out sorted by name, one per line, after the request or status
  line, so the same message always renders to the same bytes.
* Nothing is remembered between calls: the remembered fast path that
  ``degu.messages`` uses wraps these functions (``degu.caches``).
* Arguments checked with exact type tests are annotated ``Any``, so that a
  mypyc-compiled build runs those checks (and their messages) too.
"""

from typing import Any, Dict, Optional, Tuple

from .errors import TYPE_ERROR, TYPE_ERROR2, ProtocolError, bad_method
from .limits import (
    BUF_LEN,
    MAX_HEADER_COUNT,
    MAX_HEADER_NAME_LEN,
    MAX_IO_SIZE,
    MAX_URI_LEN,
    METHOD_BITS,
)
from .parsing import (
    check_header_combinations,
    check_request_framing,
    parse_header_line,
    parse_uri,
)
from .tables import EXTKEY_BYTES, EXTVAL_BYTES, KEY_BYTES, REASON_BYTES

Headers = Dict[str, Any]
Extension = Optional[Tuple[str, str]]


def _is_in_table(text: str, table: bytes) -> bool:
    """True if *text* is non-empty ASCII made only of the bytes in *table*."""
    return bool(text) and text.isascii() and not text.encode('ascii').translate(None, table)


# ---------------------------------------------------------------------------
# The first line

def request_line(method: Any, uri: Any) -> str:
    """``'GET /uri HTTP/1.1'``, after checking the method and the target."""
    if type(method) is not str or method not in METHOD_BITS:
        raise bad_method(method)
    if type(uri) is not str:
        raise TypeError(TYPE_ERROR.format('uri', str, type(uri), uri))
    if len(uri) > MAX_URI_LEN:
        raise ValueError('need len(uri) <= {}; got {}'.format(MAX_URI_LEN, len(uri)))
    if not uri.isascii():
        raise ValueError('bad uri: {!r}'.format(uri))
    try:
        parse_uri(uri.encode('ascii'))
    except ProtocolError as e:
        raise ValueError('bad uri: {!r}'.format(uri)) from e
    return method + ' ' + uri + ' HTTP/1.1'


def status_line(status: Any, reason: Any) -> str:
    """``'HTTP/1.1 200 OK'``, after checking the status and the reason."""
    if type(status) is not int:
        raise TypeError(TYPE_ERROR.format('status', int, type(status), status))
    if not (100 <= status <= 599):
        raise ValueError('need 100 <= status <= 599; got {}'.format(status))
    if type(reason) is not str:
        raise TypeError(TYPE_ERROR.format('reason', str, type(reason), reason))
    if not _is_in_table(reason, REASON_BYTES):
        raise ValueError('bad reason: {!r}'.format(reason))
    return 'HTTP/1.1 ' + str(status) + ' ' + reason


# ---------------------------------------------------------------------------
# Header lines and the header set

def check_key(key: Any) -> None:
    """An outgoing header name: a lowercase ``NAME`` of at most 64 bytes."""
    if type(key) is not str:
        raise TypeError(TYPE_ERROR.format('key', str, type(key), key))
    if len(key) > MAX_HEADER_NAME_LEN:
        raise ValueError('key is too long: {!r}'.format(key))
    if not _is_in_table(key, KEY_BYTES):
        raise ValueError('bad key: {!r}'.format(key))


def header_line(key: str, value: Any) -> str:
    """``'\\r\\nkey: value'`` for a checked *key*, after checking *value*.

    The value is rendered with ``str()`` (``int``, ``Range`` and
    ``ContentRange`` say what they are), then must pass the parser.  Except
    ``bytes``, ``bytearray`` and ``bool``: what their ``str()`` says
    (``"b'x'"``, ``'True'``) is never what was meant.
    """
    kind = type(value)
    if kind is str:
        text: str = value
    elif kind is bytes or kind is bytearray or kind is bool:
        raise TypeError(TYPE_ERROR.format(
            'headers[{!r}]'.format(key), str, kind, value
        ))
    else:
        text = str(value)
    if not text.isascii():
        raise ValueError('bad val: {!r}'.format(text))
    try:
        parse_header_line((key + ': ' + text).encode('ascii'))
    except ProtocolError as e:
        raise ValueError('bad val: {!r}'.format(text)) from e
    return '\r\n' + key + ': ' + text


def check_request_headers(method: str, headers: Headers) -> None:
    """The parser's rules about a request's header set, as a ``ValueError``."""
    try:
        check_header_combinations(headers, False)
        check_request_framing(method, headers)
    except ProtocolError as e:
        raise ValueError(str(e)) from None


def check_response_headers(headers: Headers) -> None:
    """The parser's rules about a response's header set, as a ``ValueError``."""
    try:
        check_header_combinations(headers, True)
    except ProtocolError as e:
        raise ValueError(str(e)) from None


def check_headers(headers: Any) -> None:
    """A ``dict`` of at most ``MAX_HEADER_COUNT`` items with good keys.

    (``connection`` is not counted: a server adds ``connection: close`` to a
    response when it decides to close, which must not make a response the
    app was allowed to give too big.)
    """
    if type(headers) is not dict:
        raise TypeError(TYPE_ERROR.format('headers', dict, type(headers), headers))
    count = len(headers)
    if 'connection' in headers:
        count -= 1
    if count > MAX_HEADER_COUNT:
        raise ValueError(
            'need len(headers) <= {}; got {}'.format(MAX_HEADER_COUNT, count)
        )
    # All keys are checked before any value is looked at.
    for key in headers:
        check_key(key)


def _preamble(first_line: str, headers: Headers) -> bytes:
    """Join the first line and the sorted header lines into a whole preamble."""
    out = first_line
    for key in sorted(headers):
        out += header_line(key, headers[key])
    out += '\r\n\r\n'
    if len(out) > BUF_LEN:
        raise ValueError('output size exceeds {}'.format(BUF_LEN))
    return out.encode('ascii')


# ---------------------------------------------------------------------------
# Whole preambles

def render_request(method: Any, uri: Any, headers: Any) -> bytes:
    """Render a request preamble, ending in ``b'\\r\\n\\r\\n'``.

    >>> render_request('GET', '/', {'range': 'bytes=17-19'})
    b'GET / HTTP/1.1\\r\\nrange: bytes=17-19\\r\\n\\r\\n'
    """
    line = request_line(method, uri)
    check_headers(headers)
    out = _preamble(line, headers)
    check_request_headers(method, headers)
    return out


def render_response(status: Any, reason: Any, headers: Any) -> bytes:
    """Render a response preamble, ending in ``b'\\r\\n\\r\\n'``.

    >>> render_response(200, 'OK', {'content-length': 3})
    b'HTTP/1.1 200 OK\\r\\ncontent-length: 3\\r\\n\\r\\n'
    """
    line = status_line(status, reason)
    check_headers(headers)
    out = _preamble(line, headers)
    check_response_headers(headers)
    return out


# ---------------------------------------------------------------------------
# Chunk-size lines

def _check_extension(ext: Any) -> str:
    """Return ``';key=value'`` for an extension tuple, or ``''`` for None."""
    if ext is None:
        return ''
    if type(ext) is not tuple:
        raise TypeError(TYPE_ERROR2.format('chunk[0]', tuple, type(ext)))
    if len(ext) != 2:
        raise ValueError('chunk[0]: need a 2-tuple; got a {}-tuple'.format(len(ext)))
    (key, value) = ext
    # The parser's tables, so an app can never break the chunk framing.
    if type(key) is not str or not _is_in_table(key, EXTKEY_BYTES):
        raise ValueError('bad chunk extension key: {!r}'.format(key))
    if type(value) is not str or not _is_in_table(value, EXTVAL_BYTES):
        raise ValueError('bad chunk extension value: {!r}'.format(value))
    return ';' + key + '=' + value


def format_chunk(chunk: Any) -> bytes:
    """Return the size line (with CRLF) for a ``(extension, data)`` chunk.

    >>> format_chunk((None, b''))
    b'0\\r\\n'
    >>> format_chunk((('k', 'v'), b'hello, world'))
    b'c;k=v\\r\\n'
    """
    if type(chunk) is not tuple:
        raise TypeError(TYPE_ERROR2.format('chunk', tuple, type(chunk)))
    if len(chunk) != 2:
        raise ValueError('chunk: need a 2-tuple; got a {}-tuple'.format(len(chunk)))
    (ext, data) = chunk
    suffix = _check_extension(ext)
    if type(data) is not bytes:
        raise TypeError(TYPE_ERROR2.format('chunk[1]', bytes, type(data)))
    if len(data) > MAX_IO_SIZE:
        raise ValueError(
            'need len(chunk[1]) <= {}; got {}'.format(MAX_IO_SIZE, len(data))
        )
    return ('{:x}'.format(len(data)) + suffix + '\r\n').encode('ascii')
