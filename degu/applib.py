"""Ready-made RGI apps and app wrappers.

Each class here is an ordinary RGI app (``app(session, request, api)``
returning ``(status, reason, headers, body)``) or builds one:

* ``AllowedMethods('GET', 'HEAD')`` names a set of methods; called on an app
  it returns a ``MethodFilter`` that answers every other method with
  ``405 Method Not Allowed``.
* ``Router(appmap)`` picks an app by the next path component, descending
  through nested dicts; an unknown component is ``410 Gone``.
* ``ProxyApp(client)`` relays each request to an upstream server over one
  client connection per downstream connection (a reverse proxy).
* ``FilesApp(dir_name)`` serves the regular files beneath one directory,
  with single byte ranges.

Answers that close the connection (SPEC §8.4): 400, 405, 410 and 416 do;
404 keeps it open.  The refusing apps never read a request body: a request
whose body was sent and is refused (405, 410) ends with the connection
closed and no response, as the server's "request body not consumed" rule
demands; a client that waits for ``100 Continue`` gets the answer instead.
"""

import errno
import io
import mimetypes
import os
import stat
from typing import Any, Callable, Dict, List, Optional, Tuple

from .errors import TYPE_ERROR, TYPE_ERROR2
from .limits import ROUTER_MAX_DEPTH
from .server import Request, Session

__all__ = ('AllowedMethods', 'MethodFilter', 'Router', 'ProxyApp')

App = Callable[[Any, Any, Any], Any]
ResponseTuple = Tuple[int, str, Dict[str, Any], Any]

# The five methods Degu speaks (SPEC §1).
METHODS = ('GET', 'HEAD', 'PUT', 'POST', 'DELETE')


def _bad_request() -> ResponseTuple:
    return (400, 'Bad Request', {}, None)


def _not_found() -> ResponseTuple:
    return (404, 'Not Found', {}, None)


def _method_not_allowed() -> ResponseTuple:
    return (405, 'Method Not Allowed', {}, None)


def _gone() -> ResponseTuple:
    return (410, 'Gone', {}, None)


def _range_not_satisfiable() -> ResponseTuple:
    return (416, 'Range Not Satisfiable', {}, None)


# -- methods -----------------------------------------------------------------

class AllowedMethods:
    """A set of request methods, in the order given.

    >>> allowed = AllowedMethods('GET', 'HEAD')
    >>> allowed.isallowed('GET'), allowed.isallowed('PUT')
    (True, False)
    """

    __slots__ = ('_methods', '_set')

    def __init__(self, *methods: str) -> None:
        for method in methods:
            # Exact str first: `in` compares with ==, which a str subclass
            # (or an unhashable object) could answer in surprising ways.
            if type(method) is not str or method not in METHODS:
                raise ValueError('bad method: {!r}'.format(method))
        self._methods = methods
        self._set = frozenset(methods)

    @property
    def methods(self) -> Tuple[str, ...]:
        return self._methods

    def isallowed(self, method: str) -> bool:
        return method in self._set

    def __call__(self, app: App) -> 'MethodFilter':
        """Wrap *app* so that it only sees these methods."""
        return MethodFilter(app, self)

    def __repr__(self) -> str:
        return '{}({})'.format(
            type(self).__name__, ', '.join(repr(m) for m in self._methods)
        )


class MethodFilter:
    """Pass allowed methods to ``app``; answer the others with 405."""

    __slots__ = ('app', 'allowed_methods')

    def __init__(self, app: App, allowed_methods: AllowedMethods) -> None:
        if not callable(app):
            raise TypeError('app not callable: {!r}'.format(app))
        if type(allowed_methods) is not AllowedMethods:
            raise TypeError(TYPE_ERROR.format(
                'allowed_methods', AllowedMethods, type(allowed_methods),
                allowed_methods
            ))
        self.app = app
        self.allowed_methods = allowed_methods

    def __call__(self, session: Any, request: Any, api: Any) -> Any:
        if self.allowed_methods.isallowed(request.method):
            return self.app(session, request, api)
        return _method_not_allowed()


