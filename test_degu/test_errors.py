# SPDX-License-Identifier: LGPL-3.0-or-later
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


# --- The error hierarchy ------------------------------------------------------

from degu.errors import (
    ConnectionClosedError,
    ContentTooLargeError,
    ExpectationFailedError,
    HeadersTooLargeError,
    ProtocolError,
    UnsupportedError,
    URITooLongError,
    VersionError,
    error_status,
)

PROTOCOL_ERRORS = [
    (ProtocolError, 400, 'Bad Request'),
    (ContentTooLargeError, 413, 'Content Too Large'),
    (URITooLongError, 414, 'URI Too Long'),
    (ExpectationFailedError, 417, 'Expectation Failed'),
    (HeadersTooLargeError, 431, 'Request Header Fields Too Large'),
    (UnsupportedError, 501, 'Not Implemented'),
    (VersionError, 505, 'HTTP Version Not Supported'),
]


def test_protocol_errors_are_value_errors():
    # Code written against the first release catches ValueError.
    for (cls, status, reason) in PROTOCOL_ERRORS:
        assert issubclass(cls, ProtocolError)
        assert issubclass(cls, ValueError)
        assert not issubclass(cls, OSError)
        e = cls('bad thing: {!r}'.format(b'x'))
        assert str(e) == "bad thing: b'x'"
        assert (e.status, e.reason) == (status, reason)
        assert error_status(e) == (status, reason)


def test_error_status_of_anything_else_is_500():
    for e in (ValueError('x'), TypeError('x'), RuntimeError('x'), OSError('x')):
        assert error_status(e) == (500, 'Internal Server Error')


def test_connection_closed_error():
    # Both a ConnectionError (what it is) and a ValueError (what the first
    # release raised for a closed connection).
    e = ConnectionClosedError('Connection is closed')
    assert isinstance(e, ConnectionError)
    assert isinstance(e, ValueError)
    assert str(e) == 'Connection is closed'
    assert not issubclass(ConnectionClosedError, ProtocolError)
    assert not issubclass(EmptyPreambleError, ValueError)
