# SPDX-License-Identifier: LGPL-3.0-or-later
"""Parse the HTTP/1.1 subset Degu speaks: pure functions from bytes to values.

This module is the grammar, and only the grammar: each rule is a named
function below the RFC rule it implements, and nothing here remembers
anything between calls.  (The remembered fast path that ``degu.messages``
uses wraps these functions from outside: see ``degu.caches``.)

The contract every function here follows:

* It takes ``bytes`` (one field, one line, or one whole preamble without its
  final ``b'\\r\\n\\r\\n'``) and never touches a socket; reading bytes off the
  wire is ``degu.sockio``'s job, deciding what a parsed message means is
  ``degu.messages``' job.
* It returns plain Python values (``str``, ``int``, ``list``, ``dict``,
  ``Range``, ``ContentRange``), or raises a ``ProtocolError`` (a
  ``ValueError``; see ``degu.errors``) whose class says which HTTP status
  the fault deserves and whose message names the offending bytes.  Nothing
  is repaired, trimmed or guessed: anything outside the subset is refused.
* It validates whole fields at C speed (``bytes.translate`` with a delete
  table from ``degu.tables``, ``partition``, ``find``) and never loops over
  bytes in Python.  Numbers are checked to be plain ASCII digits *before*
  ``int()`` sees them, because ``int()`` alone also accepts ``b'+5'``,
  ``b' 5'`` and ``b'1_0'``.

The subset, rule by rule (``SP`` is one space, ``CRLF`` is ``b'\\r\\n'``;
the tables are those of ``degu.tables``)::

    request-preamble  = request-line *( CRLF header-line )
    response-preamble = status-line *( CRLF header-line )
    request-line      = method SP uri SP "HTTP/1.1"
    method            = "GET" / "HEAD" / "PUT" / "POST" / "DELETE"
    uri               = 1*( "/" segment ) [ "?" query ]   ; at most 8 KiB
    segment           = *( PATH / "%" HEXDIG HEXDIG )     ; not "." or ".."
    query             = *( QUERY / "%" HEXDIG HEXDIG )
    status-line       = "HTTP/1.1" SP 3DIGIT [ SP reason ] ; 100..599
    reason            = *REASON
    header-line       = name ": " value                   ; exactly one space
    name              = 1*64NAME                          ; any case
    value             = VAL-but-SP [ *VAL VAL-but-SP ]    ; no edge spaces
    content-length    = "0" / ( %x31-39 *15DIGIT )
    transfer-encoding = "chunked"                         ; any case
    range             = "bytes=" ( number "-" [ number ] / "-" number )
    content-range     = "bytes " ( number "-" number "/" number / "*/" number )
    chunk-size-line   = 1*7HEXDIG [ ";" ext-key "=" ext-value ]
"""

from typing import Any, Dict, List, Optional, Tuple, Union

from .errors import (
    TYPE_ERROR,
    ContentTooLargeError,
    HeadersTooLargeError,
    ProtocolError,
    UnsupportedError,
    URITooLongError,
    VersionError,
)
from .limits import (
    MAX_CHUNK_SIZE_LEN,
    MAX_CL_LEN,
    MAX_CONTENT_RANGE_LEN,
    MAX_HEADER_NAME_LEN,
    MAX_IO_SIZE,
    MAX_LENGTH,
    MAX_RANGE_LEN,
    MAX_URI_LEN,
    METHOD_BITS,
    MIN_HEADER_LINE_LEN,
    MIN_REQUEST_LINE_LEN,
    MIN_STATUS_LINE_LEN,
    PUT_POST_MASK,
)
from .ranges import ContentRange, Range
from .tables import (
    DECIMAL_BYTES,
    EXTKEY_BYTES,
    EXTVAL_BYTES,
    HEXADECIMAL_BYTES,
    NAME_BYTES,
    REASON_BYTES,
    TOKEN_BYTES,
    URI_BYTES,
    VAL_BYTES,
)

Headers = Dict[str, Any]

CRLF = b'\r\n'
# A request line ends with exactly this protocol marker.
PROTOCOL_SUFFIX = b' HTTP/1.1'
# A status line starts with this.
STATUS_PREFIX = b'HTTP/1.1 '

