"""Byte ranges: the values of the ``range`` and ``content-range`` headers.

(Arguments checked with exact type tests are annotated ``Any``, so that a
mypyc-compiled build runs those checks and their messages too.)

Both classes use Python slice semantics: ``Range(16, 21)`` means bytes 16
through 20 inclusive, which HTTP spells ``bytes=16-20``.  Converting between
the two conventions happens only here and in the parser, so apps never
juggle inclusive end offsets.
"""

from typing import Any

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
    """A single ``bytes=START-END`` request range, as ``Range(start, stop)``.

    >>> r = Range(16, 21)
    >>> str(r)
    'bytes=16-20'
    >>> r.content_length(18), r.content_range(18)
    (2, ContentRange(16, 18, 18))
    """

    __slots__ = ('_start', '_stop')

    def __init__(self, start: Any, stop: Any) -> None:
        self._start = _check_offset('start', start)
        self._stop = _check_offset('stop', stop)
        if start >= stop:
            raise ValueError(
                'need start < stop; got {} >= {}'.format(start, stop)
            )

    @property
    def start(self) -> int:
        return self._start

    @property
    def stop(self) -> int:
        return self._stop

    def __repr__(self) -> str:
        return 'Range({}, {})'.format(self._start, self._stop)

    def __str__(self) -> str:
        return 'bytes={}-{}'.format(self._start, self._stop - 1)

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

    def _check_total(self, total: Any) -> int:
        checked = _check_offset('total', total)
        if self._start >= checked:
            raise ValueError(
                '{!r} out of bounds (total={!r})'.format(self, total)
            )
        return checked

    def content_length(self, total: Any) -> int:
        """Number of bytes this range selects from an entity of *total* bytes."""
        checked = self._check_total(total)
        return min(self._stop, checked) - self._start

    def content_range(self, total: Any) -> 'ContentRange':
        """The ``content-range`` describing this range of a *total*-byte entity."""
        checked = self._check_total(total)
        return ContentRange(self._start, min(self._stop, checked), checked)


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
