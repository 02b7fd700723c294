"""Parse the HTTP/1.1 subset Degu speaks: pure functions from bytes to values.

The contract every function here follows:

* It takes ``bytes`` (one field, one line, or one whole preamble without its
  final ``b'\\r\\n\\r\\n'``) and never touches a socket; reading bytes off the
  wire is ``degu.sockio``'s job, deciding what a parsed message means is
  ``degu.messages``' job.
* It returns plain Python values (``str``, ``int``, ``list``, ``dict``,
  ``Range``, ``ContentRange``), or raises ``ValueError`` whose message names the
  offending bytes.  Nothing is repaired, trimmed or guessed: anything outside
  the subset is refused.
* It validates whole fields at C speed (``bytes.translate`` with a delete
  table from ``degu.tables``, ``partition``, ``find``) and never loops over
  bytes in Python.  Numbers are checked to be plain ASCII digits *before*
  ``int()`` sees them, because ``int()`` alone also accepts ``b'+5'``,
  ``b' 5'`` and ``b'1_0'``.

The grammar, rule by rule (``SP`` is one space, ``CRLF`` is ``b'\\r\\n'``)::

    request-preamble  = request-line *( CRLF header-line )
    response-preamble = status-line *( CRLF header-line )
    request-line      = method SP uri SP "HTTP/1.1"
    method            = "GET" / "HEAD" / "PUT" / "POST" / "DELETE"
    uri               = "/" path-rest [ "?" query ]      ; bytes of tables.URI
    status-line       = "HTTP/1.1" SP 3DIGIT SP reason   ; 100..599
    header-line       = name ": " value                  ; exactly one space
    content-length    = "0" / ( %x31-39 *15DIGIT )
    range             = "bytes=" number "-" number       ; requests only
    content-range     = "bytes " number "-" number "/" number
    chunk-size-line   = 1*7HEXDIG [ ";" ext-key "=" ext-value ]
"""

from typing import Any, Dict, List, Optional, Tuple, Union

from .caches import remember
from .errors import TYPE_ERROR
from .limits import (
    DELETE_BIT,
    GET_BIT,
    HEAD_BIT,
    MAX_CHUNK_SIZE_LEN,
    MAX_CL_LEN,
    MAX_CONTENT_RANGE_LEN,
    MAX_IO_SIZE,
    MAX_LENGTH,
    MAX_RANGE_LEN,
    MIN_CONTENT_RANGE_LEN,
    MIN_HEADER_LINE_LEN,
    MIN_RANGE_LEN,
    MIN_REQUEST_LINE_LEN,
    MIN_STATUS_LINE_LEN,
    POST_BIT,
    PUT_BIT,
    PUT_POST_MASK,
    SCRATCH_LEN,
)
from .ranges import ContentRange, Range
from .tables import (
    DECIMAL_BYTES,
    EXTKEY_BYTES,
    EXTVAL_BYTES,
    HEXADECIMAL_BYTES,
    NAME_BYTES,
    PATH_BYTES,
    QUERY_BYTES,
    REASON_BYTES,
    URI_BYTES,
    VAL_BYTES,
)

Headers = Dict[str, Any]

# A request line ends with exactly this protocol marker.
PROTOCOL_SUFFIX = b' HTTP/1.1'
# A status line starts with this.
STATUS_PREFIX = b'HTTP/1.1 '
CRLF = b'\r\n'

# The five methods and their bits, keyed by their bytes spelling (for the
# wire) and by their str spelling (for apps).  Two dicts, not one with mixed
# keys: comparing bytes with str would warn under ``python -bb``.
_METHODS: Dict[bytes, Tuple[str, int]] = {}
_METHOD_NAMES: Dict[str, Tuple[str, int]] = {}
for _name, _bit in (
    ('GET', GET_BIT),
    ('PUT', PUT_BIT),
    ('POST', POST_BIT),
    ('HEAD', HEAD_BIT),
    ('DELETE', DELETE_BIT),
):
    _METHODS[_name.encode('ascii')] = (_name, _bit)
    _METHOD_NAMES[_name] = (_name, _bit)

# Bytes allowed in the path part of a URI: path components plus '/'.
_PATH_AND_SLASH = PATH_BYTES + b'/'


