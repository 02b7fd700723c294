# SPDX-License-Identifier: LGPL-3.0-or-later
"""The remembered fast path: the parser and the renderer, memoised from outside.

Messages repeat.  A keep-alive client sends the same request preamble again
and again; the lines of a preamble (``Host: ...``, ``HTTP/1.1 200 OK``,
``content-length: 12``) recur across messages even when the preambles
differ.  The grammar (``degu.parsing``) and the renderer
(``degu.rendering``) check everything, every time; this module remembers
what those checks produced, so the next message with the same parts skips
them.  ``degu.messages`` reads and writes messages through the four
functions here, which return exactly what their namesakes in
``degu.parsing`` and ``degu.rendering`` return, or raise exactly what they
raise (the fuzz tests compare the two on every input).

Three rules keep that promise:

* **Only what the full checks produced is remembered.**  An entry is stored
  only after the strict function returned it, under a key that determines
  the input completely (the exact bytes of a line; for rendering, exact
  ``str``/``int`` types, so ``1``, ``1.0`` and ``True`` never share an
  entry).  So a cache can never accept what the checks would refuse.
* **Anything irregular goes to the strict function.**  The fast path only
  knows how to succeed: when a step of it fails (a bad line, a repeated
  header name, a bad value) it hands the whole message to the strict
  function, which raises the exact error the grammar gives.
* **Bounded, and fresh copies out.**  Each cache is emptied when it reaches
  ``CACHE_MAX`` entries, so a peer sending endless new lines costs at most
  that much memory and gains nothing but the full checks.  Whole preambles
  are remembered only up to ``PREAMBLE_CACHE_LEN`` bytes; the last one of
  each kind is also kept in front of its cache (a connection repeats it).  Callers always
  get new ``dict``\\ s and ``list``\\ s (the headers, the path), never the
  remembered ones; the other parts are immutable.
"""

from typing import Any, Callable, Dict, Final, List, Optional, Tuple, TypeVar

from .limits import (
    BUF_LEN,
    CACHE_MAX,
    MAX_HEADER_COUNT,
    METHOD_BITS,
    PREAMBLE_CACHE_LEN,
    PUT_POST_MASK,
)
from .parsing import (
    check_header_combinations,
    check_request_framing,
    finish_headers,
    parse_header_line,
    parse_header_lines,
    parse_request_line,
    parse_response_line,
)
from .parsing import parse_request as strict_parse_request
from .parsing import parse_response as strict_parse_response
from .rendering import (
    check_key,
    header_line,
    request_line,
    status_line,
)
from .rendering import render_request as strict_render_request
from .rendering import render_response as strict_render_response

K = TypeVar('K')
V = TypeVar('V')

Headers = Dict[str, Any]
CRLF = b'\r\n'


def remember(cache: Dict[K, V], key: K, value: V) -> V:
    """Store ``cache[key] = value`` (emptying a full cache first); return value."""
    if len(cache) >= CACHE_MAX:
        cache.clear()
    cache[key] = value
    return value


def recall(cache: Dict[K, V], last: List[Tuple[K, Optional[V]]], key: K) -> Optional[V]:
    """``cache.get(key)``, through *last*: the last entry found, in front.

    A keep-alive connection repeats its preamble, and comparing a key with
    the last one costs less than hashing it for the dict.  *last* is a list
    of one ``(key, value)``, replaced whole, so that threads that race can
    only miss; what it holds was in the cache, so it is as good.
    """
    (seen, found) = last[0]
    if seen != key:
        found = cache.get(key)
        if found is not None:
            last[0] = (key, found)
    return found


# ---------------------------------------------------------------------------
# Parsing
#
# Whole preambles -> the parsed message (headers and path kept as a dict and
# a tuple, copied out on every hit); request lines -> (method, uri, path,
# query, method bit); status lines -> (status, reason); header lines ->
# (name, value).

ParsedRequest = Tuple[str, str, Headers, Tuple[str, ...], Optional[str]]
ParsedResponse = Tuple[int, str, Headers]

_requests: Final[Dict[bytes, ParsedRequest]] = {}
_responses: Final[Dict[bytes, ParsedResponse]] = {}

# In front of those two, for recall(): the last preamble found, with what it
# parsed to (b'\r\n\r\n' is never a preamble: it ends one).
_last_request: Final[List[Tuple[bytes, Optional[ParsedRequest]]]] = [(b'\r\n\r\n', None)]
_last_response: Final[List[Tuple[bytes, Optional[ParsedResponse]]]] = [(b'\r\n\r\n', None)]
_request_lines: Final[Dict[bytes, Tuple[str, str, Tuple[str, ...], Optional[str], int]]] = {}
_status_lines: Final[Dict[bytes, Tuple[int, str]]] = {}
_header_lines: Final[Dict[bytes, Tuple[str, Any]]] = {}


