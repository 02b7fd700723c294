# SPDX-License-Identifier: LGPL-3.0-or-later
"""What a body reads from: the ``Source`` interface, and files adapted to it.

A body (``degu.bodies``) reads its bytes through a ``Source``.  A live
connection's ``degu.sockio.Stream`` is one natively (a ``SocketSource``,
whose reads keep to the body deadline); any other ``rfile`` with
``readinto()`` (and ``readline()`` for chunked data) -- a file, an
``io.BytesIO``, a pipe -- is seen through a ``FileSource``.  So the bodies
never ask which kind of source they have.

Both kinds follow one rule for memory, ``piece_size()``: a read bigger than
one buffer is received into pieces that grow with the bytes that have
arrived, so what a read holds follows what the peer actually sent, never
the size it announced.

Also here: the contract of partial reads and writes that both kinds (and
the bodies writing to any ``wfile``) check (``_check_received()``,
``write_rest()``).
"""

import socket
from time import monotonic
from typing import Any, Callable, Final, List, Optional

from .addresses import recv_timeout
from .errors import TYPE_ERROR, ProtocolError
from .limits import FIRST_PIECE, IO_SIZE, MIN_BODY_RATE

CRLF = b'\r\n'

# Why a body's reader gave up on a slow peer (see MIN_BODY_RATE).
TOO_SLOW: Final = 'body not received in time: slower than {} bytes/s'.format(MIN_BODY_RATE)


def _check_received(received: Any, size: int) -> int:
    """*received* (what a ``recv_into()`` returned), checked: an int, 0 to *size*."""
    if type(received) is not int:
        raise TypeError(
            TYPE_ERROR.format('received', int, type(received), received)
        )
    got: int = received  # (compared natively when compiled)
    if not (0 <= got <= size):
        raise ValueError(
            'need 0 <= received <= {}; got {}'.format(size, got)
        )
    return got


def _check_sent(sent: Any, size: int) -> int:
    if type(sent) is not int:
        raise TypeError(TYPE_ERROR.format('sent', int, type(sent), sent))
    done: int = sent  # (compared natively when compiled)
    if not (0 <= done <= size):
        raise ValueError('need 0 <= sent <= {}; got {}'.format(size, done))
    return done


def _not_found(end: bytes, buf: Any, stop: int) -> str:
    """The message for a missing *end*, showing the start of ``buf[:stop]``.

    Only the *stop* bytes actually received count: the rest of a buffer
    holds stale bytes of earlier messages, which must not leak into errors.
    """
    return '{!r} not found in {!r}...'.format(end, bytes(buf[:min(stop, 32)]))


def _short_read(size: int, got: int) -> ProtocolError:
    return ProtocolError(
        'expected to read {} bytes, but received {}'.format(size, got)
    )


def write_rest(write: Callable[[Any], Any], data: Any, added: Any) -> None:
    """Finish writing *data* after a first ``write(data)`` returned *added*.

    ``send()`` and ``write()`` may take fewer bytes than offered; this keeps
    offering the rest.  Each return value must be an ``int`` in range, and
    ``0`` (no progress) is an error rather than a reason to spin.
    """
    size = len(data)
    added = _check_sent(added, size)
    done = 0
    view = memoryview(data)
    while True:
        if added == 0:
            raise ValueError(
                'expected to write {} bytes, but sent {}'.format(size, done)
            )
        done += added
        if done >= size:
            return
        added = _check_sent(write(view[done:]), size - done)


def piece_size(got: int, size: int) -> int:
    """How big the next piece of a *size*-byte read is, *got* bytes into it.

    As big as everything received so far (``FIRST_PIECE`` to start with),
    at most ``IO_SIZE``, and never more than what is left.  The pieces of
    a read then hold at most twice the bytes that have actually arrived,
    whatever size was announced.

    >>> [piece_size(got, 10**6) for got in (0, 65536, 131072, 262144)]
    [65536, 65536, 131072, 262144]
    """
    return min(size - got, IO_SIZE, max(FIRST_PIECE, got))


