# SPDX-License-Identifier: LGPL-3.0-or-later
"""A strict checker of the RGI contract, for use while developing an app.

RGI (REST Gateway Interface) is the application interface of Degu::

    app(session, request, api) -> (status, reason, headers, body)
    app.on_connect(session, sock) -> bool          # optional

Wrap an app in ``Validator(app)`` and every call is checked *before* the app
runs (is the server keeping its side of the contract?) and *after* it returns
(is the app keeping its side?).  The first broken rule raises ``TypeError``
(a value of the wrong type) or ``ValueError`` (a value of the right type that
breaks a rule); the message names the offending attribute and shows its value.
Type checks are exact (``type(x) is T``): ``bool`` is not an ``int`` here.

This module imports nothing from ``degu``, so an app author can copy it into
another project and validate against any RGI server.  Everything is therefore
duck-typed:

* ``session``: attributes ``address``, ``requests``, ``store``.
* ``request``: attributes ``method``, ``uri``, ``headers``, ``body``,
  ``mount``, ``path``, ``query``.
* Body objects are told apart by their ``chunked`` attribute (exactly
  ``True`` or ``False``) and must have a ``state`` (0 = ready, 2 = consumed):

  - ``chunked is False`` (``Body``, ``BodyIter``): needs ``content_length``,
    an ``int`` >= 0;
  - ``chunked is True`` (``ChunkedBody``, ``ChunkedBodyIter``): must have
    *no* ``content_length`` attribute.

  Response bodies may also be ``bytes`` or ``bytearray``; request bodies are
  only ever ``Body`` or ``ChunkedBody`` (or ``None``).
* Header values are ``str``, except ``content-length`` (an ``int`` >= 0) and
  ``range`` / ``content-range``, which may also be a ``Range`` /
  ``ContentRange`` object.  Those are recognised **by class name**
  (``type(value).__name__``), not by their ``str()`` form: calling ``__str__``
  could run arbitrary code, and the class name is what both the real
  ``degu.base`` classes and vendored look-alikes share.
* A response is an exact ``tuple`` of 4 items, or a namedtuple with the fields
  ``status reason headers body`` (such as the ``Response`` a client connection
  returns, which a reverse proxy may hand back unchanged).

Framing rules: a request carries ``content-length`` exactly when its body is
not chunked (with the body's length) and ``transfer-encoding: chunked`` exactly
when it is.  A response may omit its framing header (the server adds it), but
a framing header that is present must agree with the body; a response without
a body has no framing header, except the response to ``HEAD``, where one may
describe the entity that a ``GET`` would have returned.  No message ever has
both framing headers.
"""

from typing import Any, Callable, Dict, List, Optional

__all__ = ('REQUEST_METHODS', 'LENGTH', 'ENCODING', 'TYPE_ERROR', 'Validator')

REQUEST_METHODS = ('GET', 'PUT', 'POST', 'DELETE', 'HEAD')
LENGTH = 'content-length'
ENCODING = 'transfer-encoding'
TYPE_ERROR = '{}: need a {!r}; got a {!r}: {!r}'

# Only these methods may carry a request body.
BODY_METHODS = ('PUT', 'POST')

# Body states (the same numbers as degu.base.BODY_READY / BODY_CONSUMED).
BODY_READY = 0
BODY_CONSUMED = 2

# Valid statuses of a final response (1xx are interim only).
MIN_STATUS = 200
MAX_STATUS = 599

# Statuses whose responses never have a body (RFC 9110 section 6.4.1).
NO_BODY_STATUSES = (204, 304)

# The largest bytes body, the most headers a response may carry (not
# counting ``connection``, which the server may add), and the longest
# header name: the same numbers as degu.limits.
MAX_BODY_SIZE = 16777216
MAX_HEADER_COUNT = 20
MAX_NAME_LEN = 64

# What an outgoing header name is made of.
NAME_CHARS = frozenset('-0123456789abcdefghijklmnopqrstuvwxyz')

# Header values that may be objects instead of ``str``, by class name.
OBJECT_VALUES = {'range': 'Range', 'content-range': 'ContentRange'}

