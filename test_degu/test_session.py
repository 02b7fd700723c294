# SPDX-License-Identifier: LGPL-3.0-or-later
"""Unit tests for degu.session: Session and Request (SPEC §10.3)."""

from typing import Any, List

import pytest

from degu import server, session
from degu.base import (
    DELETE_BIT,
    GET_BIT,
    HEAD_BIT,
    POST_BIT,
    PUT_BIT,
    TYPE_ERROR,
    TYPE_ERROR2,
)
from degu.server import Request, Session


def test_all() -> None:
    assert session.__all__ == ('Session', 'Request')


def test_reexported_by_server() -> None:
    assert server.Session is session.Session
    assert server.Request is session.Request


# ---------------------------------------------------------------------------
# Session

def test_session_defaults() -> None:
    session = Session(('127.0.0.1', 12345))
    assert session.address == ('127.0.0.1', 12345)
    assert session.credentials is None
    assert session.max_requests == 500
    assert session.requests == 0
    assert session.store == {}
    assert session.store is session.store
    assert session.closed is False
    assert session.message is None


def test_session_args() -> None:
    address = b'\x0000022'
    creds = (1, 2, 3)
    session = Session(address, creds, 17)
    assert session.address is address
    assert session.credentials is creds
    assert session.max_requests == 17
    assert Session('/tmp/s', None, 0).max_requests == 0
    assert Session('/tmp/s', None, 75000).max_requests == 75000
    assert Session('/tmp/s', max_requests=None).max_requests == 500


@pytest.mark.parametrize('creds', [[1, 2, 3], 'abc', 123, {1: 2}])
def test_session_credentials_type(creds: Any) -> None:
    with pytest.raises(TypeError) as cm:
        Session('/tmp/s', creds)
    assert str(cm.value) == TYPE_ERROR2.format('credentials', tuple, type(creds))


@pytest.mark.parametrize('creds', [(), (1,), (1, 2), (1, 2, 3, 4)])
def test_session_credentials_length(creds: Any) -> None:
    with pytest.raises(ValueError) as cm:
        Session('/tmp/s', creds)
    assert str(cm.value) == 'credentials: need a 3-tuple; got a {}-tuple'.format(
        len(creds)
    )


@pytest.mark.parametrize('value', [True, 1.0, '5'])
def test_session_max_requests_type(value: Any) -> None:
    with pytest.raises(TypeError) as cm:
        Session('/tmp/s', None, value)
    assert str(cm.value) == TYPE_ERROR.format(
        'max_requests', int, type(value), value
    )


@pytest.mark.parametrize('value', [-1, 75001, 10 ** 9])
def test_session_max_requests_value(value: int) -> None:
    with pytest.raises(ValueError) as cm:
        Session('/tmp/s', None, value)
    assert str(cm.value) == 'need 0 <= max_requests <= 75000; got {}'.format(value)


@pytest.mark.parametrize('name', ['address', 'credentials', 'max_requests',
                                  'requests', 'store', 'closed', 'message'])
def test_session_read_only(name: str) -> None:
    session = Session('/tmp/s')
    with pytest.raises(AttributeError):
        setattr(session, name, 1)


def test_session_close() -> None:
    session = Session(('::1', 5, 0, 0))
    session.store['_user'] = 'jo'
    session.close('first')
    assert session.closed is True
    assert session.message == 'first'
    session.close('second')  # the first message wins
    assert session.message == 'first'
    assert session.store == {'_user': 'jo'}


@pytest.mark.parametrize('args, text_repr, text_str', [
    ((('127.0.0.1', 1234),), "Session(('127.0.0.1', 1234))", "('127.0.0.1', 1234)"),
    ((('::1', 5, 0, 0),), "Session(('::1', 5, 0, 0))", "('::1', 5, 0, 0)"),
    (('/tmp/s',), "Session('/tmp/s')", "'/tmp/s'"),
    ((b'\x0000022',), "Session(b'\\x0000022')", "b'\\x0000022'"),
    (('/tmp/s', (10, 20, 30)), "Session('/tmp/s', (10, 20, 30))",
     "'/tmp/s' (10, 20, 30)"),
    ((b'', (1, 0, 0), 3), "Session(b'', (1, 0, 0))", "b'' (1, 0, 0)"),
])
def test_session_repr_str(args: Any, text_repr: str, text_str: str) -> None:
    session = Session(*args)
    assert repr(session) == text_repr
    assert str(session) == text_str


