# SPDX-License-Identifier: LGPL-3.0-or-later
"""What can go wrong, by whose fault: the peer's, the connection's, or ours.

Degu sorts every failure into one of three families, because each one is
handled differently:

* **The peer broke the protocol**: ``ProtocolError`` and its subclasses.  A
  malformed preamble, a bad chunk, a body longer than the limits allow.  Each
  class carries the HTTP ``status`` and ``reason`` a server answers with when
  nothing of its response has been sent yet (compare h11's
  ``error_status_hint``)::

      ProtocolError(ValueError)          400 Bad Request
      +-- ContentTooLargeError           413 Content Too Large
      +-- URITooLongError                414 URI Too Long
      +-- ExpectationFailedError         417 Expectation Failed
      +-- HeadersTooLargeError           431 Request Header Fields Too Large
      +-- UnsupportedError               501 Not Implemented
      +-- VersionError                   505 HTTP Version Not Supported

  ``ProtocolError`` subclasses ``ValueError``, so code written against the
  first release (where every protocol violation was a plain ``ValueError``)
  keeps working; the messages are unchanged.  A server logs a peer's fault as
  one short line, never with a traceback.

* **The connection ended or failed**: ``ConnectionError`` and the other
  ``OSError`` subclasses (timeouts, resets).  ``EmptyPreambleError`` is the
  peer closing before it sent a single byte of a message;
  ``ConnectionClosedError`` is a request on a client connection that is
  already closed (by its owner, by an earlier failure, or because the server
  said ``connection: close``).

* **The application (or the caller) made a mistake**: ``TypeError`` and
  plain ``ValueError`` raised by the checks on what an app returned or a
  caller passed.  A server answers ``500`` when it still can, and logs the
  traceback: that is a bug to fix.
"""

from typing import Tuple

# Wrong type of argument: name, wanted type, actual type, value.
TYPE_ERROR = '{}: need a {!r}; got a {!r}: {!r}'

# Same, without the value (for when the value's repr is unhelpful or huge).
TYPE_ERROR2 = '{}: need a {!r}; got a {!r}'


def bad_method(method: object) -> Exception:
    """The error for a request *method* that is not one Degu speaks.

    Callers test the method against ``METHOD_BITS`` themselves (on the hot
    path that is one dict lookup) and raise what this returns when it fails:
    a ``TypeError`` for anything but a ``str``, else a ``ValueError``.

    >>> bad_method(b'GET')
    TypeError("method: need a <class 'str'>; got a <class 'bytes'>: b'GET'")
    >>> bad_method('PATCH')
    ValueError("bad method: 'PATCH'")
    """
    if type(method) is not str:
        return TypeError(TYPE_ERROR.format('method', str, type(method), method))
    return ValueError('bad method: {!r}'.format(method))


# ---------------------------------------------------------------------------
# The peer's fault

class ProtocolError(ValueError):
    """The peer sent something outside the HTTP/1.1 subset Degu speaks.

    ``status`` and ``reason`` say how a server answers it (when it still can).
    """

    status = 400
    reason = 'Bad Request'


class ContentTooLargeError(ProtocolError):
    """A body, a chunk, or a length beyond what Degu accepts."""

    status = 413
    reason = 'Content Too Large'


class URITooLongError(ProtocolError):
    """A request target longer than Degu accepts."""

    status = 414
    reason = 'URI Too Long'


class ExpectationFailedError(ProtocolError):
    """An ``Expect`` header other than ``100-continue``, the only one HTTP has."""

    status = 417
    reason = 'Expectation Failed'


class HeadersTooLargeError(ProtocolError):
    """A preamble that does not fit in the connection's buffer."""

    status = 431
    reason = 'Request Header Fields Too Large'


class UnsupportedError(ProtocolError):
    """Well-formed, but a feature Degu does not implement (a method, a coding)."""

    status = 501
    reason = 'Not Implemented'


class VersionError(ProtocolError):
    """A protocol version other than ``HTTP/1.1``."""

    status = 505
    reason = 'HTTP Version Not Supported'


def error_status(error: BaseException) -> Tuple[int, str]:
    """The ``(status, reason)`` a server answers *error* with.

    A ``ProtocolError`` says which; anything else reaching the server is its
    own (or its app's) fault: ``500 Internal Server Error``.

    >>> error_status(VersionError("bad protocol in request line: b' HTTP/1.0'"))
    (505, 'HTTP Version Not Supported')
    >>> error_status(TypeError('bad body type'))
    (500, 'Internal Server Error')
    """
    if isinstance(error, ProtocolError):
        return (error.status, error.reason)
    return (500, 'Internal Server Error')


# ---------------------------------------------------------------------------
# The connection

class EmptyPreambleError(ConnectionError):
    """The peer closed the connection before sending a single byte.

    A client gets this when the server closes instead of answering.  (A server
    never raises it: a client that closes between two requests is the normal
    end of a keep-alive connection, which the server's reader reports as a
    return value.)
    """


class ConnectionClosedError(ConnectionError, ValueError):
    """A request on a connection that is already closed; the message says why.

    Also a ``ValueError``, as the first release raised
    ``ValueError('Connection is closed')`` here.
    """