# The namedtuple a client connection returns, which a reverse proxy may hand
# back as its response: recognised by its name and fields.
RESPONSE_NAME = 'Response'
RESPONSE_FIELDS = ('status', 'reason', 'headers', 'body')

# The original Degu's wording, kept for code (and tests) that match on it.
ON_CONNECT_ERROR = 'app.on_connect() must return a {!r}; got a {!r}: {!r}'

BEFORE = 'before app() is called'
AFTER = 'after app() was called'

# Marks an attribute that an object does not have.
_MISSING: Any = object()


def _check_type(name: str, value: Any, wanted: type) -> None:
    """Raise ``TypeError`` unless ``value`` is exactly of type ``wanted``."""
    if type(value) is not wanted:
        raise TypeError(TYPE_ERROR.format(name, wanted, type(value), value))


def _check_session(session: Any) -> None:
    """The per-connection ``Session`` the server passes in."""
    address = session.address
    if type(address) is tuple:
        if len(address) not in (2, 4):
            raise ValueError(
                'session.address: need a 2-tuple or a 4-tuple; got a {}-tuple'
                .format(len(address))
            )
    elif type(address) is not str and type(address) is not bytes:
        raise TypeError(TYPE_ERROR.format(
            'session.address', (tuple, str, bytes), type(address), address
        ))
    requests = session.requests
    _check_type('session.requests', requests, int)
    if requests < 0:
        raise ValueError(
            'session.requests must be >= 0; got {!r}'.format(requests)
        )
    store = session.store
    _check_type('session.store', store, dict)
    for key in store:
        _check_type('session.store key', key, str)


def _check_headers(name: str, headers: Any) -> None:
    """Check a headers ``dict`` (``name`` is used in messages)."""
    _check_type(name, headers, dict)
    for (key, value) in headers.items():
        _check_type(name + ' key', key, str)
        if key.casefold() != key:
            raise ValueError(
                '{} key must be casefolded; got {!r}'.format(name, key)
            )
        vname = '{}[{!r}]'.format(name, key)
        if key == LENGTH:
            _check_type(vname, value, int)
            if value < 0:
                raise ValueError(
                    '{} must be >= 0; got {!r}'.format(vname, value)
                )
        elif key in OBJECT_VALUES:
            clsname = OBJECT_VALUES[key]
            if type(value) is not str and type(value).__name__ != clsname:
                raise TypeError(
                    '{}: need a {!r} or a {!r}; got a {!r}: {!r}'.format(
                        vname, str, clsname, type(value), value
                    )
                )
        else:
            _check_type(vname, value, str)
            if key == ENCODING and value != 'chunked':
                raise ValueError(
                    "{} must be 'chunked'; got {!r}".format(vname, value)
                )
    if LENGTH in headers and ENCODING in headers:
        raise ValueError(
            '{}: cannot have both content-length and transfer-encoding headers'
            .format(name)
        )


def _rebuild_uri(mount: List[str], path: List[str],
                 query: Optional[str]) -> str:
    """The URI that ``mount``, ``path`` and ``query`` were split from."""
    uri = '/' + '/'.join(mount + path)
    if query is None:
        return uri
    return uri + '?' + query


def _check_uri(request: Any, when: str) -> None:
    """``uri``, ``mount``, ``path``, ``query`` and the invariant tying them.

    Routing moves components from ``path`` to ``mount``, so the URI rebuilt
    from both (plus the query) must still be the URI that was received.
    """
    uri = request.uri
    _check_type('request.uri', uri, str)
    for attr in ('mount', 'path'):
        components = getattr(request, attr)
        _check_type('request.' + attr, components, list)
        for (i, component) in enumerate(components):
            _check_type('request.{}[{}]'.format(attr, i), component, str)
    query = request.query
    if query is not None and type(query) is not str:
        raise TypeError(TYPE_ERROR.format(
            'request.query', (type(None), str), type(query), query
        ))
    rebuilt = _rebuild_uri(request.mount, request.path, query)
    if rebuilt != uri:
        raise ValueError(
            'request.uri must equal the URI rebuilt from request.mount, '
            'request.path and request.query {}; got {!r} != {!r}'.format(
                when, uri, rebuilt
            )
        )


