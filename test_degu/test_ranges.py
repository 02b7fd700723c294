# SPDX-License-Identifier: LGPL-3.0-or-later
"""Tests for degu.ranges: Range (closed, open and suffix) and ContentRange."""

import pytest

from degu.errors import TYPE_ERROR
from degu.limits import MAX_LENGTH
from degu.ranges import ContentRange, Range


class MyInt(int):
    pass


class MyStr(str):
    pass


# (value, exception type, message template with {name}) for one offset
# argument; used for start, stop and total alike.
BAD_OFFSETS = [
    (1.0, TypeError, TYPE_ERROR.format('{name}', int, float, 1.0)),
    ('1', TypeError, TYPE_ERROR.format('{name}', int, str, '1')),
    (b'1', TypeError, TYPE_ERROR.format('{name}', int, bytes, b'1')),
    (None, TypeError, TYPE_ERROR.format('{name}', int, type(None), None)),
    (True, TypeError, TYPE_ERROR.format('{name}', int, bool, True)),
    (False, TypeError, TYPE_ERROR.format('{name}', int, bool, False)),
    (MyInt(1), TypeError, TYPE_ERROR.format('{name}', int, MyInt, MyInt(1))),
    (-1, ValueError, 'need 0 <= {name} <= 9999999999999999; got -1'),
    (MAX_LENGTH + 1, ValueError,
     'need 0 <= {name} <= 9999999999999999; got 10000000000000000'),
    (-(2 ** 70), ValueError,
     'need 0 <= {name} <= 9999999999999999; got {big}'),
]


def expect(template, name, value):
    """Fill in a BAD_OFFSETS message for the argument called *name*."""
    return template.format(name=name, big=value)


# ---------------------------------------------------------------------------
# Range construction

@pytest.mark.parametrize('value, exc, template', BAD_OFFSETS)
def test_range_bad_start(value, exc, template):
    with pytest.raises(exc) as cm:
        Range(value, 10)
    assert str(cm.value) == expect(template, 'start', value)


@pytest.mark.parametrize('value, exc, template',
                         [case for case in BAD_OFFSETS if case[0] is not None])
def test_range_bad_stop(value, exc, template):
    # (None is the open or suffix form, tested below.)
    with pytest.raises(exc) as cm:
        Range(0, value)
    assert str(cm.value) == expect(template, 'stop', value)


def test_range_start_checked_before_stop():
    with pytest.raises(TypeError) as cm:
        Range('a', 'b')
    assert str(cm.value) == TYPE_ERROR.format('start', int, str, 'a')
    with pytest.raises(ValueError) as cm:
        Range(-1, 'b')
    assert str(cm.value) == 'need 0 <= start <= 9999999999999999; got -1'
    # Types/ranges of both are checked before their order.
    with pytest.raises(TypeError) as cm:
        Range(5, 'b')
    assert str(cm.value) == TYPE_ERROR.format('stop', int, str, 'b')


@pytest.mark.parametrize('start, stop', [
    (0, 0),
    (1, 0),
    (17, 17),
    (17, 16),
    (MAX_LENGTH, MAX_LENGTH),
    (MAX_LENGTH, 0),
])
def test_range_start_not_below_stop(start, stop):
    with pytest.raises(ValueError) as cm:
        Range(start, stop)
    assert str(cm.value) == 'need start < stop; got {} >= {}'.format(start, stop)


@pytest.mark.parametrize('start, stop, text', [
    (0, 1, 'bytes=0-0'),
    (16, 21, 'bytes=16-20'),
    (16, 17, 'bytes=16-16'),
    (0, MAX_LENGTH, 'bytes=0-9999999999999998'),
    (MAX_LENGTH - 1, MAX_LENGTH, 'bytes=9999999999999998-9999999999999998'),
])
def test_range_valid(start, stop, text):
    r = Range(start, stop)
    assert r.start == start
    assert r.stop == stop
    assert type(r.start) is int and type(r.stop) is int
    assert repr(r) == 'Range({}, {})'.format(start, stop)
    assert str(r) == text


def test_range_repr_str_examples():
    assert repr(Range(16, 21)) == 'Range(16, 21)'
    assert str(Range(16, 21)) == 'bytes=16-20'


def test_range_read_only():
    r = Range(16, 21)
    for attr in ('start', 'stop'):
        with pytest.raises(AttributeError):
            setattr(r, attr, 3)
        with pytest.raises(AttributeError):
            delattr(r, attr)
    with pytest.raises(AttributeError):
        r.other = 1
    assert (r.start, r.stop) == (16, 21)


# ---------------------------------------------------------------------------
# Range comparison and hashing