# -- routing -----------------------------------------------------------------

def _depth_error() -> ValueError:
    return ValueError(
        'Router: max appmap depth {} exceeded'.format(ROUTER_MAX_DEPTH)
    )


def _check_appmap(appmap: Dict[Any, Any], depth: int) -> None:
    """Check one appmap level and, recursively, the ones nested in it.

    The depth limit also catches cycles: a map that contains itself is
    infinitely deep.
    """
    if depth > ROUTER_MAX_DEPTH:
        raise _depth_error()
    for (key, value) in appmap.items():
        if key is not None:
            if type(key) is not str:
                raise TypeError(
                    TYPE_ERROR.format('appmap key', str, type(key), key)
                )
            if not key.isascii():
                raise ValueError('bad appmap key: {!r}'.format(key))
        if type(value) is dict:
            _check_appmap(value, depth + 1)
        elif not callable(value):
            raise TypeError(
                'appmap[{!r}]: value not callable: {!r}'.format(key, value)
            )


class Router:
    """Dispatch on path components through a map of apps.

    Each level consumes one component with ``request.shift_path()`` (so the
    chosen app sees it in ``request.mount``, not in ``request.path``).  The
    key ``None`` matches when no component is left, ``''`` matches a
    trailing slash.  A value is an app or a nested dict (one more level).

    >>> def hello(session, request, api):
    ...     return (200, 'OK', {}, b'hello')
    >>> router = Router({None: hello, 'api': {'v1': hello}})
    >>> request = Request('GET', '/api/v1', {}, None, [], ['api', 'v1'], None)
    >>> router(None, request, None)
    (200, 'OK', {}, b'hello')
    >>> request.mount
    ['api', 'v1']
    """

    __slots__ = ('appmap',)

    def __init__(self, appmap: Dict[Optional[str], Any]) -> None:
        if type(appmap) is not dict:
            raise TypeError(
                TYPE_ERROR.format('appmap', dict, type(appmap), appmap)
            )
        _check_appmap(appmap, 1)
        self.appmap = appmap

    def __call__(self, session: Any, request: Request, api: Any) -> Any:
        if type(request) is not Request:
            raise TypeError(TYPE_ERROR2.format('request', Request, type(request)))
        appmap = self.appmap
        for _ in range(ROUTER_MAX_DEPTH):
            handler = appmap.get(request.shift_path())
            if handler is None:
                return _gone()
            if type(handler) is not dict:
                return handler(session, request, api)
            appmap = handler
        # Only reachable if the appmap was made deeper after it was checked.
        raise _depth_error()


# -- reverse proxy -----------------------------------------------------------

class ProxyApp:
    """Relay every request to an upstream server and its response back.

    One upstream ``Connection`` (from ``client.connect()``) serves one
    downstream connection, kept in ``session.store[key]``; requests on it are
    relayed in order, bodies streamed through, chunk extensions intact.  A
    closed upstream connection is replaced by a new one on the next request.

    The ``expect`` request header is not forwarded: the server in front of
    this app has already answered it (``100 Continue``), and the upstream
    client sends bodies without waiting for an interim response.

    The upstream ``Response`` is returned unchanged; the server accepts the
    namedtuple as an RGI response.  A status after which the upstream server
    closes its connection makes this server close the downstream one too
    (the same rule applies on both hops), and when the downstream connection
    ends, its upstream ``Connection`` goes away with the session (closed
    when garbage collected).  A failing upstream request raises, which
    drops the downstream connection: there is no ``502``.
    """

    __slots__ = ('client', 'key')

    def __init__(self, client: Any, key: str = 'conn') -> None:
        if not callable(client.connect):
            raise TypeError('client.connect() is not callable')
        if type(key) is not str:
            raise TypeError(TYPE_ERROR.format('key', str, type(key), key))
        self.client = client
        self.key = key

    def __call__(self, session: Session, request: Request, api: Any) -> Any:
        if type(session) is not Session:
            raise TypeError(TYPE_ERROR2.format('session', Session, type(session)))
        if type(request) is not Request:
            raise TypeError(TYPE_ERROR2.format('request', Request, type(request)))
        store = session.store
        conn = store.get(self.key)
        if conn is None or conn.closed:
            conn = self.client.connect()
            store[self.key] = conn
        headers = request.headers
        headers.pop('expect', None)
        return conn.request(
            request.method, request.build_proxy_uri(), headers, request.body
        )


