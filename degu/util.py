# SPDX-License-Identifier: LGPL-3.0-or-later
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

Path components stay percent-encoded in ``request.path`` (``'a%20b'``), so
that the URI can always be rebuilt exactly; ``decode_component()`` gives the
name one stands for, for an app that maps components to names (files, keys).
"""

from typing import List, Optional, Protocol

__all__ = ('shift_path', 'relative_uri', 'absolute_uri', 'decode_component')

_HEX_DIGITS = frozenset(b'0123456789ABCDEFabcdef')

# Decoded names that do not name one thing inside the thing being routed:
# the current and the parent directory, and names holding a separator
# (either of the two that file systems and URLs use) or NUL, which no file
# system accepts in a name.  The server refuses such components on the wire
# (doc/http.rst); this is the same rule for components an app produced.
_SPECIAL_NAMES = ('.', '..')
_FORBIDDEN_CHARS = ('/', '\\', '\x00')


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


def _unquote(component: str) -> str:
    """Replace each ``%HH`` of *component*; the bytes must be UTF-8."""
    raw = component.encode('utf-8')
    pieces = raw.split(b'%')
    out = bytearray(pieces[0])
    for piece in pieces[1:]:
        if len(piece) < 2 or piece[0] not in _HEX_DIGITS or piece[1] not in _HEX_DIGITS:
            raise ValueError(
                'bad percent-escape in path component: {!r}'.format(component)
            )
        out.append(int(piece[:2], 16))
        out += piece[2:]
    try:
        return out.decode('utf-8')
    except UnicodeDecodeError as e:
        # The same error, saying which component it was.
        raise UnicodeDecodeError(
            'utf-8', bytes(out), e.start, e.end,
            'path component {!r} is not UTF-8'.format(component),
        ) from None


def decode_component(component: str) -> str:
    """The name a percent-encoded path component stands for.

    >>> decode_component('a%20b.txt'), decode_component('caf%C3%A9')
    ('a b.txt', 'café')

    Each ``%HH`` (two hex digits, either case) is one byte, and the bytes
    are read as UTF-8.  Raises ``UnicodeDecodeError`` when they are not
    UTF-8, and ``ValueError`` for a ``%`` not followed by two hex digits or
    for a name that could step outside the place it is looked up in:
    ``.``, ``..``, or one containing ``/``, ``\\`` or NUL.  A component
    without ``%`` is its own name (and is checked the same way).
    """
    name = _unquote(component) if '%' in component else component
    if name in _SPECIAL_NAMES or any(c in name for c in _FORBIDDEN_CHARS):
        raise ValueError(
            "path component is '.' or '..' or holds '/', '\\\\' or NUL once "
            'decoded: {!r}'.format(component)
        )
    return name
