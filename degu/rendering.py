"""Render outgoing preambles and chunk-size lines: pure functions to bytes.

The contract every function here follows:

* It takes values from an application (``str``, ``int``, ``dict``, tuples)
  and returns the exact ``bytes`` to put on the wire, or raises ``TypeError``
  (wrong type) or ``ValueError`` (bad value) naming what was wrong.  Nothing
  is written anywhere; ``degu.sockio`` does the sending.
* Headers go out sorted by name, one per line, after the request or status
  line, so the same message always renders to the same bytes.
* Arguments checked with exact type tests are annotated ``Any``, so that a
  mypyc-compiled build runs those checks (and their messages) too.
* Output is checked just enough to keep the framing of the stream intact:
  names must be lowercase tokens, and no value, reason or URI may be empty,
  hold a non-ASCII character, or hold a CR or LF (which would let a value
  inject headers or a whole response).
"""

from typing import Any, Dict, List, Optional, Tuple

from .caches import remember
from .errors import TYPE_ERROR, TYPE_ERROR2
from .limits import BUF_LEN, MAX_HEADER_COUNT, MAX_IO_SIZE, SCRATCH_LEN
from .tables import EXTKEY_BYTES, EXTVAL_BYTES, KEY_BYTES

Headers = Dict[str, Any]
Extension = Optional[Tuple[str, str]]

_METHODS = frozenset(['GET', 'PUT', 'POST', 'HEAD', 'DELETE'])


def _is_line_safe(text: str) -> bool:
    """True if *text* is non-empty ASCII without CR or LF."""
    return bool(text) and text.isascii() and '\r' not in text and '\n' not in text


def _is_in_table(text: str, table: bytes) -> bool:
    """True if *text* is non-empty ASCII made only of the bytes in *table*."""
    return bool(text) and text.isascii() and not text.encode('ascii').translate(None, table)


def _check_key(key: Any) -> None:
    if type(key) is not str:
        raise TypeError(TYPE_ERROR.format('key', str, type(key), key))
    if len(key) > SCRATCH_LEN:
        raise ValueError('key is too long: {!r}'.format(key))
    if not _is_in_table(key, KEY_BYTES):
        raise ValueError('bad key: {!r}'.format(key))


# What has already passed the checks is remembered (degu.caches), so the
# next message with the same header key, header line, URI or status line
# skips them.  Header lines are remembered only for str and int values, keyed
# by the value's type too, so that 1, 1.0 and True never share a rendering.
_good_keys: Dict[str, bool] = {}
_header_lines: Dict[Tuple[str, type, Any], str] = {}
_request_lines: Dict[str, str] = {}
_status_lines: Dict[Tuple[int, str], str] = {}


def _remember_key(key: Any) -> None:
    _check_key(key)
    remember(_good_keys, key, True)


def _render(first_line: str, headers: Any) -> bytes:
    """Join the first line and the sorted headers into a whole preamble."""
    if type(headers) is not dict:
        raise TypeError(TYPE_ERROR.format('headers', dict, type(headers), headers))
    count = len(headers)
    if count > 1:
        if count > MAX_HEADER_COUNT:
            raise ValueError(
                'need len(headers) <= {}; got {}'.format(MAX_HEADER_COUNT, count)
            )
        # All keys are checked before any value is looked at.
        for key in headers:
            if type(key) is not str or key not in _good_keys:
                _remember_key(key)
        keys: Any = sorted(headers)
    else:
        keys = headers
    out = first_line
    lines = _header_lines
    for key in keys:
        if count == 1 and (type(key) is not str or key not in _good_keys):
            _remember_key(key)
        value = headers[key]
        kind = type(value)
        if kind is str or kind is int:
            cache_key = (key, kind, value)
            line = lines.get(cache_key)
            if line is None:
                line = remember(lines, cache_key, _render_line(key, value))
        else:
            line = _render_line(key, value)
        out += line
    out += '\r\n\r\n'
    if len(out) > BUF_LEN:
        raise ValueError('output size exceeds {}'.format(BUF_LEN))
    return out.encode('ascii')


def _render_line(key: str, value: Any) -> str:
    """``'\\r\\nkey: value'`` for one header, after checking the value."""
    text = value if type(value) is str else str(value)
    if not _is_line_safe(text):
        raise ValueError('bad val: {!r}'.format(text))
    return '\r\n' + key + ': ' + text


def render_request(method: Any, uri: Any, headers: Any) -> bytes:
    """Render a request preamble, ending in ``b'\\r\\n\\r\\n'``.

    >>> render_request('GET', '/', {'range': 'bytes=17-19'})
    b'GET / HTTP/1.1\\r\\nrange: bytes=17-19\\r\\n\\r\\n'
    """
    line = _request_lines.get(uri) if type(uri) is str else None
    if line is None or type(method) is not str or method not in _METHODS:
        if type(method) is not str:
            raise TypeError(TYPE_ERROR.format('method', str, type(method), method))
        if method not in _METHODS:
            raise ValueError('bad method: {!r}'.format(method))
        if type(uri) is not str:
            raise TypeError(TYPE_ERROR.format('uri', str, type(uri), uri))
        if not _is_line_safe(uri) or ' ' in uri:
            raise ValueError('bad uri: {!r}'.format(uri))
        line = remember(_request_lines, uri, ' ' + uri + ' HTTP/1.1')
    return _render(method + line, headers)


def render_response(status: Any, reason: Any, headers: Any) -> bytes:
    """Render a response preamble, ending in ``b'\\r\\n\\r\\n'``.

    >>> render_response(200, 'OK', {'content-length': 3})
    b'HTTP/1.1 200 OK\\r\\ncontent-length: 3\\r\\n\\r\\n'
    """
    if type(status) is not int:
        raise TypeError(TYPE_ERROR.format('status', int, type(status), status))
    line = _status_lines.get((status, reason)) if type(reason) is str else None
    if line is None:
        if not (100 <= status <= 599):
            raise ValueError('need 100 <= status <= 599; got {}'.format(status))
        if type(reason) is not str:
            raise TypeError(TYPE_ERROR.format('reason', str, type(reason), reason))
        if not _is_line_safe(reason):
            raise ValueError('bad reason: {!r}'.format(reason))
        line = remember(_status_lines, (status, reason),
                        'HTTP/1.1 ' + str(status) + ' ' + reason)
    return _render(line, headers)


def _check_extension(ext: Any) -> str:
    """Return ``';key=value'`` for an extension tuple, or ``''`` for None."""
    if ext is None:
        return ''
    if type(ext) is not tuple:
        raise TypeError(TYPE_ERROR2.format('chunk[0]', tuple, type(ext)))
    if len(ext) != 2:
        raise ValueError('chunk[0]: need a 2-tuple; got a {}-tuple'.format(len(ext)))
    (key, value) = ext
    # Re-checked on output so an app can never break the chunk framing.
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