# -- static files ------------------------------------------------------------

# Served for a request of the directory itself ('/' or, under a Router, '/x/').
INDEX = 'index.html'

# Every directory on the way is opened without following a symlink.
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW

# The file itself, likewise; O_NONBLOCK so that opening a FIFO cannot hang
# (it is then refused as not a regular file); O_NOCTTY so that opening a
# terminal device cannot make it our controlling terminal.  Neither flag
# changes how a regular file is read.
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY

# open() errors meaning "no servable file at this path", answered with 404:
# missing (ENOENT), a file used as a directory or a trailing slash (ENOTDIR),
# a symlink refused by O_NOFOLLOW (ELOOP; EMLINK on FreeBSD), a name longer
# than the filesystem allows (ENAMETOOLONG), a socket or a device without a
# driver (ENXIO, ENODEV), no permission (EACCES, EPERM: a file the server may
# not read is not part of the site).  Any other error (out of file
# descriptors, I/O error) is the server's problem and propagates.
NOT_FOUND_ERRNOS = frozenset([
    errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EMLINK, errno.EISDIR,
    errno.ENAMETOOLONG, errno.ENXIO, errno.ENODEV, errno.EACCES, errno.EPERM,
])


class _FileSlice:
    """The ``rfile`` of a ``FilesApp`` body: *length* bytes of a file from *start*.

    It owns the file descriptor and closes it as soon as the last byte has
    been read (a ``Body`` never reads past its ``content_length``, so it never
    sees end-of-file itself), when the file turns out shorter than promised,
    or at the latest when the slice is garbage collected (a response that was
    never fully written, e.g. because the client went away).
    """

    __slots__ = ('_file', '_remaining')

    def __init__(self, fd: int, start: int, length: int) -> None:
        try:
            self._file = io.FileIO(fd, 'rb')
        except BaseException:
            os.close(fd)
            raise
        self._remaining = length
        if length == 0:
            self.close()
        elif start:
            try:
                self._file.seek(start)
            except BaseException:
                self.close()
                raise

    @property
    def closed(self) -> bool:
        return self._file.closed

    def close(self) -> None:
        self._file.close()

    def readinto(self, dst: memoryview) -> int:
        remaining = self._remaining
        if remaining <= 0 or self._file.closed:
            return 0
        if len(dst) > remaining:
            dst = dst[:remaining]
        received = self._file.readinto(dst) or 0
        self._remaining = remaining - received
        if received == 0 or self._remaining == 0:
            self.close()
        return received

    def __del__(self) -> None:
        file = getattr(self, '_file', None)
        if file is not None:
            file.close()


