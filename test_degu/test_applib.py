# SPDX-License-Identifier: LGPL-3.0-or-later
"""Tests for degu.applib: unit tests on fake requests, then real servers.

The end-to-end tests run ``Server.serve_forever()`` in daemon threads of the
test process (stopped with ``shutdown()``) and talk to them with
``degu.client`` over AF_UNIX and TCP loopback.
"""

import contextlib
import errno
import gc
import io
import logging
import os
import select
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import warnings
from collections import OrderedDict
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

from degu import applib
from degu.applib import (
    AllowedMethods,
    FilesApp,
    MethodFilter,
    ProxyApp,
    Router,
)
from degu.base import (
    IO_SIZE,
    ROUTER_MAX_DEPTH,
    Body,
    BodyIter,
    ChunkedBody,
    ChunkedBodyIter,
    ContentRange,
    Range,
    api,
    set_output_headers,
)
from degu.client import Client, Connection, Response
from degu.server import Request, Server, Session
from test_degu.helpers import Background, wait_until

METHODS = ('GET', 'HEAD', 'PUT', 'POST', 'DELETE')
HAVE_PROC_FD = os.path.isdir('/proc/self/fd')


def mkreq(method: str, uri: str, headers: Optional[Dict[str, Any]] = None,
          body: Any = None, shift: int = 0) -> Request:
    """A Request as the server would build it for *uri* (not validated)."""
    (p, sep, q) = uri.partition('?')
    path = [] if p == '/' else p[1:].split('/')
    return Request(method, uri, {} if headers is None else headers, body,
                   path[:shift], path[shift:], q if sep else None)


def fd_count() -> int:
    """Open file descriptors of this process, after collecting garbage.

    Earlier tests leave FilesApp instances in reference cycles (through
    caught exceptions); collecting first keeps their descriptors from being
    closed in the middle of a measurement.
    """
    gc.collect()
    return len(os.listdir('/proc/self/fd'))