# The five methods and their bits, keyed by their bytes spelling (for the
# wire) and by their str spelling (for apps).  Two dicts, not one with mixed
# keys: comparing bytes with str would warn under ``python -bb``.
_METHODS: Dict[bytes, Tuple[str, int]] = {
    name.encode('ascii'): (name, bit) for (name, bit) in METHOD_BITS.items()
}
_METHOD_NAMES: Dict[str, Tuple[str, int]] = {
    name: (name, bit) for (name, bit) in METHOD_BITS.items()
}


# ---------------------------------------------------------------------------
# Pieces shared by several rules

def _is_token(src: bytes) -> bool:
    """RFC 9110 section 5.6.2: ``token = 1*tchar``."""
    return bool(src) and not src.translate(None, TOKEN_BYTES)


def _is_version(src: bytes) -> bool:
    """RFC 9112 section 2.3: ``HTTP-version = "HTTP/" DIGIT "." DIGIT``."""
    return (
        len(src) == 8
        and src[0:5] == b'HTTP/'
        and src[6:7] == b'.'
        and not (src[5:6] + src[7:8]).translate(None, DECIMAL_BYTES)
    )


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


def _percent_decode(src: bytes) -> Optional[bytes]:
    """RFC 3986 section 2.1: decode each ``"%" HEXDIG HEXDIG``; None if malformed."""
    pieces = src.split(b'%')
    plain = [pieces[0]]
    for piece in pieces[1:]:
        digits = piece[0:2]
        if len(digits) != 2 or digits.translate(None, HEXADECIMAL_BYTES):
            return None
        plain.append(bytes([int(digits, 16)]))
        plain.append(piece[2:])
    return b''.join(plain)


# ---------------------------------------------------------------------------
# RFC 9112 section 3: the request line
#
#     request-line = method SP request-target SP HTTP-version

def parse_method(src: Any) -> Tuple[str, int]:
    """Return ``(name, bit)`` for one of the five methods, as str or bytes.

    RFC 9110 section 9.1: ``method = token``, case-sensitive.  From the wire
    (bytes), a token that names another method is a ``UnsupportedError``
    (501) and anything else a ``ProtocolError`` (400); a str (from an app)
    that is not one of the five is a plain ``ValueError``.

    >>> parse_method(b'PUT')
    ('PUT', 2)
    """
    found: Optional[Tuple[str, int]] = None
    if type(src) is bytes:
        found = _METHODS.get(src)
        if found is None:
            error = UnsupportedError if _is_token(src) else ProtocolError
            raise error('bad HTTP method: {!r}'.format(src))
    elif type(src) is str:
        found = _METHOD_NAMES.get(src)
    if found is None:
        raise ValueError('bad HTTP method: {!r}'.format(src))
    return found


def parse_uri(src: bytes) -> Tuple[str, List[str], List[str], Optional[str]]:
    """Split a request target into ``(uri, mount, path, query)``.

    RFC 9112 section 3.2.1: ``origin-form = absolute-path [ "?" query ]``
    (RFC 3986 sections 3.3 and 3.4), at most ``MAX_URI_LEN`` bytes (else
    ``URITooLongError``, 414).  ``mount`` is always a new empty list: routing
    moves components there.  Escapes (``%HH``) stay undecoded in the result.
    """
    if not src:
        raise ProtocolError('uri is empty')
    if len(src) > MAX_URI_LEN:
        raise URITooLongError(
            'need len(uri) <= {}; got {}'.format(MAX_URI_LEN, len(src))
        )
    if src.translate(None, URI_BYTES):
        raise ProtocolError('bad bytes in uri: {!r}'.format(src))
    (p, sep, q) = src.partition(b'?')
    if p[0:1] != b'/':
        raise ProtocolError("path[0:1] != b'/': {!r}".format(p))
    path = _parse_path(p)
    query: Optional[str] = None
    if sep:
        query = _parse_query(q)
    return (src.decode('ascii'), [], path, query)