# ---------------------------------------------------------------------------
# Request line, URI, status line

def parse_method(src: Union[str, bytes]) -> Tuple[str, int]:
    """Return ``(name, bit)`` for one of the five methods, as str or bytes.

    >>> parse_method(b'PUT')
    ('PUT', 2)
    """
    if type(src) is bytes:
        found = _METHODS.get(src)
    elif type(src) is str:
        found = _METHOD_NAMES.get(src)
    else:
        found = None
    if found is None:
        raise ValueError('bad HTTP method: {!r}'.format(src))
    return found


def parse_uri(src: bytes) -> Tuple[str, List[str], List[str], Optional[str]]:
    """Split a request URI into ``(uri, mount, path, query)``.

    ``mount`` is always a new empty list: routing moves components there.
    No percent-decoding happens (``%`` is refused in the path), an empty
    component (``//``) and a ``..`` component are refused, so a path can
    be joined onto a directory without surprises.
    """
    if not src:
        raise ValueError('uri is empty')
    if src.translate(None, URI_BYTES):
        raise ValueError('bad bytes in uri: {!r}'.format(src))
    p, sep, q = src.partition(b'?')
    if p[0:1] != b'/':
        raise ValueError("path[0:1] != b'/': {!r}".format(p))
    if b'//' in p:
        raise ValueError("b'//' in path: {!r}".format(p))
    path: List[str]
    if p == b'/':
        path = []
    else:
        if p.translate(None, _PATH_AND_SLASH):
            # Some component holds a query byte; find and name the first.
            for component in p[1:].split(b'/'):
                _check_path_component(component)
        path = p[1:].decode('ascii').split('/')
        if '..' in path:
            raise ValueError("bad path component: b'..'")
    query: Optional[str] = None
    if sep:
        if q.translate(None, QUERY_BYTES):
            raise ValueError('bad bytes in query: {!r}'.format(q))
        query = q.decode('ascii')
    return (src.decode('ascii'), [], path, query)


def _check_path_component(component: bytes) -> None:
    if component == b'..':
        raise ValueError("bad path component: b'..'")
    if component.translate(None, PATH_BYTES):
        raise ValueError('bad bytes in path component: {!r}'.format(component))


def parse_request_line(
    line: bytes,
) -> Tuple[str, str, List[str], List[str], Optional[str]]:
    """Parse ``b'GET /foo?q HTTP/1.1'`` into ``(method, uri, mount, path, query)``."""
    if len(line) < MIN_REQUEST_LINE_LEN:
        raise ValueError('request line too short: {!r}'.format(line))
    if line[-9:] != PROTOCOL_SUFFIX:
        raise ValueError('bad protocol in request line: {!r}'.format(line[-9:]))
    left, sep, right = line[:-9].partition(b' /')
    if not sep:
        raise ValueError('bad request line: {!r}'.format(line))
    method = _METHODS.get(left)
    if method is None:
        raise ValueError('bad HTTP method: {!r}'.format(left))
    (uri, mount, path, query) = parse_uri(b'/' + right)
    return (method[0], uri, mount, path, query)


def parse_response_line(line: bytes) -> Tuple[int, str]:
    """Parse ``b'HTTP/1.1 200 OK'`` into ``(200, 'OK')``."""
    if len(line) < MIN_STATUS_LINE_LEN:
        raise ValueError('response line too short: {!r}'.format(line))
    if line[0:9] != STATUS_PREFIX or line[12:13] != b' ':
        raise ValueError('bad response line: {!r}'.format(line))
    digits = line[9:12]
    if digits.translate(None, DECIMAL_BYTES) or not (100 <= int(digits) <= 599):
        raise ValueError('bad status: {!r}'.format(digits))
    reason = line[13:]
    if reason.translate(None, REASON_BYTES):
        raise ValueError('bad reason: {!r}'.format(reason))
    return (int(digits), reason.decode('ascii'))


# ---------------------------------------------------------------------------
# Header names and the values with a dedicated parser

def parse_header_name(src: bytes) -> str:
    """Validate a header name (any case) and return it lower-cased."""
    if not src:
        raise ValueError('header name is empty')
    if len(src) > SCRATCH_LEN:
        raise ValueError('header name too long: {!r}...'.format(src[:SCRATCH_LEN]))
    if src.translate(None, NAME_BYTES):
        raise ValueError('bad bytes in header name: {!r}'.format(src))
    return src.lower().decode('ascii')