class Recorder:
    """An app returning its name and a snapshot of what it was called with."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: List[Tuple[Any, Any, Any]] = []

    def __call__(self, session: Any, request: Any, api: Any) -> Any:
        self.calls.append((session, request, api))
        return (200, 'OK', {}, (self.name, list(request.mount),
                                list(request.path)))

    def __repr__(self) -> str:
        return 'Recorder({!r})'.format(self.name)


def test_all() -> None:
    assert applib.__all__ == ('AllowedMethods', 'MethodFilter', 'Router', 'ProxyApp')
    assert 'FilesApp' not in applib.__all__
    assert applib.FilesApp is FilesApp


# -- AllowedMethods ----------------------------------------------------------

@pytest.mark.parametrize('methods, text', [
    ((), 'AllowedMethods()'),
    (('GET',), "AllowedMethods('GET')"),
    (('GET', 'HEAD'), "AllowedMethods('GET', 'HEAD')"),
    (('HEAD', 'GET'), "AllowedMethods('HEAD', 'GET')"),
    (METHODS, "AllowedMethods('GET', 'HEAD', 'PUT', 'POST', 'DELETE')"),
    (('PUT', 'PUT'), "AllowedMethods('PUT', 'PUT')"),
])
def test_allowed_methods(methods: Tuple[str, ...], text: str) -> None:
    allowed = AllowedMethods(*methods)
    assert allowed.methods == methods
    assert type(allowed.methods) is tuple
    assert repr(allowed) == text
    for m in METHODS:
        assert allowed.isallowed(m) is (m in methods)
    assert allowed.isallowed('get') is False
    assert allowed.isallowed('OPTIONS') is False
    with pytest.raises(AttributeError):
        allowed.methods = ('GET',)  # type: ignore[misc]


class Str(str):
    pass


@pytest.mark.parametrize('bad', [
    'get', 'Get', 'OPTIONS', 'PATCH', '', 'GET ', b'GET', None, 1, ['GET'],
    Str('GET'),
])
def test_allowed_methods_bad(bad: Any) -> None:
    with pytest.raises(ValueError) as cm:
        AllowedMethods('GET', bad)
    assert str(cm.value) == 'bad method: {!r}'.format(bad)


def test_allowed_methods_call() -> None:
    app = Recorder('app')
    allowed = AllowedMethods('GET', 'HEAD')
    wrapped = allowed(app)
    assert type(wrapped) is MethodFilter
    assert wrapped.app is app
    assert wrapped.allowed_methods is allowed
    with pytest.raises(TypeError) as cm:
        allowed('nope')  # type: ignore[arg-type]
    assert str(cm.value) == "app not callable: 'nope'"


# -- MethodFilter ------------------------------------------------------------

def test_method_filter_init() -> None:
    app = Recorder('app')
    allowed = AllowedMethods('GET')
    f = MethodFilter(app, allowed)
    assert f.app is app
    assert f.allowed_methods is allowed

    for bad_app in (None, 'app', 17):
        with pytest.raises(TypeError) as cm:
            MethodFilter(bad_app, allowed)  # type: ignore[arg-type]
        assert str(cm.value) == 'app not callable: {!r}'.format(bad_app)

    class Sub(AllowedMethods):
        pass

    for bad in (('GET',), None, Sub('GET'), frozenset(['GET'])):
        with pytest.raises(TypeError) as cm:
            MethodFilter(app, bad)  # type: ignore[arg-type]
        assert str(cm.value) == (
            'allowed_methods: need a {!r}; got a {!r}: {!r}'.format(
                AllowedMethods, type(bad), bad
            )
        )
    # app is checked first
    with pytest.raises(TypeError) as cm:
        MethodFilter(None, None)  # type: ignore[arg-type]
    assert str(cm.value) == 'app not callable: None'


@pytest.mark.parametrize('allowed', [(), ('GET',), ('GET', 'HEAD'),
                                     ('PUT', 'POST', 'DELETE'), METHODS])
@pytest.mark.parametrize('method', METHODS)
def test_method_filter_call(allowed: Tuple[str, ...], method: str) -> None:
    app = Recorder('app')
    f = AllowedMethods(*allowed)(app)
    session = Session(('127.0.0.1', 1234))
    request = mkreq(method, '/foo')
    result = f(session, request, api)
    if method in allowed:
        assert result == (200, 'OK', {}, ('app', [], ['foo']))
        assert len(app.calls) == 1
        assert app.calls[0][0] is session
        assert app.calls[0][1] is request
        assert app.calls[0][2] is api
    else:
        assert result == (405, 'Method Not Allowed', {}, None)
        assert app.calls == []


# -- Router ------------------------------------------------------------------

def chain(depth: int, leaf: Any) -> Dict[Optional[str], Any]:
    """*depth* nested dicts, each {'a': next}, the innermost {'a': leaf}."""
    appmap: Dict[Optional[str], Any] = {'a': leaf}
    for _ in range(depth - 1):
        appmap = {'a': appmap}
    return appmap


DEPTH_ERROR = 'Router: max appmap depth 10 exceeded'


def test_router_init_ok() -> None:
    app = Recorder('app')
    appmaps: List[Any] = [{}, {None: app}, {'': app}, {'foo': app, None: app, '': app},
                          {'a': {'b': {None: app}}}, chain(ROUTER_MAX_DEPTH, app)]
    for appmap in appmaps:
        router = Router(appmap)
        assert router.appmap is appmap
    assert ROUTER_MAX_DEPTH == 10


def test_router_init_type_errors() -> None:
    app = Recorder('app')
    bad: Any
    for bad in (None, [], (), OrderedDict(), 'foo'):
        with pytest.raises(TypeError) as cm:
            Router(bad)
        assert str(cm.value) == 'appmap: need a {!r}; got a {!r}: {!r}'.format(
            dict, type(bad), bad
        )
    key: Any
    appmap: Any
    for key in (1, b'foo', Str('foo'), ('a',), 1.5, False):
        for appmap in ({key: app}, {'x': {key: app}}, {None: {'': {key: app}}}):
            with pytest.raises(TypeError) as cm:
                Router(appmap)
            assert str(cm.value) == (
                'appmap key: need a {!r}; got a {!r}: {!r}'.format(str, type(key), key)
            )
    for (appmap, key, value) in [
        ({'foo': 'bar'}, 'foo', 'bar'),
        ({None: 17}, None, 17),
        ({'': None}, '', None),
        ({'a': {'b': None}}, 'b', None),
        ({'a': {'b': OrderedDict()}}, 'b', OrderedDict()),
        ({'a': app, 'b': [app]}, 'b', [app]),
    ]:
        with pytest.raises(TypeError) as cm:
            Router(appmap)
        assert str(cm.value) == 'appmap[{!r}]: value not callable: {!r}'.format(
            key, value
        )


@pytest.mark.parametrize('key', ['café', 'ü', '\u2603', 'a\x80'])
def test_router_init_non_ascii_key(key: str) -> None:
    app = Recorder('app')
    appmap: Any
    for appmap in ({key: app}, {'a': {key: app}}):
        with pytest.raises(ValueError) as cm:
            Router(appmap)
        assert str(cm.value) == 'bad appmap key: {!r}'.format(key)


def test_router_init_depth_and_cycles() -> None:
    app = Recorder('app')
    Router(chain(10, app))
    for depth in (11, 12, 50):
        with pytest.raises(ValueError) as cm:
            Router(chain(depth, app))
        assert str(cm.value) == DEPTH_ERROR
    # an empty dict as the deepest level still counts as a level
    Router(chain(9, {}))
    with pytest.raises(ValueError) as cm:
        Router(chain(10, {}))
    assert str(cm.value) == DEPTH_ERROR

    selfish: Dict[Optional[str], Any] = {None: app}
    selfish['again'] = selfish
    one: Dict[Optional[str], Any] = {'x': app}
    two: Dict[Optional[str], Any] = {'one': one}
    one['two'] = two
    deep_cycle = chain(5, app)
    deep_cycle['back'] = deep_cycle
    appmap: Any
    for appmap in (selfish, one, two, {'a': {'b': selfish}}, deep_cycle):
        with pytest.raises(ValueError) as cm:
            Router(appmap)
        assert str(cm.value) == DEPTH_ERROR


def build_appmap() -> Tuple[Dict[Optional[str], Any], Dict[str, Recorder]]:
    apps = {name: Recorder(name) for name in
            ('root', 'slash', 'foo', 'bar_root', 'bar_slash', 'baz', 'deep')}
    appmap: Dict[Optional[str], Any] = {
        None: apps['root'],
        '': apps['slash'],  # unreachable from the wire ('/' -> path [])
        'foo': apps['foo'],
        'bar': {
            None: apps['bar_root'],
            '': apps['bar_slash'],
            'baz': apps['baz'],
            'deep': {'er': apps['deep']},
        },
    }
    return (appmap, apps)


@pytest.mark.parametrize('uri, name, mount, path', [
    ('/', 'root', [], []),
    ('/?q=1', 'root', [], []),
    ('/foo', 'foo', ['foo'], []),
    ('/foo/', 'foo', ['foo'], ['']),
    ('/foo/x/y?k=v', 'foo', ['foo'], ['x', 'y']),
    ('/bar', 'bar_root', ['bar'], []),
    ('/bar/', 'bar_slash', ['bar', ''], []),
    ('/bar/baz', 'baz', ['bar', 'baz'], []),
    ('/bar/baz/qux/', 'baz', ['bar', 'baz'], ['qux', '']),
    ('/bar/deep/er', 'deep', ['bar', 'deep', 'er'], []),
    ('/bar/deep/er/x', 'deep', ['bar', 'deep', 'er'], ['x']),
    # unknown components: 410, the component already moved to mount
    ('/nope', None, ['nope'], []),
    ('/nope/foo', None, ['nope'], ['foo']),
    ('/Foo', None, ['Foo'], []),
    ('/bar/nope', None, ['bar', 'nope'], []),
    ('/bar/deep', None, ['bar', 'deep'], []),
    ('/bar/deep/', None, ['bar', 'deep', ''], []),
    ('/bar/deep/ER', None, ['bar', 'deep', 'ER'], []),
])
def test_router_call(uri: str, name: Optional[str], mount: List[str],
                     path: List[str]) -> None:
    (appmap, apps) = build_appmap()
    router = Router(appmap)
    session = Session('/tmp/sock')
    request = mkreq('GET', uri)
    result = router(session, request, api)
    assert request.mount == mount
    assert request.path == path
    if name is None:
        assert result == (410, 'Gone', {}, None)
        assert all(app.calls == [] for app in apps.values())
    else:
        assert result == (200, 'OK', {}, (name, mount, path))
        [(s, r, a)] = apps[name].calls
        assert s is session and r is request and a is api
        assert all(app.calls == [] for app in apps.values() if app.name != name)


def test_router_call_keys() -> None:
    app = Recorder('app')
    # no None key: '/' is gone; a trailing slash needs the '' key
    router = Router({'foo': {'': app}})
    assert router(None, mkreq('GET', '/'), api) == (410, 'Gone', {}, None)
    assert router(None, mkreq('GET', '/foo'), api) == (410, 'Gone', {}, None)
    assert router(None, mkreq('GET', '/foo/'), api)[3] == ('app', ['foo', ''], [])
    # None leading to a dict: descend while no components are left
    router = Router({None: {None: {None: app}}})
    assert router(None, mkreq('GET', '/'), api)[3] == ('app', [], [])
    assert router(None, mkreq('GET', '/x'), api) == (410, 'Gone', {}, None)
    # a Router nested as an app is just another app
    inner = Router({'b': app})
    outer = Router({'a': inner})
    assert outer(None, mkreq('GET', '/a/b/c'), api)[3] == ('app', ['a', 'b'], ['c'])
    # routing respects what was already mounted
    request = mkreq('GET', '/x/a/b', shift=1)
    assert outer(None, request, api)[3] == ('app', ['x', 'a', 'b'], [])
    # the deepest allowed map is reachable
    router = Router(chain(10, app))
    result = router(None, mkreq('GET', '/' + '/'.join(['a'] * 11)), api)
    assert result[3] == ('app', ['a'] * 10, ['a'])
    # all methods are routed alike
    for method in METHODS:
        assert Router({'x': app})(None, mkreq(method, '/x'), api)[0] == 200


def test_router_call_type_check() -> None:
    router = Router({None: Recorder('app')})

    class FakeRequest:
        path: List[str] = []
        mount: List[str] = []

        def shift_path(self) -> None:
            return None

    for bad in (None, FakeRequest(), 'GET /'):
        with pytest.raises(TypeError) as cm:
            router(None, bad, api)  # type: ignore[arg-type]
        assert str(cm.value) == 'request: need a {!r}; got a {!r}'.format(
            Request, type(bad)
        )


def test_router_call_depth_after_mutation() -> None:
    app = Recorder('app')
    router = Router({'a': app})
    # made deeper than allowed after the constructor checked it
    router.appmap['a'] = chain(10, app)  # 11 levels with the top one
    with pytest.raises(ValueError) as cm:
        router(None, mkreq('GET', '/' + '/'.join(['a'] * 12)), api)
    assert str(cm.value) == DEPTH_ERROR
    # a cycle added later: fine until 10 levels were descended
    router = Router({'a': app})
    router.appmap['a'] = router.appmap
    for n in range(1, 10):
        request = mkreq('GET', '/' + '/'.join(['a'] * n))
        assert router(None, request, api) == (410, 'Gone', {}, None)
    with pytest.raises(ValueError) as cm:
        router(None, mkreq('GET', '/' + '/'.join(['a'] * 10)), api)
    assert str(cm.value) == DEPTH_ERROR


# -- ProxyApp (unit) ---------------------------------------------------------

class FakeConn:
    def __init__(self, number: int) -> None:
        self.number = number
        self.closed = False
        self.requests: List[Tuple[str, str, Dict[str, Any], Any]] = []

    def request(self, method: str, uri: str, headers: Dict[str, Any],
                body: Any) -> Any:
        self.requests.append((method, uri, dict(headers), body))
        return Response(200, 'OK', {'x-conn': str(self.number)}, None)


class FakeClient:
    def __init__(self) -> None:
        self.conns: List[FakeConn] = []

    def connect(self) -> FakeConn:
        conn = FakeConn(len(self.conns))
        self.conns.append(conn)
        return conn


def test_proxy_init() -> None:
    client = FakeClient()
    proxy = ProxyApp(client)
    assert proxy.client is client
    assert proxy.key == 'conn'
    proxy = ProxyApp(client, key='_upstream')
    assert proxy.key == '_upstream'
    proxy = ProxyApp(client, '')
    assert proxy.key == ''
    real = Client(('127.0.0.1', 5984))
    assert ProxyApp(real).client is real

    with pytest.raises(AttributeError):
        ProxyApp(object())
    with pytest.raises(AttributeError):
        ProxyApp(None)

    class BadClient:
        connect = 'nope'

    with pytest.raises(TypeError) as cm:
        ProxyApp(BadClient())
    assert str(cm.value) == 'client.connect() is not callable'
    for key in (None, b'conn', 1, Str('conn')):
        with pytest.raises(TypeError) as cm:
            ProxyApp(client, key)  # type: ignore[arg-type]
        assert str(cm.value) == 'key: need a {!r}; got a {!r}: {!r}'.format(
            str, type(key), key
        )


def test_proxy_call_unit() -> None:
    client = FakeClient()
    proxy = ProxyApp(client)
    session = Session(('::1', 1234, 0, 0))
    body = Body(io.BytesIO(b'hello'), 5)
    request = mkreq('PUT', '/up/foo/bar/?k=v', {'content-length': 5, 'x-a': 'b'},
                    body, shift=1)
    response = proxy(session, request, api)
    assert response == (200, 'OK', {'x-conn': '0'}, None)
    assert type(response) is Response
    [conn] = client.conns
    assert session.store == {'conn': conn}
    assert conn.requests == [
        ('PUT', '/foo/bar/?k=v', {'content-length': 5, 'x-a': 'b'}, body),
    ]
    assert conn.requests[0][3] is body
    # same session: same connection, in order; expect is not forwarded
    for (method, uri, proxied) in [('GET', '/', '/'), ('HEAD', '/a?', '/a?'),
                                   ('DELETE', '/a/b/', '/a/b/')]:
        request = mkreq(method, uri, {'expect': '100-continue', 'x': 'y'})
        assert proxy(session, request, api).headers == {'x-conn': '0'}
        assert conn.requests[-1] == (method, proxied, {'x': 'y'}, None)
        assert request.headers == {'x': 'y'}
    assert len(client.conns) == 1
    # a closed upstream connection is replaced
    conn.closed = True
    assert proxy(session, mkreq('GET', '/'), api).headers == {'x-conn': '1'}
    assert session.store == {'conn': client.conns[1]}
    # another session gets its own connection; other keys are left alone
    other = Session(('::1', 1235, 0, 0))
    other.store['_auth'] = 'me'
    assert ProxyApp(client, 'up')(other, mkreq('GET', '/'), api).headers == {
        'x-conn': '2'
    }
    assert other.store == {'_auth': 'me', 'up': client.conns[2]}


def test_proxy_call_type_checks() -> None:
    proxy = ProxyApp(FakeClient())
    session = Session('/tmp/sock')
    request = mkreq('GET', '/')
    bad: Any
    for bad in (None, {'store': {}}, 'session'):
        with pytest.raises(TypeError) as cm:
            proxy(bad, request, api)
        assert str(cm.value) == 'session: need a {!r}; got a {!r}'.format(
            Session, type(bad)
        )
    for bad in (None, 'GET / HTTP/1.1'):
        with pytest.raises(TypeError) as cm:
            proxy(session, bad, api)
        assert str(cm.value) == 'request: need a {!r}; got a {!r}'.format(
            Request, type(bad)
        )
    assert session.store == {}


# -- FilesApp (unit) ---------------------------------------------------------

BIG = bytes(range(256)) * 10241  # a bit over 2.5 MiB: several IO_SIZE pieces
FILES = {
    'index.html': b'<html>index</html>\n',
    'a.txt': b'hello, world\n',
    'empty.txt': b'',
    'noext': b'no extension here',
    'big.bin': BIG,
    'sub/b.json': b'{"b": 1}',
    'sub/deeper/c.css': b'p { }',
    'sub/index.html': b'<html>sub</html>\n',
    'data:x.txt': b'colon in name',
    # names that need percent-encoding in a URI
    'a b.txt': b'a space in the name',
    'caf\u00e9.txt': 'UTF-8 name: caf\u00e9'.encode(),
    'sub/x y/z z.txt': b'spaces in a directory and a file',
    'pct%41.txt': b'a literal percent sign',
    'q?.txt': b'a literal question mark',
}
SECRET = b'outside of dir_name'


@pytest.fixture
def www(tmp_path: Any) -> Iterator[str]:
    """A served tree under tmp/www, with traps, and tmp/outside beside it."""
    root = str(tmp_path)
    www = os.path.join(root, 'www')
    outside = os.path.join(root, 'outside')
    os.mkdir(www)
    os.mkdir(outside)
    with open(os.path.join(outside, 'secret.txt'), 'wb') as fp:
        fp.write(SECRET)
    for (name, data) in FILES.items():
        filename = os.path.join(www, *name.split('/'))
        os.makedirs(os.path.dirname(filename), exist_ok=True)
        with open(filename, 'wb') as fp:
            fp.write(data)
    os.mkdir(os.path.join(www, 'emptydir'))
    os.mkfifo(os.path.join(www, 'fifo'))
    os.mknod(os.path.join(www, 'sock'), 0o600 | stat.S_IFSOCK)
    links = {
        'link_in': 'a.txt',
        'link_out': os.path.join(outside, 'secret.txt'),
        'link_out_rel': '../outside/secret.txt',
        'link_dir_in': 'sub',
        'link_dir_out': outside,
        'link_dir_out_rel': '../outside',
        'link_root': '/',
        'link_loop': 'link_loop',
        'dangling': 'nowhere',
        'sub/link_up': '../a.txt',
    }
    for (name, target) in links.items():
        os.symlink(target, os.path.join(www, *name.split('/')))
    yield www


# The content-type of each extension in FILES (Python's own mimetypes table
# agrees with the usual system tables on these).
TYPES = {
    '.html': 'text/html; charset=utf-8',
    '.txt': 'text/plain; charset=utf-8',
    '.css': 'text/css; charset=utf-8',
    '.json': 'application/json; charset=utf-8',
    '.bin': 'application/octet-stream',
    '': 'application/octet-stream',
}


def expected(name: str, data: bytes) -> Dict[str, Any]:
    return {
        'content-type': TYPES[os.path.splitext(name)[1]],
        'content-length': len(data),
    }


def test_files_init(www: str) -> None:
    app = FilesApp(www)
    assert app.dir_name == www
    assert repr(app) == 'FilesApp({!r})'.format(www)
    assert os.path.samestat(os.fstat(app.dir_fd), os.stat(www))
    assert os.get_inheritable(app.dir_fd) is False
    app.close()
    assert app.dir_fd == -1
    app.close()

    bad: Any
    for bad in (None, b'/tmp', Str(www), 17):
        with pytest.raises(TypeError) as cm:
            FilesApp(bad)
        assert str(cm.value) == 'dir_name: need a {!r}; got a {!r}'.format(
            str, type(bad)
        )
    for bad in ('www', 'tmp/www', www + '/', www + '/.', www + '/../www',
                www.replace('/', '//'), '', '.'):
        with pytest.raises(ValueError) as cm2:
            FilesApp(bad)
        assert str(cm2.value) == 'dir_name: not absolute, normalized path: {!r}'.format(bad)
    with pytest.raises(FileNotFoundError):
        FilesApp(os.path.join(www, 'nope'))
    with pytest.raises(NotADirectoryError):
        FilesApp(os.path.join(www, 'a.txt'))
    # a symlink to a directory is fine as dir_name itself
    app = FilesApp(os.path.join(www, 'link_dir_in'))
    assert app(None, mkreq('GET', '/b.json'), api)[0] == 200
    app.close()
    with pytest.raises(ValueError) as cm2:
        app(None, mkreq('GET', '/b.json'), api)
    assert str(cm2.value) == 'FilesApp is closed'


@pytest.mark.skipif(not HAVE_PROC_FD, reason='needs /proc/self/fd')
def test_files_del_closes_dir_fd(www: str) -> None:
    before = fd_count()
    apps = [FilesApp(www) for _ in range(10)]
    assert fd_count() == before + 10
    del apps
    gc.collect()
    assert fd_count() == before


def call_files(app: FilesApp, method: str, uri: str, r: Any = None,
               shift: int = 0, www: Optional[str] = None) -> Tuple[Any, ...]:
    """Call *app*; return the response with its body read.

    The body must be ``Body(file, length)`` on the opened file itself,
    positioned at the first byte to send, and closed once read.
    """
    headers = {} if r is None else {'range': r}
    (status, reason, rheaders, body) = app(None, mkreq(method, uri, headers, shift=shift), api)
    if body is not None:
        assert type(body) is Body
        rfile = body.rfile
        assert isinstance(rfile, io.FileIO)
        assert rfile.mode == 'rb' and rfile.closefd is True
        assert os.path.dirname(rfile.name).startswith(app.dir_name)
        assert body.content_length == rheaders['content-length']
        if body.content_length == 0:
            assert rfile.closed is True
        else:
            assert rfile.closed is False
            first = rheaders['content-range'].start if status == 206 else 0
            assert rfile.tell() == first
            assert os.path.samestat(os.fstat(rfile.fileno()), os.stat(rfile.name))
        data = body.read() if body.content_length <= IO_SIZE else b''.join(body)
        assert rfile.closed is True
        return (status, reason, rheaders, data)
    return (status, reason, rheaders, None)


WHOLE_FILES = [(uri, name) for (name, uri) in [
    ('index.html', '/'),
    ('a.txt', '/a.txt'),
    ('empty.txt', '/empty.txt'),
    ('noext', '/noext'),
    ('big.bin', '/big.bin'),
    ('sub/b.json', '/sub/b.json'),
    ('sub/deeper/c.css', '/sub/deeper/c.css'),
    ('data:x.txt', '/data:x.txt'),
    # percent-decoded names, escapes in either case
    ('a b.txt', '/a%20b.txt'),
    ('caf\u00e9.txt', '/caf%C3%A9.txt'),
    ('caf\u00e9.txt', '/caf%c3%a9.txt'),
    ('sub/x y/z z.txt', '/sub/x%20y/z%20z.txt'),
    ('pct%41.txt', '/pct%2541.txt'),
    ('q?.txt', '/q%3F.txt'),
    ('a.txt', '/%61.txt'),
    ('sub/b.json', '/%73ub/b.json'),
]]


@pytest.mark.parametrize('uri, name', WHOLE_FILES)
def test_files_whole(www: str, uri: str, name: str) -> None:
    app = FilesApp(www)
    data = FILES[name]
    headers = expected(name, data)
    assert call_files(app, 'GET', uri) == (200, 'OK', headers, data)
    assert call_files(app, 'HEAD', uri) == (200, 'OK', headers, None)


def test_files_rfile_is_the_file(www: str) -> None:
    """What the original documents: Body(file, size) on the opened file."""
    app = FilesApp(www)
    (status, _, headers, body) = app(None, mkreq('GET', '/a%20b.txt'), api)
    assert (status, body.content_length) == (200, len(FILES['a b.txt']))
    assert isinstance(body.rfile, io.FileIO)
    assert body.rfile.name == os.path.join(www, 'a b.txt')
    assert body.rfile.read() == FILES['a b.txt']  # it is the file: read it
    body.rfile.close()
    # a range: the same kind of object, seeked to the first byte
    (status, _, headers, body) = app(None, mkreq('GET', '/a.txt', {'range': Range(7, 12)}), api)
    assert (status, body.content_length) == (206, 5)
    assert isinstance(body.rfile, io.FileIO)
    assert body.rfile.tell() == 7
    assert body.read() == b'world'


NOT_FOUND = [
    '/nope', '/nope/', '/nope/a.txt', '/sub/nope', '/A.txt', '/a.txt.',
    # trailing slash on a file, a file used as a directory
    '/a.txt/', '/a.txt/x', '/sub/b.json/', '/empty.txt/',
    # directories, with or without slash (no index.html below the root)
    '/sub', '/sub/', '/emptydir', '/emptydir/', '/sub/deeper', '/sub/x%20y',
    # not regular files
    '/fifo', '/fifo/', '/sock',
    # every symlink, wherever it points
    '/link_in', '/link_out', '/link_out_rel', '/link_dir_in', '/link_dir_in/',
    '/link_dir_in/b.json', '/link_dir_out/secret.txt', '/link_dir_out_rel/secret.txt',
    '/link_root', '/link_root/etc/passwd', '/link_loop', '/dangling',
    '/sub/link_up', '/link%5Fin',
    # absolute-looking from the wire cannot happen ('//' is refused), but
    # a component that names an absolute path here is just a missing name
    '/etc/passwd', '/tmp',
    # longer than any filesystem allows
    '/' + 'x' * 300, '/sub/' + 'x' * 300 + '/a',
    # decoded once, not twice: this is 'pctA.txt', which does not exist
    '/pct%41.txt', '/a%2520b.txt',
    # bytes that are not UTF-8 (Latin-1 'é', a truncated sequence, an
    # overlong '/'): well-formed URIs that name no file FilesApp serves
    '/caf%E9.txt', '/caf%C3.txt', '/%C0%AF', '/sub/%ff',
]


@pytest.mark.parametrize('uri', NOT_FOUND)
@pytest.mark.parametrize('method', ['GET', 'HEAD'])
def test_files_not_found(www: str, uri: str, method: str) -> None:
    app = FilesApp(www)
    assert call_files(app, method, uri) == (404, 'Not Found', {}, None)
    assert call_files(app, method, uri, Range(0, 1)) == (404, 'Not Found', {}, None)


@pytest.mark.parametrize('path', [
    ['', 'etc', 'passwd'],
    ['sub', '', 'b.json'],
    ['sub', ''],
    # a lone surrogate: os.open() would make it the byte 0xe9, not UTF-8
    ['caf\udce9.txt'],
])
def test_files_not_found_path(www: str, path: List[str]) -> None:
    """Paths no parser would produce, put in request.path by an app."""
    app = FilesApp(www)
    request = Request('GET', '/', {}, None, [], path, None)
    assert app(None, request, api) == (404, 'Not Found', {}, None)


@pytest.mark.parametrize('path', [
    ['/etc/passwd'],
    ['/etc', 'passwd'],
    ['sub/b.json'],
    ['..' + os.sep + 'outside', 'secret.txt'],
    ['sub\\b.json'],
    ['a.txt\x00'],
    ['.', 'a.txt'],
    ['sub', '..', 'a.txt'],
])
def test_files_bad_request_path(www: str, path: List[str]) -> None:
    """Names that could leave the directory, put in request.path by an app."""
    app = FilesApp(www)
    request = Request('GET', '/', {}, None, [], path, None)
    assert app(None, request, api) == (400, 'Bad Request', {}, None)
    # the same absolute name outside dir_name is refused too
    secret = os.path.join(os.path.dirname(www), 'outside', 'secret.txt')
    request = Request('GET', '/', {}, None, [], [secret], None)
    assert app(None, request, api) == (400, 'Bad Request', {}, None)


def test_files_path_component_type(www: str) -> None:
    app = FilesApp(www)
    bad: Any
    for bad in ([b'..', b'outside'], ['sub', 1], [None]):
        request = Request('GET', '/', {}, None, [], bad, None)
        with pytest.raises(TypeError) as cm:
            app(None, request, api)
        value = [c for c in bad if type(c) is not str][0]
        assert str(cm.value) == 'path component: need a {!r}; got a {!r}: {!r}'.format(
            str, type(value), value
        )


# Components that are '.' or '..' or hold '/', '\' or NUL once decoded, and
# broken escapes: malformed like the server refuses them on the wire.
BAD_NAMES = [
    '/..', '/../outside/secret.txt', '/sub/..', '/sub/../a.txt', '/sub/../../outside',
    '/nope/..', '/../', '/.', '/./a.txt', '/sub/.', '/sub/./b.json',
    '/%2e%2e', '/%2E%2E/outside/secret.txt', '/%2e', '/.%2e', '/sub/%2e%2e/a.txt',
    '/a.txt%2f', '/sub%2Fb.json', '/%2fetc%2fpasswd', '/sub%5Cb.json', '/a.txt%00',
    '/%zz', '/a%', '/a%2', '/%g0.txt', '/a%%20b.txt',
]


@pytest.mark.parametrize('uri', BAD_NAMES)
@pytest.mark.parametrize('method', ['GET', 'HEAD'])
def test_files_bad_names(www: str, uri: str, method: str) -> None:
    app = FilesApp(www)
    assert call_files(app, method, uri) == (400, 'Bad Request', {}, None)
    assert call_files(app, method, uri, Range(0, 1)) == (400, 'Bad Request', {}, None)


@pytest.mark.parametrize('uri', ['/a.txt', '/', '/nope', '/..', '/sub/', '/%zz'])
@pytest.mark.parametrize('method', ['PUT', 'POST', 'DELETE'])
def test_files_method_not_allowed(www: str, method: str, uri: str) -> None:
    app = FilesApp(www)
    result = app(None, mkreq(method, uri), api)
    assert result == (405, 'Method Not Allowed', {}, None)


def test_files_mounted(www: str) -> None:
    """Under a Router the app sees only the rest of the path."""
    app = FilesApp(www)
    assert call_files(app, 'GET', '/static/a.txt', shift=1)[3] == FILES['a.txt']
    # '/static/' -> path [''] -> index.html, like '/' at the top
    assert call_files(app, 'GET', '/static/', shift=1)[3] == FILES['index.html']
    assert call_files(app, 'GET', '/static', shift=1)[3] == FILES['index.html']
    assert call_files(app, 'GET', '/a/sub/', shift=1)[0] == 404
    # the mount is not decoded by FilesApp: only what is left to route
    assert call_files(app, 'GET', '/%zz/a%20b.txt', shift=1)[3] == FILES['a b.txt']
    router = Router({'static': app})
    response = router(None, mkreq('GET', '/static/sub/b.json'), api)
    assert response[:3] == (200, 'OK', expected('b.json', FILES['sub/b.json']))
    assert response[3].read() == FILES['sub/b.json']


@pytest.mark.parametrize('name, ctype', [
    ('notes.txt', 'text/plain; charset=utf-8'),
    ('NOTES.TXT', 'text/plain; charset=utf-8'),
    ('page.html', 'text/html; charset=utf-8'),
    ('style.css', 'text/css; charset=utf-8'),
    ('table.csv', 'text/csv; charset=utf-8'),
    ('data.json', 'application/json; charset=utf-8'),
    ('drawing.svg', 'image/svg+xml; charset=utf-8'),
    ('page.xhtml', 'application/xhtml+xml; charset=utf-8'),
    ('photo.png', 'image/png'),
    ('doc.pdf', 'application/pdf'),
    ('blob.bin', 'application/octet-stream'),
    ('README', 'application/octet-stream'),
    ('x.unknown-extension', 'application/octet-stream'),
    # compressed: sent as stored, so no claim about the content
    ('notes.txt.gz', 'application/octet-stream'),
    ('archive.tar.gz', 'application/octet-stream'),
    ('x.gz', 'application/octet-stream'),
    # a colon does not make it a URL
    ('data:x.txt', 'text/plain; charset=utf-8'),
    ('http:x.html', 'text/html; charset=utf-8'),
])
def test_content_type(name: str, ctype: str) -> None:
    assert applib.content_type(name) == ctype


@pytest.mark.parametrize('guessed, ctype', [
    ('text/x-anything', 'text/x-anything; charset=utf-8'),
    ('application/javascript', 'application/javascript; charset=utf-8'),
    ('text/javascript', 'text/javascript; charset=utf-8'),
    ('application/ecmascript', 'application/ecmascript; charset=utf-8'),
    ('application/xml', 'application/xml; charset=utf-8'),
    ('application/atom+xml', 'application/atom+xml; charset=utf-8'),
    ('application/ld+json', 'application/ld+json; charset=utf-8'),
    ('application/manifest+json', 'application/manifest+json; charset=utf-8'),
    ('application/wasm', 'application/wasm'),
    ('application/zip', 'application/zip'),
    ('image/jpeg', 'image/jpeg'),
    ('application/jsonx', 'application/jsonx'),
])
def test_content_type_rule(monkeypatch: Any, guessed: str, ctype: str) -> None:
    """The charset rule itself, whatever the system's tables say."""
    seen: List[str] = []

    def fake_guess_type(name: str) -> Tuple[Optional[str], Optional[str]]:
        seen.append(name)
        return (guessed, None)

    monkeypatch.setattr(applib.mimetypes, 'guess_type', fake_guess_type)
    assert applib.content_type('x') == ctype
    assert seen == ['./x']


