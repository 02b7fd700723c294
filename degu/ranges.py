# SPDX-License-Identifier: LGPL-3.0-or-later
"""Byte ranges: the values of the ``range`` and ``content-range`` headers.

(Arguments checked with exact type tests are annotated ``Any``, so that a
mypyc-compiled build runs those checks and their messages too.)

Both classes use Python slice semantics: ``Range(16, 21)`` means bytes 16
through 20 inclusive, which HTTP spells ``bytes=16-20``; ``Range(500, None)``
(``bytes=500-``) and ``Range(-500, None)`` (``bytes=-500``) read like the
slices ``[500:]`` and ``[-500:]``.  Converting between the two conventions
happens only here and in the parser, so apps never juggle inclusive end
offsets.

A ``content-range`` of ``bytes */N`` (what a server sends with a ``416``:
no range, only the total) is not a ``ContentRange``: the parser keeps it as
the ``str`` ``'bytes */N'``.
"""

from typing import Any, Optional, Tuple

from .errors import TYPE_ERROR
from .limits import MAX_LENGTH


def _check_offset(name: str, value: Any) -> int:
    if type(value) is not int:
        raise TypeError(TYPE_ERROR.format(name, int, type(value), value))
    if not (0 <= value <= MAX_LENGTH):
        raise ValueError(
            'need 0 <= {} <= {}; got {}'.format(name, MAX_LENGTH, value)
        )
    return value


class Range:
    """A single ``range`` of bytes to request, as ``Range(start, stop)``.

    Three forms, all with Python slice semantics:

    =====================  ================  ==================================
    value                  HTTP spelling     selects
    =====================  ================  ==================================
    ``Range(16, 21)``      ``bytes=16-20``   bytes 16 up to (not including) 21
    ``Range(500, None)``   ``bytes=500-``    from byte 500 to the end
    ``Range(-500, None)``  ``bytes=-500``    the last 500 bytes
    =====================  ================  ==================================

    A negative *start* is only allowed with ``stop=None``.  ``str()`` gives
    the header value, ``==`` compares with another ``Range`` or with that
    ``str``.  ``content_length(total)`` and ``content_range(total)`` resolve
    the range against a representation of *total* bytes: the part past the
    end is cut off, a suffix longer than the total means the whole
    representation, and a range starting at or past the end (or any range
    of an empty representation) is out of bounds (``ValueError``).

    >>> r = Range(16, 21)
    >>> str(r)
    'bytes=16-20'
    >>> r.content_length(18), r.content_range(18)
    (2, ContentRange(16, 18, 18))
    >>> Range(-500, None).content_range(800)
    ContentRange(300, 800, 800)
    >>> Range(500, None).content_range(800)
    ContentRange(500, 800, 800)
    """

    __slots__ = ('_start', '_stop')

    def __init__(self, start: Any, stop: Any) -> None:
        if stop is None:
            if type(start) is not int:
                raise TypeError(TYPE_ERROR.format('start', int, type(start), start))
            if not (-MAX_LENGTH <= start <= MAX_LENGTH):
                raise ValueError(
                    'need -{0} <= start <= {0} when stop is None; got {1}'.format(
                        MAX_LENGTH, start
                    )
                )
            self._start: int = start
            self._stop: Optional[int] = None
            return
        self._start = _check_offset('start', start)
        self._stop = _check_offset('stop', stop)
        if start >= stop:
            raise ValueError(
                'need start < stop; got {} >= {}'.format(start, stop)
            )

    @property
    def start(self) -> int:
        """The first byte, or (when negative) minus the suffix length."""
        return self._start

    @property
    def stop(self) -> Optional[int]:
        """One past the last byte, or ``None`` for "to the end"."""
        return self._stop

    def __repr__(self) -> str:
        return 'Range({}, {})'.format(self._start, self._stop)

    def __str__(self) -> str:
        stop = self._stop
        if stop is not None:
            return 'bytes={}-{}'.format(self._start, stop - 1)
        if self._start < 0:
            return 'bytes={}'.format(self._start)
        return 'bytes={}-'.format(self._start)

    def _cmp(self, other: object) -> bool:
        if type(other) is Range:
            assert isinstance(other, Range)
            return self._start == other._start and self._stop == other._stop
        if type(other) is str:
            return str(self) == other
        raise TypeError('cannot compare Range() with {!r}'.format(type(other)))

    def __eq__(self, other: object) -> bool:
        return self._cmp(other)

    def __ne__(self, other: object) -> bool:
        return not self._cmp(other)

    def __hash__(self) -> int:
        # Mutable-looking value types that compare equal to str must not
        # be dict keys: refuse hashing like a list does.
        raise TypeError("unhashable type: 'Range'")

    def _resolve(self, total: Any) -> Tuple[int, int, int]:
        """``(start, stop, total)`` of the bytes selected from *total* bytes."""
        checked = _check_offset('total', total)
        start = self._start
        stop = self._stop
        if start < 0:
            start = max(checked + start, 0)
        if stop is None or stop > checked:
            stop = checked
        if start >= stop:
            raise ValueError(
                '{!r} out of bounds (total={!r})'.format(self, total)
            )
        return (start, stop, checked)

    def content_length(self, total: Any) -> int:
        """Number of bytes this range selects from an entity of *total* bytes."""
        (start, stop, _total) = self._resolve(total)
        return stop - start

    def content_range(self, total: Any) -> 'ContentRange':
        """The ``content-range`` describing this range of a *total*-byte entity."""
        (start, stop, checked) = self._resolve(total)
        return ContentRange(start, stop, checked)


class ContentRange:
    """A ``bytes START-END/TOTAL`` response range, as ``ContentRange(start, stop, total)``.

    >>> str(ContentRange(16, 17, 23))
    'bytes 16-16/23'
    """

    __slots__ = ('_start', '_stop', '_total')

    def __init__(self, start: Any, stop: Any, total: Any) -> None:
        self._start = _check_offset('start', start)
        self._stop = _check_offset('stop', stop)
        self._total = _check_offset('total', total)
        if not (start < stop <= total):
            raise ValueError(
                'need start < stop <= total; got ({}, {}, {})'.format(
                    start, stop, total
                )
            )

    @property
    def start(self) -> int:
        return self._start

    @property
    def stop(self) -> int:
        return self._stop

    @property
    def total(self) -> int:
        return self._total

    def __repr__(self) -> str:
        return 'ContentRange({}, {}, {})'.format(
            self._start, self._stop, self._total
        )

    def __str__(self) -> str:
        return 'bytes {}-{}/{}'.format(self._start, self._stop - 1, self._total)

    def _cmp(self, other: object) -> bool:
        if type(other) is ContentRange:
            assert isinstance(other, ContentRange)
            return (
                self._start == other._start
                and self._stop == other._stop
                and self._total == other._total
            )
        if type(other) is str:
            return str(self) == other
        raise TypeError(
            'cannot compare ContentRange() with {!r}'.format(type(other))
        )

    def __eq__(self, other: object) -> bool:
        return self._cmp(other)

    def __ne__(self, other: object) -> bool:
        return not self._cmp(other)

    def __hash__(self) -> int:
        raise TypeError("unhashable type: 'ContentRange'")
