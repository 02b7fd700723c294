# SPDX-License-Identifier: LGPL-3.0-or-later
"""What an RGI app is handed for each connection and each request.

* ``Session``: one connection as the app sees it -- who is on the other end
  (its address and, over ``AF_UNIX``, its credentials), how many requests it
  made, and a ``store`` dict for per-connection state (an authenticated peer,
  the upstream connection of a proxy).  The same object comes with every
  request on the connection.
* ``Request``: one request -- method, URI (and its path split into
  components), headers, body.  ``mount`` and ``path`` move components from one
  to the other as routing descends (``shift_path()``).

Both are re-exported by ``degu.server`` (and ``degu.base``), which is where
applications import them from.
"""

from typing import Any, Dict, Final, List, Optional, Tuple

from .errors import TYPE_ERROR, TYPE_ERROR2, bad_method
from .limits import DEFAULT_SESSION_REQUESTS, MAX_SESSION_REQUESTS, METHOD_BITS
from .util import relative_uri, shift_path

# (A C static when compiled, read once per request: see degu.client.)
_METHOD_BITS: Final = METHOD_BITS

__all__ = ('Session', 'Request')


class Session:
    """One connection as the app sees it: who, how many requests, and a store.

    The same object is passed with every request on the connection, so
    ``store`` is the place for per-connection state (an authenticated peer,
    an upstream connection of a proxy).
    """

    __slots__ = ('_address', '_credentials', '_max_requests', '_requests',
                 '_store', '_closed', '_message')

    # Checked arguments are typed Any: a compiled (mypyc) build must run the
    # checks below, with their messages, not reject the call on its own.
    def __init__(self, address: Any, credentials: Any = None,
                 max_requests: Any = None) -> None:
        if credentials is not None:
            if type(credentials) is not tuple:
                raise TypeError(
                    TYPE_ERROR2.format('credentials', tuple, type(credentials))
                )
            if len(credentials) != 3:
                raise ValueError('credentials: need a 3-tuple; got a {}-tuple'.format(
                    len(credentials)
                ))
        if max_requests is None:
            max_requests = DEFAULT_SESSION_REQUESTS
        elif type(max_requests) is not int:
            raise TypeError(TYPE_ERROR.format(
                'max_requests', int, type(max_requests), max_requests
            ))
        elif not (0 <= max_requests <= MAX_SESSION_REQUESTS):
            raise ValueError('need 0 <= max_requests <= {}; got {}'.format(
                MAX_SESSION_REQUESTS, max_requests
            ))
        self._address = address
        self._credentials: Optional[Tuple[Any, Any, Any]] = credentials
        self._max_requests: int = max_requests
        self._requests = 0
        self._store: Dict[Any, Any] = {}
        self._closed = False
        self._message: Optional[str] = None

    @property
    def address(self) -> Any:
        return self._address

    @property
    def credentials(self) -> Optional[Tuple[Any, Any, Any]]:
        return self._credentials

    @property
    def max_requests(self) -> int:
        return self._max_requests

    @property
    def requests(self) -> int:
        return self._requests

    @property
    def store(self) -> Dict[Any, Any]:
        return self._store

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def message(self) -> Optional[str]:
        return self._message

    def close(self, message: str) -> None:
        """Close after the current response; the first message is kept."""
        if not self._closed:
            self._closed = True
            self._message = message

    def __repr__(self) -> str:
        if self._credentials is None:
            return 'Session({!r})'.format(self._address)
        return 'Session({!r}, {!r})'.format(self._address, self._credentials)

    def __str__(self) -> str:
        if self._credentials is None:
            return repr(self._address)
        return '{!r} {!r}'.format(self._address, self._credentials)


class Request:
    """One request as the app sees it.

    ``mount`` and ``path`` split the URI's path components: routing moves
    components from the front of ``path`` to the end of ``mount`` with
    ``shift_path()``, so an app mounted at ``/api`` sees only the rest.
    """

    __slots__ = ('_method', '_m', '_uri', '_headers', '_body', '_mount',
                 '_path', '_query')

    # method, mount and path are checked below, hence typed Any (see Session).
    def __init__(self, method: Any, uri: str, headers: Dict[str, Any],
                 body: Any, mount: Any, path: Any,
                 query: Optional[str]) -> None:
        bit = _METHOD_BITS.get(method, 0) if type(method) is str else 0
        if not bit:
            raise bad_method(method)
        if type(mount) is not list:
            raise TypeError(TYPE_ERROR2.format('mount', list, type(mount)))
        if type(path) is not list:
            raise TypeError(TYPE_ERROR2.format('path', list, type(path)))
        self._method: str = method
        self._m = bit
        self._uri = uri
        self._headers = headers
        self._body = body
        self._mount: List[str] = mount
        self._path: List[str] = path
        self._query = query

    @property
    def method(self) -> str:
        return self._method

    @property
    def m(self) -> int:
        return self._m

    @property
    def uri(self) -> str:
        return self._uri

    @property
    def headers(self) -> Dict[str, Any]:
        return self._headers

    @property
    def body(self) -> Any:
        return self._body

    @property
    def mount(self) -> List[str]:
        return self._mount

    @property
    def path(self) -> List[str]:
        return self._path

    @property
    def query(self) -> Optional[str]:
        return self._query

    def shift_path(self) -> Optional[str]:
        """Move the next path component onto ``mount`` and return it (None if none)."""
        if not self._path:
            return None
        return shift_path(self)

    def build_proxy_uri(self) -> str:
        """The URI for an upstream server: remaining path plus query."""
        return relative_uri(self)

    def __repr__(self) -> str:
        return (
            'Request(method={!r}, uri={!r}, headers={!r}, body={!r}, '
            'mount={!r}, path={!r}, query={!r})'.format(
                self._method, self._uri, self._headers, self._body,
                self._mount, self._path, self._query,
            )
        )
