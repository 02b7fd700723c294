# SPDX-License-Identifier: LGPL-3.0-or-later
"""Tests for degu.rgi (the RGI Validator).

Session, Request and the bodies are small fakes defined here: the Validator is
duck-typed, and degu.rgi must work without the rest of degu.
"""

import collections
import io
import subprocess
import sys
from typing import Any, Callable, Dict, List, Tuple

import pytest

from degu import rgi
from degu.rgi import Validator


# ---------------------------------------------------------------------------
# Fakes


class FakeSession:
    def __init__(self, address: Any = ('127.0.0.1', 5000), requests: Any = 0,
                 store: Any = None) -> None:
        self.address = address
        self.requests = requests
        self.store = {} if store is None else store


class FakeRequest:
    def __init__(self, method: Any = 'GET', uri: Any = '/',
                 headers: Any = None, body: Any = None, mount: Any = None,
                 path: Any = None, query: Any = None) -> None:
        self.method = method
        self.uri = uri
        self.headers = {} if headers is None else headers
        self.body = body
        self.mount = [] if mount is None else mount
        self.path = [] if path is None else path
        self.query = query


class FakeBody:
    """Like Body/BodyIter: chunked is False, has a content_length."""

    chunked = False

    def __init__(self, content_length: Any = 3, state: Any = 0) -> None:
        self.content_length = content_length
        self.state = state

    def read(self) -> bytes:
        self.state = 2
        return b'x' * int(self.content_length)

    def __repr__(self) -> str:
        return 'FakeBody({!r})'.format(self.content_length)


class FakeChunkedBody:
    """Like ChunkedBody/ChunkedBodyIter: chunked is True, no content_length."""

    chunked = True

    def __init__(self, state: Any = 0) -> None:
        self.state = state

    def read(self) -> bytes:
        self.state = 2
        return b'hello'

    def __repr__(self) -> str:
        return 'FakeChunkedBody()'


class OddBody:
    """A body-ish object with configurable attributes (for bad-type cases)."""

    def __init__(self, **attrs: Any) -> None:
        for (key, value) in attrs.items():
            setattr(self, key, value)

    def __repr__(self) -> str:
        return 'OddBody()'


class Range:
    """Recognised by class name only."""

    def __init__(self, start: int, stop: int) -> None:
        self.start = start
        self.stop = stop

    def __repr__(self) -> str:
        return 'Range({}, {})'.format(self.start, self.stop)

    def __str__(self) -> str:
        return 'bytes={}-{}'.format(self.start, self.stop - 1)


class ContentRange:
    def __init__(self, start: int, stop: int, total: int) -> None:
        self.start = start
        self.stop = stop
        self.total = total

    def __repr__(self) -> str:
        return 'ContentRange({}, {}, {})'.format(
            self.start, self.stop, self.total
        )


Response = collections.namedtuple('Response', 'status reason headers body')
Other = collections.namedtuple('Other', 'a b c d')


class TupleSub(Tuple[Any, ...]):
    pass


API = object()  # stands in for degu.base.api; must be passed through as is

OK: Tuple[int, str, Dict[str, Any], None] = (200, 'OK', {}, None)


class Recorder:
    """An app that records its calls."""

    def __init__(self, response: Any = OK) -> None:
        self.response = response
        self.calls: List[Tuple[Any, Any, Any]] = []

    def __call__(self, session: Any, request: Any, api: Any) -> Any:
        self.calls.append((session, request, api))
        if request.body is not None:
            request.body.read()
        return self.response


def check(exc_type: type, message: str, func: Callable[..., Any],
          *args: Any) -> None:
    with pytest.raises(exc_type) as cm:
        func(*args)
    assert type(cm.value) is exc_type
    assert str(cm.value) == message


# ---------------------------------------------------------------------------
# Module-level API


def test_constants() -> None:
    assert rgi.REQUEST_METHODS == ('GET', 'PUT', 'POST', 'DELETE', 'HEAD')
    assert rgi.LENGTH == 'content-length'
    assert rgi.ENCODING == 'transfer-encoding'
    assert rgi.TYPE_ERROR == '{}: need a {!r}; got a {!r}: {!r}'
    assert rgi.__all__ == (
        'REQUEST_METHODS', 'LENGTH', 'ENCODING', 'TYPE_ERROR', 'Validator'
    )


def test_imports_nothing_from_degu() -> None:
    code = (
        'import sys; import degu.rgi; '
        "print(sorted(m for m in sys.modules "
        "if m.startswith('degu') and m != 'degu.rgi'))"
    )
    out = subprocess.run(
        [sys.executable, '-c', code], check=True, capture_output=True,
        text=True,
    ).stdout
    # Only the package itself (imported implicitly by the import system).
    assert out.strip() == "['degu']"
    # And nothing at all from degu in the source.
    with open(rgi.__file__) as fp:
        source = fp.read()
    assert 'import degu' not in source
    assert 'from degu' not in source
    assert 'from .' not in source


# ---------------------------------------------------------------------------
# Validator construction, attributes, repr


def app_function(session: Any, request: Any, api: Any) -> Any:
    return OK


class AppWithOnConnect:
    def __init__(self, result: Any = True) -> None:
        self.result = result
        self.calls: List[Tuple[Any, Any]] = []

    def __call__(self, session: Any, request: Any, api: Any) -> Any:
        return OK

    def on_connect(self, session: Any, sock: Any) -> Any:
        self.calls.append((session, sock))
        return self.result

    def __repr__(self) -> str:
        return 'AppWithOnConnect()'


class AppWithBadOnConnect:
    on_connect = 17

    def __call__(self, session: Any, request: Any, api: Any) -> Any:
        return OK