def _decimal(src: bytes) -> int:
    """Return the value of 1-16 plain digits without a leading zero, else -1."""
    if (
        not src
        or len(src) > MAX_CL_LEN
        or src.translate(None, DECIMAL_BYTES)
        or (src[0] == 48 and len(src) != 1)  # 48 == ord('0')
    ):
        return -1
    return int(src)


def parse_content_length(src: bytes) -> int:
    """``b'1234'`` -> ``1234``; no sign, no leading zeros, at most 16 digits."""
    if len(src) > MAX_CL_LEN:
        raise ValueError('content-length too long: {!r}...'.format(src[:MAX_CL_LEN]))
    value = _decimal(src)
    if value < 0:
        raise ValueError('bad content-length: {!r}'.format(src))
    return value


def parse_range(src: bytes) -> Range:
    """``b'bytes=16-20'`` -> ``Range(16, 21)``: one closed range, nothing else."""
    if len(src) > MAX_RANGE_LEN:
        raise ValueError('range too long: {!r}...'.format(src[:MAX_RANGE_LEN]))
    if len(src) >= MIN_RANGE_LEN and src[0:6] == b'bytes=':
        a, sep, b = src[6:].partition(b'-')
        start = _decimal(a)
        end = _decimal(b)
        if sep and 0 <= start <= end < MAX_LENGTH:
            return Range(start, end + 1)
    raise ValueError('bad range: {!r}'.format(src))


def parse_content_range(src: bytes) -> ContentRange:
    """``b'bytes 16-16/23'`` -> ``ContentRange(16, 17, 23)``."""
    if len(src) > MAX_CONTENT_RANGE_LEN:
        raise ValueError(
            'content-range too long: {!r}...'.format(src[:MAX_CONTENT_RANGE_LEN])
        )
    if len(src) >= MIN_CONTENT_RANGE_LEN and src[0:6] == b'bytes ':
        a, sep1, rest = src[6:].partition(b'-')
        b, sep2, c = rest.partition(b'/')
        start = _decimal(a)
        end = _decimal(b)
        total = _decimal(c)
        if sep1 and sep2 and 0 <= start <= end < total <= MAX_LENGTH:
            return ContentRange(start, end + 1, total)
    raise ValueError('bad content-range: {!r}'.format(src))


def _parse_transfer_encoding(src: bytes) -> str:
    if src != b'chunked':
        raise ValueError('bad transfer-encoding: {!r}'.format(src))
    return 'chunked'


def _parse_value(src: bytes) -> str:
    if not src:
        raise ValueError('header value is empty')
    if src.translate(None, VAL_BYTES):
        raise ValueError('bad bytes in header value: {!r}'.format(src))
    return src.decode('ascii')


# ---------------------------------------------------------------------------
# Header blocks and whole preambles

def parse_header_line(line: bytes) -> Tuple[str, Any]:
    """Parse one ``b'Name: value'`` line into ``(name, value)``."""
    if len(line) < MIN_HEADER_LINE_LEN:
        raise ValueError('header line too short: {!r}'.format(line))
    (name_b, sep, value_b) = line.partition(b': ')
    if not sep:
        raise ValueError('bad header line: {!r}'.format(line))
    name = parse_header_name(name_b)
    value: Any
    if name == 'content-length':
        value = parse_content_length(value_b)
    elif name == 'transfer-encoding':
        value = _parse_transfer_encoding(value_b)
    elif name == 'range':
        value = parse_range(value_b)
    elif name == 'content-range':
        value = parse_content_range(value_b)
    else:
        value = _parse_value(value_b)
    return (name, value)


# Lines repeat from message to message ('HTTP/1.1 200 OK', 'Host: ...',
# 'Content-Length: 100'), so each line parser remembers the results for the
# lines it has already accepted (degu.caches: bounded, holding only what the
# full checks returned); a line it has not seen goes through those checks.