A_LEN = len(FILES['a.txt'])
BIG_LEN = len(BIG)


@pytest.mark.parametrize('name, start, stop', [
    ('a.txt', 0, 1),                      # first byte
    ('a.txt', A_LEN - 1, A_LEN),          # last byte
    ('a.txt', 0, A_LEN),                  # whole file
    ('a.txt', 5, 9),
    ('a.txt', 1, A_LEN),
    ('big.bin', 0, 1),
    ('big.bin', BIG_LEN - 1, BIG_LEN),
    ('big.bin', IO_SIZE - 1, IO_SIZE + 1),
    ('big.bin', 3, BIG_LEN - 3),
    ('big.bin', 0, BIG_LEN),
    ('sub/b.json', 2, 4),
    ('caf\u00e9.txt', 3, 9),
])
def test_files_range(www: str, name: str, start: int, stop: int) -> None:
    app = FilesApp(www)
    data = FILES[name]
    headers = expected(name, data[start:stop])
    headers['content-range'] = ContentRange(start, stop, len(data))
    uri = '/' + name.replace('\u00e9', '%C3%A9')
    result = call_files(app, 'GET', uri, Range(start, stop))
    assert result == (206, 'Partial Content', headers, data[start:stop])
    assert type(result[2]['content-range']) is ContentRange
    assert call_files(app, 'HEAD', uri, Range(start, stop)) == (
        206, 'Partial Content', headers, None
    )


