"""degu.errors: the shared exception type and message templates."""

from degu import base, errors
from degu.errors import TYPE_ERROR, TYPE_ERROR2, EmptyPreambleError


def test_type_error_templates():
    assert TYPE_ERROR.format('size', int, str, '1') == (
        "size: need a <class 'int'>; got a <class 'str'>: '1'"
    )
    assert TYPE_ERROR2.format('chunk', tuple, list) == (
        "chunk: need a <class 'tuple'>; got a <class 'list'>"
    )


def test_empty_preamble_error():
    # A clean close between messages: a ConnectionError, so servers log it
    # as the peer going away, not as a bug.
    assert issubclass(EmptyPreambleError, ConnectionError)
    assert issubclass(EmptyPreambleError, OSError)
    e = EmptyPreambleError('request preamble is empty')
    assert str(e) == 'request preamble is empty'


def test_reexported_by_base():
    assert base.EmptyPreambleError is errors.EmptyPreambleError
    assert base.TYPE_ERROR is errors.TYPE_ERROR
    assert base.TYPE_ERROR2 is errors.TYPE_ERROR2