class AppWithNoneOnConnect:
    on_connect = None

    def __call__(self, session: Any, request: Any, api: Any) -> Any:
        return OK


def test_init() -> None:
    inst = Validator(app_function)
    assert inst.app is app_function
    assert inst._on_connect is None
    assert repr(inst) == 'Validator({!r})'.format(app_function)

    app = AppWithOnConnect()
    inst = Validator(app)
    assert inst.app is app
    assert inst._on_connect == app.on_connect
    assert repr(inst) == 'Validator(AppWithOnConnect())'

    inst = Validator(AppWithNoneOnConnect())
    assert inst._on_connect is None


class Example(Validator):
    """A subclass, as the original's docs show one."""


def test_subclass_repr() -> None:
    inst = Example(app_function)
    assert repr(inst) == 'Example({!r})'.format(app_function)
    assert repr(Example(AppWithOnConnect())) == 'Example(AppWithOnConnect())'
    # and it still validates
    assert inst(FakeSession(), FakeRequest(), API) == OK


@pytest.mark.parametrize('app,message', [
    (17, 'app: not callable: 17'),
    ('app', "app: not callable: 'app'"),
    (None, 'app: not callable: None'),
    (AppWithBadOnConnect(), 'app.on_connect: not callable: 17'),
])
def test_init_errors(app: Any, message: str) -> None:
    check(TypeError, message, Validator, app)


def test_validator_is_an_app_with_on_connect() -> None:
    # The server sees a callable with a callable on_connect.
    inst = Validator(app_function)
    assert callable(inst)
    assert callable(inst.on_connect)


# ---------------------------------------------------------------------------
# Accepted calls


def _range_headers() -> Dict[str, Any]:
    return {'range': Range(16, 21)}


# (id, session, request, response)
VALID_CALLS: List[Tuple[str, Callable[[], Any], Callable[[], Any], Any]] = [
    ('ipv4', lambda: FakeSession(('127.0.0.1', 5000)),
     lambda: FakeRequest(), OK),
    ('ipv6', lambda: FakeSession(('::1', 5000, 0, 0)),
     lambda: FakeRequest(), OK),
    ('unix-str', lambda: FakeSession('/tmp/degu.socket'),
     lambda: FakeRequest(), OK),
    ('unix-bytes', lambda: FakeSession(b'\x0000022'),
     lambda: FakeRequest(), OK),
    ('store', lambda: FakeSession(requests=7, store={'_user': object()}),
     lambda: FakeRequest(), OK),
    ('all-methods-head', FakeSession,
     lambda: FakeRequest(method='HEAD'), OK),
    ('delete', FakeSession, lambda: FakeRequest(method='DELETE'), OK),
    ('put-no-body', FakeSession, lambda: FakeRequest(method='PUT'), OK),
    ('post-no-body', FakeSession, lambda: FakeRequest(method='POST'), OK),
    ('uri-query', FakeSession,
     lambda: FakeRequest(uri='/foo/bar/?k=v', path=['foo', 'bar', ''],
                         query='k=v'), OK),
    ('uri-empty-query', FakeSession,
     lambda: FakeRequest(uri='/?', query=''), OK),
    ('uri-mounted', FakeSession,
     lambda: FakeRequest(uri='/a/b/c', mount=['a', 'b'], path=['c']), OK),
    ('headers', FakeSession,
     lambda: FakeRequest(headers={'user-agent': 'x', 'accept': '*/*'}), OK),
    ('range-object', FakeSession,
     lambda: FakeRequest(headers=_range_headers()), OK),
    ('range-str', FakeSession,
     lambda: FakeRequest(headers={'range': 'bytes=0-9'}), OK),
    ('put-body', FakeSession,
     lambda: FakeRequest('PUT', headers={'content-length': 3},
                         body=FakeBody(3)), OK),
    ('post-body-empty', FakeSession,
     lambda: FakeRequest('POST', headers={'content-length': 0},
                         body=FakeBody(0)), OK),
    ('post-chunked', FakeSession,
     lambda: FakeRequest('POST', headers={'transfer-encoding': 'chunked'},
                         body=FakeChunkedBody()), OK),
    ('response-bytes', FakeSession, FakeRequest,
     (200, 'OK', {}, b'hello')),
    ('response-bytes-length', FakeSession, FakeRequest,
     (200, 'OK', {'content-length': 5}, b'hello')),
    ('response-bytearray', FakeSession, FakeRequest,
     (200, 'OK', {'content-length': 5}, bytearray(b'hello'))),
    ('response-empty-bytes', FakeSession, FakeRequest,
     (200, 'OK', {}, b'')),
    ('response-none-length-0', FakeSession, FakeRequest,
     (404, 'Not Found', {'content-length': 0}, None)),
    ('response-304-length', FakeSession, FakeRequest,
     (304, 'Not Modified', {'content-length': 123}, None)),
    ('response-body', FakeSession, FakeRequest,
     (200, 'OK', {}, FakeBody(12))),
    ('response-body-length', FakeSession, FakeRequest,
     (200, 'OK', {'content-length': 12}, FakeBody(12))),
    ('response-chunked', FakeSession, FakeRequest,
     (200, 'OK', {}, FakeChunkedBody())),
    ('response-chunked-te', FakeSession, FakeRequest,
     (200, 'OK', {'transfer-encoding': 'chunked'}, FakeChunkedBody())),
    ('response-content-range', FakeSession, FakeRequest,
     (206, 'Partial Content',
      {'content-length': 1, 'content-range': ContentRange(16, 17, 23)},
      b'x')),
    ('response-content-range-str', FakeSession, FakeRequest,
     (206, 'Partial Content',
      {'content-length': 1, 'content-range': 'bytes 16-16/23'}, b'x')),
    ('response-namedtuple', FakeSession, FakeRequest,
     Response(404, 'Not Found', {}, None)),
    ('status-200', FakeSession, FakeRequest, (200, 'OK', {}, None)),
    ('status-599', FakeSession, FakeRequest, (599, 'Whatever', {}, None)),
    ('head-length', FakeSession, lambda: FakeRequest('HEAD'),
     (200, 'OK', {'content-length': 1234}, None)),
    ('head-chunked', FakeSession, lambda: FakeRequest('HEAD'),
     (200, 'OK', {'transfer-encoding': 'chunked'}, None)),
    ('head-no-framing', FakeSession, lambda: FakeRequest('HEAD'),
     (404, 'Not Found', {}, None)),
]