def _check_state(name: str, body: Any, wanted: int, when: str) -> None:
    state = body.state
    if type(state) is not int or state != wanted:
        raise ValueError(
            '{}.state must be {} {}; got {!r}'.format(
                name, wanted, when, state
            )
        )


def _check_body_object(name: str, body: Any, when: str) -> bool:
    """Check a ``Body``-like object; return its ``chunked`` flag."""
    chunked = getattr(body, 'chunked', None)
    if type(chunked) is not bool or not hasattr(body, 'state'):
        raise TypeError(
            '{}: bad body type: {!r}: {!r}'.format(name, type(body), body)
        )
    content_length = getattr(body, 'content_length', _MISSING)
    if chunked:
        if content_length is not _MISSING:
            raise TypeError(
                '{}.chunked is True, so it cannot have a content_length '
                'attribute: {!r}'.format(name, body)
            )
    else:
        if content_length is _MISSING:
            raise TypeError(
                '{}.chunked is False, so it needs a content_length '
                'attribute: {!r}'.format(name, body)
            )
        _check_type(name + '.content_length', content_length, int)
        if content_length < 0:
            raise ValueError('{}.content_length must be >= 0; got {!r}'.format(
                name, content_length
            ))
    _check_state(name, body, BODY_READY, when)
    return chunked


def _check_request(request: Any) -> None:
    """Everything about a ``Request`` before the app sees it."""
    method = request.method
    _check_type('request.method', method, str)
    if method not in REQUEST_METHODS:
        raise ValueError(
            'request.method must be in REQUEST_METHODS; got {!r}'.format(
                method
            )
        )
    _check_uri(request, BEFORE)
    headers = request.headers
    _check_headers('request.headers', headers)
    body = request.body
    if body is None:
        for key in (LENGTH, ENCODING):
            if key in headers:
                raise ValueError(
                    'request.headers must not include {!r} when request.body '
                    'is None'.format(key)
                )
        return
    if method not in BODY_METHODS:
        raise ValueError(
            'request.body must be None when request.method is {!r}; got {!r}'
            .format(method, body)
        )
    if _check_body_object('request.body', body, BEFORE):
        if ENCODING not in headers:
            raise ValueError(
                "request.headers must include 'transfer-encoding' when "
                'request.body.chunked is True'
            )
    else:
        if LENGTH not in headers:
            raise ValueError(
                "request.headers must include 'content-length' when "
                'request.body.chunked is False'
            )
        if headers[LENGTH] != body.content_length:
            raise ValueError(
                "request.headers['content-length'] must be "
                'request.body.content_length ({!r}); got {!r}'.format(
                    body.content_length, headers[LENGTH]
                )
            )
    # The other framing header is absent: _check_headers() refuses both.


def _is_response_tuple(response: Any) -> bool:
    """An exact tuple, or the ``Response`` namedtuple of a client connection."""
    kind = type(response)
    if kind is tuple:
        return True
    return isinstance(response, tuple) and kind.__name__ == RESPONSE_NAME and (
        getattr(kind, '_fields', None) == RESPONSE_FIELDS
    )


def _is_visible(text: str) -> bool:
    """Only printable ASCII: the visible characters (VCHAR) and the space."""
    return text.isascii() and text.isprintable()


def _is_number(text: str) -> bool:
    """1 to 16 ASCII digits, without a leading zero (but ``'0'``)."""
    return (0 < len(text) <= 16 and text.isascii() and text.isdigit()
            and (text[0] != '0' or text == '0'))


def _is_content_range(text: str) -> bool:
    """``bytes START-END/TOTAL`` (``START <= END < TOTAL``) or ``bytes */TOTAL``."""
    if text[:6] != 'bytes ':
        return False
    (span, slash, total) = text[6:].partition('/')
    if not (slash and _is_number(total)):
        return False
    if span == '*':
        return True
    (start, dash, end) = span.partition('-')
    return (bool(dash) and _is_number(start) and _is_number(end)
            and int(start) <= int(end) < int(total))


