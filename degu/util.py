"""Legacy helpers for RGI applications that route on ``request.path``.

A request's URI is split by the server into three parts:

* ``mount``: the path components already consumed by routing apps (a list of
  ``str``, initially empty);
* ``path``: the components still to be routed (a list of ``str``);
* ``query``: the text after the first ``?`` (``None`` when there is no ``?``,
  ``''`` for a trailing ``?``).

The functions here only rely on those three attributes (duck typing), so they
work with ``degu.server.Request`` and with any look-alike object, for example
one built by a test.  ``degu.server.Request`` has the same operation as a
method (``Request.shift_path()``, which returns ``None`` when ``path`` is
empty); the function kept here raises ``IndexError`` instead.

Invariant kept by ``shift_path()``: ``absolute_uri(request)`` never changes.
"""

from typing import List, Optional, Protocol

__all__ = ('shift_path', 'relative_uri', 'absolute_uri')


class _RoutedRequest(Protocol):
    """The attributes these helpers read (``mount`` and ``path`` are mutated
    in place, never replaced, so read-only properties are enough)."""

    @property
    def mount(self) -> List[str]: ...

    @property
    def path(self) -> List[str]: ...

    @property
    def query(self) -> Optional[str]: ...


def _with_query(components: List[str], query: Optional[str]) -> str:
    """Join path components into a URI, appending ``?query`` if present.

    ``query is None`` means the URI had no ``?`` at all; ``''`` means it ended
    with a bare ``?``, which is preserved so the URI round-trips exactly.
    """
    uri = '/' + '/'.join(components)
    if query is None:
        return uri
    return uri + '?' + query


def shift_path(request: _RoutedRequest) -> str:
    """Move the next path component to the end of ``mount`` and return it.

    Raises ``IndexError`` (leaving the request untouched) when ``path`` is
    empty, i.e. when routing has already consumed the whole URI path.  The
    error is the one ``list.pop()`` raises (``pop from empty list``), which
    is what the original Degu documents.
    """
    component = request.path.pop(0)
    request.mount.append(component)
    return component


def relative_uri(request: _RoutedRequest) -> str:
    """The URI still to be routed: ``path`` plus ``query``, without ``mount``.

    This is what a router should forward to the app it delegates to.
    """
    return _with_query(request.path, request.query)


def absolute_uri(request: _RoutedRequest) -> str:
    """The whole URI as received: ``mount`` + ``path`` plus ``query``."""
    return _with_query(request.mount + request.path, request.query)