@pytest.mark.parametrize(
    'make_session,make_request,response',
    [c[1:] for c in VALID_CALLS], ids=[c[0] for c in VALID_CALLS],
)
def test_call_valid(make_session: Callable[[], Any],
                    make_request: Callable[[], Any], response: Any) -> None:
    session = make_session()
    request = make_request()
    body = request.body
    app = Recorder(response)
    inst = Validator(app)
    assert inst(session, request, API) is response
    assert len(app.calls) == 1
    (s, r, a) = app.calls[0]
    assert s is session and r is request and a is API
    if body is not None:
        assert body.state == 2


def test_call_routing_app() -> None:
    # Moving components from path to mount keeps the invariant.
    def app(session: Any, request: Any, api: Any) -> Any:
        request.mount.append(request.path.pop(0))
        return (200, 'OK', {}, None)

    request = FakeRequest(uri='/foo/bar?q', path=['foo', 'bar'], query='q')
    Validator(app)(FakeSession(), request, API)
    assert (request.mount, request.path) == (['foo'], ['bar'])


# ---------------------------------------------------------------------------
# Broken rules detected before the app is called

TE = 'transfer-encoding'
CL = 'content-length'

# (id, session kwargs, request kwargs, exception, message)
BEFORE_ERRORS: List[Tuple[str, Dict[str, Any], Dict[str, Any], type, str]] = [
    # session.address
    ('address-type', {'address': ['127.0.0.1', 5000]}, {}, TypeError,
     "session.address: need a (<class 'tuple'>, <class 'str'>, "
     "<class 'bytes'>); got a <class 'list'>: ['127.0.0.1', 5000]"),
    ('address-none', {'address': None}, {}, TypeError,
     "session.address: need a (<class 'tuple'>, <class 'str'>, "
     "<class 'bytes'>); got a <class 'NoneType'>: None"),
    ('address-3-tuple', {'address': ('::1', 5000, 0)}, {}, ValueError,
     'session.address: need a 2-tuple or a 4-tuple; got a 3-tuple'),
    ('address-empty-tuple', {'address': ()}, {}, ValueError,
     'session.address: need a 2-tuple or a 4-tuple; got a 0-tuple'),
    # session.requests
    ('requests-bool', {'requests': False}, {}, TypeError,
     "session.requests: need a <class 'int'>; got a <class 'bool'>: False"),
    ('requests-float', {'requests': 1.0}, {}, TypeError,
     "session.requests: need a <class 'int'>; got a <class 'float'>: 1.0"),
    ('requests-negative', {'requests': -1}, {}, ValueError,
     'session.requests must be >= 0; got -1'),
    # session.store
    ('store-type', {'store': collections.OrderedDict()}, {}, TypeError,
     "session.store: need a <class 'dict'>; got a "
     "<class 'collections.OrderedDict'>: OrderedDict()"),
    ('store-key', {'store': {'ok': 1, 2: 'two'}}, {}, TypeError,
     "session.store key: need a <class 'str'>; got a <class 'int'>: 2"),
    # request.method
    ('method-type', {}, {'method': b'GET'}, TypeError,
     "request.method: need a <class 'str'>; got a <class 'bytes'>: b'GET'"),
    ('method-lower', {}, {'method': 'get'}, ValueError,
     "request.method must be in REQUEST_METHODS; got 'get'"),
    ('method-unknown', {}, {'method': 'PATCH'}, ValueError,
     "request.method must be in REQUEST_METHODS; got 'PATCH'"),
    # request.uri / mount / path / query
    ('uri-type', {}, {'uri': b'/'}, TypeError,
     "request.uri: need a <class 'str'>; got a <class 'bytes'>: b'/'"),
    ('mount-type', {}, {'mount': ()}, TypeError,
     "request.mount: need a <class 'list'>; got a <class 'tuple'>: ()"),
    ('mount-item', {}, {'uri': '/a/b', 'mount': ['a', b'b']}, TypeError,
     "request.mount[1]: need a <class 'str'>; got a <class 'bytes'>: b'b'"),
    ('path-type', {}, {'path': ('a',), 'uri': '/a'}, TypeError,
     "request.path: need a <class 'list'>; got a <class 'tuple'>: ('a',)"),
    ('path-item', {}, {'uri': '/a', 'path': [1]}, TypeError,
     "request.path[0]: need a <class 'str'>; got a <class 'int'>: 1"),
    ('query-type', {}, {'uri': '/?', 'query': b''}, TypeError,
     "request.query: need a (<class 'NoneType'>, <class 'str'>); "
     "got a <class 'bytes'>: b''"),
    ('invariant-path', {}, {'uri': '/foo', 'path': ['bar']}, ValueError,
     'request.uri must equal the URI rebuilt from request.mount, '
     'request.path and request.query before app() is called; '
     "got '/foo' != '/bar'"),
    ('invariant-mount', {}, {'uri': '/foo/bar', 'mount': ['bar'],
                             'path': ['foo']}, ValueError,
     'request.uri must equal the URI rebuilt from request.mount, '
     'request.path and request.query before app() is called; '
     "got '/foo/bar' != '/bar/foo'"),
    ('invariant-query', {}, {'uri': '/foo', 'path': ['foo'], 'query': ''},
     ValueError,
     'request.uri must equal the URI rebuilt from request.mount, '
     'request.path and request.query before app() is called; '
     "got '/foo' != '/foo?'"),
    ('invariant-no-query', {}, {'uri': '/?k=v'}, ValueError,
     'request.uri must equal the URI rebuilt from request.mount, '
     'request.path and request.query before app() is called; '
     "got '/?k=v' != '/'"),
    # request.headers
    ('headers-type', {}, {'headers': [('a', 'b')]}, TypeError,
     "request.headers: need a <class 'dict'>; got a <class 'list'>: "
     "[('a', 'b')]"),
    ('header-key-type', {}, {'headers': {b'foo': 'bar'}}, TypeError,
     "request.headers key: need a <class 'str'>; got a <class 'bytes'>: "
     "b'foo'"),
    ('header-key-case', {}, {'headers': {'Foo': 'bar'}}, ValueError,
     "request.headers key must be casefolded; got 'Foo'"),
    ('header-key-sharp-s', {}, {'headers': {'stra\xdfe': 'x'}}, ValueError,
     "request.headers key must be casefolded; got 'stra\xdfe'"),
    ('header-value-type', {}, {'headers': {'foo': b'bar'}}, TypeError,
     "request.headers['foo']: need a <class 'str'>; got a <class 'bytes'>: "
     "b'bar'"),
    ('header-value-int', {}, {'headers': {'foo': 17}}, TypeError,
     "request.headers['foo']: need a <class 'str'>; got a <class 'int'>: 17"),
    ('content-length-str', {}, {'method': 'PUT', 'headers': {CL: '3'},
                                'body': FakeBody(3)}, TypeError,
     "request.headers['content-length']: need a <class 'int'>; "
     "got a <class 'str'>: '3'"),
    ('content-length-bool', {}, {'method': 'PUT', 'headers': {CL: True},
                                 'body': FakeBody(1)}, TypeError,
     "request.headers['content-length']: need a <class 'int'>; "
     "got a <class 'bool'>: True"),
    ('content-length-negative', {}, {'headers': {CL: -1}}, ValueError,
     "request.headers['content-length'] must be >= 0; got -1"),
    ('transfer-encoding-type', {}, {'headers': {TE: b'chunked'}}, TypeError,
     "request.headers['transfer-encoding']: need a <class 'str'>; "
     "got a <class 'bytes'>: b'chunked'"),
    ('transfer-encoding-value', {}, {'headers': {TE: 'gzip'}}, ValueError,
     "request.headers['transfer-encoding'] must be 'chunked'; got 'gzip'"),
    ('range-int', {}, {'headers': {'range': 5}}, TypeError,
     "request.headers['range']: need a <class 'str'> or a 'Range'; "
     "got a <class 'int'>: 5"),
    ('range-content-range', {}, {'headers': {
        'range': ContentRange(0, 1, 2)}}, TypeError,
     "request.headers['range']: need a <class 'str'> or a 'Range'; "
     "got a <class 'test_degu.test_rgi.ContentRange'>: ContentRange(0, 1, 2)"),
    ('content-range-range', {}, {'headers': {
        'content-range': Range(0, 1)}}, TypeError,
     "request.headers['content-range']: need a <class 'str'> or a "
     "'ContentRange'; got a <class 'test_degu.test_rgi.Range'>: Range(0, 1)"),
    ('both-framing', {}, {'method': 'PUT', 'body': FakeBody(3),
                          'headers': {CL: 3, TE: 'chunked'}}, ValueError,
     'request.headers: cannot have both content-length and '
     'transfer-encoding headers'),
    # framing vs. body
    ('no-body-length', {}, {'method': 'PUT', 'headers': {CL: 0}}, ValueError,
     "request.headers must not include 'content-length' when request.body "
     'is None'),
    ('no-body-chunked', {}, {'method': 'POST', 'headers': {TE: 'chunked'}},
     ValueError,
     "request.headers must not include 'transfer-encoding' when "
     'request.body is None'),
    ('get-with-body', {}, {'method': 'GET', 'headers': {CL: 3},
                           'body': FakeBody(3)}, ValueError,
     "request.body must be None when request.method is 'GET'; "
     'got FakeBody(3)'),
    ('head-with-body', {}, {'method': 'HEAD', 'headers': {TE: 'chunked'},
                            'body': FakeChunkedBody()}, ValueError,
     "request.body must be None when request.method is 'HEAD'; "
     'got FakeChunkedBody()'),
    ('delete-with-body', {}, {'method': 'DELETE', 'headers': {CL: 3},
                              'body': FakeBody(3)}, ValueError,
     "request.body must be None when request.method is 'DELETE'; "
     'got FakeBody(3)'),
    ('body-bytes', {}, {'method': 'PUT', 'headers': {CL: 3},
                        'body': b'abc'}, TypeError,
     "request.body: bad body type: <class 'bytes'>: b'abc'"),
    ('body-no-chunked', {}, {'method': 'PUT', 'headers': {CL: 3},
                             'body': OddBody(state=0, content_length=3)},
     TypeError,
     "request.body: bad body type: <class 'test_degu.test_rgi.OddBody'>: "
     'OddBody()'),
    ('body-chunked-int', {}, {'method': 'PUT', 'headers': {CL: 3},
                              'body': OddBody(chunked=0, state=0,
                                              content_length=3)},
     TypeError,
     "request.body: bad body type: <class 'test_degu.test_rgi.OddBody'>: "
     'OddBody()'),
    ('body-no-state', {}, {'method': 'PUT', 'headers': {CL: 3},
                           'body': OddBody(chunked=False, content_length=3)},
     TypeError,
     "request.body: bad body type: <class 'test_degu.test_rgi.OddBody'>: "
     'OddBody()'),
    ('body-no-content-length', {}, {'method': 'PUT', 'headers': {CL: 3},
                                    'body': OddBody(chunked=False, state=0)},
     TypeError,
     'request.body.chunked is False, so it needs a content_length '
     'attribute: OddBody()'),
    ('body-content-length-type', {}, {'method': 'PUT', 'headers': {CL: 3},
                                      'body': FakeBody('3')}, TypeError,
     "request.body.content_length: need a <class 'int'>; "
     "got a <class 'str'>: '3'"),
    ('body-content-length-negative', {}, {'method': 'PUT',
                                          'headers': {CL: 3},
                                          'body': FakeBody(-3)}, ValueError,
     'request.body.content_length must be >= 0; got -3'),
    ('chunked-body-content-length', {}, {
        'method': 'POST', 'headers': {TE: 'chunked'},
        'body': OddBody(chunked=True, state=0, content_length=None)},
     TypeError,
     'request.body.chunked is True, so it cannot have a content_length '
     'attribute: OddBody()'),
    ('body-state-started', {}, {'method': 'PUT', 'headers': {CL: 3},
                                'body': FakeBody(3, state=1)}, ValueError,
     'request.body.state must be 0 before app() is called; got 1'),
    ('body-state-consumed', {}, {'method': 'POST', 'headers': {TE: 'chunked'},
                                 'body': FakeChunkedBody(state=2)},
     ValueError,
     'request.body.state must be 0 before app() is called; got 2'),
    ('body-state-bool', {}, {'method': 'PUT', 'headers': {CL: 3},
                             'body': FakeBody(3, state=False)}, ValueError,
     'request.body.state must be 0 before app() is called; got False'),
    ('body-missing-length', {}, {'method': 'PUT', 'body': FakeBody(3)},
     ValueError,
     "request.headers must include 'content-length' when "
     'request.body.chunked is False'),
    ('body-with-transfer-encoding', {}, {'method': 'PUT',
                                         'headers': {TE: 'chunked'},
                                         'body': FakeBody(3)}, ValueError,
     "request.headers must include 'content-length' when "
     'request.body.chunked is False'),
    ('body-length-mismatch', {}, {'method': 'PUT', 'headers': {CL: 4},
                                  'body': FakeBody(3)}, ValueError,
     "request.headers['content-length'] must be "
     'request.body.content_length (3); got 4'),
    ('chunked-missing-te', {}, {'method': 'POST',
                                'body': FakeChunkedBody()}, ValueError,
     "request.headers must include 'transfer-encoding' when "
     'request.body.chunked is True'),
    ('chunked-with-length', {}, {'method': 'POST', 'headers': {CL: 5},
                                 'body': FakeChunkedBody()}, ValueError,
     "request.headers must include 'transfer-encoding' when "
     'request.body.chunked is True'),
]


