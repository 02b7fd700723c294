# SPDX-License-Identifier: LGPL-3.0-or-later
"""Ready-made RGI apps and app wrappers.

Each class here is an ordinary RGI app (``app(session, request, api)``
returning ``(status, reason, headers, body)``) or builds one:

* ``AllowedMethods('GET', 'HEAD')`` names a set of methods; called on an app
  it returns a ``MethodFilter`` that answers every other method with
  ``405 Method Not Allowed``.
* ``Router(appmap)`` picks an app by the next path component, descending
  through nested dicts; an unknown component is ``410 Gone``.
* ``ProxyApp(client)`` relays each request to an upstream server over one
  client connection per downstream connection (a reverse proxy), dropping
  hop-by-hop headers, answering ``502``/``504`` when the upstream fails.
* ``FilesApp(dir_name)`` serves the regular files beneath one directory,
  with single byte ranges.

Every refusal (400, 404, 405, 410, 416) is an ordinary response whose body
is ``None``; framing it on the wire, and closing the connection after it
when the request's body was left unread, is the server's business.  The
refusing apps never read a request body.
"""

import errno
import io
import logging
import mimetypes
import os
import select
import socket
import stat
from typing import Any, Callable, Dict, List, Optional, Tuple

from .errors import TYPE_ERROR, TYPE_ERROR2, EmptyPreambleError
from .limits import BODY_READY, MAX_LOGGED_MESSAGE, MAX_URI_LEN, METHODS, ROUTER_MAX_DEPTH
from .messages import connection_options
from .server import Request, Session
from .sockio import Stream
from .util import decode_component

log = logging.getLogger('degu.applib')

__all__ = ('AllowedMethods', 'MethodFilter', 'Router', 'ProxyApp')

App = Callable[[Any, Any, Any], Any]
ResponseTuple = Tuple[int, str, Dict[str, Any], Any]


def _bad_request() -> ResponseTuple:
    return (400, 'Bad Request', {}, None)


def _not_found() -> ResponseTuple:
    return (404, 'Not Found', {}, None)


def _method_not_allowed() -> ResponseTuple:
    return (405, 'Method Not Allowed', {}, None)


def _gone() -> ResponseTuple:
    return (410, 'Gone', {}, None)


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

# Hop-by-hop headers (RFC 9110 section 7.6.1, RFC 9112 section 7): they
# are about one connection, so a proxy drops them, both ways, along with
# any header a ``connection`` header names.  ``transfer-encoding`` is the
# framing of a chunked body on one hop; the next hop's framing is added
# again from the body itself.
HOP_BY_HOP = frozenset([
    'connection', 'keep-alive', 'te', 'upgrade', 'proxy-authorization',
    'proxy-authenticate', 'trailer', 'transfer-encoding',
])

# Errors after which a request is sent once more, on a new upstream
# connection: the upstream closed a kept connection instead of answering
# (it timed out the idle connection, or reached its max_requests, as the
# request went out).  See ProxyApp._retryable().
CLOSED_ERRORS = (EmptyPreambleError, ConnectionResetError, BrokenPipeError,
                 ConnectionAbortedError)


def strip_hop_by_hop(headers: Dict[str, Any]) -> None:
    """Remove the hop-by-hop headers from *headers*, in place.

    >>> headers = {'connection': 'x-a', 'x-a': '1', 'keep-alive': '5', 'x-b': '2'}
    >>> strip_hop_by_hop(headers)
    >>> headers
    {'x-b': '2'}
    """
    value = headers.get('connection')
    if value is not None:
        for name in connection_options(value):
            headers.pop(name, None)
    for name in HOP_BY_HOP:
        if name in headers:
            del headers[name]


def _open(conn: Any) -> bool:
    """Whether a kept upstream connection may take another request.

    It must not be closed, and nothing may be waiting to be read on it: an
    idle connection that the upstream closed reads as the end of the stream
    (or a reset), and one on which it sent something unasked is no use.
    """
    if conn.closed:
        return False
    sock = getattr(conn, 'sock', None)
    if sock is None:
        return True  # not a socket we can look at: its closed flag must do
    try:
        fd = sock.fileno()
        if fd < 0:
            return False
        if hasattr(select, 'poll'):
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            return not poller.poll(0)
        return not select.select([fd], [], [], 0)[0]
    except (OSError, ValueError):
        return False