@pytest.mark.parametrize('name, start, stop', [
    ('a.txt', 0, A_LEN + 1),       # stop just beyond the end
    ('a.txt', A_LEN - 1, A_LEN + 1),
    ('a.txt', 5, 9999999999999999),
    ('big.bin', 0, BIG_LEN + 1),
    ('big.bin', IO_SIZE, BIG_LEN * 2),
    ('index.html', 3, 9999999999999999),
])
def test_files_range_past_the_end(www: str, name: str, start: int, stop: int) -> None:
    """A range that runs past the end is cut there (RFC 9110 section 14.1.1)."""
    app = FilesApp(www)
    data = FILES[name]
    size = len(data)
    headers = expected(name, data[start:])
    headers['content-range'] = ContentRange(start, size, size)
    uri = '/' if name == 'index.html' else '/' + name
    assert call_files(app, 'GET', uri, Range(start, stop)) == (
        206, 'Partial Content', headers, data[start:]
    )
    assert call_files(app, 'HEAD', uri, Range(start, stop)) == (
        206, 'Partial Content', headers, None
    )


@pytest.mark.parametrize('name, start, stop', [
    ('a.txt', A_LEN, A_LEN + 1),   # start at the end
    ('a.txt', 100, 200),
    ('empty.txt', 0, 1),
    ('big.bin', BIG_LEN, BIG_LEN + 1),
    ('index.html', 9999999999999998, 9999999999999999),
])
@pytest.mark.parametrize('method', ['GET', 'HEAD'])
def test_files_range_not_satisfiable(www: str, name: str, start: int,
                                     stop: int, method: str) -> None:
    app = FilesApp(www)
    uri = '/' if name == 'index.html' else '/' + name
    assert call_files(app, method, uri, Range(start, stop)) == (
        416, 'Range Not Satisfiable',
        {'content-range': 'bytes */{}'.format(len(FILES[name]))}, None,
    )


@pytest.mark.parametrize('name, start, first', [
    # bytes=N- : from N to the end
    ('a.txt', 0, 0),
    ('a.txt', 5, 5),
    ('a.txt', A_LEN - 1, A_LEN - 1),
    ('big.bin', IO_SIZE + 3, IO_SIZE + 3),
    # bytes=-N : the last N bytes (all of them when N is longer)
    ('a.txt', -1, A_LEN - 1),
    ('a.txt', -5, A_LEN - 5),
    ('a.txt', -A_LEN, 0),
    ('a.txt', -(A_LEN + 100), 0),
    ('big.bin', -(IO_SIZE + 1), BIG_LEN - IO_SIZE - 1),
])
def test_files_open_and_suffix_ranges(www: str, name: str, start: int,
                                      first: int) -> None:
    app = FilesApp(www)
    data = FILES[name]
    size = len(data)
    headers = expected(name, data[first:])
    headers['content-range'] = ContentRange(first, size, size)
    r = Range(start, None)
    assert call_files(app, 'GET', '/' + name, r) == (
        206, 'Partial Content', headers, data[first:]
    )
    assert call_files(app, 'HEAD', '/' + name, r) == (
        206, 'Partial Content', headers, None
    )


@pytest.mark.parametrize('name, start', [
    ('a.txt', A_LEN),          # bytes=13- of a 13-byte file: nothing left
    ('a.txt', A_LEN + 1),
    ('empty.txt', 0),
])
def test_files_open_range_not_satisfiable(www: str, name: str, start: int) -> None:
    app = FilesApp(www)
    assert call_files(app, 'GET', '/' + name, Range(start, None)) == (
        416, 'Range Not Satisfiable',
        {'content-range': 'bytes */{}'.format(len(FILES[name]))}, None,
    )


@pytest.mark.skipif(not HAVE_PROC_FD, reason='needs /proc/self/fd')
def test_files_no_fd_leak_unit(www: str) -> None:
    app = FilesApp(www)
    call_files(app, 'GET', '/a.txt')  # warm up (mimetypes etc.)
    before = fd_count()
    for _ in range(20):
        for (uri, name) in WHOLE_FILES:
            call_files(app, 'GET', uri)
            call_files(app, 'HEAD', uri)
        for uri in NOT_FOUND + BAD_NAMES:
            call_files(app, 'GET', uri)
        call_files(app, 'GET', '/a.txt', Range(1, 3))
        call_files(app, 'GET', '/a.txt', Range(1, 300))
        call_files(app, 'GET', '/a.txt', Range(300, 301))
        call_files(app, 'HEAD', '/a.txt', Range(300, 301))
        call_files(app, 'PUT', '/a.txt')
    assert fd_count() == before


@pytest.mark.skipif(not HAVE_PROC_FD, reason='needs /proc/self/fd')
def test_files_unconsumed_body_closes(www: str) -> None:
    """A body never (fully) read closes its file when dropped, silently."""
    app = FilesApp(www)
    before = fd_count()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        responses = [app(None, mkreq('GET', '/big.bin'), api) for _ in range(5)]
        responses.append(app(None, mkreq('GET', '/a.txt', {'range': Range(2, 5)}), api))
        assert fd_count() == before + 6
        body = responses[0][3]
        assert body.read(10) == BIG[:10]
        assert body.rfile.closed is False
        assert [piece for (piece, _) in zip(responses[1][3], range(1))] == [BIG[:IO_SIZE]]
        del responses, body
        # no gc.collect() needed: dropping the last reference is enough
        assert len(os.listdir('/proc/self/fd')) == before
        gc.collect()
    assert fd_count() == before
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


@pytest.mark.skipif(not HAVE_PROC_FD, reason='needs /proc/self/fd')
@pytest.mark.parametrize('uri', ['/boom', '/sub/boom', '/sub/deeper/boom'])
@pytest.mark.parametrize('code', [
    errno.ENOENT, errno.EACCES, errno.EPERM, errno.ENODEV, errno.ENXIO,
    errno.EMLINK, errno.ELOOP, errno.EISDIR,
    errno.EIO, errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.EINTR,
])
def test_files_open_errors(www: str, monkeypatch: Any, uri: str, code: int) -> None:
    """Which open() errors mean 404, and that none leaks a directory fd."""
    real_open = os.open

    def fake_open(name: str, *args: Any, **kw: Any) -> int:
        if name == 'boom':
            raise OSError(code, os.strerror(code))
        return real_open(name, *args, **kw)

    app = FilesApp(www)
    before = fd_count()
    monkeypatch.setattr(os, 'open', fake_open)
    if code in (errno.EIO, errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.EINTR):
        with pytest.raises(OSError) as cm:
            app(None, mkreq('GET', uri), api)
        assert cm.value.errno == code
    else:
        assert app(None, mkreq('GET', uri), api) == (404, 'Not Found', {}, None)
    monkeypatch.undo()
    assert fd_count() == before


@pytest.mark.skipif(not HAVE_PROC_FD, reason='needs /proc/self/fd')
def test_files_error_after_open(www: str, monkeypatch: Any) -> None:
    """Failures after the file was opened close it before propagating."""
    app = FilesApp(www)
    before = fd_count()
    # a range header that is not a Range (only an app could put it there)
    for bad in ('bytes=0-0', 17):
        request = mkreq('GET', '/a.txt', {'range': bad})
        with pytest.raises(AttributeError):
            app(None, request, api)
        assert fd_count() == before

    def fake_fstat(fd: int) -> Any:
        raise OSError(errno.EIO, 'I/O error')

    monkeypatch.setattr(os, 'fstat', fake_fstat)
    with pytest.raises(OSError) as cm:
        app(None, mkreq('GET', '/a.txt'), api)
    monkeypatch.undo()
    assert cm.value.errno == errno.EIO
    assert fd_count() == before