@pytest.mark.parametrize(
    'session_kw,request_kw,exc_type,message',
    [c[1:] for c in BEFORE_ERRORS], ids=[c[0] for c in BEFORE_ERRORS],
)
def test_call_errors_before_app(session_kw: Dict[str, Any],
                                request_kw: Dict[str, Any], exc_type: type,
                                message: str) -> None:
    app = Recorder()
    inst = Validator(app)
    session = FakeSession(**session_kw)
    request = FakeRequest(**request_kw)
    check(exc_type, message, inst, session, request, API)
    assert app.calls == []  # the app never ran


def test_before_error_ids_unique() -> None:
    ids = [c[0] for c in BEFORE_ERRORS]
    assert len(ids) == len(set(ids))


# ---------------------------------------------------------------------------
# Broken rules in what the app did to the request


def test_body_left_unread_is_allowed() -> None:
    # An app may answer without reading the body (a 405, a 401, a 413): the
    # server then closes the connection after the response.
    for (body, headers) in [(FakeBody(3), {CL: 3}),
                            (FakeChunkedBody(), {TE: 'chunked'})]:
        request = FakeRequest('PUT', headers=headers, body=body)
        assert Validator(app_function)(FakeSession(), request, API) == OK


def test_body_left_started_is_allowed() -> None:
    def app(session: Any, request: Any, api: Any) -> Any:
        request.body.state = 1
        return OK

    request = FakeRequest('POST', headers={CL: 3}, body=FakeBody(3))
    assert Validator(app)(FakeSession(), request, API) == OK