class ProxyApp:
    """Relay every request to an upstream server and its response back.

    One upstream ``Connection`` (from ``client.connect()``) serves one
    downstream connection, kept in ``session.store[key]``; requests on it are
    relayed in order, bodies streamed through, chunk extensions intact.

    Hop-by-hop headers (``HOP_BY_HOP``, and any header a ``connection``
    header names) are dropped both ways, and so is ``expect``: the server in
    front of this app has already answered it (``100 Continue``), and the
    upstream client sends bodies without waiting for an interim response.
    An upstream's ``connection: close`` is the client's business (it closes
    that upstream connection after the response), never passed on.

    A kept upstream connection is used again only while it is open and
    idle; otherwise a new one is opened.  If a kept connection fails before
    any of the response arrived (the upstream closed it just as the request
    went out), the request is sent once more on a new connection, when that
    is safe: not a ``POST``, and its body not started.  Any other failure of
    the upstream is answered ``502 Bad Gateway`` (``504 Gateway Timeout``
    when it did not answer in time), logged as one WARNING line on
    ``'degu.applib'``; a failure of the downstream peer's own request body
    is raised, for the server to answer (a ``400``, a ``408``...).

    The upstream ``Response`` is returned as it is otherwise (the server
    accepts the namedtuple as an RGI response).  A status after which the
    upstream server closes its connection makes this server close the
    downstream one too (the same rule applies on both hops).
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
        headers = request.headers
        strip_hop_by_hop(headers)
        headers.pop('expect', None)
        method = request.method
        uri = request.build_proxy_uri()
        body = request.body
        store = session.store
        conn = store.pop(self.key, None)
        reused = conn is not None and _open(conn)
        if conn is not None and not reused and not conn.closed:
            conn.close()  # stale: closed by the upstream while it was idle
        while True:
            try:
                if not reused:
                    conn = self.client.connect()
                response = conn.request(method, uri, headers, body)
            except (OSError, ValueError) as e:
                if _downstream_failed(body):
                    raise  # the peer's own body: the server answers it
                if reused and self._retryable(e, method, body):
                    reused = False
                    continue
                return _bad_gateway(e, method, uri)
            store[self.key] = conn
            strip_hop_by_hop(response.headers)
            return response

    @staticmethod
    def _retryable(error: Exception, method: str, body: Any) -> bool:
        """Whether a request that failed on a kept connection may go again.

        Only if the upstream closed that connection instead of answering
        (nothing of a response arrived), and sending the request again
        cannot do harm: its body was not started (there is still all of it
        to send), and its method is not ``POST``, the one that is not
        idempotent (RFC 9110 section 9.2.2; RFC 9112 section 9.3.1 forbids
        repeating a request that may have had an effect).
        """
        if not isinstance(error, CLOSED_ERRORS) or method == 'POST':
            return False
        return body is None or getattr(body, 'state', None) == BODY_READY


def _downstream_failed(body: Any) -> bool:
    """Whether reading the downstream request body is what failed."""
    rfile = getattr(body, 'rfile', None)
    return isinstance(rfile, Stream) and rfile.broken


def _bad_gateway(error: Exception, method: str, uri: str) -> ResponseTuple:
    if isinstance(error, (TimeoutError, socket.timeout)):  # (distinct before 3.10)
        (status, reason) = (504, 'Gateway Timeout')
    else:
        (status, reason) = (502, 'Bad Gateway')
    log.warning('%d %s for %s %.*s: %.*r', status, reason, method,
                MAX_URI_LEN, uri, MAX_LOGGED_MESSAGE, error)
    return (status, reason, {}, None)


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


class _ServedFile(io.FileIO):
    """The ``rfile`` of a ``FilesApp`` body: the opened file itself.

    It is an ``io.FileIO`` (the original Degu documents ``Body(file, size)``
    on the file object), positioned at the first byte to send, with two
    additions that keep descriptors from piling up:

    * it closes itself as soon as ``readinto()`` has delivered the last byte
      of the response (``end``).  A ``Body`` reads exactly its
      ``content_length`` and never sees end-of-file, and the server may
      keep the finished response referenced while it waits, possibly for
      its whole timeout, for the next request on the connection;
    * when it is dropped before that (the client went away mid-body), it
      closes without the ``ResourceWarning`` a plain ``FileIO`` gives.

    ``readinto()`` never reads past ``end``: a range is a range.
    """

    _remaining: int

    def _set_span(self, start: int, length: int) -> None:
        if start:
            self.seek(start)
        self._remaining = length
        if length == 0:
            self.close()

    def readinto(self, dst: Any) -> int:
        remaining = self._remaining
        if remaining <= 0 or self.closed:
            return 0
        view = memoryview(dst).cast('B')
        if len(view) > remaining:
            view = view[:remaining]
        received = super().readinto(view) or 0
        self._remaining = remaining = remaining - received
        if received == 0 or remaining == 0:
            # Done, or the file shrank (the Body reports the short read).
            self.close()
        return received

    def __del__(self) -> None:
        self.close()


def _served_file(fd: int, name: str, start: int, length: int) -> _ServedFile:
    """Wrap the open descriptor *fd*; it is closed if that fails."""
    try:
        file = _ServedFile(fd, 'rb')
    except BaseException:
        os.close(fd)
        raise
    try:
        file.name = name
        file._set_span(start, length)
    except BaseException:
        file.close()
        raise
    return file


# -- content types -------------------------------------------------------------

# Sent when mimetypes does not know a name: "arbitrary bytes" (RFC 2046
# section 4.5.1), which a browser saves instead of guessing and rendering.
UNKNOWN_TYPE = 'application/octet-stream'

# The parameter added to textual types.  Without one, text/plain and
# text/html are decoded by browsers with a legacy default (windows-1252)
# and UTF-8 files come out garbled; UTF-8 is what text files are today, so
# FilesApp says so.  (A file in another encoding needs another server.)
CHARSET = '; charset=utf-8'

# Textual types outside text/*: JSON (RFC 8259 defines no charset parameter
# but is always UTF-8; stating it costs nothing and helps clients that only
# look at the parameter), JavaScript under its older names (now text/
# javascript, RFC 9239), and XML (RFC 7303: the parameter is authoritative).
TEXT_APPLICATION_TYPES = frozenset([
    'application/json', 'application/javascript', 'application/ecmascript',
    'application/xml',
])

# Structured-syntax suffixes (RFC 6839): image/svg+xml, application/
# xhtml+xml, application/atom+xml, application/manifest+json,
# application/ld+json ... are XML or JSON text too.
TEXT_SUFFIXES = ('+xml', '+json')


def _is_text(content_type: str) -> bool:
    return (content_type.startswith('text/')
            or content_type in TEXT_APPLICATION_TYPES
            or content_type.endswith(TEXT_SUFFIXES))


def content_type(name: str) -> str:
    """The ``content-type`` FilesApp sends for a file called *name*.

    >>> content_type('notes.txt'), content_type('data.json')
    ('text/plain; charset=utf-8', 'application/json; charset=utf-8')
    >>> content_type('photo.png'), content_type('README'), content_type('a.tar.gz')
    ('image/png', 'application/octet-stream', 'application/octet-stream')

    The type comes from ``mimetypes`` (the system's tables); textual types
    get ``; charset=utf-8``.  A compressed name (``.gz``, ``.bz2`` ...) is
    sent as it is stored, so as ``application/octet-stream``: the type
    mimetypes gives is that of the decompressed content, and claiming it
    (without a ``content-encoding``) would be false.
    """
    # './' keeps a name with a colon ('data:x.txt') from being read as a URL.
    (guessed, encoding) = mimetypes.guess_type('./' + name)
    if guessed is None or encoding is not None:
        return UNKNOWN_TYPE
    if _is_text(guessed):
        return guessed + CHARSET
    return guessed


# -- the app ---------------------------------------------------------------------

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

    Names: each component of ``request.path`` is percent-decoded as UTF-8
    (``a%20b.txt`` is the file ``a b.txt``; see ``degu.util.decode_component``).
    A component that is, once decoded, ``.`` or ``..``, or holds ``/``,
    ``\\`` or NUL, or has a broken ``%`` escape, is ``400 Bad Request``: it is
    malformed in the same way the server refuses on the wire, and the answer
    should not depend on which of the two noticed.  A component whose bytes
    are not UTF-8 is ``404 Not Found``: RFC 3986 allows any byte there, the
    request is well formed, it just names nothing FilesApp serves (it serves
    UTF-8 names only).

    Responses: ``200`` with the whole file; ``206`` for a ``range`` that
    starts within the file (one that runs past the end is cut at the end,
    RFC 9110 section 14.1.1); ``416`` with ``content-range: bytes */SIZE``
    for one that starts at or past the end; ``404``; ``405`` for methods
    other than GET/HEAD.  The error answers have no body (``None``).  Every
    file is sent with a ``content-type`` (see ``content_type()``).

    The body is ``Body(file, length)`` on the opened file itself (an
    ``io.FileIO``, positioned at the range's first byte), which closes when
    its last byte has been read or when it is dropped.
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
        """``(fd, size)`` of the regular file at *names*, or None if there is none.

        *names* are decoded and checked (``_names()``): none holds a
        separator (which could make a name absolute, and open() then
        ignores dir_fd) or NUL.
        """
        root = self.dir_fd
        if root < 0:
            raise ValueError('FilesApp is closed')
        if '' in names:
            # An empty component (a trailing slash, '//') names no file.
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
        try:
            names = _names(request.path)
        except UnicodeDecodeError:
            return _not_found()
        except ValueError:
            return _bad_request()
        opened = self._open(names)
        if opened is None:
            return _not_found()
        (fd, size) = opened
        name = names[-1]
        try:
            plan = _plan(request.headers.get('range'), name, size)
        except BaseException:
            os.close(fd)
            raise
        (status, reason, headers, start, length) = plan
        if method == 'HEAD' or status == 416:
            os.close(fd)
            return (status, reason, headers, None)
        file = _served_file(fd, os.path.join(self.dir_name, *names), start, length)
        return (status, reason, headers, api.Body(file, length))


def _names(path: List[Any]) -> List[str]:
    """The decoded names of *path*; ``index.html`` for the directory itself.

    Raises what ``decode_component()`` raises (``UnicodeDecodeError`` for
    bytes that are not UTF-8, ``ValueError`` for the rest), and
    ``TypeError`` for a component that is not a ``str`` (only an app can
    put one there).
    """
    if not path or path == ['']:
        return [INDEX]
    names: List[str] = []
    for component in path:
        if type(component) is not str:
            raise TypeError(TYPE_ERROR.format(
                'path component', str, type(component), component
            ))
        names.append(decode_component(component))
    return names


def _plan(r: Any, name: str,
          size: int) -> Tuple[int, str, Dict[str, Any], int, int]:
    """Status, reason, headers, and the first byte and length to send.

    *r* is the request's ``range`` header (a ``Range``) or None.  The range
    is resolved against the file's size by ``Range`` itself
    (``content_range()``), which also understands open (``bytes=N-``) and
    suffix (``bytes=-N``) ranges; it raises ``ValueError`` for a range that
    starts at or past the end: ``416``, with the size in
    ``content-range: bytes */SIZE`` (RFC 9110 section 15.5.17).
    """
    if r is None:
        return (200, 'OK', {'content-type': content_type(name),
                            'content-length': size}, 0, size)
    try:
        content_range = r.content_range(size)
    except ValueError:
        return (416, 'Range Not Satisfiable',
                {'content-range': 'bytes */{}'.format(size)}, 0, 0)
    length = r.content_length(size)
    headers = {
        'content-type': content_type(name),
        'content-length': length,
        'content-range': content_range,
    }
    return (206, 'Partial Content', headers, content_range.start, length)
