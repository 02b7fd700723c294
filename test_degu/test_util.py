# SPDX-License-Identifier: LGPL-3.0-or-later
"""Tests for degu.util (duck-typed on mount/path/query)."""

from typing import Any, List, Optional

import pytest

from degu import util
from degu.session import Request


class FakeRequest:
    """Only the three attributes degu.util reads."""

    def __init__(self, mount: List[str], path: List[str],
                 query: Optional[str]) -> None:
        self.mount = mount
        self.path = path
        self.query = query


def real_request(mount: List[str], path: List[str], query: Optional[str]) -> Any:
    """The server's own Request: read-only properties over mutable lists."""
    return Request('GET', '/', {}, None, mount, path, query)


def test_all() -> None:
    assert util.__all__ == ('shift_path', 'relative_uri', 'absolute_uri',
                            'decode_component')


# (mount, path, query, relative_uri, absolute_uri)
URI_CASES = [
    ([], [], None, '/', '/'),
    ([], [], '', '/?', '/?'),
    ([], ['foo'], None, '/foo', '/foo'),
    ([], ['foo'], '', '/foo?', '/foo?'),
    ([], ['foo', ''], None, '/foo/', '/foo/'),
    ([], ['foo', 'bar', ''], 'stuff=junk', '/foo/bar/?stuff=junk',
     '/foo/bar/?stuff=junk'),
    (['foo'], [], None, '/', '/foo'),
    (['foo'], [''], None, '/', '/foo/'),
    (['foo'], ['bar'], 'k=v', '/bar?k=v', '/foo/bar?k=v'),
    (['foo', 'bar'], ['baz'], '', '/baz?', '/foo/bar/baz?'),
    (['a', 'b'], [], 'q', '/?q', '/a/b?q'),
]


@pytest.mark.parametrize('mount,path,query,relative,absolute', URI_CASES)
@pytest.mark.parametrize('cls', [FakeRequest, real_request])
def test_uris(cls: type, mount: List[str], path: List[str],
              query: Optional[str], relative: str, absolute: str) -> None:
    request = cls(list(mount), list(path), query)
    assert util.relative_uri(request) == relative
    assert util.absolute_uri(request) == absolute
    # Pure functions: nothing is mutated.
    assert (request.mount, request.path, request.query) == (mount, path, query)


@pytest.mark.parametrize('cls', [FakeRequest, real_request])
def test_shift_path(cls: type) -> None:
    mount: List[str] = []
    path = ['foo', 'bar', '']
    request = cls(mount, path, 'k=v')
    before = util.absolute_uri(request)
    assert before == '/foo/bar/?k=v'

    assert util.shift_path(request) == 'foo'
    assert request.mount is mount and request.path is path  # mutated in place
    assert (mount, path) == (['foo'], ['bar', ''])
    assert util.relative_uri(request) == '/bar/?k=v'
    assert util.absolute_uri(request) == before

    assert util.shift_path(request) == 'bar'
    assert (mount, path) == (['foo', 'bar'], [''])
    assert util.relative_uri(request) == '/?k=v'

    assert util.shift_path(request) == ''
    assert (mount, path) == (['foo', 'bar', ''], [])
    assert util.relative_uri(request) == '/?k=v'
    assert util.absolute_uri(request) == before

    with pytest.raises(IndexError) as cm:
        util.shift_path(request)
    assert str(cm.value) == 'pop from empty list'
    # A failed shift leaves the request untouched.
    assert (mount, path) == (['foo', 'bar', ''], [])
    assert util.absolute_uri(request) == before


def test_shift_path_empty_from_start() -> None:
    request = FakeRequest([], [], None)
    with pytest.raises(IndexError) as cm:
        util.shift_path(request)
    assert str(cm.value) == 'pop from empty list'
    assert (request.mount, request.path) == ([], [])


# -- decode_component ------------------------------------------------------------

@pytest.mark.parametrize('component, name', [
    ('', ''),
    ('plain', 'plain'),
    ('a%20b.txt', 'a b.txt'),
    ('%41%42c', 'ABc'),
    ('%4a%4A', 'JJ'),                       # either case
    ('caf%C3%A9', 'caf\u00e9'),
    ('%E2%82%AC', '\u20ac'),               # three bytes
    ('%F0%9F%98%80', '\U0001f600'),        # four bytes
    ('%25', '%'),                            # decoded once, not twice
    ('%2541', '%41'),
    ('%3F%23%26%3D%2B', '?#&=+'),
    ('...', '...'),                          # not '.' or '..'
    ('.%2E.', '...'),
    ('..a', '..a'),
    ('caf\u00e9', 'caf\u00e9'),            # no '%': the name itself
    ('x%C3%A9y', 'x\u00e9y'),
])
def test_decode_component(component: str, name: str) -> None:
    assert util.decode_component(component) == name


@pytest.mark.parametrize('component', [
    '.', '..', '%2e', '%2E', '.%2e', '%2e%2E',
    'a/b', 'a%2fb', '%2F', '/', 'a\\b', 'a%5cb', '%5C',
    'a\x00', '%00', 'a%00b',
])
def test_decode_component_unsafe(component: str) -> None:
    with pytest.raises(ValueError) as cm:
        util.decode_component(component)
    assert type(cm.value) is ValueError
    assert str(cm.value) == (
        "path component is '.' or '..' or holds '/', '\\\\' or NUL once "
        'decoded: {!r}'.format(component)
    )


@pytest.mark.parametrize('component', ['%', 'a%', '%4', 'a%4', '%zz', '%g1', '%1g',
                                       '%%41', '% 1', '%+1', '%-1'])
def test_decode_component_bad_escape(component: str) -> None:
    with pytest.raises(ValueError) as cm:
        util.decode_component(component)
    assert type(cm.value) is ValueError
    assert str(cm.value) == (
        'bad percent-escape in path component: {!r}'.format(component)
    )


@pytest.mark.parametrize('component, byte, position', [
    ('%E9', 0xe9, 0),                 # Latin-1
    ('caf%E9', 0xe9, 3),
    ('x%C3', 0xc3, 1),                # truncated
    ('%C3%28', 0xc3, 0),              # bad continuation
    ('%C0%AF', 0xc0, 0),              # overlong '/'
    ('%ED%A0%80', 0xed, 0),           # a surrogate
    ('%FF', 0xff, 0),
])
def test_decode_component_not_utf8(component: str, byte: int, position: int) -> None:
    with pytest.raises(UnicodeDecodeError) as cm:
        util.decode_component(component)
    assert cm.value.start == position
    assert str(cm.value).startswith(
        "'utf-8' codec can't decode byte 0x{:02x} in position {}: ".format(byte, position)
    )
    assert str(cm.value).endswith(
        'path component {!r} is not UTF-8'.format(component)
    )
    assert isinstance(cm.value, ValueError)