def test_files_file_shrinks(www: str) -> None:
    """Truncated after the response was built: the body fails, the file closes."""
    app = FilesApp(www)
    (status, _, headers, body) = app(None, mkreq('GET', '/a.txt'), api)
    assert (status, headers['content-length']) == (200, A_LEN)
    with open(os.path.join(www, 'a.txt'), 'r+b') as fp:
        fp.truncate(5)
    with pytest.raises(ValueError) as cm:
        body.read()
    assert str(cm.value) == 'expected to read 13 bytes, but received 5'
    assert body.rfile.closed is True
    assert body.state == 3


def served_file(data: bytes, start: int, length: int) -> Any:
    tmp = tempfile.TemporaryFile()
    tmp.write(data)
    tmp.flush()
    fd = os.dup(tmp.fileno())
    tmp.close()
    return (fd, applib._served_file(fd, 'name', start, length))


def test_served_file() -> None:
    """The rfile on its own: spans, EOF, closing, short reads."""
    (fd, f) = served_file(b'0123456789', 3, 4)
    assert isinstance(f, io.FileIO)
    assert f.name == 'name' and f.tell() == 3
    buf = bytearray(10)
    assert f.readinto(memoryview(buf)[:2]) == 2
    assert buf[:2] == b'34'
    assert f.closed is False
    assert f.readinto(buf) == 2  # never past the span, whatever the buffer
    assert buf[:2] == b'56'
    assert f.closed is True      # closed with the last byte of the span
    assert f.readinto(memoryview(buf)) == 0
    f.close()
    with pytest.raises(OSError) as cm:
        os.fstat(fd)
    assert cm.value.errno == errno.EBADF
    # zero length: closed at once
    (_, f) = served_file(b'0123456789', 5, 0)
    assert f.closed is True
    assert f.readinto(memoryview(buf)) == 0
    # asks for more than the file has: returns what there is, then 0 and closes
    (_, f) = served_file(b'0123456789', 8, 5)
    assert f.readinto(memoryview(buf)) == 2
    assert f.closed is False
    assert f.readinto(memoryview(buf)) == 0
    assert f.closed is True
    # FileIO refuses a directory: the descriptor is closed, the error propagates
    fd = os.open(tempfile.gettempdir(), os.O_RDONLY)
    with pytest.raises(IsADirectoryError):
        applib._served_file(fd, 'dir', 0, 1)
    with pytest.raises(OSError) as cm:
        os.fstat(fd)
    assert cm.value.errno == errno.EBADF
    (r, w) = os.pipe()
    os.close(w)
    with pytest.raises(OSError) as cm:
        applib._served_file(r, 'pipe', 3, 1)  # pipes cannot seek
    assert cm.value.errno == errno.ESPIPE
    with pytest.raises(OSError):
        os.fstat(r)


def test_served_file_dropped_silently() -> None:
    """Dropped unread: closed at once, without a ResourceWarning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        (fd, f) = served_file(b'0123456789', 0, 10)
        del f
        with pytest.raises(OSError) as cm:
            os.fstat(fd)
        assert cm.value.errno == errno.EBADF
        # a plain FileIO would have warned (which is why it is not one)
        plain = io.FileIO(os.open(os.devnull, os.O_RDONLY), 'rb')
        del plain
        gc.collect()
    warned = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert len(warned) == 1 and 'FileIO' in str(warned[0].message)


# -- servers in threads --------------------------------------------------------

@contextlib.contextmanager
def serving(address: Any, app: Any, **options: Any) -> Iterator[Server]:
    with Background(Server(address, app, **options), 10) as running:
        yield running.server


@pytest.fixture
def sockdir() -> Iterator[str]:
    """A short temporary directory for AF_UNIX socket files."""
    name = tempfile.mkdtemp(prefix='degu.')
    yield name
    shutil.rmtree(name)


def make_address(family: str, sockdir: str, name: str) -> Any:
    if family == 'unix':
        return os.path.join(sockdir, name)
    return ('127.0.0.1', 0)


def closed_by_server(conn: Connection) -> bool:
    """True if the server closed *conn*: the next request fails to connect."""
    try:
        conn.get('/', {})
    except ConnectionError:
        assert conn.closed is True
        return True
    return False


def raw_exchange(address: Any, data: bytes) -> bytes:
    """Send *data* on a new socket, return everything until the server closes."""
    family = socket.AF_UNIX if type(address) is str else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(address)
        sock.sendall(data)
        parts: List[bytes] = []
        while True:
            part = sock.recv(65536)
            if not part:
                return b''.join(parts)
            parts.append(part)


FAMILIES = ['unix', 'tcp']


# -- FilesApp over a real server ---------------------------------------------

def over_the_wire(uri: str) -> bool:
    """False for a URI with a '.' component: Degu refuses to send or accept it."""
    return '.' not in uri.split('?')[0].split('/')


def wire_uris(uris: List[str]) -> List[str]:
    """The URIs of *uris* that can go over the wire at all."""
    return [uri for uri in uris if over_the_wire(uri)]


@pytest.mark.parametrize('family', FAMILIES)
def test_files_server(www: str, sockdir: str, family: str) -> None:
    app = FilesApp(www)
    with serving(make_address(family, sockdir, 'files'), app) as server:
        client = Client(server.address)
        conn = client.connect()
        # whole files, HEAD, 404s and ranges share one keep-alive connection
        for (uri, name) in WHOLE_FILES:
            if uri not in wire_uris([uri]):
                continue
            data = FILES[name]
            r = conn.get(uri, {})
            assert (r.status, r.reason) == (200, 'OK')
            if data:
                assert r.headers == expected(name, data)
                assert b''.join(r.body) == data
            else:
                # 'content-length: 0': the client folds it into "no body".
                headers = expected(name, data)
                del headers['content-length']
                assert (r.headers, r.body) == (headers, None)
            r = conn.head(uri, {})
            assert (r.status, r.headers, r.body) == (200, expected(name, data), None)
        for uri in wire_uris(NOT_FOUND):
            assert conn.get(uri, {}) == (404, 'Not Found', {}, None)
            assert conn.head(uri, {}) == (404, 'Not Found', {}, None)
        for (start, stop) in [(0, 1), (A_LEN - 1, A_LEN), (0, A_LEN), (3, 7)]:
            r = conn.get_range('/a.txt', {}, start, stop)
            assert (r.status, r.reason) == (206, 'Partial Content')
            assert r.headers['content-range'] == ContentRange(start, stop, A_LEN)
            assert r.headers['content-length'] == stop - start
            assert r.headers['content-type'] == 'text/plain; charset=utf-8'
            assert r.body.read() == FILES['a.txt'][start:stop]
        # past the end: cut at the end
        r = conn.get_range('/a.txt', {}, 5, A_LEN + 100)
        assert r.headers['content-range'] == ContentRange(5, A_LEN, A_LEN)
        assert r.body.read() == FILES['a.txt'][5:]
        r = conn.get_range('/big.bin', {}, IO_SIZE - 2, BIG_LEN)
        assert r.headers['content-range'] == ContentRange(IO_SIZE - 2, BIG_LEN, BIG_LEN)
        assert b''.join(r.body) == BIG[IO_SIZE - 2:]
        r = conn.request('HEAD', '/big.bin', {'range': Range(1, 2)}, None)
        assert (r.status, r.headers['content-length'], r.body) == (206, 1, None)
        conn.close()

        # refusals, each on a new connection (whether the server keeps it
        # open afterwards is the server's rule, tested with the server)
        for (method, uri, status, reason) in [
            ('PUT', '/a.txt', 405, 'Method Not Allowed'),
            ('POST', '/a.txt', 405, 'Method Not Allowed'),
            ('DELETE', '/nope', 405, 'Method Not Allowed'),
        ]:
            conn = client.connect()
            assert conn.request(method, uri, {}, None) == (status, reason, {}, None)
            conn.close()

        # traversal, and names the parser refuses: nothing is served
        for raw in [b'/..', b'/../outside/secret.txt', b'/sub/../a.txt',
                    b'/%2e%2e/outside/secret.txt', b'/%2E%2E', b'/sub/%2e%2e/a.txt',
                    b'//etc/passwd', b'/sub//b.json', b'/a.txt%00', b'/sub%2fb.json',
                    b'/%zz']:
            answer = raw_exchange(server.address, b'GET ' + raw + b' HTTP/1.1\r\n\r\n')
            # The server refuses these itself: a framed 400, nothing else.
            assert answer == (b'HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n'
                              b'connection: close\r\n\r\n')
        # the server survived all of that
        conn = client.connect()
        r = conn.get('/sub/b.json', {})
        assert r.body.read() == FILES['sub/b.json']
        conn.close()


@pytest.mark.parametrize('family', FAMILIES)
def test_files_server_416(www: str, sockdir: str, family: str) -> None:
    """416 says the size, as RFC 9110 section 15.5.17 asks (seen raw)."""
    app = FilesApp(www)
    with serving(make_address(family, sockdir, 'files'), app) as server:
        for (uri, rng, size) in [('/a.txt', b'bytes=13-13', A_LEN),
                                 ('/a.txt', b'bytes=100-200', A_LEN),
                                 ('/empty.txt', b'bytes=0-0', 0)]:
            answer = raw_exchange(
                server.address,
                'GET {} HTTP/1.1\r\nrange: '.format(uri).encode() + rng
                + b'\r\nconnection: close\r\n\r\n'
            )
            (head, _, rest) = answer.partition(b'\r\n\r\n')
            lines = head.split(b'\r\n')
            assert lines[0] == b'HTTP/1.1 416 Range Not Satisfiable'
            assert 'content-range: bytes */{}'.format(size).encode() in lines[1:]
            assert rest == b''


def test_files_server_416_client(www: str, sockdir: str) -> None:
    app = FilesApp(www)
    with serving(make_address('unix', sockdir, 'files'), app) as server:
        conn = Client(server.address).connect()
        r = conn.get_range('/a.txt', {}, A_LEN, A_LEN + 1)
        assert (r.status, r.reason, r.body) == (416, 'Range Not Satisfiable', None)
        assert str(r.headers['content-range']) == 'bytes */{}'.format(A_LEN)
        conn.close()


def test_files_server_open_and_suffix_ranges_from_the_client(www: str, sockdir: str) -> None:
    """Connection.get_range() with an open (stop None) or suffix (negative
    start) range, resolved by FilesApp against the file's size."""
    app = FilesApp(www)
    data = FILES['a.txt']
    with serving(make_address('unix', sockdir, 'files'), app) as server:
        conn = Client(server.address).connect()
        for (start, expected) in [(5, data[5:]), (-5, data[-5:]), (0, data),
                                  (-(A_LEN + 10), data)]:
            headers: Dict[str, Any] = {}
            r = conn.get_range('/a.txt', headers, start, None)
            assert headers['range'] == Range(start, None)
            assert r.status == 206
            assert r.body.read() == expected
            first = A_LEN - len(expected)
            assert r.headers['content-range'] == ContentRange(first, A_LEN, A_LEN)
        conn.close()


@pytest.mark.parametrize('family', FAMILIES)
def test_files_server_percent_names(www: str, sockdir: str, family: str) -> None:
    """Spaces, UTF-8 and escaped punctuation in names, through the server."""
    app = FilesApp(www)
    with serving(make_address(family, sockdir, 'files'), app) as server:
        conn = Client(server.address).connect()
        for (uri, name) in WHOLE_FILES:
            if '%' not in uri:
                continue
            r = conn.get(uri, {})
            assert (r.status, r.headers) == (200, expected(name, FILES[name]))
            assert r.body.read() == FILES[name]
        r = conn.get_range('/caf%C3%A9.txt', {}, 0, 4)
        assert (r.status, r.body.read()) == (206, b'UTF-')
        for uri in NOT_FOUND:
            if '%' in uri:
                assert conn.get(uri, {}) == (404, 'Not Found', {}, None)
        conn.close()