# Whole preambles repeat as well (the same request shape, over and over on a
# keep-alive connection), so the short ones are remembered whole; callers
# always get fresh copies of the mutable parts (the headers dict, the path
# list).  Longer preambles are rare and would make the cache costly.
PREAMBLE_CACHE_LEN = 256
_requests: Dict[bytes, Tuple[str, str, Headers, Tuple[str, ...], Optional[str]]] = {}
_responses: Dict[bytes, Tuple[int, str, Headers]] = {}

_request_lines: Dict[bytes, Tuple[str, str, Tuple[str, ...], Optional[str], int]] = {}
_status_lines: Dict[bytes, Tuple[int, str]] = {}
_header_lines: Dict[bytes, Tuple[str, Any]] = {}


def _parse_header_lines(lines: List[bytes], isresponse: bool) -> Headers:
    headers: Headers = {}
    cache = _header_lines
    for line in lines:
        item = cache.get(line)
        if item is None:
            item = remember(cache, line, parse_header_line(line))
        name = item[0]
        if name in headers:
            raise ValueError('duplicate header: {!r}'.format(line))
        headers[name] = item[1]
    if ('range' in headers or 'content-range' in headers
            or ('content-length' in headers and 'transfer-encoding' in headers)):
        _check_header_combinations(headers, isresponse)
    return headers


def _check_header_combinations(headers: Headers, isresponse: bool) -> None:
    framed = 'content-length' in headers or 'transfer-encoding' in headers
    if framed and 'content-length' in headers and 'transfer-encoding' in headers:
        raise ValueError(
            'cannot have both content-length and transfer-encoding headers'
        )
    if 'range' in headers:
        if framed:
            raise ValueError(
                'cannot include range header and content-length/transfer-encoding'
            )
        if isresponse:
            raise ValueError("response cannot include a 'range' header")
    if not isresponse and 'content-range' in headers:
        raise ValueError("request cannot include a 'content-range' header")


def parse_headers(src: bytes, isresponse: Any = False) -> Headers:
    """Parse CRLF-separated header lines (no trailing CRLF) into a dict.

    >>> parse_headers(b'Content-Length: 12\\r\\nX-Thing: foo')
    {'content-length': 12, 'x-thing': 'foo'}
    """
    if type(isresponse) is not bool:
        raise TypeError(
            TYPE_ERROR.format('isresponse', bool, type(isresponse), isresponse)
        )
    if not src:
        return {}
    return _parse_header_lines(src.split(CRLF), isresponse)


def parse_request_strict(
    preamble: bytes,
) -> Tuple[str, str, Headers, List[str], Optional[str]]:
    """``parse_request()`` without the line caches: the reference for tests."""
    lines = preamble.split(CRLF)
    (method, uri, _mount, path, query) = parse_request_line(lines[0])
    headers = _parse_header_lines_strict(lines[1:], False)
    _check_request_framing(method, headers)
    return (method, uri, headers, path, query)


def parse_response_strict(preamble: bytes) -> Tuple[int, str, Headers]:
    """``parse_response()`` without the line caches: the reference for tests."""
    lines = preamble.split(CRLF)
    (status, reason) = parse_response_line(lines[0])
    return (status, reason, _parse_header_lines_strict(lines[1:], True))


def _parse_header_lines_strict(lines: List[bytes], isresponse: bool) -> Headers:
    headers: Headers = {}
    for line in lines:
        (name, value) = parse_header_line(line)
        if name in headers:
            raise ValueError('duplicate header: {!r}'.format(line))
        headers[name] = value
    _check_header_combinations(headers, isresponse)
    return headers


def _check_request_framing(method: str, headers: Headers) -> None:
    """Only ``PUT`` and ``POST`` may carry a body.

    ``content-length: 0`` is tolerated on the others (it says there is no
    body; ``requests`` sends it with ``DELETE``).
    """
    if not (_METHOD_NAMES[method][1] & PUT_POST_MASK):
        for name in ('content-length', 'transfer-encoding'):
            if name in headers and headers[name] != 0:
                raise ValueError(
                    '{!r} request with a {!r} header'.format(method, name)
                )