def test_invariant_broken_by_app() -> None:
    def app(session: Any, request: Any, api: Any) -> Any:
        request.path.pop(0)  # lost instead of moved to mount
        return OK

    request = FakeRequest(uri='/foo', path=['foo'])
    check(ValueError,
          'request.uri must equal the URI rebuilt from request.mount, '
          'request.path and request.query after app() was called; '
          "got '/foo' != '/'",
          Validator(app), FakeSession(), request, API)


def test_mount_polluted_by_app() -> None:
    def app(session: Any, request: Any, api: Any) -> Any:
        request.mount.append(request.path.pop(0).encode())
        return OK

    request = FakeRequest(uri='/foo', path=['foo'])
    check(TypeError,
          "request.mount[0]: need a <class 'str'>; got a <class 'bytes'>: "
          "b'foo'",
          Validator(app), FakeSession(), request, API)


def test_app_exception_propagates() -> None:
    class Boom(Exception):
        pass

    def app(session: Any, request: Any, api: Any) -> Any:
        raise Boom('nope')

    with pytest.raises(Boom):
        Validator(app)(FakeSession(), FakeRequest(), API)


# ---------------------------------------------------------------------------
# Broken rules in the response

# (id, request method, response, exception, message)
RESPONSE_ERRORS: List[Tuple[str, str, Any, type, str]] = [
    ('list', 'GET', [200, 'OK', {}, None], TypeError,
     "response: need a <class 'tuple'>; got a <class 'list'>: "
     "[200, 'OK', {}, None]"),
    ('none', 'GET', None, TypeError,
     "response: need a <class 'tuple'>; got a <class 'NoneType'>: None"),
    ('tuple-subclass', 'GET', TupleSub((200, 'OK', {}, None)), TypeError,
     "response: need a <class 'tuple'>; got a "
     "<class 'test_degu.test_rgi.TupleSub'>: (200, 'OK', {}, None)"),
    ('other-namedtuple', 'GET', Other(200, 'OK', {}, None), TypeError,
     "response: need a <class 'tuple'>; got a "
     "<class 'test_degu.test_rgi.Other'>: Other(a=200, b='OK', c={}, d=None)"),
    ('3-tuple', 'GET', (200, 'OK', {}), ValueError,
     'response: need a 4-tuple; got a 3-tuple'),
    ('5-tuple', 'GET', (200, 'OK', {}, None, None), ValueError,
     'response: need a 4-tuple; got a 5-tuple'),
    ('status-str', 'GET', ('200', 'OK', {}, None), TypeError,
     "response.status: need a <class 'int'>; got a <class 'str'>: '200'"),
    ('status-bool', 'GET', (True, 'OK', {}, None), TypeError,
     "response.status: need a <class 'int'>; got a <class 'bool'>: True"),
    ('status-99', 'GET', (99, 'OK', {}, None), ValueError,
     'response.status must be 200 <= status <= 599; got 99'),
    ('status-100', 'GET', (100, 'Continue', {}, None), ValueError,
     'response.status must be 200 <= status <= 599; got 100'),
    ('status-600', 'GET', (600, 'OK', {}, None), ValueError,
     'response.status must be 200 <= status <= 599; got 600'),
    ('reason-bytes', 'GET', (200, b'OK', {}, None), TypeError,
     "response.reason: need a <class 'str'>; got a <class 'bytes'>: b'OK'"),
    ('reason-empty', 'GET', (200, '', {}, None), ValueError,
     "response.reason must be a non-empty str of visible ASCII and spaces; got ''"),
    ('reason-non-ascii', 'GET', (200, 'Ok\xe9', {}, None), ValueError,
     "response.reason must be a non-empty str of visible ASCII and spaces; "
     "got 'Ok\xe9'"),
    ('reason-crlf', 'GET', (200, 'OK\r\n', {}, None), ValueError,
     "response.reason must be a non-empty str of visible ASCII and spaces; "
     "got 'OK\\r\\n'"),
    ('headers-type', 'GET', (200, 'OK', None, None), TypeError,
     "response.headers: need a <class 'dict'>; got a <class 'NoneType'>: "
     'None'),
    ('header-key-type', 'GET', (200, 'OK', {1: 'x'}, None), TypeError,
     "response.headers key: need a <class 'str'>; got a <class 'int'>: 1"),
    ('header-key-case', 'GET', (200, 'OK', {'Content-Type': 'x'}, None),
     ValueError,
     "response.headers key must be casefolded; got 'Content-Type'"),
    ('header-value-type', 'GET', (200, 'OK', {'etag': b'17'}, b''), TypeError,
     "response.headers['etag']: need a <class 'str'>; got a <class 'bytes'>: "
     "b'17'"),
    ('header-value-bool', 'GET', (200, 'OK', {'etag': True}, b''), TypeError,
     "response.headers['etag']: need a <class 'str'>; got a <class 'bool'>: "
     'True'),
    ('header-value-ctl', 'GET', (200, 'OK', {'etag': 'a\x00b'}, b''), ValueError,
     "response.headers['etag'] must be visible ASCII, without spaces at its "
     "ends; got 'a\\x00b'"),
    ('header-value-edge-space', 'GET', (200, 'OK', {'etag': 'a '}, b''), ValueError,
     "response.headers['etag'] must be visible ASCII, without spaces at its "
     "ends; got 'a '"),
    ('header-key-chars', 'GET', (200, 'OK', {'x_y': 'z'}, b''), ValueError,
     "response.headers key must be 1 to 64 of [a-z0-9-]; got 'x_y'"),
    ('header-connection', 'GET', (200, 'OK', {'connection': 'keep-alive'}, b''),
     ValueError,
     "response.headers['connection'] can only be 'close'; got 'keep-alive'"),
    ('header-range', 'GET', (200, 'OK', {'range': 'bytes=0-1'}, b''), ValueError,
     "response.headers cannot include a 'range' header"),
    ('header-content-range-bad', 'GET', (206, 'X', {'content-range': 'bytes 5-1/9'},
                                         b'x'), ValueError,
     "response.headers['content-range']: bad content-range: 'bytes 5-1/9'"),
    ('too-many-headers', 'GET', (200, 'OK', {'x{}'.format(i): 'v' for i in range(20)},
                                 b'x'), ValueError,
     'response.headers: need at most 20 headers, with the framing header the '
     'server adds; got 21'),
    ('204-body', 'GET', (204, 'No Content', {}, b''), ValueError,
     "response.body must be None when response.status is 204; got a <class 'bytes'>"),
    ('304-body', 'GET', (304, 'Not Modified', {}, FakeBody(3)), ValueError,
     "response.body must be None when response.status is 304; got a "
     "<class 'test_degu.test_rgi.FakeBody'>"),
    ('204-length', 'GET', (204, 'No Content', {CL: 0}, None), ValueError,
     "response.headers must not include 'content-length' when "
     'response.body is None'),
    ('content-length-str', 'GET', (200, 'OK', {CL: '5'}, b'hello'),
     TypeError,
     "response.headers['content-length']: need a <class 'int'>; "
     "got a <class 'str'>: '5'"),
    ('content-length-negative', 'HEAD', (200, 'OK', {CL: -5}, None),
     ValueError, "response.headers['content-length'] must be >= 0; got -5"),
    ('transfer-encoding-value', 'HEAD', (200, 'OK', {TE: 'identity'}, None),
     ValueError,
     "response.headers['transfer-encoding'] must be 'chunked'; "
     "got 'identity'"),
    ('content-range-int', 'GET', (206, 'Partial Content',
                                  {'content-range': 3}, b'x'), TypeError,
     "response.headers['content-range']: need a <class 'str'> or a "
     "'ContentRange'; got a <class 'int'>: 3"),
    ('both-framing', 'GET', (200, 'OK', {CL: 5, TE: 'chunked'},
                             FakeChunkedBody()), ValueError,
     'response.headers: cannot have both content-length and '
     'transfer-encoding headers'),
    ('head-both-framing', 'HEAD', (200, 'OK', {CL: 5, TE: 'chunked'}, None),
     ValueError,
     'response.headers: cannot have both content-length and '
     'transfer-encoding headers'),
    # HEAD
    ('head-bytes', 'HEAD', (200, 'OK', {CL: 5}, b'hello'), TypeError,
     "request method is HEAD, but response body is not None: "
     "<class 'bytes'>"),
    ('head-empty-bytes', 'HEAD', (200, 'OK', {}, b''), TypeError,
     "request method is HEAD, but response body is not None: "
     "<class 'bytes'>"),
    ('head-body', 'HEAD', (200, 'OK', {}, FakeBody(3)), TypeError,
     "request method is HEAD, but response body is not None: "
     "<class 'test_degu.test_rgi.FakeBody'>"),
    # None body (not HEAD)
    ('none-length', 'GET', (200, 'OK', {CL: 5}, None), ValueError,
     "response.headers must not include 'content-length' when "
     'response.body is None'),
    ('none-chunked', 'DELETE', (200, 'OK', {TE: 'chunked'}, None),
     ValueError,
     "response.headers must not include 'transfer-encoding' when "
     'response.body is None'),
    # bytes / bytearray
    ('bytes-chunked', 'GET', (200, 'OK', {TE: 'chunked'}, b'hello'),
     ValueError,
     "response.headers must not include 'transfer-encoding' when "
     "response.body is a <class 'bytes'>"),
    ('bytearray-chunked', 'GET',
     (200, 'OK', {TE: 'chunked'}, bytearray(b'hi')), ValueError,
     "response.headers must not include 'transfer-encoding' when "
     "response.body is a <class 'bytearray'>"),
    ('bytes-length', 'GET', (200, 'OK', {CL: 4}, b'hello'), ValueError,
     "response.headers['content-length'] must be len(response.body) (5); "
     'got 4'),
    ('bytearray-length', 'PUT', (200, 'OK', {CL: 0}, bytearray(b'hi')),
     ValueError,
     "response.headers['content-length'] must be len(response.body) (2); "
     'got 0'),
    # Body / BodyIter
    ('body-chunked', 'GET', (200, 'OK', {TE: 'chunked'}, FakeBody(3)),
     ValueError,
     "response.headers must not include 'transfer-encoding' when "
     'response.body.chunked is False'),
    ('body-length', 'GET', (200, 'OK', {CL: 4}, FakeBody(3)), ValueError,
     "response.headers['content-length'] must be "
     'response.body.content_length (3); got 4'),
    ('body-state', 'GET', (200, 'OK', {}, FakeBody(3, state=2)), ValueError,
     'response.body.state must be 0 when returned by app(); got 2'),
    ('body-content-length-type', 'GET', (200, 'OK', {}, FakeBody(3.0)),
     TypeError,
     "response.body.content_length: need a <class 'int'>; "
     "got a <class 'float'>: 3.0"),
    ('body-content-length-negative', 'GET', (200, 'OK', {}, FakeBody(-1)),
     ValueError, 'response.body.content_length must be >= 0; got -1'),
    ('body-no-content-length', 'GET',
     (200, 'OK', {}, OddBody(chunked=False, state=0)), TypeError,
     'response.body.chunked is False, so it needs a content_length '
     'attribute: OddBody()'),
    # ChunkedBody / ChunkedBodyIter
    ('chunked-length', 'GET', (200, 'OK', {CL: 5}, FakeChunkedBody()),
     ValueError,
     "response.headers must not include 'content-length' when "
     'response.body.chunked is True'),
    ('chunked-state', 'GET', (200, 'OK', {}, FakeChunkedBody(state=1)),
     ValueError,
     'response.body.state must be 0 when returned by app(); got 1'),
    ('chunked-content-length-attr', 'GET',
     (200, 'OK', {}, OddBody(chunked=True, state=0, content_length=5)),
     TypeError,
     'response.body.chunked is True, so it cannot have a content_length '
     'attribute: OddBody()'),
    # other types
    ('body-str', 'GET', (200, 'OK', {}, 'hello'), TypeError,
     "response.body: bad body type: <class 'str'>: 'hello'"),
    ('body-memoryview-like', 'GET', (200, 'OK', {}, [b'hello']), TypeError,
     "response.body: bad body type: <class 'list'>: [b'hello']"),
    ('body-chunked-none', 'GET',
     (200, 'OK', {}, OddBody(chunked=None, state=0)), TypeError,
     "response.body: bad body type: <class 'test_degu.test_rgi.OddBody'>: "
     'OddBody()'),
]


