# SPDX-License-Identifier: LGPL-3.0-or-later
"""Test fixtures for Degu applications: servers in a process, fake requests.

* ``TempServer`` / ``TempSSLServer`` run an app in a background process,
  like ``degu.EmbeddedServer`` but given the app object itself (a closure or
  a lambda will do: the process is started with ``fork`` where the platform
  has it, so nothing needs to be pickled).
* ``mkreq()`` and ``mkuri()`` build a ``Request`` or a URI without a socket,
  for calling an app directly.
* ``format_headers()``, ``format_request()`` and ``format_response()`` render
  preambles *without any validation*, for feeding deliberately bad input to a
  parser.
* ``RequestLogger`` wraps an app and logs one line per request.
* ``TempPKI`` (from ``degu.sslhelpers``) creates a throw-away PKI.

``__all__`` names only the two wire helpers re-exported from ``degu.base``
(as the contract requires); everything else is imported by name.
"""

import logging
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import _check_sslconfig, _ServerProcess
from .base import parse_headers, write_chunk
from .server import Request
from .sslhelpers import TempPKI as TempPKI  # re-exported
from .util import _with_query

__all__ = ('parse_headers', 'write_chunk')

log = logging.getLogger('degu.misc')

# Line format of RequestLogger: requests so far on the connection, method,
# URI, status, reason.
REQUEST_LOG = '[%d] %s %s --> %s %s'


def _fork_context() -> Any:
    """The ``fork`` multiprocessing context where it exists, else the default.

    A Temp*Server is given the app object itself, not a module-level build
    function, and tests hand it lambdas and closures over local state.
    ``spawn`` and ``forkserver`` pickle the process target's arguments, and
    such an app does not pickle; only ``fork`` copies it into the child as
    it is.  Python 3.14 made ``forkserver`` the Linux default, so ask for
    ``fork`` by name.  The price: ``TempServer.process`` is a
    ``multiprocessing.context.ForkProcess``, not an instance of
    ``multiprocessing.Process`` (``EmbeddedServer.process`` is one, see
    ``degu._default_context()``).
    """
    import multiprocessing
    if 'fork' in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context('fork')
    return multiprocessing.get_context()


def _return_app(app: Any) -> Any:
    """The build function of a Temp*Server: the app is already built."""
    return app


class TempServer(_ServerProcess):
    """Run ``Server(address, app, **options)`` in a background process.

    ``address`` is then the bound address.  Stop it with ``terminate()``
    (also done on garbage collection and on leaving a ``with`` block).
    The process is forked (where the platform can fork), so *app* may be a
    lambda or a closure; see ``_fork_context()``.
    """

    def __init__(self, address: Any, app: Callable[..., Any],
                 **options: Any) -> None:
        self.app = app
        self.options = options
        self._launch(_fork_context(), None, address, _return_app, (app,), options)

    def __repr__(self) -> str:
        return '{}({!r}, {!r})'.format(type(self).__name__, self.address, self.app)


class TempSSLServer(_ServerProcess):
    """Run ``SSLServer(sslconfig, address, app, **options)`` in a background process."""

    def __init__(self, sslconfig: Dict[str, Any], address: Any,
                 app: Callable[..., Any], **options: Any) -> None:
        _check_sslconfig(sslconfig)
        self.sslconfig = sslconfig
        self.app = app
        self.options = options
        self._launch(_fork_context(), sslconfig, address, _return_app, (app,),
                     options)

    def __repr__(self) -> str:
        return '{}(<sslconfig>, {!r}, {!r})'.format(
            type(self).__name__, self.address, self.app
        )


# ---------------------------------------------------------------------------
# Requests and URIs without a socket

def mkreq(method: str, uri: str, headers: Optional[Dict[str, Any]] = None,
          body: Any = None, shift: int = 0, cls: Any = Request) -> Any:
    """Build a request the way the server would, but without checking *uri*.

    The path is split at the first ``?``; its first *shift* components go
    to ``mount``, as if routed already.

    >>> mkreq('GET', '/foo/bar?k=v', shift=1)
    Request(method='GET', uri='/foo/bar?k=v', headers={}, body=None, mount=['foo'], path=['bar'], query='k=v')
    """
    (path_part, sep, query_part) = uri.partition('?')
    query = query_part if sep else None
    components: List[str] = [] if path_part == '/' else path_part[1:].split('/')
    return cls(
        method,
        uri,
        ({} if headers is None else headers),
        body,
        components[:shift],
        components[shift:],
        query,
    )


def mkuri(*path: str, query: Optional[str] = None) -> str:
    """Join path components into a URI, with an optional query.

    >>> mkuri('foo', 'bar', query='k=v')
    '/foo/bar?k=v'
    """
    return _with_query(list(path), query)


# ---------------------------------------------------------------------------
# Unvalidated preambles (for testing parsers with bad input)

def _join_lines(first: Optional[str], headers: Dict[Any, Any]) -> bytes:
    lines = sorted('{}: {}'.format(key, value) for (key, value) in headers.items())
    if first is not None:
        lines.insert(0, first)
    return '\r\n'.join(lines).encode()


def format_headers(headers: Dict[Any, Any]) -> bytes:
    """``'name: value'`` lines, sorted, CRLF-joined, no trailing CRLF.

    >>> format_headers({'foo': 'bar', 'bar': 'baz'})
    b'bar: baz\\r\\nfoo: bar'
    """
    return _join_lines(None, headers)


def format_request(method: str, uri: str, headers: Dict[Any, Any]) -> bytes:
    """A request preamble (without the final CRLF CRLF), unvalidated.

    >>> format_request('GET', '/', {'foo': 'bar'})
    b'GET / HTTP/1.1\\r\\nfoo: bar'
    """
    return _join_lines('{} {} HTTP/1.1'.format(method, uri), headers)


def format_response(status: int, reason: str, headers: Dict[Any, Any]) -> bytes:
    """A response preamble (without the final CRLF CRLF), unvalidated.

    >>> format_response(200, 'OK', {})
    b'HTTP/1.1 200 OK'
    """
    return _join_lines('HTTP/1.1 {} {}'.format(status, reason), headers)


# ---------------------------------------------------------------------------
# Logging

class RequestLogger:
    """Wrap an RGI app, logging each request and its status at INFO level.

    The log line (logger ``'degu.misc'``) is written after the app returns::

        [0] GET /foo --> 200 OK

    where the number is ``session.requests`` (requests completed before
    this one on the connection).  The wrapped app's ``on_connect``, if any,
    is passed through, so wrapping changes nothing else.
    """

    on_connect: Optional[Callable[..., Any]] = None

    def __init__(self, app: Callable[..., Any]) -> None:
        if not callable(app):
            raise TypeError('app: not callable: {!r}'.format(app))
        self.app = app
        on_connect = getattr(app, 'on_connect', None)
        if on_connect is not None:
            self.on_connect = on_connect

    def __repr__(self) -> str:
        return '{}({!r})'.format(type(self).__name__, self.app)

    def __call__(self, session: Any, request: Any, api: Any) -> Any:
        response = self.app(session, request, api)
        (status, reason) = _status_reason(response)
        log.info(REQUEST_LOG, session.requests, request.method, request.uri,
                 status, reason)
        return response


def _status_reason(response: Any) -> Tuple[Any, Any]:
    """Status and reason of a response, tolerating a malformed one.

    A bad response is the server's to reject (with its own message); the
    logger must not fail first with a less helpful error.
    """
    try:
        return (response[0], response[1])
    except Exception:
        return ('?', '?')