def _check_output_headers(headers: Any) -> None:
    """What a response's headers may be: the rules the server renders by."""
    _check_type('response.headers', headers, dict)
    for (key, value) in headers.items():
        _check_type('response.headers key', key, str)
        if key.casefold() != key:
            raise ValueError(
                'response.headers key must be casefolded; got {!r}'.format(key)
            )
        if not key or len(key) > MAX_NAME_LEN or not NAME_CHARS.issuperset(key):
            raise ValueError(
                'response.headers key must be 1 to {} of [a-z0-9-]; got {!r}'.format(
                    MAX_NAME_LEN, key
                )
            )
        _check_output_value('response.headers[{!r}]'.format(key), key, value)
    if LENGTH in headers and ENCODING in headers:
        raise ValueError(
            'response.headers: cannot have both content-length and '
            'transfer-encoding headers'
        )
    if 'range' in headers:
        raise ValueError("response.headers cannot include a 'range' header")


def _check_output_value(name: str, key: str, value: Any) -> None:
    kind = type(value)
    if key == LENGTH:
        _check_type(name, value, int)
        if value < 0:
            raise ValueError('{} must be >= 0; got {!r}'.format(name, value))
        return
    if key == 'content-range' and kind is not str:
        if kind.__name__ != 'ContentRange':
            raise TypeError(
                '{}: need a {!r} or a {!r}; got a {!r}: {!r}'.format(
                    name, str, 'ContentRange', kind, value
                )
            )
        return
    if kind is bytes or kind is bytearray or kind is bool or kind is float:
        # Their str() ("b'x'", 'True') is never what was meant.
        raise TypeError(TYPE_ERROR.format(name, str, kind, value))
    text = value if kind is str else str(value)
    if not text or not _is_visible(text) or text != text.strip(' '):
        raise ValueError(
            '{} must be visible ASCII, without spaces at its ends; got {!r}'.format(
                name, text
            )
        )
    if key == ENCODING and text != 'chunked':
        raise ValueError("{} must be 'chunked'; got {!r}".format(name, text))
    if key == 'connection' and text != 'close':
        raise ValueError("{} can only be 'close'; got {!r}".format(name, text))
    if key == 'content-range' and not _is_content_range(text):
        raise ValueError('{}: bad content-range: {!r}'.format(name, text))


def _response_body_length(body: Any) -> Optional[int]:
    """The length a body implies (``None``: chunked), after checking it."""
    if type(body) is bytes or type(body) is bytearray:
        if len(body) > MAX_BODY_SIZE:
            raise ValueError('len(response.body) must be <= {}; got {}'.format(
                MAX_BODY_SIZE, len(body)
            ))
        return len(body)
    if _check_body_object('response.body', body, 'when returned by app()'):
        return None
    length: int = body.content_length
    return length


def _check_response_body(status: int, headers: Dict[str, Any], body: Any) -> None:
    """The framing of a response to anything but ``HEAD``."""
    if body is None:
        if ENCODING in headers:
            raise ValueError(
                "response.headers must not include 'transfer-encoding' when "
                'response.body is None'
            )
        if status == 304:
            return  # its content-length describes the cached representation
        if LENGTH in headers and (status == 204 or headers[LENGTH] != 0):
            raise ValueError(
                "response.headers must not include 'content-length' when "
                'response.body is None'
            )
        return
    if status in NO_BODY_STATUSES:
        raise ValueError(
            'response.body must be None when response.status is {}; got a {!r}'
            .format(status, type(body))
        )
    length = _response_body_length(body)
    if length is None:
        if LENGTH in headers:
            raise ValueError(
                "response.headers must not include 'content-length' when "
                'response.body.chunked is True'
            )
        return
    if type(body) is bytes or type(body) is bytearray:
        condition = 'response.body is a {!r}'.format(type(body))
        source = 'len(response.body)'
    else:
        condition = 'response.body.chunked is False'
        source = 'response.body.content_length'
    if ENCODING in headers:
        raise ValueError(
            "response.headers must not include 'transfer-encoding' when "
            + condition
        )
    if LENGTH in headers and headers[LENGTH] != length:
        raise ValueError(
            "response.headers['content-length'] must be {} ({!r}); got {!r}"
            .format(source, length, headers[LENGTH])
        )