@pytest.mark.parametrize(
    'method,response,exc_type,message',
    [c[1:] for c in RESPONSE_ERRORS], ids=[c[0] for c in RESPONSE_ERRORS],
)
def test_call_response_errors(method: str, response: Any, exc_type: type,
                              message: str) -> None:
    if method in ('PUT', 'POST'):
        request = FakeRequest(method, headers={CL: 3}, body=FakeBody(3))
    else:
        request = FakeRequest(method)
    app = Recorder(response)
    check(exc_type, message, Validator(app), FakeSession(), request, API)
    assert len(app.calls) == 1  # found after the app ran


def test_response_error_ids_unique() -> None:
    ids = [c[0] for c in RESPONSE_ERRORS]
    assert len(ids) == len(set(ids))


# ---------------------------------------------------------------------------
# on_connect()


def test_on_connect_without_app_on_connect() -> None:
    inst = Validator(app_function)
    sock = object()
    assert inst.on_connect(FakeSession(), sock) is True
    assert inst.on_connect(FakeSession('/tmp/s'), sock) is True


@pytest.mark.parametrize('result', [True, False])
def test_on_connect_delegates(result: bool) -> None:
    app = AppWithOnConnect(result)
    inst = Validator(app)
    session = FakeSession(store={})
    sock = object()
    assert inst.on_connect(session, sock) is result
    assert len(app.calls) == 1
    assert app.calls[0][0] is session and app.calls[0][1] is sock