# ---------------------------------------------------------------------------
# Request

@pytest.mark.parametrize('method, bit', [
    ('GET', GET_BIT), ('PUT', PUT_BIT), ('POST', POST_BIT),
    ('HEAD', HEAD_BIT), ('DELETE', DELETE_BIT),
])
def test_request_methods(method: str, bit: int) -> None:
    headers: dict = {}
    body = object()
    mount: List[str] = ['a']
    path = ['b', '']
    uri = '/a/b/?q'
    query = 'q'
    request = Request(method, uri, headers, body, mount, path, query)
    assert request.method == method
    assert request.m == bit
    # Everything else is kept by identity.
    assert request.uri is uri
    assert request.headers is headers
    assert request.body is body
    assert request.mount is mount
    assert request.path is path
    assert request.query is query


@pytest.mark.parametrize('method', ['get', 'Get', 'OPTIONS', 'PATCH', 'GET ', ''])
def test_request_bad_method(method: str) -> None:
    with pytest.raises(ValueError) as cm:
        Request(method, '/', {}, None, [], [], None)
    assert str(cm.value) == 'bad method: {!r}'.format(method)


@pytest.mark.parametrize('method', [b'GET', None, 1])
def test_request_method_type(method: Any) -> None:
    with pytest.raises(TypeError) as cm:
        Request(method, '/', {}, None, [], [], None)
    assert str(cm.value) == TYPE_ERROR.format('method', str, type(method), method)


@pytest.mark.parametrize('name, index', [('mount', 4), ('path', 5)])
@pytest.mark.parametrize('value', [('foo',), None, 'foo'])
def test_request_list_types(name: str, index: int, value: Any) -> None:
    args: List[Any] = ['GET', '/', {}, None, [], [], None]
    args[index] = value
    with pytest.raises(TypeError) as cm:
        Request(*args)
    assert str(cm.value) == TYPE_ERROR2.format(name, list, type(value))


@pytest.mark.parametrize('name', ['method', 'm', 'uri', 'headers', 'body',
                                  'mount', 'path', 'query'])
def test_request_read_only(name: str) -> None:
    request = Request('GET', '/', {}, None, [], [], None)
    with pytest.raises(AttributeError):
        setattr(request, name, 1)


def test_request_shift_path() -> None:
    mount: List[str] = []
    path = ['foo', 'bar', '']
    request = Request('GET', '/foo/bar/', {}, None, mount, path, None)
    assert request.shift_path() == 'foo'
    assert (mount, path) == (['foo'], ['bar', ''])
    assert request.shift_path() == 'bar'
    assert request.shift_path() == ''
    assert (mount, path) == (['foo', 'bar', ''], [])
    assert request.shift_path() is None
    assert request.shift_path() is None
    assert (mount, path) == (['foo', 'bar', ''], [])
    assert request.mount is mount
    assert request.path is path


@pytest.mark.parametrize('path, query, uri', [
    ([], None, '/'),
    ([], '', '/?'),
    (['foo'], None, '/foo'),
    (['foo', ''], None, '/foo/'),
    (['foo', 'bar'], 'k=v&x=y', '/foo/bar?k=v&x=y'),
    ([''], '', '/?'),
])
def test_request_build_proxy_uri(path: List[str], query: Any, uri: str) -> None:
    request = Request('GET', '/mnt' + uri, {}, None, ['mnt'], path, query)
    assert request.build_proxy_uri() == uri


def test_request_repr() -> None:
    request = Request('GET', '/foo', {}, None, [], ['foo'], None)
    assert repr(request) == (
        "Request(method='GET', uri='/foo', headers={}, body=None, "
        "mount=[], path=['foo'], query=None)"
    )
    request = Request('PUT', '/a/b?c', {'content-length': 3}, 'BODY', ['a'],
                      ['b'], 'c')
    assert repr(request) == (
        "Request(method='PUT', uri='/a/b?c', headers={'content-length': 3}, "
        "body='BODY', mount=['a'], path=['b'], query='c')"
    )