def _framing_added(method: str, status: int, headers: Dict[str, Any],
                   body: Any) -> int:
    """How many framing headers the server adds to *headers* (0 or 1)."""
    if method == 'HEAD' or (body is None and status in NO_BODY_STATUSES):
        return 0
    return 0 if (LENGTH in headers or ENCODING in headers) else 1


def _check_response(method: str, response: Any) -> None:
    """Everything about what the app returned."""
    if not _is_response_tuple(response):
        raise TypeError(
            TYPE_ERROR.format('response', tuple, type(response), response)
        )
    if len(response) != 4:
        raise ValueError(
            'response: need a 4-tuple; got a {}-tuple'.format(len(response))
        )
    (status, reason, headers, body) = response
    _check_type('response.status', status, int)
    if not (MIN_STATUS <= status <= MAX_STATUS):
        raise ValueError(
            'response.status must be {} <= status <= {}; got {!r}'.format(
                MIN_STATUS, MAX_STATUS, status
            )
        )
    _check_type('response.reason', reason, str)
    if not reason or not _is_visible(reason):
        raise ValueError(
            'response.reason must be a non-empty str of visible ASCII and '
            'spaces; got {!r}'.format(reason)
        )
    _check_output_headers(headers)
    if method == 'HEAD':
        # Framing headers are allowed: they describe the entity.
        if body is not None:
            raise TypeError(
                'request method is HEAD, but response body is not None: {!r}'
                .format(type(body))
            )
    else:
        _check_response_body(status, headers, body)
    count = len(headers) - ('connection' in headers)
    count += _framing_added(method, status, headers, body)
    if count > MAX_HEADER_COUNT:
        raise ValueError(
            'response.headers: need at most {} headers, with the framing header '
            'the server adds; got {}'.format(MAX_HEADER_COUNT, count)
        )


class Validator:
    """Wrap an RGI app and check both sides of every call.

    >>> def app(session, request, api):
    ...     return (200, 'OK', {}, b'hello')
    >>> checked = Validator(app)

    ``checked`` is then used as the app given to the server.
    """

    __slots__ = ('app', '_on_connect')

    def __init__(self, app: Callable[..., Any]) -> None:
        if not callable(app):
            raise TypeError('app: not callable: {!r}'.format(app))
        on_connect = getattr(app, 'on_connect', None)
        if on_connect is not None and not callable(on_connect):
            raise TypeError(
                'app.on_connect: not callable: {!r}'.format(on_connect)
            )
        self.app = app
        self._on_connect: Optional[Callable[..., Any]] = on_connect

    def __repr__(self) -> str:
        # The class's own name, so that a subclass reads as itself.
        return '{}({!r})'.format(type(self).__name__, self.app)

    def __call__(self, session: Any, request: Any, api: Any) -> Any:
        """Check, call the app, check again, and return what the app returned.

        Request checks run first, then the app, then the checks of what the
        app did to the request (body consumed, URI invariant) and returned.

        The third argument is the ``api`` namedtuple (older texts call it
        ``bodies``); it is passed through untouched.
        """
        _check_session(session)
        _check_request(request)
        response = self.app(session, request, api)
        # (The app may leave the request body unread: the server then
        # closes the connection after the response.)
        _check_uri(request, AFTER)
        _check_response(request.method, response)
        return response

    def on_connect(self, session: Any, sock: Any) -> bool:
        """Check the session, then ask the app (if it asks at all).

        An app without ``on_connect`` accepts every connection.
        """
        _check_session(session)
        if session.requests != 0:
            raise ValueError(
                'session.requests must be 0 when on_connect() is called; '
                'got {!r}'.format(session.requests)
            )
        if self._on_connect is None:
            return True
        result = self._on_connect(session, sock)
        if type(result) is not bool:
            raise TypeError(ON_CONNECT_ERROR.format(bool, type(result), result))
        return result