def _parse_path(src: bytes) -> List[str]:
    """``absolute-path = 1*( "/" segment )``; no empty segment but the last."""
    if b'//' in src:
        raise ProtocolError("b'//' in path: {!r}".format(src))
    if src == b'/':
        return []
    if b'/.' in src or b'%' in src:
        for segment in src[1:].split(b'/'):
            _check_segment(segment)
    return src[1:].decode('ascii').split('/')


def _check_segment(src: bytes) -> None:
    """``segment = *pchar``, whose decoding is not ``.`` or ``..`` (nor holds
    ``/``, ``\\`` or NUL), so a path joins onto a directory without surprises.
    """
    plain = src
    if b'%' in src:
        decoded = _percent_decode(src)
        if decoded is None:
            raise ProtocolError(
                'bad percent-encoding in path component: {!r}'.format(src)
            )
        if b'/' in decoded or b'\\' in decoded or b'\x00' in decoded:
            raise ProtocolError('bad path component: {!r}'.format(src))
        plain = decoded
    if plain == b'.' or plain == b'..':
        raise ProtocolError('bad path component: {!r}'.format(src))


def _parse_query(src: bytes) -> str:
    """``query = *( pchar / "/" / "?" )``: its escapes are checked, not decoded."""
    if b'%' in src and _percent_decode(src) is None:
        raise ProtocolError('bad percent-encoding in query: {!r}'.format(src))
    return src.decode('ascii')


def parse_request_line(
    line: bytes,
) -> Tuple[str, str, List[str], List[str], Optional[str]]:
    """Parse ``b'GET /foo?q HTTP/1.1'`` into ``(method, uri, mount, path, query)``.

    Another ``HTTP/d.d`` version is a ``VersionError`` (505).
    """
    if len(line) < MIN_REQUEST_LINE_LEN:
        raise ProtocolError('request line too short: {!r}'.format(line))
    if line[-9:] != PROTOCOL_SUFFIX:
        version = line[-9:-8] == b' ' and _is_version(line[-8:])
        error = VersionError if version else ProtocolError
        raise error('bad protocol in request line: {!r}'.format(line[-9:]))
    (left, sep, right) = line[:-9].partition(b' /')
    if not sep:
        raise ProtocolError('bad request line: {!r}'.format(line))
    (method, _bit) = parse_method(left)
    (uri, mount, path, query) = parse_uri(b'/' + right)
    return (method, uri, mount, path, query)


# ---------------------------------------------------------------------------
# RFC 9112 section 4: the status line
#
#     status-line = HTTP-version SP status-code SP [ reason-phrase ]

def parse_response_line(line: bytes) -> Tuple[int, str]:
    """Parse ``b'HTTP/1.1 200 OK'`` into ``(200, 'OK')``.

    The reason may be empty (``b'HTTP/1.1 200 '``; leniently, the space may
    be missing too).  Another ``HTTP/d.d`` version is a ``VersionError``.
    """
    if len(line) < MIN_STATUS_LINE_LEN:
        raise ProtocolError('response line too short: {!r}'.format(line))
    if line[0:9] != STATUS_PREFIX:
        version = line[8:9] == b' ' and _is_version(line[0:8])
        error = VersionError if version else ProtocolError
        raise error('bad response line: {!r}'.format(line))
    if len(line) > 12 and line[12] != 32:  # 32 == ord(' ')
        raise ProtocolError('bad response line: {!r}'.format(line))
    digits = line[9:12]
    if digits.translate(None, DECIMAL_BYTES) or not (100 <= int(digits) <= 599):
        raise ProtocolError('bad status: {!r}'.format(digits))
    reason = line[13:]
    if reason.translate(None, REASON_BYTES):
        raise ProtocolError('bad reason: {!r}'.format(reason))
    return (int(digits), reason.decode('ascii'))


# ---------------------------------------------------------------------------
# RFC 9112 section 5 and RFC 9110 section 5: header lines
#
#     field-line = field-name ":" OWS field-value OWS
#
# Degu's subset: the separator is exactly ": " and the value has no spaces
# at its edges, so a value is exactly the bytes after ": " (nothing to trim).

