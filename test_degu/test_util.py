"""Tests for degu.util (duck-typed on mount/path/query)."""

from typing import List, Optional

import pytest

from degu import util


class FakeRequest:
    """Only the three attributes degu.util reads."""

    def __init__(self, mount: List[str], path: List[str],
                 query: Optional[str]) -> None:
        self.mount = mount
        self.path = path
        self.query = query


class ReadOnlyRequest:
    """Like degu.server.Request: read-only properties over mutable lists."""

    def __init__(self, mount: List[str], path: List[str],
                 query: Optional[str]) -> None:
        self._mount = mount
        self._path = path
        self._query = query

    @property
    def mount(self) -> List[str]:
        return self._mount

    @property
    def path(self) -> List[str]:
        return self._path

    @property
    def query(self) -> Optional[str]:
        return self._query


def test_all() -> None:
    assert util.__all__ == ('shift_path', 'relative_uri', 'absolute_uri')


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
@pytest.mark.parametrize('cls', [FakeRequest, ReadOnlyRequest])
def test_uris(cls: type, mount: List[str], path: List[str],
              query: Optional[str], relative: str, absolute: str) -> None:
    request = cls(list(mount), list(path), query)
    assert util.relative_uri(request) == relative
    assert util.absolute_uri(request) == absolute
    # Pure functions: nothing is mutated.
    assert (request.mount, request.path, request.query) == (mount, path, query)


@pytest.mark.parametrize('cls', [FakeRequest, ReadOnlyRequest])
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