class Source:
    """What a body reads from: a live ``Stream``, or an adapted file.

    ``read()`` and ``take()`` return exactly *size* bytes or raise;
    ``readline()`` returns one CRLF-terminated line found within *size*
    bytes; ``read_chunk_data()`` returns *size* bytes followed by a CRLF it
    checks; ``fail()`` is called by a body whose read failed half-way,
    ``abandon()`` by one that stopped half-way because its destination
    failed.
    """

    __slots__ = ()

    def label(self) -> str:
        """How a body's repr names this source."""
        return '<rfile>'

    def readinto(self, dst: memoryview) -> int:
        raise NotImplementedError

    def read(self, size: int) -> bytes:
        raise NotImplementedError

    def take(self, size: int) -> memoryview:
        raise NotImplementedError

    def readline(self, size: int) -> bytes:
        raise NotImplementedError

    def read_chunk_data(self, size: int) -> bytes:
        raise NotImplementedError

    def fail(self) -> None:
        raise NotImplementedError

    def abandon(self) -> None:
        raise NotImplementedError

    def finished(self) -> None:
        """Called by a body that has read its last byte."""


class SocketSource(Source):
    """A socket read by bodies: each ``recv()`` of a body keeps to its deadline.

    (``degu.sockio.Stream`` is the one kind: this is how it waits.)  With a
    *timeout*, a body is held to ``MIN_BODY_RATE``: the seconds spent
    waiting for its bytes are taken from a budget of *timeout* seconds that
    every ``MIN_BODY_RATE`` bytes received refill by one (see
    ``degu.limits``).  ``_budget`` is that whole budget, ``_credit`` what is
    left of it for the current body.  Without one, the socket blocks by
    choice: no deadline either.  ``_kernel`` says whether the kernel keeps
    the socket's timeouts (``Stream.arm()``): a timed-out call then fails
    with ``BlockingIOError``, raised on as ``socket.timeout``.  ``_direct``
    says whether the kernel may wait through a whole big ``recv()`` or
    ``send()`` with the right timeout: a plain ``socket.socket`` (not TLS,
    nor a stand-in) that either blocks by choice or keeps its timeouts in
    the kernel; it can also receive into new ``bytes`` (``_recv_all()``).
    """

    __slots__ = ('sock', '_recv_into', '_direct', '_kernel', '_budget', '_credit',
                 'timeout')

    sock: Any
    _recv_into: Callable[[memoryview], Any]
    _direct: bool
    _kernel: bool
    _budget: float
    _credit: float
    timeout: Optional[float]

    def _recv(self, dst: memoryview) -> int:
        try:
            added = self._recv_into(dst)
        except BlockingIOError:  # the kernel's timeout (see Stream.arm())
            raise socket.timeout('timed out') from None
        return _check_received(added, len(dst))

    def _set_timeout(self, seconds: float) -> None:
        """Bound the next receives by *seconds*, wherever the timeout is kept."""
        if self._kernel:
            recv_timeout(self.sock, seconds)
        else:
            self.sock.settimeout(seconds)

    def _recv_body(self, dst: memoryview) -> int:
        """``_recv()`` for a body: the peer must keep up ``MIN_BODY_RATE``.

        The time this call waits is taken from the body's credit, the bytes
        it gets refill it.  A peer keeping up costs two clock reads.
        """
        if self.timeout is None:
            return self._recv(dst)
        credit = self._credit
        if credit < self._budget:
            return self._recv_behind(dst, credit)
        start = monotonic()
        added = self._recv(dst)
        self._refill(added, start)
        return added

    def _recv_behind(self, dst: memoryview, credit: float) -> int:
        """``_recv_body()`` once the peer has fallen behind: wait *credit* at most."""
        if credit <= 0:
            raise TimeoutError(TOO_SLOW)
        self._set_timeout(credit)
        start = monotonic()
        try:
            added = self._recv(dst)
        except socket.timeout:
            raise TimeoutError(TOO_SLOW) from None
        finally:
            self._set_timeout(self._budget)  # (the timeout itself)
        self._refill(added, start)
        return added

    def _recv_all(self, size: int) -> bytes:
        """At most *size* body bytes from one ``recv()`` that waits for them all.

        A ``_direct`` socket only (``MSG_WAITALL``).  The body's credit is
        the longest the call may wait (the kernel's receive timeout, for this
        call): it returns what arrived by then, and the deadline is the one
        of ``_recv_body()``, whatever the number of calls.
        """
        sock = self.sock
        if self.timeout is None:
            data: bytes = sock.recv(size, socket.MSG_WAITALL)
            return data
        credit = self._credit
        if credit <= 0:
            raise TimeoutError(TOO_SLOW)
        start = monotonic()
        recv_timeout(sock, credit)
        try:
            data = sock.recv(size, socket.MSG_WAITALL)
        except BlockingIOError:  # the credit ran out before a byte came
            raise TimeoutError(TOO_SLOW) from None
        finally:
            recv_timeout(sock, self._budget)  # (the timeout itself)
        self._refill(len(data), start)
        return data

    def _refill(self, added: int, start: float) -> None:
        """Take the wait since *start* from the credit; *added* bytes give some back."""
        budget = self._budget
        credit = self._credit + added / MIN_BODY_RATE - (monotonic() - start)
        self._credit = credit if credit < budget else budget