def parse_header_name(src: bytes) -> str:
    """``field-name = token``, in Degu ``1*64( ALPHA / DIGIT / "-" )``.

    Returned lower-cased; a name longer than ``MAX_HEADER_NAME_LEN`` is a
    ``HeadersTooLargeError`` (431).
    """
    if not src:
        raise ProtocolError('header name is empty')
    if len(src) > MAX_HEADER_NAME_LEN:
        raise HeadersTooLargeError(
            'header name too long: {!r}...'.format(src[:MAX_HEADER_NAME_LEN])
        )
    if src.translate(None, NAME_BYTES):
        raise ProtocolError('bad bytes in header name: {!r}'.format(src))
    return src.lower().decode('ascii')


def _is_field_value(src: bytes) -> bool:
    return (
        bool(src)
        and not src.translate(None, VAL_BYTES)
        and src[0] != 32 and src[-1] != 32  # 32 == ord(' ')
    )


def parse_header_value(src: bytes) -> str:
    """``field-value``, in Degu ``VCHAR`` and ``SP`` without edge spaces."""
    if not src:
        raise ProtocolError('header value is empty')
    if src.translate(None, VAL_BYTES):
        raise ProtocolError('bad bytes in header value: {!r}'.format(src))
    if src[0] == 32 or src[-1] == 32:
        raise ProtocolError(
            'header value starts or ends with a space: {!r}'.format(src)
        )
    return src.decode('ascii')


def parse_content_length(src: bytes) -> int:
    """RFC 9110 section 8.6: ``Content-Length = 1*DIGIT``.

    Degu: no sign, no leading zero, at most ``MAX_CL_LEN`` (16) digits; more
    digits are a ``ContentTooLargeError`` (413).

    >>> parse_content_length(b'1234')
    1234
    """
    if len(src) > MAX_CL_LEN:
        error = (
            ProtocolError if src.translate(None, DECIMAL_BYTES)
            else ContentTooLargeError
        )
        raise error('content-length too long: {!r}...'.format(src[:MAX_CL_LEN]))
    value = _decimal(src)
    if value < 0:
        raise ProtocolError('bad content-length: {!r}'.format(src))
    return value


def parse_transfer_encoding(src: bytes) -> str:
    """RFC 9112 section 6.1: ``Transfer-Encoding = #transfer-coding``.

    Coding names are case-insensitive (section 7); Degu implements
    ``chunked`` alone.  Any other (well-formed) value is an
    ``UnsupportedError`` (501).
    """
    if len(src) == 7 and src.lower() == b'chunked':
        return 'chunked'
    error = UnsupportedError if _is_field_value(src) else ProtocolError
    raise error('bad transfer-encoding: {!r}'.format(src))


def parse_range(src: bytes) -> Optional[Range]:
    """RFC 9110 section 14.2: ``Range = range-unit "=" range-set``.

    Degu understands one range of the ``bytes`` unit (case-insensitive)::

        b'bytes=16-20'  ->  Range(16, 21)      int-range
        b'bytes=16-'    ->  Range(16, None)    int-range without last-pos
        b'bytes=-20'    ->  Range(-20, None)   suffix-range

    A range it does not support (another unit, several ranges, the
    unsatisfiable ``bytes=-0``) returns ``None``: the header is ignored, as
    RFC 9110 section 14.2 allows.  Malformed values are refused.
    """
    if _is_field_value(src):
        (unit, sep, ranges) = src.partition(b'=')
        if sep and _is_token(unit):
            if unit.lower() != b'bytes' or b',' in ranges or ranges == b'-0':
                return None  # a range Degu does not support: ignored
            if len(src) > MAX_RANGE_LEN:
                raise ProtocolError(
                    'range too long: {!r}...'.format(src[:MAX_RANGE_LEN])
                )
            found = _byte_range(ranges)
            if found is not None:
                return found
    raise ProtocolError('bad range: {!r}'.format(src))


def _byte_range(src: bytes) -> Optional[Range]:
    """``int-range / suffix-range`` as a ``Range``, or None if malformed.

    ``int-range = first-pos "-" [ last-pos ]``, ``suffix-range = "-"
    suffix-length``; Degu's numbers have no leading zeros.
    """
    (first, dash, last) = src.partition(b'-')
    if not dash:
        return None
    if not first:
        length = _decimal(last)
        return Range(-length, None) if length > 0 else None
    start = _decimal(first)
    if start < 0:
        return None
    if not last:
        return Range(start, None)
    end = _decimal(last)
    if start <= end < MAX_LENGTH:
        return Range(start, end + 1)
    return None