class FilesApp:
    """Serve the regular files beneath ``dir_name`` for GET and HEAD.

    The directory is opened once; every file is opened relative to that
    descriptor, one path component at a time, **never following a symlink**
    (``O_NOFOLLOW`` on each component).  That is the one stdlib approach that
    guarantees, without a race, that nothing outside ``dir_name`` is ever
    opened: checking a resolved path (``os.path.realpath``) and opening it
    are two steps, and a symlink swapped in between defeats the check.  So a
    symlink, wherever it points, is ``404 Not Found``, just like a missing
    file, a directory, a FIFO or device, or a trailing slash on a file.

    Responses: ``200`` with the whole file, ``206`` for a satisfiable
    ``range`` (``416`` when it ends beyond the file), ``404``, ``405`` for
    methods other than GET/HEAD, ``400`` for a ``..`` component.  A
    ``content-type`` is added when ``mimetypes`` knows the file's extension.
    """

    def __init__(self, dir_name: str) -> None:
        self.dir_fd = -1
        if type(dir_name) is not str:
            raise TypeError(TYPE_ERROR2.format('dir_name', str, type(dir_name)))
        if os.path.abspath(dir_name) != dir_name:
            raise ValueError(
                'dir_name: not absolute, normalized path: {!r}'.format(dir_name)
            )
        self.dir_name = dir_name
        self.dir_fd = os.open(dir_name, os.O_RDONLY | os.O_DIRECTORY)
        if not mimetypes.inited:
            # Load the system tables now: the lazy first-call initialization
            # in guess_type() is not thread-safe.
            mimetypes.init()

    def close(self) -> None:
        """Close the directory descriptor (also done when garbage collected)."""
        fd = self.dir_fd
        if fd >= 0:
            self.dir_fd = -1
            os.close(fd)

    def __del__(self) -> None:
        self.close()

    def __repr__(self) -> str:
        return '{}({!r})'.format(type(self).__name__, self.dir_name)

    def _open(self, names: List[str]) -> Optional[Tuple[int, int]]:
        """``(fd, size)`` of the regular file at *names*, or None if there is none."""
        root = self.dir_fd
        if root < 0:
            raise ValueError('FilesApp is closed')
        for name in names:
            if type(name) is not str:
                raise TypeError(
                    TYPE_ERROR.format('path component', str, type(name), name)
                )
            if not name or os.sep in name or '\x00' in name:
                # An empty component (a trailing slash) names no file.  A
                # separator or NUL cannot come from the wire, but an app
                # could put one in request.path: a name with a separator
                # may be absolute (which makes open() ignore dir_fd), and
                # NUL makes open() raise.
                return None
        parent = root
        try:
            for name in names[:-1]:
                child = os.open(name, DIR_FLAGS, dir_fd=parent)
                if parent != root:
                    os.close(parent)
                parent = child
            fd = os.open(names[-1], FILE_FLAGS, dir_fd=parent)
        except OSError as e:
            if e.errno in NOT_FOUND_ERRNOS:
                return None
            raise
        finally:
            if parent != root:
                os.close(parent)
        try:
            info = os.fstat(fd)
        except BaseException:
            os.close(fd)
            raise
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            return None
        return (fd, info.st_size)

    def __call__(self, session: Any, request: Any, api: Any) -> Any:
        method = request.method
        if method != 'GET' and method != 'HEAD':
            return _method_not_allowed()
        path = request.path
        if '..' in path:
            return _bad_request()
        names = path if (path and path != ['']) else [INDEX]
        opened = self._open(names)
        if opened is None:
            return _not_found()
        (fd, size) = opened
        try:
            plan = _plan(request.headers.get('range'), names[-1], size)
        except BaseException:
            os.close(fd)
            raise
        if plan is None:
            os.close(fd)
            return _range_not_satisfiable()
        (status, reason, headers, start, length) = plan
        if method == 'HEAD':
            os.close(fd)
            return (status, reason, headers, None)
        return (status, reason, headers,
                api.Body(_FileSlice(fd, start, length), length))


def _plan(r: Any, name: str,
          size: int) -> Optional[Tuple[int, str, Dict[str, Any], int, int]]:
    """Status, reason, headers, start and length of the answer; None for 416.

    *r* is the request's ``range`` header (a ``Range``) or None.  A range is
    satisfiable only if it lies entirely within the file.
    """
    headers: Dict[str, Any] = {}
    content_type = mimetypes.guess_type(name)[0]
    if content_type is not None:
        headers['content-type'] = content_type
    if r is None:
        headers['content-length'] = size
        return (200, 'OK', headers, 0, size)
    if r.stop > size:
        return None
    length = r.content_length(size)
    headers['content-length'] = length
    headers['content-range'] = r.content_range(size)
    return (206, 'Partial Content', headers, r.start, length)