@pytest.mark.parametrize('result,message', [
    # the original Degu's message, exactly
    (1, "app.on_connect() must return a <class 'bool'>; "
        "got a <class 'int'>: 1"),
    (None, "app.on_connect() must return a <class 'bool'>; "
           "got a <class 'NoneType'>: None"),
    ('yes', "app.on_connect() must return a <class 'bool'>; "
            "got a <class 'str'>: 'yes'"),
])
def test_on_connect_bad_result(result: Any, message: str) -> None:
    check(TypeError, message,
          Validator(AppWithOnConnect(result)).on_connect, FakeSession(),
          object())


@pytest.mark.parametrize('with_app_on_connect', [False, True])
def test_on_connect_session_errors(with_app_on_connect: bool) -> None:
    app: Any = AppWithOnConnect() if with_app_on_connect else app_function
    inst = Validator(app)
    check(ValueError,
          'session.requests must be 0 when on_connect() is called; got 1',
          inst.on_connect, FakeSession(requests=1), object())
    check(TypeError,
          "session.store: need a <class 'dict'>; got a <class 'list'>: []",
          inst.on_connect, FakeSession(store=[]), object())
    check(ValueError,
          'session.address: need a 2-tuple or a 4-tuple; got a 1-tuple',
          inst.on_connect, FakeSession(address=('x',)), object())
    if with_app_on_connect:
        assert app.calls == []  # the app's on_connect never ran