@pytest.mark.skipif(not HAVE_PROC_FD, reason='needs /proc/self/fd')
def test_files_server_no_fd_leak(www: str, sockdir: str) -> None:
    """Every file is closed once its response is written, even while the
    keep-alive connection then waits for the next request."""
    app = FilesApp(www)
    with serving(make_address('unix', sockdir, 'files'), app) as server:
        client = Client(server.address)
        conn = client.connect()
        assert conn.get('/a.txt', {}).body.read() == FILES['a.txt']  # warm up
        conn.close()
        baseline = fd_count()
        conn = client.connect()

        def idle_fds() -> int:
            # The two ends of the connection are open; files must not be.
            # The server thread may not have dropped the last response yet
            # when the client has read it: wait for it (bounded).
            for _ in range(500):
                if fd_count() == baseline + 2:
                    break
                threading.Event().wait(0.01)
            return fd_count() - baseline

        for _ in range(50):
            assert conn.get('/link_out', {}).status == 404
            assert conn.get('/sub/', {}).status == 404
            assert conn.get('/fifo', {}).status == 404
            conn.head('/a.txt', {})
            for uri in ('/a.txt', '/', '/sub/b.json'):
                r = conn.get(uri, {})
                r.body.read()
            assert conn.get('/empty.txt', {}).body is None
            r = conn.get_range('/a.txt', {}, 2, 5)
            assert r.body.read() == FILES['a.txt'][2:5]
            r = conn.get_range('/big.bin', {}, 7, BIG_LEN + 7)
            assert b''.join(r.body) == BIG[7:]
            # the last response of each round is a file: the server thread
            # holds on to it while it waits for the next request
            assert b''.join(conn.get('/big.bin', {}).body) == BIG
        assert idle_fds() == 2
        conn.close()


@pytest.mark.skipif(not HAVE_PROC_FD, reason='needs /proc/self/fd')
def test_files_server_client_goes_away(www: str, sockdir: str) -> None:
    """A client that leaves mid-body: the server thread's file gets closed."""
    app = FilesApp(www)
    with serving(make_address('unix', sockdir, 'files'), app, timeout=5) as server:
        baseline = fd_count()
        for _ in range(5):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(server.address)
            sock.sendall(b'GET /big.bin HTTP/1.1\r\n\r\n')
            assert sock.recv(16) == b'HTTP/1.1 200 OK\r'
            sock.close()
        # the server threads notice the reset on their next send and end;
        # wait (bounded) for their sockets and files to be closed
        for _ in range(500):
            if fd_count() == baseline:
                break
            threading.Event().wait(0.01)
        assert fd_count() == baseline


def test_files_server_recv_then_close(www: str, sockdir: str) -> None:
    """Reading a whole big file in many small recv()s works (backpressure)."""
    app = FilesApp(www)
    with serving(make_address('tcp', sockdir, 'files'), app, timeout=2) as server:
        answer = raw_exchange(server.address,
                              b'GET /big.bin HTTP/1.1\r\nrange: bytes=0-99\r\n\r\n'
                              b'GET /big.bin HTTP/1.1\r\nrange: bytes=7-9999999\r\n'
                              b'connection: close\r\n\r\n')
        first = (b'HTTP/1.1 206 Partial Content\r\ncontent-length: 100\r\n'
                 b'content-range: bytes 0-99/' + str(BIG_LEN).encode() +
                 b'\r\ncontent-type: application/octet-stream\r\n\r\n')
        assert answer.startswith(first + BIG[:100])
        second = answer[len(first) + 100:]
        (head, _, data) = second.partition(b'\r\n\r\n')
        lines = head.split(b'\r\n')
        assert lines[0] == b'HTTP/1.1 206 Partial Content'
        assert 'content-range: bytes 7-{}/{}'.format(BIG_LEN - 1, BIG_LEN).encode() in lines
        assert data == BIG[7:]


CURL = shutil.which('curl')
needs_curl = pytest.mark.skipif(CURL is None, reason='curl not installed')