def _headers(lines: List[bytes], isresponse: bool) -> Headers:
    """``parsing.parse_header_lines()``, from remembered lines where it can."""
    headers: Headers = {}
    cache = _header_lines
    for line in lines:
        item = cache.get(line)
        if item is None:
            item = remember(cache, line, parse_header_line(line))
        headers[item[0]] = item[1]
    if len(headers) != len(lines):
        # A name repeated: the grammar says which line.
        return parse_header_lines(lines, isresponse)
    finish_headers(headers, isresponse)
    return headers


def _request_line(line: bytes) -> Tuple[str, str, Tuple[str, ...], Optional[str], int]:
    found = _request_lines.get(line)
    if found is None:
        (method, uri, _mount, path, query) = parse_request_line(line)
        found = remember(_request_lines, line,
                         (method, uri, tuple(path), query, METHOD_BITS[method]))
    return found


def parse_request(
    preamble: bytes,
) -> Tuple[str, str, Headers, List[str], Optional[str]]:
    """``degu.parsing.parse_request()``, remembered."""
    if len(preamble) <= PREAMBLE_CACHE_LEN:
        known = recall(_requests, _last_request, preamble)
        if known is not None:
            (method, uri, headers, path, query) = known
            return (method, uri, dict(headers), list(path), query)
    try:
        lines = preamble.split(CRLF)
        (method, uri, path, query, bit) = _request_line(lines[0])
        if len(lines) > 1:
            del lines[0]
            headers = _headers(lines, False)
            if not (bit & PUT_POST_MASK):
                check_request_framing(method, headers)
        else:
            headers = {}
    except ValueError:
        return strict_parse_request(preamble)
    if len(preamble) <= PREAMBLE_CACHE_LEN:
        _last_request[0] = (preamble, remember(
            _requests, preamble, (method, uri, dict(headers), path, query)))
    return (method, uri, headers, list(path), query)


def parse_response(preamble: bytes) -> Tuple[int, str, Headers]:
    """``degu.parsing.parse_response()``, remembered."""
    if len(preamble) <= PREAMBLE_CACHE_LEN:
        known = recall(_responses, _last_response, preamble)
        if known is not None:
            (status, reason, headers) = known
            return (status, reason, dict(headers))
    try:
        lines = preamble.split(CRLF)
        line = lines[0]
        first = _status_lines.get(line)
        if first is None:
            first = remember(_status_lines, line, parse_response_line(line))
        (status, reason) = first
        if len(lines) > 1:
            del lines[0]
            headers = _headers(lines, True)
        else:
            headers = {}
    except ValueError:
        return strict_parse_response(preamble)
    if len(preamble) <= PREAMBLE_CACHE_LEN:
        _last_response[0] = (preamble, remember(
            _responses, preamble, (status, reason, dict(headers))))
    return (status, reason, headers)


# ---------------------------------------------------------------------------
# Rendering
#
# Whole preambles first: (first-line fields, then each header's name and
# value) -> the rendered bytes, for str names with str or int values (see
# _whole_key()).  Behind them, for what they miss:
#
# First lines, remembered with the names of the headers that follow them:
# (method, uri, names) -> request line, (status, reason, names) -> status
# line, stored once the line, every name, and the header-set rules passed
# (those rules depend on nothing but the names present and the method).
# Header lines: (name, value type, value) -> '\r\nname: value', for str and
# int values only.

_request_lines_for: Final[Dict[Tuple[Any, ...], str]] = {}
_status_lines_for: Final[Dict[Tuple[Any, ...], str]] = {}
_rendered_lines: Final[Dict[Tuple[str, type, Any], str]] = {}


def _check_names(headers: Headers, method: str) -> None:
    """Each check of ``degu.rendering`` that depends only on the names (and
    the method of a request; ``''`` for a response).
    """
    if len(headers) - ('connection' in headers) > MAX_HEADER_COUNT:
        raise ValueError(len(headers))
    for name in headers:
        check_key(name)
    check_header_combinations(headers, not method)
    if method:
        check_request_framing(method, headers)