class FileSource(Source):
    """Any ``rfile`` with ``readinto()`` (and ``readline()`` for chunked data),
    seen through the ``Source`` interface that a ``Stream`` has natively.

    The checks of the ``rfile`` contract live here: ``readinto()`` must
    return an ``int`` in range (``0`` meaning end of data), ``readline()`` a
    ``bytes`` line of at most the size asked for, ending in CRLF.
    """

    __slots__ = ('_readinto', '_readline', '_scratch')

    def __init__(self, rfile: Any, chunked: bool) -> None:
        # A missing method is an AttributeError, as it would be on first use.
        self._readinto = rfile.readinto
        if not callable(self._readinto):
            raise TypeError('rfile.readinto() is not callable')
        # The buffer take() reuses (see there).
        self._scratch: Optional[memoryview] = None
        self._readline: Any = None
        if chunked:
            self._readline = rfile.readline
            if not callable(self._readline):
                raise TypeError('rfile.readline() is not callable')

    def readinto(self, dst: memoryview) -> int:
        return _check_received(self._readinto(dst), len(dst))

    def read(self, size: int) -> bytes:
        return b''.join(self._pieces(size, 0))

    def _pieces(self, size: int, extra: int) -> List[memoryview]:
        """Receive *size* bytes, then *extra* more at the end of the last piece.

        The pieces are sized by ``piece_size()``, as a ``Stream`` reads: an
        rfile that is a pipe or a socket may deliver far less than the size
        asked for.  (*extra* is the CRLF after chunk data.)
        """
        total = size + extra
        pieces: List[memoryview] = []
        got = 0
        while True:
            want = piece_size(got, size)
            if got + want == size:
                want += extra
            piece = memoryview(bytearray(want))
            self._fill(piece, total, got)
            pieces.append(piece)
            got += want
            if got == total:
                return pieces

    def _fill(self, dst: memoryview, total: int, base: int) -> None:
        """Fill *dst*: bytes *base* onwards of a *total*-byte read."""
        got = 0
        end = len(dst)
        while got < end:
            added = self.readinto(dst[got:])
            if added == 0:
                raise _short_read(total, base + got)
            got += added

    def take(self, size: int) -> memoryview:
        """*size* bytes in a buffer that the next ``take()`` reuses.

        For a body sent from a file in pieces of ``piece_size()`` (which
        follow the bytes read so far): each is read into the buffer and
        sent from it, no new ``bytes`` per piece.
        """
        scratch = self._scratch
        if scratch is None or len(scratch) < size:
            scratch = self._scratch = memoryview(bytearray(size))
        dst = scratch[0:size]
        self._fill(dst, size, 0)
        return dst

    def readline(self, size: int) -> bytes:
        line = self._readline(size)
        if type(line) is not bytes:
            raise TypeError(
                'need a {!r}; readline() returned a {!r}'.format(bytes, type(line))
            )
        if len(line) > size:
            raise ValueError('readline() returned too many bytes: {} > {}'.format(
                len(line), size
            ))
        if line[-2:] != CRLF:
            raise ProtocolError('{!r} not found in {!r}...'.format(CRLF, line[:32]))
        return line

    def read_chunk_data(self, size: int) -> bytes:
        pieces = self._pieces(size, 2)
        last = pieces[-1]
        if last[-2:] != CRLF:
            raise ProtocolError(
                'bad chunk data termination: {!r}'.format(last[-2:].tobytes())
            )
        pieces[-1] = last[:-2]
        return b''.join(pieces)

    def fail(self) -> None:
        """Nothing to do: a file is not a connection that could be left astray."""

    def abandon(self) -> None:
        """Nothing to do, likewise."""