def curl(*args: str) -> Tuple[bytes, Dict[str, str], bytes]:
    """Run curl with *args* (-i added); return status line, headers, body."""
    assert CURL is not None
    proc = subprocess.run(
        [CURL, '--silent', '--show-error', '--include', '--max-time', '30'] + list(args),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    (head, _, body) = proc.stdout.partition(b'\r\n\r\n')
    lines = head.decode('latin-1').split('\r\n')
    headers = dict(line.lower().split(': ', 1) for line in lines[1:])
    return (lines[0].encode(), headers, body)


@needs_curl
def test_files_curl(www: str, sockdir: str) -> None:
    app = FilesApp(www)
    with serving(('127.0.0.1', 0), app) as server:
        base = 'http://127.0.0.1:{}'.format(server.address[1])
        (status, headers, body) = curl(base + '/a.txt')
        assert status == b'HTTP/1.1 200 OK'
        assert headers['content-type'] == 'text/plain; charset=utf-8'
        assert body == FILES['a.txt']
        (status, headers, body) = curl(base + '/noext')
        assert headers['content-type'] == 'application/octet-stream'
        (status, headers, body) = curl('-r', '2-5', base + '/a.txt')
        assert status == b'HTTP/1.1 206 Partial Content'
        assert headers['content-range'] == 'bytes 2-5/{}'.format(A_LEN)
        assert body == FILES['a.txt'][2:6]
        (status, headers, body) = curl('-r', '5-500', base + '/a.txt')
        assert headers['content-range'] == 'bytes 5-{}/{}'.format(A_LEN - 1, A_LEN)
        assert body == FILES['a.txt'][5:]


@needs_curl
def test_files_curl_names(www: str, sockdir: str) -> None:
    app = FilesApp(www)
    with serving(('127.0.0.1', 0), app) as server:
        base = 'http://127.0.0.1:{}'.format(server.address[1])
        for (uri, name) in [('/a%20b.txt', 'a b.txt'), ('/caf%C3%A9.txt', 'caf\u00e9.txt'),
                            ('/sub/x%20y/z%20z.txt', 'sub/x y/z z.txt')]:
            (status, headers, body) = curl(base + uri)
            assert (status, body) == (b'HTTP/1.1 200 OK', FILES[name])


@needs_curl
def test_files_curl_resume(www: str, tmp_path: Any) -> None:
    """curl -r 5- and -C - (resume a partial download)."""
    app = FilesApp(www)
    with serving(('127.0.0.1', 0), app) as server:
        base = 'http://127.0.0.1:{}'.format(server.address[1])
        (status, headers, body) = curl('-r', '5-', base + '/a.txt')
        assert status == b'HTTP/1.1 206 Partial Content'
        assert body == FILES['a.txt'][5:]
        (status, headers, body) = curl('-r', '-4', base + '/a.txt')
        assert body == FILES['a.txt'][-4:]
        partial = tmp_path / 'big.part'
        partial.write_bytes(BIG[:IO_SIZE + 5])
        proc = subprocess.run(
            [str(CURL), '--silent', '--show-error', '--max-time', '30', '-C', '-',
             '-o', str(partial), base + '/big.bin'],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        assert partial.read_bytes() == BIG


# -- ProxyApp over real servers ----------------------------------------------

CHUNKS = [
    (None, b'hello'),
    (('key', 'value'), b', '),
    (('k', 'v+1.5:x_y~z'), b'world'),
    (None, b'x' * 70000),
    (('Ext', '"quoted";[]'), b'\x00\xff' * 10),
    (('last', 'one'), b''),
]
CHUNKED_WIRE = b''.join(
    b'%x' % len(data) + (b'' if ext is None else ';{}={}'.format(*ext).encode())
    + b'\r\n' + data + b'\r\n'
    for (ext, data) in CHUNKS
)
SMALL = b'small body'


class Upstream:
    """The app behind the proxy: every kind of body, and an echo."""

    def __init__(self, www: str) -> None:
        self.files = FilesApp(www)
        self.sessions: List[Session] = []
        self.seen: List[Tuple[str, str, Dict[str, Any], Any]] = []
        self.hosts: List[Optional[str]] = []
        self.lock = threading.Lock()

    def __call__(self, session: Session, request: Request, api: Any) -> Any:
        (status, reason, headers, body) = self.respond(session, request, api)
        if request.method == 'HEAD' and body is not None:
            # what GET would send, described by its framing header
            set_output_headers(headers, body)
            body = None
        return (status, reason, headers, body)

    def respond(self, session: Session, request: Request, api: Any) -> Any:
        with self.lock:
            if session not in self.sessions:
                self.sessions.append(session)
        received: Any = None
        body = request.body
        if body is not None:
            received = list(body) if body.chunked else b''.join(body)
        headers = dict(request.headers)
        headers.pop('host', None)  # checked on its own in test_proxy_host_header
        self.seen.append((request.method, request.uri, headers, received))
        self.hosts.append(request.headers.get('host'))
        kind = request.shift_path()
        if kind == 'bytes':
            return (200, 'OK', {'x-kind': 'bytes'}, SMALL)
        if kind == 'body':
            return (200, 'OK', {}, api.Body(io.BytesIO(BIG), len(BIG)))
        if kind == 'empty':
            return (200, 'OK', {}, api.Body(io.BytesIO(b''), 0))
        if kind == 'bodyiter':
            return (200, 'OK', {}, api.BodyIter([b'a', b'', b'bc', BIG], len(BIG) + 3))
        if kind == 'chunks':
            return (200, 'OK', {'x-kind': 'chunks'}, api.ChunkedBodyIter(CHUNKS))
        if kind == 'chunkedbody':
            return (200, 'OK', {}, api.ChunkedBody(io.BytesIO(CHUNKED_WIRE)))
        if kind == 'none':
            return (204, 'No Content', {'x-kind': 'none'}, None)
        if kind == 'echo':
            if received is None:
                return (200, 'OK', {}, None)
            if type(received) is list:
                return (201, 'Created', {}, api.ChunkedBodyIter(received))
            return (201, 'Created', {'x-len': str(len(received))}, received)
        if kind == 'files':
            return self.files(session, request, api)
        if kind == 'conflict':
            return (409, 'Conflict', {}, b'keep-alive error')
        if kind == 'teapot':
            return (418, 'I Am A Teapot', {}, None)
        return (404, 'Not Found', {}, None)


@contextlib.contextmanager
def proxy_chain(www: str, sockdir: str, front: str, back: str,
                mount: bool = False) -> Iterator[Tuple[Client, Upstream, Server]]:
    """client -> front server (ProxyApp) -> back server (Upstream)."""
    upstream = Upstream(www)
    with serving(make_address(back, sockdir, 'back'), upstream) as back_server:
        proxy = ProxyApp(Client(back_server.address))
        app: Any = Router({'up': proxy}) if mount else proxy
        with serving(make_address(front, sockdir, 'front'), app) as front_server:
            yield (Client(front_server.address), upstream, front_server)


CHAINS = [('unix', 'unix'), ('tcp', 'tcp'), ('tcp', 'unix'), ('unix', 'tcp')]


@pytest.mark.parametrize('front, back', CHAINS)
def test_proxy_response_bodies(www: str, sockdir: str, front: str, back: str) -> None:
    with proxy_chain(www, sockdir, front, back) as (client, upstream, _):
        conn = client.connect()
        r = conn.get('/bytes', {})
        assert r[:3] == (200, 'OK', {'x-kind': 'bytes', 'content-length': len(SMALL)})
        assert r.body.read() == SMALL

        r = conn.get('/body', {})
        assert r.headers == {'content-length': len(BIG)}
        assert b''.join(r.body) == BIG

        r = conn.get('/empty', {})
        assert (r.headers, r.body) == ({}, None)  # content-length: 0, folded

        r = conn.get('/bodyiter', {})
        assert r.headers == {'content-length': len(BIG) + 3}
        assert b''.join(r.body) == b'abc' + BIG

        for path in ('/chunks', '/chunkedbody'):
            r = conn.get(path, {})
            assert r.headers['transfer-encoding'] == 'chunked'
            assert type(r.body) is ChunkedBody
            # chunk by chunk, extensions unchanged
            received = []
            while r.body.state != 2:
                received.append(r.body.readchunk())
            assert received == CHUNKS

        r = conn.get('/none', {})
        assert r == (204, 'No Content', {'x-kind': 'none'}, None)

        r = conn.head('/body', {})
        assert r == (200, 'OK', {'content-length': len(BIG)}, None)
        r = conn.head('/chunks', {})
        # transfer-encoding is hop-by-hop: without a body, it frames nothing
        assert r == (200, 'OK', {'x-kind': 'chunks'}, None)

        # 404 and 409 keep both hops open
        assert conn.get('/missing', {}) == (404, 'Not Found', {}, None)
        r = conn.get('/conflict', {})
        assert (r.status, r.body.read()) == (409, b'keep-alive error')

        # one upstream connection served all of that, with proxied URIs
        assert len(upstream.sessions) == 1
        assert [s[1] for s in upstream.seen] == [
            '/bytes', '/body', '/empty', '/bodyiter', '/chunks', '/chunkedbody',
            '/none', '/body', '/chunks', '/missing', '/conflict',
        ]
        # other statuses >= 400 close the downstream and the upstream connection
        assert conn.get('/teapot', {}) == (418, 'I Am A Teapot', {}, None)
        assert closed_by_server(conn) is True
        conn = client.connect()
        assert conn.get('/bytes', {}).body.read() == SMALL
        assert len(upstream.sessions) == 2
        conn.close()


def request_bodies() -> List[Tuple[str, Any, Any]]:
    """(name, body to send, what the upstream should receive)."""
    return [
        ('bytes', SMALL, SMALL),
        ('empty bytes', b'', b''),
        ('Body', Body(io.BytesIO(BIG), len(BIG)), BIG),
        ('BodyIter', BodyIter([b'x', BIG, b''], len(BIG) + 1), b'x' + BIG),
        ('ChunkedBodyIter', ChunkedBodyIter(CHUNKS), CHUNKS),
        ('ChunkedBody', ChunkedBody(io.BytesIO(CHUNKED_WIRE)), CHUNKS),
    ]


@pytest.mark.parametrize('front, back', CHAINS)
def test_proxy_request_bodies(www: str, sockdir: str, front: str, back: str) -> None:
    with proxy_chain(www, sockdir, front, back) as (client, upstream, _):
        conn = client.connect()
        for method in ('PUT', 'POST'):
            for (name, body, received) in request_bodies():
                r = conn.request(method, '/echo/' + name.replace(' ', '_'),
                                 {'x-name': name}, body)
                assert (r.status, r.reason) == (201, 'Created')
                (m, uri, headers, got) = upstream.seen[-1]
                assert (m, uri) == (method, '/echo/' + name.replace(' ', '_'))
                assert headers['x-name'] == name
                assert got == received
                if type(received) is list:
                    assert headers['transfer-encoding'] == 'chunked'
                    chunks = []
                    while r.body.state != 2:
                        chunks.append(r.body.readchunk())
                    assert chunks == CHUNKS
                else:
                    assert headers['content-length'] == len(received)
                    assert r.headers['x-len'] == str(len(received))
                    if received:
                        assert b''.join(r.body) == received
                    else:
                        assert r.body is None  # content-length: 0, folded
        for method in ('GET', 'HEAD', 'DELETE'):
            r = conn.request(method, '/echo', {}, None)
            assert r == (200, 'OK', {}, None)
            assert upstream.seen[-1] == (method, '/echo', {}, None)
        assert len(upstream.sessions) == 1
        conn.close()


@pytest.mark.parametrize('front, back', CHAINS)
def test_proxy_ranges(www: str, sockdir: str, front: str, back: str) -> None:
    with proxy_chain(www, sockdir, front, back, mount=True) as (client, upstream, _):
        conn = client.connect()
        for (start, stop) in [(0, 1), (A_LEN - 1, A_LEN), (0, A_LEN), (4, 9)]:
            r = conn.get_range('/up/files/a.txt', {}, start, stop)
            assert (r.status, r.reason) == (206, 'Partial Content')
            assert r.headers == {
                'content-length': stop - start,
                'content-range': ContentRange(start, stop, A_LEN),
                'content-type': 'text/plain; charset=utf-8',
            }
            assert r.body.read() == FILES['a.txt'][start:stop]
            assert upstream.seen[-1][:3] == ('GET', '/files/a.txt', {'range': Range(start, stop)})
        r = conn.get_range('/up/files/big.bin', {}, IO_SIZE, BIG_LEN)
        assert r.headers['content-range'] == ContentRange(IO_SIZE, BIG_LEN, BIG_LEN)
        assert b''.join(r.body) == BIG[IO_SIZE:]
        r = conn.get('/up/files/big.bin?x=1', {})
        assert b''.join(r.body) == BIG
        assert upstream.seen[-1][1] == '/files/big.bin?x=1'
        assert conn.get('/up/files/link_out', {}) == (404, 'Not Found', {}, None)
        # the Router in front: unknown mount points are gone (and close)
        assert len(upstream.sessions) == 1
        assert conn.get('/down/a.txt', {}) == (410, 'Gone', {}, None)
        assert closed_by_server(conn) is True

        conn = client.connect()
        r = conn.get_range('/up/files/a.txt', {}, 5, A_LEN + 1)
        assert r.headers['content-range'] == ContentRange(5, A_LEN, A_LEN)
        assert r.body.read() == FILES['a.txt'][5:]
        assert len(upstream.sessions) == 2
        conn.close()


def test_proxy_two_connections(www: str, sockdir: str) -> None:
    """Each downstream connection gets its own upstream connection."""
    with proxy_chain(www, sockdir, 'unix', 'tcp') as (client, upstream, _):
        conns = [client.connect() for _ in range(3)]
        for _ in range(3):
            for conn in conns:
                assert conn.get('/bytes', {}).body.read() == SMALL
        assert len(upstream.sessions) == 3
        # (an upstream counts a request once its response is sent: it may
        # not have counted the last one yet when the response arrives)
        wait_until(lambda: [s.requests for s in upstream.sessions] == [3, 3, 3],
                 'three requests on each upstream connection')
        for conn in conns:
            conn.close()


def test_proxy_host_header(www: str, sockdir: str) -> None:
    """The upstream Client's base headers replace the downstream ones."""
    with proxy_chain(www, sockdir, 'tcp', 'tcp') as (client, upstream, front):
        conn = client.connect()
        conn.get('/none', {'x-a': 'b'})
        assert upstream.seen[-1][2] == {'x-a': 'b'}
        host = upstream.hosts[-1]
        assert host is not None and host != client.host
        assert host == '127.0.0.1:{}'.format(front.app.client.address[1])
        conn.close()
    with proxy_chain(www, sockdir, 'tcp', 'unix') as (client, upstream, front):
        conn = client.connect()
        conn.get('/none', {})
        # an AF_UNIX upstream client has no host: the client's goes through
        assert upstream.hosts[-1] == client.host
        conn.close()


def test_proxy_expect_continue(www: str, sockdir: str) -> None:
    """expect: 100-continue is answered by the front server, not forwarded."""
    with proxy_chain(www, sockdir, 'unix', 'unix') as (client, upstream, front):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(front.address)
            sock.sendall(b'PUT /echo HTTP/1.1\r\nexpect: 100-continue\r\n'
                         b'content-length: 5\r\n\r\n')
            assert sock.recv(100) == b'HTTP/1.1 100 Continue\r\n\r\n'
            sock.sendall(b'hello')
            reply = b''
            while not reply.endswith(b'hello'):
                part = sock.recv(100)
                assert part
                reply += part
            assert reply == (b'HTTP/1.1 201 Created\r\ncontent-length: 5\r\n'
                             b'x-len: 5\r\n\r\nhello')
        assert upstream.seen[-1] == ('PUT', '/echo', {'content-length': 5}, b'hello')


def test_proxy_upstream_down(www: str, sockdir: str,
                             caplog: pytest.LogCaptureFixture) -> None:
    """No upstream: 502 Bad Gateway, one WARNING line; the server lives on."""
    dead = os.path.join(sockdir, 'dead')
    with serving(make_address('unix', sockdir, 'front'), ProxyApp(Client(dead))) as front:
        for _ in range(2):
            conn = Client(front.address).connect()
            with caplog.at_level(logging.WARNING, 'degu.applib'):
                caplog.clear()
                assert conn.get('/x?y', {}) == (502, 'Bad Gateway', {}, None)
            assert [r.getMessage() for r in caplog.records if r.name == 'degu.applib'] == [
                "502 Bad Gateway for GET /x?y: FileNotFoundError(2, 'No such file or directory')"
            ]
            assert closed_by_server(conn) is True


# -- ProxyApp and upstreams that close, fail, or send hop-by-hop headers ------
# (issue 13: a kept upstream connection is reused only while open; a request
# the upstream dropped unanswered is sent again once, when that is safe;
# other failures are a 502 or 504; hop-by-hop headers stop at the proxy)

OK_RESPONSE = b'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'


class RawUpstream:
    """A raw upstream server: connection number *n* is handled by ``scripts[n]``.

    A script is a list of steps for one connection: ``bytes`` are sent
    after reading one request preamble; ``'close'`` reads a request and
    closes without a word; ``'hold'`` reads a request and keeps silent until
    the test ends.  ``requests`` holds every preamble read, per connection.
    """

    def __init__(self, *scripts: List[Any]) -> None:
        self.listener = socket.socket()
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen(8)
        self.listener.settimeout(10)
        self.address = self.listener.getsockname()
        self.scripts = scripts
        self.requests: List[List[bytes]] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for script in self.scripts:
            try:
                (sock, _) = self.listener.accept()
            except OSError:
                return
            seen: List[bytes] = []
            self.requests.append(seen)
            with sock:
                sock.settimeout(10)
                buf = b''
                for step in script:
                    while b'\r\n\r\n' not in buf:
                        data = sock.recv(65536)
                        if not data:
                            break
                        buf += data
                    (preamble, _, buf) = buf.partition(b'\r\n\r\n')
                    if not preamble:
                        break
                    seen.append(preamble)
                    if step == 'close':
                        break
                    if step == 'hold':
                        self.done.wait(10)
                        break
                    sock.sendall(step)

    def stop(self) -> None:
        self.done.set()
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes accept()
        except OSError:
            pass
        self.thread.join(10)
        self.listener.close()


@contextlib.contextmanager
def raw_upstream(*scripts: List[Any], **options: Any) -> Iterator[Tuple[RawUpstream, Server]]:
    """A front server whose ProxyApp relays to a RawUpstream."""
    upstream = RawUpstream(*scripts)
    try:
        app = ProxyApp(Client(upstream.address, **options))
        with serving(('127.0.0.1', 0), app) as front:
            yield (upstream, front)
    finally:
        upstream.stop()


def test_proxy_upstream_max_requests(www: str, sockdir: str) -> None:
    # The upstream closes after every 2 requests (saying connection: close);
    # the downstream connection goes on, on a new upstream connection.
    upstream = Upstream(www)
    with serving(make_address('unix', sockdir, 'back'), upstream, max_requests=2) as back:
        with serving(('127.0.0.1', 0), ProxyApp(Client(back.address))) as front:
            conn = Client(front.address).connect()
            for i in range(5):
                r = conn.get('/bytes', {})
                assert r.headers == {'x-kind': 'bytes', 'content-length': len(SMALL)}
                assert r.body.read() == SMALL
            assert conn.closed is False
            wait_until(lambda: [s.requests for s in upstream.sessions] == [2, 2, 1],
                     'requests counted by the upstream')
            conn.close()


def test_proxy_upstream_idle_timeout(www: str, sockdir: str) -> None:
    # The upstream closes the idle connection on its own (timeout 0.2 s):
    # the proxy sees it closed and opens a new one.
    upstream = Upstream(www)
    with serving(make_address('unix', sockdir, 'back'), upstream, timeout=0.2) as back:
        proxy = ProxyApp(Client(back.address))
        with serving(('127.0.0.1', 0), proxy) as front:
            conn = Client(front.address).connect()
            assert conn.get('/bytes', {}).body.read() == SMALL
            wait_until(lambda: upstream.sessions[0].closed, 'the upstream to time out')
            assert conn.get('/bytes', {}).body.read() == SMALL
            assert len(upstream.sessions) == 2
            conn.close()


@pytest.mark.parametrize('method, body, status', [
    ('GET', None, 200),
    ('HEAD', None, 200),
    ('DELETE', None, 200),
    ('PUT', None, 200),
    # not idempotent: never sent twice
    ('POST', None, 502),
    # the body went to the dead connection: nothing left to send again
    ('PUT', b'abc', 502),
])
def test_proxy_retry_once_on_new_connection(method: str, body: Any, status: int) -> None:
    # The upstream answers once, then closes the kept connection as the
    # next request arrives, answering nothing (an idle timeout racing the
    # request): safe requests go again on a new connection.
    head = b'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n'
    with raw_upstream([OK_RESPONSE, 'close'], [head if method == 'HEAD' else OK_RESPONSE]) as (
            upstream, front):
        conn = Client(front.address).connect()
        assert conn.get('/first', {}).body.read() == b'ok'
        r = conn.request(method, '/second', {}, body)
        assert r.status == status
        if status == 200:
            assert conn.closed is False
            assert [len(seen) for seen in upstream.requests] == [2, 1]
            assert upstream.requests[1][0].startswith(method.encode() + b' /second ')
        else:
            assert r == (502, 'Bad Gateway', {}, None)
            assert len(upstream.requests) == 1
        conn.close()


@pytest.mark.parametrize('second', [
    b'HTTP/1.1 200',            # some of a response, then the close
    b'HTTP/1.1 200 OK\r\nx',
])
def test_proxy_no_retry_once_a_response_started(second: bytes) -> None:
    with raw_upstream([OK_RESPONSE, second], [OK_RESPONSE]) as (upstream, front):
        conn = Client(front.address).connect()
        assert conn.get('/first', {}).body.read() == b'ok'
        assert conn.get('/second', {}) == (502, 'Bad Gateway', {}, None)
        assert len(upstream.requests) == 1
        conn.close()


def test_proxy_retry_only_once() -> None:
    # A fresh connection that fails too: 502, not a third attempt.
    with raw_upstream([OK_RESPONSE, 'close'], ['close'], [OK_RESPONSE]) as (upstream, front):
        conn = Client(front.address).connect()
        assert conn.get('/first', {}).body.read() == b'ok'
        assert conn.get('/second', {}) == (502, 'Bad Gateway', {}, None)
        assert [len(seen) for seen in upstream.requests] == [2, 1]
        conn.close()


def raw_request(sock: socket.socket, data: bytes) -> bytes:
    """Send one request on a raw socket; read one framed response (content-length)."""
    sock.sendall(data)
    buf = b''
    while b'\r\n\r\n' not in buf:
        part = sock.recv(65536)
        assert part, buf
        buf += part
    (preamble, _, rest) = buf.partition(b'\r\n\r\n')
    length = 0
    for line in preamble.split(b'\r\n')[1:]:
        (name, _, value) = line.partition(b': ')
        if name == b'content-length':
            length = int(value)
    while len(rest) < length:
        part = sock.recv(65536)
        assert part
        rest += part
    return preamble + b'\r\n\r\n' + rest


def test_proxy_upstream_connection_close_not_forwarded() -> None:
    # connection: close is about the upstream hop: the downstream response
    # does not say it, the downstream connection stays, the next request
    # goes on a new upstream connection.
    closing = b'HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok'
    with raw_upstream([closing], [closing]) as (upstream, front):
        with socket.create_connection(front.address, timeout=10) as sock:
            for _ in range(2):
                assert raw_request(sock, b'GET / HTTP/1.1\r\n\r\n') == (
                    b'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'
                )
        assert [len(seen) for seen in upstream.requests] == [1, 1]


HOP_REQUEST = (
    b'GET /hop HTTP/1.1\r\nconnection: keep-alive, x-drop\r\nx-drop: 1\r\n'
    b'keep-alive: 300\r\nte: trailers\r\nupgrade: websocket\r\n'
    b'proxy-authorization: Basic eHg=\r\ntrailer: x-t\r\nx-keep: yes\r\n\r\n'
)
HOP_RESPONSE = (
    b'HTTP/1.1 200 OK\r\nconnection: keep-alive, x-private\r\n'
    b'keep-alive: timeout=5\r\nx-private: secret\r\nproxy-authenticate: Basic\r\n'
    b'trailer: x-t\r\nupgrade: h2c\r\ncontent-length: 2\r\nx-keep: yes\r\n\r\nok'
)


def test_proxy_strips_hop_by_hop_headers_both_ways() -> None:
    with raw_upstream([HOP_RESPONSE, HOP_RESPONSE]) as (upstream, front):
        with socket.create_connection(front.address, timeout=10) as sock:
            for _ in range(2):
                assert raw_request(sock, HOP_REQUEST) == (
                    b'HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-keep: yes\r\n\r\nok'
                )
        # (the upstream client's own host header: the upstream is TCP)
        host = 'host: 127.0.0.1:{}'.format(upstream.address[1]).encode()
        assert upstream.requests == [[b'GET /hop HTTP/1.1\r\n' + host + b'\r\nx-keep: yes'] * 2]


def test_proxy_chunked_framing_is_per_hop() -> None:
    # transfer-encoding frames the body on each hop: dropped with the
    # upstream's framing, added again by the front server for its own.
    chunked = (b'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n'
               b'2;k=v\r\nok\r\n0\r\n\r\n')
    with raw_upstream([chunked]) as (upstream, front):
        conn = Client(front.address).connect()
        r = conn.get('/', {})
        assert r.headers == {'transfer-encoding': 'chunked'}
        assert list(r.body) == [(('k', 'v'), b'ok'), (None, b'')]
        conn.close()


@pytest.mark.parametrize('script, status', [
    (['hold'], 504),                                   # no answer in time
    ([b'garbage\r\n\r\n'], 502),                       # not HTTP
    ([b'HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n'], 502),
    (['close'], 502),                                  # a new connection closed
])
def test_proxy_bad_upstream(script: List[Any], status: int,
                            caplog: pytest.LogCaptureFixture) -> None:
    with raw_upstream(script, timeout=0.3) as (upstream, front):
        conn = Client(front.address).connect()
        with caplog.at_level(logging.WARNING, 'degu.applib'):
            r = conn.get('/x', {})
        assert r == (status, {502: 'Bad Gateway', 504: 'Gateway Timeout'}[status], {}, None)
        # one line, bounded
        [line] = [r.getMessage() for r in caplog.records if r.name == 'degu.applib']
        assert line.startswith('{} '.format(status)) and len(line) < 300
        conn.close()


def test_proxy_downstream_slow_body_is_its_own_fault(www: str, sockdir: str) -> None:
    # The downstream client trickles its request body: the front server
    # cuts it off (408: the body deadline), not the upstream's 502.
    upstream = Upstream(www)
    with serving(make_address('unix', sockdir, 'back'), upstream) as back:
        with serving(('127.0.0.1', 0), ProxyApp(Client(back.address)), timeout=0.3) as front:
            with socket.create_connection(front.address, timeout=10) as sock:
                sock.sendall(b'PUT /echo HTTP/1.1\r\ncontent-length: 100\r\n\r\n')
                reply = b''
                for _ in range(100):
                    try:
                        sock.sendall(b'x')
                    except OSError:
                        break
                    (readable, _, _) = select.select([sock], [], [], 0.05)
                    if readable:
                        reply = sock.recv(4096)
                        break
                assert reply == (b'HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n'
                                 b'connection: close\r\n\r\n')


def test_proxy_upstream_stalls_mid_body() -> None:
    # The upstream stops sending its response body: the front server closes
    # the downstream connection (nothing of the response went out yet), and
    # does not blame the downstream peer with a 408.
    stalls = [b'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nx', 'hold']
    with raw_upstream(stalls, timeout=0.3) as (upstream, front):
        with socket.create_connection(front.address, timeout=10) as sock:
            sock.sendall(b'GET / HTTP/1.1\r\n\r\n')
            assert sock.recv(4096) == b''


def test_proxy_strips_hop_by_hop_unit() -> None:
    class HopConn(FakeConn):
        def request(self, method: str, uri: str, headers: Dict[str, Any],
                    body: Any) -> Any:
            self.requests.append((method, uri, dict(headers), body))
            return Response(200, 'OK', {
                'connection': 'x-a', 'x-a': '1', 'keep-alive': '5', 'te': 'x',
                'upgrade': 'h2c', 'proxy-authenticate': 'Basic', 'trailer': 'x-t',
                'transfer-encoding': 'chunked', 'x-b': '2',
            }, None)

    class HopClient(FakeClient):
        def connect(self) -> FakeConn:
            conn = HopConn(len(self.conns))
            self.conns.append(conn)
            return conn

    client = HopClient()
    request = mkreq('GET', '/', {
        'connection': 'close, X-C', 'x-c': '3', 'proxy-authorization': 'Basic eHg=',
        'keep-alive': '300', 'te': 'trailers', 'upgrade': 'websocket',
        'trailer': 'x-t', 'expect': '100-continue', 'x-d': '4',
    })
    response = ProxyApp(client)(Session('/tmp/sock'), request, api)
    assert response == (200, 'OK', {'x-b': '2'}, None)
    assert client.conns[0].requests == [('GET', '/', {'x-d': '4'}, None)]


def test_client_drops_what_connection_names_but_framing() -> None:
    # degu.messages.read_response(): the headers a response's connection
    # header names are for that hop (gone), except the framing header,
    # which says where the response ends (a peer naming it cannot unframe it).
    sneaky = (b'HTTP/1.1 200 OK\r\nconnection: content-length, x-a, Keep-Alive\r\n'
              b'content-length: 2\r\nx-a: 1\r\nkeep-alive: 5\r\nx-b: 2\r\n\r\nok')
    with raw_upstream([sneaky]) as (upstream, front):
        conn = Client(upstream.address).connect()
        r = conn.get('/', {})
        assert r.headers == {'content-length': 2, 'x-b': '2'}
        assert r.body.read() == b'ok'
        conn.close()
