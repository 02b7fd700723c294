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

# Valid response status codes.
MIN_STATUS = 100
MAX_STATUS = 599

# Header values that may be objects instead of ``str``, by class name.
OBJECT_VALUES = {'range': 'Range', 'content-range': 'ContentRange'}

# Fields of a namedtuple response that is accepted in place of a tuple.
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
    if type(response) is tuple:
        return True
    return isinstance(response, tuple) and (
        getattr(type(response), '_fields', None) == RESPONSE_FIELDS
    )


def _check_response_body(headers: Dict[str, Any], body: Any) -> None:
    """The framing of a non-``HEAD`` response."""
    if body is None:
        for key in (LENGTH, ENCODING):
            if key in headers:
                raise ValueError(
                    'response.headers must not include {!r} when '
                    'response.body is None'.format(key)
                )
        return
    if type(body) is bytes or type(body) is bytearray:
        length = len(body)
        condition = 'response.body is a {!r}'.format(type(body))
        source = 'len(response.body)'
    elif _check_body_object('response.body', body, 'when returned by app()'):
        if LENGTH in headers:
            raise ValueError(
                "response.headers must not include 'content-length' when "
                'response.body.chunked is True'
            )
        return
    else:
        length = body.content_length
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
    if not reason or not reason.isascii():
        raise ValueError(
            'response.reason must be a non-empty ASCII str; got {!r}'.format(
                reason
            )
        )
    _check_headers('response.headers', headers)
    if method == 'HEAD':
        # Framing headers are allowed: they describe the entity.
        if body is not None:
            raise TypeError(
                'request method is HEAD, but response body is not None: {!r}'
                .format(type(body))
            )
        return
    _check_response_body(headers, body)


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
        body = request.body
        response = self.app(session, request, api)
        if body is not None:
            _check_state('request.body', body, BODY_CONSUMED, AFTER)
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