def parse_content_range(src: bytes) -> Union[ContentRange, str]:
    """RFC 9110 section 14.4: ``Content-Range = range-unit SP range-resp``.

    ``b'bytes 16-16/23'`` -> ``ContentRange(16, 17, 23)``; the
    ``unsatisfied-range`` of a 416, ``b'bytes */23'``, stays the str
    ``'bytes */23'``.  The unit must be ``bytes`` (any case).
    """
    if len(src) > MAX_CONTENT_RANGE_LEN:
        raise ProtocolError(
            'content-range too long: {!r}...'.format(src[:MAX_CONTENT_RANGE_LEN])
        )
    (unit, sep, rest) = src.partition(b' ')
    if sep and unit.lower() == b'bytes':
        if rest[0:2] == b'*/':
            total = _decimal(rest[2:])
            if total >= 0:
                return 'bytes */{}'.format(total)
        else:
            (a, sep1, rest) = rest.partition(b'-')
            (b, sep2, c) = rest.partition(b'/')
            start = _decimal(a)
            end = _decimal(b)
            total = _decimal(c)
            if sep1 and sep2 and 0 <= start <= end < total <= MAX_LENGTH:
                return ContentRange(start, end + 1, total)
    raise ProtocolError('bad content-range: {!r}'.format(src))


def parse_header_line(line: bytes) -> Tuple[str, Any]:
    """Parse one ``b'Name: value'`` line into ``(name, value)``.

    Four names have a structured value (see their parsers); an ignored
    ``range`` gives the value ``None``.
    """
    if len(line) < MIN_HEADER_LINE_LEN:
        raise ProtocolError('header line too short: {!r}'.format(line))
    (name_b, sep, value_b) = line.partition(b': ')
    if not sep:
        raise ProtocolError('bad header line: {!r}'.format(line))
    name = parse_header_name(name_b)
    value: Any
    if name == 'content-length':
        value = parse_content_length(value_b)
    elif name == 'transfer-encoding':
        value = parse_transfer_encoding(value_b)
    elif name == 'range':
        value = parse_range(value_b)
    elif name == 'content-range':
        value = parse_content_range(value_b)
    else:
        value = parse_header_value(value_b)
    return (name, value)


# ---------------------------------------------------------------------------
# The header block as a whole, and whole preambles

def parse_header_lines(lines: List[bytes], isresponse: bool) -> Headers:
    """Parse header lines into a dict; each name at most once (any case)."""
    headers: Headers = {}
    for line in lines:
        (name, value) = parse_header_line(line)
        if name in headers:
            raise ProtocolError('duplicate header: {!r}'.format(line))
        headers[name] = value
    finish_headers(headers, isresponse)
    return headers


def check_header_combinations(headers: Headers, isresponse: bool) -> None:
    """The rules about which headers may appear together.

    A body is framed by exactly one of ``content-length`` and
    ``transfer-encoding`` (two framings are how requests get smuggled);
    ``range`` is for requests without a body, ``content-range`` for
    responses.
    """
    if not ('range' in headers or 'content-range' in headers
            or ('content-length' in headers and 'transfer-encoding' in headers)):
        return
    framed = 'content-length' in headers or 'transfer-encoding' in headers
    if 'content-length' in headers and 'transfer-encoding' in headers:
        raise ProtocolError(
            'cannot have both content-length and transfer-encoding headers'
        )
    if 'range' in headers:
        if framed:
            raise ProtocolError(
                'cannot include range header and content-length/transfer-encoding'
            )
        if isresponse:
            raise ProtocolError("response cannot include a 'range' header")
    if not isresponse and 'content-range' in headers:
        raise ProtocolError("request cannot include a 'content-range' header")


def finish_headers(headers: Headers, isresponse: bool) -> None:
    """Check the combinations, then drop an ignored ``range`` header."""
    check_header_combinations(headers, isresponse)
    if 'range' in headers and headers['range'] is None:
        del headers['range']