def test_range_eq_same_type():
    r = Range(16, 21)
    assert r == Range(16, 21)
    assert not (r != Range(16, 21))
    assert r == r
    for other in (Range(16, 22), Range(15, 21), Range(0, 1)):
        assert r != other
        assert not (r == other)
        assert other != r


def test_range_eq_str():
    r = Range(16, 21)
    assert r == 'bytes=16-20'
    assert 'bytes=16-20' == r
    assert not (r != 'bytes=16-20')
    assert r != 'bytes=16-21'
    assert r != 'bytes 16-20'
    assert r != ''
    assert 'bytes=16-21' != r
    assert not (r == 'bytes=16-21')


@pytest.mark.parametrize('other', [
    b'bytes=16-20',
    16,
    None,
    (16, 21),
    [16, 21],
    MyStr('bytes=16-20'),
    ContentRange(16, 21, 22),
    16.0,
])
def test_range_compare_other_type(other):
    r = Range(16, 21)
    msg = 'cannot compare Range() with {!r}'.format(type(other))
    with pytest.raises(TypeError) as cm:
        r == other
    assert str(cm.value) == msg
    with pytest.raises(TypeError) as cm:
        r != other
    assert str(cm.value) == msg


@pytest.mark.parametrize('op', [
    lambda a, b: a < b,
    lambda a, b: a <= b,
    lambda a, b: a > b,
    lambda a, b: a >= b,
])
@pytest.mark.parametrize('other', [Range(1, 2), 'bytes=1-1', 5])
def test_range_no_ordering(op, other):
    with pytest.raises(TypeError):
        op(Range(16, 21), other)


def test_range_unhashable():
    r = Range(16, 21)
    with pytest.raises(TypeError):
        hash(r)
    with pytest.raises(TypeError):
        {r}
    with pytest.raises(TypeError):
        {r: 1}


# ---------------------------------------------------------------------------
# Range.content_length() and Range.content_range()

@pytest.mark.parametrize('start, stop, total, length, crange', [
    (5, 15, 20, 10, ContentRange(5, 15, 20)),
    (5, 15, 15, 10, ContentRange(5, 15, 15)),
    (5, 15, 14, 9, ContentRange(5, 14, 14)),
    (5, 15, 6, 1, ContentRange(5, 6, 6)),
    (0, 1, 1, 1, ContentRange(0, 1, 1)),
    (0, MAX_LENGTH, MAX_LENGTH, MAX_LENGTH, ContentRange(0, MAX_LENGTH, MAX_LENGTH)),
    (16, 21, 18, 2, ContentRange(16, 18, 18)),
    (16, 21, 23, 5, ContentRange(16, 21, 23)),
])
def test_range_content_length_and_range(start, stop, total, length, crange):
    r = Range(start, stop)
    assert r.content_length(total) == length
    assert type(r.content_length(total)) is int
    got = r.content_range(total)
    assert type(got) is ContentRange
    assert got == crange
    # The range itself is untouched by the clamping.
    assert (r.start, r.stop) == (start, stop)


@pytest.mark.parametrize('start, stop, total', [
    (5, 15, 5),
    (5, 15, 0),
    (5, 15, 1),
    (0, 1, 0),
    (MAX_LENGTH - 1, MAX_LENGTH, MAX_LENGTH - 1),
])
def test_range_out_of_bounds(start, stop, total):
    r = Range(start, stop)
    msg = '{!r} out of bounds (total={!r})'.format(r, total)
    assert msg.startswith('Range({}, {}) out of bounds'.format(start, stop))
    with pytest.raises(ValueError) as cm:
        r.content_length(total)
    assert str(cm.value) == msg
    with pytest.raises(ValueError) as cm:
        r.content_range(total)
    assert str(cm.value) == msg


def test_range_out_of_bounds_example():
    with pytest.raises(ValueError) as cm:
        Range(5, 15).content_length(5)
    assert str(cm.value) == 'Range(5, 15) out of bounds (total=5)'


@pytest.mark.parametrize('value, exc, template', BAD_OFFSETS)
def test_range_bad_total(value, exc, template):
    r = Range(0, 1)
    for method in (r.content_length, r.content_range):
        with pytest.raises(exc) as cm:
            method(value)
        assert str(cm.value) == expect(template, 'total', value)


# ---------------------------------------------------------------------------
# ContentRange construction

@pytest.mark.parametrize('value, exc, template', BAD_OFFSETS)
def test_content_range_bad_start(value, exc, template):
    with pytest.raises(exc) as cm:
        ContentRange(value, 10, 20)
    assert str(cm.value) == expect(template, 'start', value)