def parse_request(
    preamble: bytes,
) -> Tuple[str, str, Headers, List[str], Optional[str]]:
    """Parse a request preamble into ``(method, uri, headers, path, query)``.

    Only ``PUT`` and ``POST`` may carry a framing header (and so a body).

    >>> parse_request(b'POST /foo?q=1 HTTP/1.1\\r\\nContent-Length: 3')
    ('POST', '/foo?q=1', {'content-length': 3}, ['foo'], 'q=1')
    """
    if len(preamble) <= PREAMBLE_CACHE_LEN:
        known = _requests.get(preamble)
        if known is not None:
            return (known[0], known[1], dict(known[2]), list(known[3]), known[4])
    lines = preamble.split(CRLF)
    line = lines[0]
    first = _request_lines.get(line)
    if first is None:
        first = _remember_request_line(line)
    if len(lines) > 1:
        del lines[0]
        headers = _parse_header_lines(lines, False)
        if not (first[4] & PUT_POST_MASK):
            _check_request_framing(first[0], headers)
    else:
        headers = {}
    if len(preamble) <= PREAMBLE_CACHE_LEN:
        remember(_requests, preamble,
                 (first[0], first[1], dict(headers), first[2], first[3]))
    return (first[0], first[1], headers, list(first[2]), first[3])


def _remember_request_line(
    line: bytes,
) -> Tuple[str, str, Tuple[str, ...], Optional[str], int]:
    (method, uri, _mount, path, query) = parse_request_line(line)
    return remember(_request_lines, line,
                    (method, uri, tuple(path), query, _METHOD_NAMES[method][1]))


def parse_response(preamble: bytes) -> Tuple[int, str, Headers]:
    """Parse a response preamble into ``(status, reason, headers)``.

    >>> parse_response(b'HTTP/1.1 200 OK\\r\\nContent-Length: 12')
    (200, 'OK', {'content-length': 12})
    """
    if len(preamble) <= PREAMBLE_CACHE_LEN:
        known = _responses.get(preamble)
        if known is not None:
            return (known[0], known[1], dict(known[2]))
    lines = preamble.split(CRLF)
    line = lines[0]
    first = _status_lines.get(line)
    if first is None:
        first = remember(_status_lines, line, parse_response_line(line))
    if len(lines) > 1:
        del lines[0]
        headers = _parse_header_lines(lines, True)
    else:
        headers = {}
    if len(preamble) <= PREAMBLE_CACHE_LEN:
        remember(_responses, preamble, (first[0], first[1], dict(headers)))
    return (first[0], first[1], headers)


# ---------------------------------------------------------------------------
# Chunked transfer encoding

def parse_chunk_size(src: bytes) -> int:
    """``b'1a'`` -> ``26``; 1-7 hex digits (either case), no leading zero."""
    if len(src) > MAX_CHUNK_SIZE_LEN:
        raise ValueError(
            'chunk_size is too long: {!r}...'.format(src[:MAX_CHUNK_SIZE_LEN])
        )
    if (
        not src
        or src.translate(None, HEXADECIMAL_BYTES)
        or (src[0] == 48 and len(src) != 1)
    ):
        raise ValueError('bad chunk_size: {!r}'.format(src))
    size = int(src, 16)
    if size > MAX_IO_SIZE:
        raise ValueError('need chunk_size <= {}; got {}'.format(MAX_IO_SIZE, size))
    return size


def parse_chunk_extension(src: bytes) -> Tuple[str, str]:
    """``b'key=value'`` -> ``('key', 'value')``, split at the first ``=``."""
    key, sep, value = src.partition(b'=')
    if not (key and sep and value):
        raise ValueError('bad chunk extension: {!r}'.format(src))
    if key.translate(None, EXTKEY_BYTES):
        raise ValueError('bad chunk extension key: {!r}'.format(key))
    if value.translate(None, EXTVAL_BYTES):
        raise ValueError('bad chunk extension value: {!r}'.format(value))
    return (key.decode('ascii'), value.decode('ascii'))


def parse_chunk(src: bytes) -> Tuple[int, Optional[Tuple[str, str]]]:
    """Parse a chunk-size line without its CRLF into ``(size, extension)``.

    >>> parse_chunk(b'1000000;k=v')
    (16777216, ('k', 'v'))
    """
    size_b, sep, ext_b = src.partition(b';')
    size = parse_chunk_size(size_b)
    if sep:
        return (size, parse_chunk_extension(ext_b))
    return (size, None)