def _join(first_line: str, headers: Headers) -> bytes:
    """The preamble of *first_line* and *headers*, from remembered lines.

    Like every step of the fast path, it raises ``TypeError`` or
    ``ValueError`` (with no useful message) when anything is wrong: the
    caller then asks the strict renderer.
    """
    out = first_line
    lines = _rendered_lines
    for name in (sorted(headers) if len(headers) > 1 else headers):
        if type(name) is not str:  # equal to a good name, but not a str
            raise TypeError(name)
        value = headers[name]
        kind = type(value)
        if kind is str or kind is int:
            cache_key = (name, kind, value)
            line = lines.get(cache_key)
            if line is None:
                line = remember(lines, cache_key, header_line(name, value))
        else:
            line = header_line(name, value)
        out += line
    out += '\r\n\r\n'
    if len(out) > BUF_LEN:
        raise ValueError(len(out))
    return out.encode('ascii')


def _whole_key(first: Any, second: Any,
               headers: Dict[Any, Any]) -> Optional[Tuple[Any, ...]]:
    """The key of a whole rendered preamble: every field, of exact types.

    Only ``str`` names with ``str`` or ``int`` values make a key: equal is
    not enough (``1``, ``1.0`` and ``True`` are equal and hash alike, but
    render differently or not at all).  Anything else has no key (``None``:
    the caller then takes the path below it).  One header (a response's
    ``content-length``, say) makes its tuple at once, without the list.
    (*headers* is typed ``Dict[Any, Any]``, so that a compiled build looks at
    a name that is not a ``str`` here, rather than failing on it.)
    """
    if len(headers) == 1:
        for (name, value) in headers.items():
            if type(name) is not str or (type(value) is not str and type(value) is not int):
                return None
            return (first, second, name, value)
    key: List[Any] = [first, second]
    for (name, value) in headers.items():
        if type(name) is not str or (type(value) is not str and type(value) is not int):
            return None
        key.append(name)
        key.append(value)
    return tuple(key)


# Whole preambles, keyed by _whole_key(): stored once the checks of the line
# cache below passed, for str names with str and int values only (the only
# ones whose hash says everything about how they render).
_whole_requests: Final[Dict[Tuple[Any, ...], bytes]] = {}
_whole_responses: Final[Dict[Tuple[Any, ...], bytes]] = {}
# The last of each found, in front (see recall()).
_last_whole_request: Final[List[Tuple[Tuple[Any, ...], Optional[bytes]]]] = [((), None)]
_last_whole_response: Final[List[Tuple[Tuple[Any, ...], Optional[bytes]]]] = [((), None)]


def render_request(method: Any, uri: Any, headers: Any) -> bytes:
    """``degu.rendering.render_request()``, remembered."""
    if type(method) is str and type(uri) is str and type(headers) is dict:
        whole = _whole_key(method, uri, headers)
        if whole is not None:
            found = recall(_whole_requests, _last_whole_request, whole)
            if found is not None:
                return found
        found = _remembered(_whole_requests, _request_lines_for, request_line,
                            method, uri, headers, method, whole)
        if found is not None:
            return found
    return strict_render_request(method, uri, headers)


def render_response(status: Any, reason: Any, headers: Any) -> bytes:
    """``degu.rendering.render_response()``, remembered."""
    if type(status) is int and type(reason) is str and type(headers) is dict:
        whole = _whole_key(status, reason, headers)
        if whole is not None:
            found = recall(_whole_responses, _last_whole_response, whole)
            if found is not None:
                return found
        found = _remembered(_whole_responses, _status_lines_for, status_line,
                            status, reason, headers, '', whole)
        if found is not None:
            return found
    return strict_render_response(status, reason, headers)


def _remembered(wholes: Dict[Tuple[Any, ...], bytes],
                lines: Dict[Tuple[Any, ...], str],
                make_line: Callable[[Any, Any], str],
                first: Any, second: Any, headers: Dict[str, Any],
                method: str, whole: Optional[Tuple[Any, ...]]) -> Optional[bytes]:
    """A preamble not found whole (*whole* is its key, if it has one), from
    the line caches (filling them and, with a key, the whole one), or ``None``.

    ``None`` means the caches cannot vouch for this preamble: the caller then
    renders it with the strict renderer, which raises the exact error.
    *first* and *second* are the method and URI of a request, or the status
    and reason of a response (*method* is then ``''``).
    """
    try:
        key = (first, second, tuple(headers))
        line = lines.get(key)
        if line is None:
            line = make_line(first, second)
            _check_names(headers, method)
            remember(lines, key, line)
        preamble = _join(line, headers)
    except (TypeError, ValueError):
        return None
    if whole is not None:
        remember(wholes, whole, preamble)
    return preamble