@pytest.mark.parametrize('value, exc, template', BAD_OFFSETS)
def test_content_range_bad_stop(value, exc, template):
    with pytest.raises(exc) as cm:
        ContentRange(0, value, 20)
    assert str(cm.value) == expect(template, 'stop', value)


@pytest.mark.parametrize('value, exc, template', BAD_OFFSETS)
def test_content_range_bad_total(value, exc, template):
    with pytest.raises(exc) as cm:
        ContentRange(0, 1, value)
    assert str(cm.value) == expect(template, 'total', value)


def test_content_range_arg_order_of_checks():
    with pytest.raises(TypeError) as cm:
        ContentRange('a', 'b', 'c')
    assert str(cm.value) == TYPE_ERROR.format('start', int, str, 'a')
    with pytest.raises(TypeError) as cm:
        ContentRange(0, 'b', 'c')
    assert str(cm.value) == TYPE_ERROR.format('stop', int, str, 'b')
    with pytest.raises(TypeError) as cm:
        ContentRange(5, 1, 'c')
    assert str(cm.value) == TYPE_ERROR.format('total', int, str, 'c')


@pytest.mark.parametrize('start, stop, total', [
    (0, 0, 1),
    (1, 0, 1),
    (16, 16, 23),
    (16, 15, 23),
    (16, 24, 23),
    (0, 2, 1),
    (0, 1, 0),
    (MAX_LENGTH, MAX_LENGTH, MAX_LENGTH),
])
def test_content_range_bad_order(start, stop, total):
    with pytest.raises(ValueError) as cm:
        ContentRange(start, stop, total)
    assert str(cm.value) == 'need start < stop <= total; got ({}, {}, {})'.format(
        start, stop, total
    )


@pytest.mark.parametrize('start, stop, total, text', [
    (16, 17, 23, 'bytes 16-16/23'),
    (0, 1, 1, 'bytes 0-0/1'),
    (0, 10, 20, 'bytes 0-9/20'),
    (MAX_LENGTH - 1, MAX_LENGTH, MAX_LENGTH,
     'bytes 9999999999999998-9999999999999998/9999999999999999'),
])
def test_content_range_valid(start, stop, total, text):
    cr = ContentRange(start, stop, total)
    assert (cr.start, cr.stop, cr.total) == (start, stop, total)
    assert repr(cr) == 'ContentRange({}, {}, {})'.format(start, stop, total)
    assert str(cr) == text


def test_content_range_repr_str_example():
    assert repr(ContentRange(16, 17, 23)) == 'ContentRange(16, 17, 23)'
    assert str(ContentRange(16, 17, 23)) == 'bytes 16-16/23'


def test_content_range_read_only():
    cr = ContentRange(16, 17, 23)
    for attr in ('start', 'stop', 'total'):
        with pytest.raises(AttributeError):
            setattr(cr, attr, 3)
        with pytest.raises(AttributeError):
            delattr(cr, attr)
    with pytest.raises(AttributeError):
        cr.other = 1
    assert (cr.start, cr.stop, cr.total) == (16, 17, 23)


# ---------------------------------------------------------------------------
# ContentRange comparison and hashing

def test_content_range_eq_same_type():
    cr = ContentRange(16, 17, 23)
    assert cr == ContentRange(16, 17, 23)
    assert not (cr != ContentRange(16, 17, 23))
    for other in (
        ContentRange(16, 17, 24),
        ContentRange(16, 18, 23),
        ContentRange(15, 17, 23),
    ):
        assert cr != other
        assert not (cr == other)


def test_content_range_eq_str():
    cr = ContentRange(16, 17, 23)
    assert cr == 'bytes 16-16/23'
    assert 'bytes 16-16/23' == cr
    assert not (cr != 'bytes 16-16/23')
    assert cr != 'bytes 16-16/24'
    assert cr != 'bytes=16-16'
    assert not (cr == 'bytes 16-17/23')


@pytest.mark.parametrize('other', [
    b'bytes 16-16/23',
    16,
    None,
    (16, 17, 23),
    MyStr('bytes 16-16/23'),
    Range(16, 17),
])
def test_content_range_compare_other_type(other):
    cr = ContentRange(16, 17, 23)
    msg = 'cannot compare ContentRange() with {!r}'.format(type(other))
    with pytest.raises(TypeError) as cm:
        cr == other
    assert str(cm.value) == msg
    with pytest.raises(TypeError) as cm:
        cr != other
    assert str(cm.value) == msg