def check_request_framing(method: str, headers: Headers) -> None:
    """Only ``PUT`` and ``POST`` may carry a framing header (and so a body).

    ``content-length: 0`` is tolerated on the others: it says there is no
    body (``requests`` sends it with ``DELETE``).
    """
    if not (METHOD_BITS[method] & PUT_POST_MASK):
        for name in ('content-length', 'transfer-encoding'):
            if name in headers and headers[name] != 0:
                raise ProtocolError(
                    '{!r} request with a {!r} header'.format(method, name)
                )


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
    return parse_header_lines(src.split(CRLF), isresponse)


def parse_request(
    preamble: bytes,
) -> Tuple[str, str, Headers, List[str], Optional[str]]:
    """Parse a request preamble into ``(method, uri, headers, path, query)``.

    >>> parse_request(b'POST /foo?q=1 HTTP/1.1\\r\\nContent-Length: 3')
    ('POST', '/foo?q=1', {'content-length': 3}, ['foo'], 'q=1')
    """
    lines = preamble.split(CRLF)
    (method, uri, _mount, path, query) = parse_request_line(lines[0])
    headers = parse_header_lines(lines[1:], False)
    check_request_framing(method, headers)
    return (method, uri, headers, path, query)


def parse_response(preamble: bytes) -> Tuple[int, str, Headers]:
    """Parse a response preamble into ``(status, reason, headers)``.

    >>> parse_response(b'HTTP/1.1 200 OK\\r\\nContent-Length: 12')
    (200, 'OK', {'content-length': 12})
    """
    lines = preamble.split(CRLF)
    (status, reason) = parse_response_line(lines[0])
    return (status, reason, parse_header_lines(lines[1:], True))


# ---------------------------------------------------------------------------
# RFC 9112 section 7.1: chunked transfer coding
#
#     chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF

def parse_chunk_size(src: bytes) -> int:
    """``chunk-size = 1*HEXDIG``; Degu: 1-7 digits, no leading zero, <= 16 MiB.

    A size beyond the limits is a ``ContentTooLargeError`` (413).

    >>> parse_chunk_size(b'1a')
    26
    """
    if len(src) > MAX_CHUNK_SIZE_LEN:
        error = (
            ProtocolError if src.translate(None, HEXADECIMAL_BYTES)
            else ContentTooLargeError
        )
        raise error('chunk_size is too long: {!r}...'.format(src[:MAX_CHUNK_SIZE_LEN]))
    if (
        not src
        or src.translate(None, HEXADECIMAL_BYTES)
        or (src[0] == 48 and len(src) != 1)
    ):
        raise ProtocolError('bad chunk_size: {!r}'.format(src))
    size = int(src, 16)
    if size > MAX_IO_SIZE:
        raise ContentTooLargeError(
            'need chunk_size <= {}; got {}'.format(MAX_IO_SIZE, size)
        )
    return size


def parse_chunk_extension(src: bytes) -> Tuple[str, str]:
    """``chunk-ext = ";" name "=" value``: Degu allows one, split at ``=``.

    >>> parse_chunk_extension(b'key=value')
    ('key', 'value')
    """
    (key, sep, value) = src.partition(b'=')
    if not (key and sep and value):
        raise ProtocolError('bad chunk extension: {!r}'.format(src))
    if key.translate(None, EXTKEY_BYTES):
        raise ProtocolError('bad chunk extension key: {!r}'.format(key))
    if value.translate(None, EXTVAL_BYTES):
        raise ProtocolError('bad chunk extension value: {!r}'.format(value))
    return (key.decode('ascii'), value.decode('ascii'))


def parse_chunk(src: bytes) -> Tuple[int, Optional[Tuple[str, str]]]:
    """Parse a chunk-size line without its CRLF into ``(size, extension)``.

    >>> parse_chunk(b'1000000;k=v')
    (16777216, ('k', 'v'))
    """
    (size_b, sep, ext_b) = src.partition(b';')
    size = parse_chunk_size(size_b)
    if sep:
        return (size, parse_chunk_extension(ext_b))
    return (size, None)