# ---------------------------------------------------------------------------
# With the real degu body and header classes (once they exist)


def test_with_real_degu_classes() -> None:
    base = pytest.importorskip('degu.base')
    api = base.api

    def requests() -> List[Any]:
        return [
            FakeRequest('PUT', '/x', {CL: 3},
                        api.Body(io.BytesIO(b'abc'), 3), [], ['x'], None),
            FakeRequest('POST', '/x', {TE: 'chunked'},
                        api.ChunkedBody(io.BytesIO(b'3\r\nabc\r\n0\r\n\r\n')),
                        [], ['x'], None),
            FakeRequest('GET', '/x', {'range': api.Range(16, 21)}, None, [],
                        ['x'], None),
        ]

    responses = [
        (200, 'OK', {CL: 2}, api.BodyIter([b'a', b'b'], 2)),
        (200, 'OK', {}, api.ChunkedBodyIter([(None, b'a'), (None, b'')])),
        (200, 'OK', {TE: 'chunked'},
         api.ChunkedBody(io.BytesIO(b'0\r\n\r\n'))),
        (200, 'OK', {}, api.Body(io.BytesIO(b'abc'), 3)),
        (206, 'Partial Content',
         {CL: 1, 'content-range': api.ContentRange(16, 17, 23)}, b'x'),
    ]
    for response in responses:
        for request in requests():
            body = request.body
            inst = Validator(Recorder(response))
            assert inst(FakeSession(), request, api) is response
            if body is not None:
                assert body.state == 2


# ---------------------------------------------------------------------------
# The RGI response contract, case by case (test_degu/contract_cases.py):
# Validator accepts what the server sends and refuses what it answers 500
# to (test_e2e.py holds the server to the very same table).

import io as _io  # noqa: E402

from degu.base import api as degu_api  # noqa: E402
from degu.session import Request as DeguRequest, Session as DeguSession  # noqa: E402
from test_degu.contract_cases import ACCEPTED, REFUSED, by_name, contract_app  # noqa: E402


def _contract_call(case: Any) -> Any:
    """Validator(app)(session, request, api) for *case*'s request and response."""
    if case.method == 'PUT':
        (headers, body) = ({'content-length': 5}, degu_api.Body(_io.BytesIO(b'hello'), 5))
    else:
        (headers, body) = ({}, None)
    request = DeguRequest(case.method, '/' + case.name, headers, body, [], [case.name], None)
    return Validator(contract_app)(DeguSession(('127.0.0.1', 1234)), request, degu_api)


@pytest.mark.parametrize('case', by_name(ACCEPTED))
def test_contract_accepted_by_validator(case: Any) -> None:
    response = _contract_call(case)
    assert response[0] == case.respond(degu_api)[0]


@pytest.mark.parametrize('case', by_name(REFUSED))
def test_contract_refused_by_validator(case: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        _contract_call(case)