@pytest.mark.parametrize('op', [
    lambda a, b: a < b,
    lambda a, b: a <= b,
    lambda a, b: a > b,
    lambda a, b: a >= b,
])
def test_content_range_no_ordering(op):
    with pytest.raises(TypeError):
        op(ContentRange(16, 17, 23), ContentRange(1, 2, 3))


def test_content_range_unhashable():
    cr = ContentRange(16, 17, 23)
    with pytest.raises(TypeError):
        hash(cr)
    with pytest.raises(TypeError):
        {cr}


# ---------------------------------------------------------------------------
# The open and suffix forms: Range(start, None)

@pytest.mark.parametrize('start, text', [
    (0, 'bytes=0-'),
    (500, 'bytes=500-'),
    (MAX_LENGTH, 'bytes=9999999999999999-'),
    (-1, 'bytes=-1'),
    (-500, 'bytes=-500'),
    (-MAX_LENGTH, 'bytes=-9999999999999999'),
])
def test_range_open_and_suffix(start, text):
    r = Range(start, None)
    assert (r.start, r.stop) == (start, None)
    assert repr(r) == 'Range({}, None)'.format(start)
    assert str(r) == text
    assert r == text and text == r
    assert r == Range(start, None)
    assert r != 'bytes={}-{}'.format(start, start)


def test_range_open_and_suffix_are_distinct():
    assert Range(500, None) != Range(-500, None)
    assert Range(0, None) != Range(0, 1)
    assert Range(-5, None) == Range(-5, None)
    assert Range(-0, None) == Range(0, None)


@pytest.mark.parametrize('value, exc, message', [
    (1.0, TypeError, TYPE_ERROR.format('start', int, float, 1.0)),
    ('-5', TypeError, TYPE_ERROR.format('start', int, str, '-5')),
    (None, TypeError, TYPE_ERROR.format('start', int, type(None), None)),
    (True, TypeError, TYPE_ERROR.format('start', int, bool, True)),
    (MyInt(5), TypeError, TYPE_ERROR.format('start', int, MyInt, MyInt(5))),
    (MAX_LENGTH + 1, ValueError,
     'need -9999999999999999 <= start <= 9999999999999999 when stop is None; '
     'got 10000000000000000'),
    (-MAX_LENGTH - 1, ValueError,
     'need -9999999999999999 <= start <= 9999999999999999 when stop is None; '
     'got -10000000000000000'),
])
def test_range_open_bad_start(value, exc, message):
    with pytest.raises(exc) as cm:
        Range(value, None)
    assert str(cm.value) == message


def test_negative_start_only_with_stop_none():
    with pytest.raises(ValueError) as cm:
        Range(-5, 10)
    assert str(cm.value) == 'need 0 <= start <= 9999999999999999; got -5'


@pytest.mark.parametrize('start, total, crange', [
    # Open: from start to the end.
    (0, 1, ContentRange(0, 1, 1)),
    (0, 800, ContentRange(0, 800, 800)),
    (500, 800, ContentRange(500, 800, 800)),
    (799, 800, ContentRange(799, 800, 800)),
    # Suffix: the last N bytes; longer than the total means the whole.
    (-1, 800, ContentRange(799, 800, 800)),
    (-500, 800, ContentRange(300, 800, 800)),
    (-800, 800, ContentRange(0, 800, 800)),
    (-801, 800, ContentRange(0, 800, 800)),
    (-MAX_LENGTH, 1, ContentRange(0, 1, 1)),
    (-5, MAX_LENGTH, ContentRange(MAX_LENGTH - 5, MAX_LENGTH, MAX_LENGTH)),
])
def test_range_open_and_suffix_resolve(start, total, crange):
    r = Range(start, None)
    assert r.content_range(total) == crange
    assert r.content_length(total) == crange.stop - crange.start
    assert (r.start, r.stop) == (start, None)


@pytest.mark.parametrize('start, total', [
    # An open range starting at or after the end, or any range of nothing.
    (800, 800),
    (801, 800),
    (0, 0),
    (-1, 0),
    (-500, 0),
    (MAX_LENGTH, MAX_LENGTH),
])
def test_range_open_and_suffix_out_of_bounds(start, total):
    r = Range(start, None)
    msg = 'Range({}, None) out of bounds (total={})'.format(start, total)
    for method in (r.content_length, r.content_range):
        with pytest.raises(ValueError) as cm:
            method(total)
        assert str(cm.value) == msg


@pytest.mark.parametrize('value, exc, template', BAD_OFFSETS)
def test_range_open_bad_total(value, exc, template):
    for r in (Range(0, None), Range(-5, None)):
        for method in (r.content_length, r.content_range):
            with pytest.raises(exc) as cm:
                method(value)
            assert str(cm.value) == expect(template, 'total', value)
