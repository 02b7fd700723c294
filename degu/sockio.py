# SPDX-License-Identifier: LGPL-3.0-or-later
"""One connected socket and everything tied to its position: the ``Stream``.

A ``Stream`` is the per-connection object that the server and the client
share.  It knows nothing about HTTP except where a preamble ends
(``b'\\r\\n\\r\\n'``) and where a line ends (``b'\\r\\n'``), and it owns
everything whose meaning depends on where the connection is in its byte
stream:

* the **read buffer**: one ``BUF_LEN`` ``bytearray``, filled with
  ``sock.recv_into()`` through a ``memoryview``, reused for every message on
  a keep-alive connection.  Bytes that arrive after a preamble stay buffered
  and are handed to the body that follows;
* the **write queue**: the pieces of one outgoing message (preamble, small
  body, chunk lines), sent with as few ``send()`` calls as possible;
* what is **owed** to the peer before its body is read: the interim
  ``100 Continue`` a client waiting on ``Expect: 100-continue`` needs;
* the **close**.  ``Stream.close()`` is the only code that closes a connected
  socket (saying TLS ``close_notify`` first, and optionally lingering so the
  peer reads a last answer instead of a reset).

The read buffer, drawn as offsets into ``_buf``::

    0          _start            _stop           BUF_LEN
    |  consumed  |  received, unread  |   free     |

When a read fails half-way (the peer closed early, a bad chunk), the
position in the stream is lost, so the stream is *broken*: every later read
raises.  A client-side stream then closes at once; a server-side stream
keeps its write side, so that the server can still answer, then close.

A ``Stream`` is also a ``Source`` (``degu.sources``): the interface a body
reads through, which ``FileSource`` gives any other ``rfile``.  A body read
through a stream with a *timeout* is held to a minimum rate (``MIN_BODY_RATE``),
and a read bigger than ``BUF_LEN`` gets memory only as its bytes arrive.  On
a plain socket (not TLS) that blocks, or keeps its timeouts in the kernel
(``arm()``), big transfers leave the waiting to the kernel: a big read
receives straight into new ``bytes`` (``recv(n, MSG_WAITALL)``), and a big
``send()`` takes all it is given in one call.
"""

import os
import socket
import threading
import time
from typing import Any, Callable, Final, List, Optional, Union

from .addresses import kernel_timeouts
from .errors import ConnectionClosedError, HeadersTooLargeError, ProtocolError
from .limits import BUF_LEN, FIRST_PIECE, LINGER_BYTES, LINGER_TIME
from .sources import (  # (TOO_SLOW: for those who import it from here)
    TOO_SLOW,
    SocketSource,
    _check_received,
    _not_found,
    _short_read,
    piece_size,
    write_rest,
)

Buffer = Union[bytes, bytearray, memoryview]

PREAMBLE_END: Final = b'\r\n\r\n'
LINE_END: Final = b'\r\n'
LF: Final = b'\n'
CR: Final = 0x0D  # b'\r'[0]

CLOSED: Final = 'Connection is closed'

# The two methods of the hot path, held here: a compiled build calls them
# without looking them up on every message.
_tobytes: Final = memoryview.tobytes
_partition: Final = bytes.partition

# Held while a stream closes its socket and while another thread interrupts
# one (see Stream.interrupt()), so that an interrupt never reaches a file
# descriptor number that a close has just freed for reuse.  Rarely waited
# for: interrupts happen only when a server shuts down.
_CLOSING: Final = threading.Lock()


class Stream(SocketSource):
    """One connected socket (or anything with ``recv_into``, ``send``, ``close``).

    *timeout*, when set, is how many seconds a whole preamble may take to
    arrive (the socket's own timeout bounds each ``recv()``).  A
    *server_side* stream keeps its write side after a failed read, so that
    the server can answer the failure.

    With a *timeout*, each body read through the stream is also held to
    ``MIN_BODY_RATE`` (how, and the slots that keep count, are inherited:
    ``degu.sources.SocketSource``).

    ``sent`` counts every byte sent so far (a server tells from it whether
    any of a response went out); ``reason`` says why the stream was closed,
    when it was not its owner's own doing.
    """

    __slots__ = ('_send', '_buf', '_view', '_start', '_stop', '_tail', '_tail_at',
                 '_parts', '_size', '_owed', '_scratch', '_received', '_closed',
                 '_broken', '_closing', 'server_side', 'sent', 'reason')

    def label(self) -> str:
        return '<reader>'

    def __init__(self, sock: Any, timeout: Optional[float] = None,
                 server_side: bool = False) -> None:
        # Closed until fully built, so __del__ leaves a rejected sock alone.
        self._closed = True
        self.sock = sock
        self._recv_into = sock.recv_into
        self._send = sock.send
        self._buf = bytearray(BUF_LEN)
        self._view = memoryview(self._buf)
        self._start = 0
        self._stop = 0
        # What followed the last preamble in its receive, as bytes, from
        # offset _tail_at on; emptied once used or when the buffer moves.
        self._tail = b''
        self._tail_at = 0
        self._parts: List[Buffer] = []
        self._size = 0
        self._owed = b''
        # take()'s buffer for pieces over BUF_LEN, dropped when the body ends.
        self._scratch: Optional[memoryview] = None
        # Body bytes received by big reads since the body began (see
        # _recv_pieces()).
        self._received = 0
        self._broken = False
        # Why to close once the current message is read (see close_after()).
        self._closing: Optional[str] = None
        self._budget = 0.0 if timeout is None else float(timeout)
        self._credit = self._budget
        self.server_side = server_side
        self.timeout = timeout
        self._kernel = False  # until arm()
        self._direct = self._can_wait()
        self.sent = 0
        self.reason: Optional[str] = None
        self._closed = False

    # -- lifetime ------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def broken(self) -> bool:
        """True once a read failed half-way (or the stream is closed)."""
        return self._broken or self._closed

    def close(self, linger: bool = False) -> Any:
        """Close the socket, once; return ``sock.close()``'s result.

        A TLS socket first says ``close_notify`` (RFC 8446 section 6.1)
        without blocking, so that a silent peer cannot hold this thread: the
        alert goes out if it fits in the send buffer; the peer's is not awaited.

        With *linger*, the write side is shut first, then what the peer still
        sends is dropped for up to ``LINGER_TIME`` seconds (``LINGER_BYTES``
        bytes): closing with unread bytes would make the kernel send a reset,
        which may destroy a last answer before the peer has read it.
        """
        if self._closed:
            return None
        self._closed = True
        self._broken = True
        self._start = self._stop = 0
        self._parts = []
        self._size = 0
        self._owed = b''
        self._scratch = None
        sock = self.sock
        unwrap = getattr(sock, 'unwrap', None)
        if unwrap is not None:
            try:
                if sock.fileno() >= 0:
                    sock.settimeout(0)
                    unwrap()
            except (OSError, ValueError):
                # Want-read (as expected, see above), a peer already gone,
                # or a connection that failed with a fatal alert.
                pass
        if linger:
            self._linger()
        with _CLOSING:
            return sock.close()

    def interrupt(self, how: int = socket.SHUT_RD) -> None:
        """From another thread: end what this stream's owner is waiting for.

        ``SHUT_RD`` makes a blocked read see the end of the stream (an idle
        keep-alive connection then ends as if the peer had closed it);
        ``SHUT_RDWR`` also fails its writes.  The shutdown goes to a
        duplicate of the descriptor, so that the socket object itself (a
        TLS socket, say) is never touched from a second thread.
        """
        with _CLOSING:
            try:
                fd = self.sock.fileno()
                if fd < 0:
                    return
                twin = socket.socket(fileno=os.dup(fd))
                try:
                    twin.shutdown(how)
                finally:
                    twin.close()
            except (OSError, ValueError, AttributeError):
                pass  # already closed, or not a real socket

    def _linger(self) -> None:
        sock = self.sock
        shutdown = getattr(sock, 'shutdown', None)
        if shutdown is None:
            return
        try:
            shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + LINGER_TIME
            dropped = 0
            while dropped < LINGER_BYTES:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                sock.settimeout(left)
                added = sock.recv_into(self._view)
                if not added:
                    break
                dropped += added
        except (OSError, ValueError):
            pass  # the peer is gone already: nothing to wait for

    def close_after(self, reason: str) -> None:
        """Close once the current message's body is read (``finished()``)."""
        self._closing = reason

    def finished(self) -> None:
        """The body of the current message was read to its end.

        The next body gets a whole budget of waiting again, and the scratch
        buffer of a big relayed body is let go: an idle connection holds
        only its ``BUF_LEN`` buffer.
        """
        self._credit = self._budget
        self._scratch = None
        self._received = 0
        self._tail = b''
        if self._closing is not None:
            self.reason = self._closing
            self.close()

    def arm(self) -> None:
        """Give the socket the stream's *timeout*, in the kernel if it can
        (``degu.addresses.kernel_timeouts()``), else with ``settimeout()``."""
        self._kernel = kernel_timeouts(self.sock, self.timeout)
        if not self._kernel:
            self.sock.settimeout(self.timeout)
        self._direct = self._can_wait()

    def _can_wait(self) -> bool:
        """Whether the kernel may wait through a whole big transfer (``_direct``)."""
        return type(self.sock) is socket.socket and (self.timeout is None or self._kernel)

    def discard(self) -> None:
        """Drop what is queued for sending (a response that will not go out)."""
        self._parts = []
        self._size = 0

    def wrap(self, wrapper: Callable[[Any], Any]) -> None:
        """Replace the socket by ``wrapper(sock)`` (a TLS handshake, say).

        If *wrapper* fails, the stream is closed: a socket handed to a
        ``Stream`` is closed by the stream, whatever happens.
        """
        try:
            if self._kernel:  # a TLS socket needs Python's own timeout
                self._kernel = False
                self.sock.settimeout(self.timeout)
            sock = wrapper(self.sock)
        except BaseException:
            self.close()
            raise
        self.sock = sock
        self._recv_into = sock.recv_into
        self._send = sock.send
        self._direct = self._can_wait()

    def __del__(self) -> None:
        # Bodies hold on to their stream, so the stream is the last owner of
        # the socket: when it goes, the socket is closed quietly (rather than
        # by the socket's own finalizer, with a ResourceWarning).
        if not self._closed:
            self._closed = True
            try:
                self.sock.close()
            except OSError:
                pass

    def fail(self) -> None:
        """A read failed half-way: no more reads; a client-side stream closes.

        (``broken`` then tells a server that its peer was at fault.)
        """
        self._broken = True
        self._start = self._stop = 0
        self._owed = b''
        if not self.server_side:
            self.close()

    def abandon(self) -> None:
        """A body was left half-read because its destination failed.

        Not the peer's fault, but the stream position is lost: a client-side
        stream closes; a server closes its side after answering, as after
        any request whose body was not read to its end.
        """
        if not self.server_side:
            self.close()

    def _check_readable(self) -> None:
        if self._broken:
            raise ConnectionClosedError(CLOSED)

    # -- what the peer is owed ------------------------------------------------

    def owe(self, interim: bytes) -> None:
        """Owe *interim* to the peer: it is sent before the body is first read.

        This is how ``Expect: 100-continue`` works: a client waits for
        ``100 Continue`` before sending a body, and the server says so only
        once the app actually reads that body.
        """
        self._owed = interim

    @property
    def owes(self) -> bool:
        """True while an owed interim response has not been sent."""
        return bool(self._owed)

    def _pay(self) -> None:
        owed = self._owed
        self._owed = b''
        self.send_all(owed)

    # -- reading ---------------------------------------------------------------

    def buffered(self) -> int:
        """How many received bytes are waiting to be read."""
        return self._stop - self._start

    def _compact(self) -> None:
        """Move unread bytes to the front of the buffer."""
        start = self._start
        if start:
            stop = self._stop
            self._tail = b''  # (it moves)
            self._buf[0:stop - start] = self._view[start:stop]
            self._start = 0
            self._stop = stop - start

    def read_preamble(self) -> Optional[bytes]:
        """Return the next preamble without its ``b'\\r\\n\\r\\n'``.

        Returns ``None`` when the peer closed the connection before sending a
        single byte: the normal end of a keep-alive connection.  Raises
        ``HeadersTooLargeError`` when the terminator is not within
        ``BUF_LEN`` bytes, ``ProtocolError`` when the peer closed
        mid-preamble, ``TimeoutError`` when a *timeout* deadline passed.
        """
        if self._broken:  # (_check_readable(), inlined on the hot path)
            raise ConnectionClosedError(CLOSED)
        start = self._start
        if start == self._stop:
            # Nothing buffered, the usual case between messages: receive
            # straight into the front of the buffer.
            try:
                got = self._recv_into(self._view)
            except BlockingIOError:  # the kernel's timeout (see arm())
                raise socket.timeout('timed out') from None
            if not self._direct:  # (a socket.socket's own count needs no check)
                got = _check_received(got, BUF_LEN)
            added: int = got
            self._stop = added
            # What arrived, as bytes, split at the first CRLFCRLF: for the
            # few hundred bytes of a usual message, cheaper than find() with
            # bounds and a slice (at worst, BUF_LEN bytes copied twice).
            # What follows stays in the buffer, and is kept as bytes too
            # (the _tail): a body of exactly those bytes costs no copy.
            (preamble, found, self._tail) = _partition(
                _tobytes(self._view[0:added]), PREAMBLE_END)
            if found:
                self._start = self._tail_at = len(preamble) + 4
                return preamble
            self._start = 0
            if added == 0:
                return None
            index = -1
        else:
            index = self._buf.find(PREAMBLE_END, start, self._stop)
        if index < 0:
            index = self._fill_preamble()
            start = 0
            if index < 0:
                return None
        self._start = index + 4
        return self._view[start:index].tobytes()

    def _fill_preamble(self) -> int:
        self._compact()
        buf = self._buf
        view = self._view
        stop = self._stop
        deadline = -1.0
        adjusted = False
        if self.timeout is not None:
            deadline = time.monotonic() + self.timeout
        try:
            while True:
                if stop >= BUF_LEN:
                    raise HeadersTooLargeError(_not_found(PREAMBLE_END, buf, stop))
                if deadline >= 0 and stop > 0:
                    # A trickling peer gets `timeout` seconds for the whole
                    # preamble, not `timeout` seconds per recv().
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError('preamble not received in time')
                    self._set_timeout(left)
                    adjusted = True
                added = self._recv(view[stop:])
                if added == 0:
                    self._stop = stop
                    if stop == 0:
                        return -1
                    raise ProtocolError(_not_found(PREAMBLE_END, buf, stop))
                index = buf.find(PREAMBLE_END, max(0, stop - 3), stop + added)
                stop += added
                if index >= 0:
                    self._stop = stop
                    return index
        finally:
            if adjusted:
                self._set_timeout(self._budget)  # (the timeout itself)

    def readinto(self, dst: memoryview) -> int:
        """Fill *dst* from the buffer, or straight from the socket when empty."""
        self._check_readable()
        if self._owed:
            self._pay()
        avail = self._stop - self._start
        if avail:
            size = min(avail, len(dst))
            start = self._start
            dst[0:size] = self._view[start:start + size]
            self._start = start + size
            return size
        return self._recv_body(dst)

    def _fill_buffer(self, size: int) -> memoryview:
        """Gather *size* <= ``BUF_LEN`` bytes in the read buffer; a view of them."""
        self._compact()
        stop = self._stop
        view = self._view
        while stop < size:
            added = self._recv_body(view[stop:])
            if added == 0:
                self._stop = stop
                raise _short_read(size, stop)
            stop += added
        self._stop = stop
        self._start = size
        return view[0:size]

    def _fill(self, dst: memoryview, got: int, size: int, base: int) -> None:
        """Receive into ``dst[got:]`` until *dst* is full.

        *dst* holds bytes ``base`` onwards of a *size*-byte read, for the
        message of a short read.
        """
        end = len(dst)
        while got < end:
            added = self._recv_body(dst[got:])
            if added == 0:
                raise _short_read(size, base + got)
            got += added

    def _drain(self, dst: memoryview) -> int:
        """Move buffered bytes (at most ``len(dst)``) into *dst*; how many."""
        start = self._start
        size = min(self._stop - start, len(dst))
        if size:
            dst[0:size] = self._view[start:start + size]
            self._start = start + size
        return size

    def take(self, size: int) -> memoryview:
        """Consume exactly *size* bytes; return a view valid until the next read.

        Up to ``BUF_LEN`` the bytes are gathered in the read buffer; bigger
        pieces (a relayed body, in pieces of ``piece_size()``) in a scratch
        buffer kept until the body ends (``finished()``), so streaming a big
        body costs no allocation per piece.  The scratch buffer grows only as
        bytes arrive: from ``FIRST_PIECE`` bytes, doubling once bytes filled it.
        """
        self._check_readable()
        if self._owed:
            self._pay()
        start = self._start
        if size <= self._stop - start:
            self._start = start + size
            return self._view[start:start + size]
        if size <= BUF_LEN:
            return self._fill_buffer(size)
        scratch = self._scratch
        if scratch is not None and len(scratch) >= size:
            dst = scratch[0:size]
            self._fill(dst, self._drain(dst), size, 0)
            return dst
        cap = FIRST_PIECE if scratch is None else 2 * len(scratch)
        dst = memoryview(bytearray(min(size, cap)))
        self._fill(dst, self._drain(dst), size, 0)
        while len(dst) < size:
            got = len(dst)
            bigger = memoryview(bytearray(min(size, 2 * got)))
            bigger[0:got] = dst
            dst = bigger
            self._fill(dst, got, size, 0)
        self._scratch = dst
        return dst

    def read(self, size: int) -> bytes:
        """Return exactly *size* bytes, or raise ``ProtocolError`` on early EOF."""
        if self._broken:  # (_check_readable(), inlined on the hot path)
            raise ConnectionClosedError(CLOSED)
        if self._owed:
            self._pay()
        start = self._start
        if size <= self._stop - start:
            self._start = start + size
            if size == len(self._tail) and start == self._tail_at:
                # All that came with the preamble: bytes already.
                tail = self._tail
                self._tail = b''
                return tail
            return self._view[start:start + size].tobytes()
        if size <= BUF_LEN:
            return self._fill_buffer(size).tobytes()
        return self._read_pieces(size, size)

    def _read_pieces(self, size: int, total: int) -> bytes:
        """Receive *size* > ``BUF_LEN`` bytes (of a *total*-byte read).

        The bytes go into pieces sized by ``piece_size()``, joined once at
        the end: memory follows the bytes received, not the bytes announced
        (at most about twice them, with the joined copy).  The pieces are
        zero-filled ``bytearray`` objects; a ``_direct`` socket has a faster
        way (``_recv_pieces()``).
        """
        if self._direct:
            return self._recv_pieces(size, total)
        pieces: List[memoryview] = []
        got = 0
        while got < size:
            dst = memoryview(bytearray(piece_size(got, size)))
            self._fill(dst, self._drain(dst), total, got)
            pieces.append(dst)
            got += len(dst)
        return b''.join(pieces)

    def _recv_pieces(self, size: int, total: int) -> bytes:
        """``_read_pieces()`` on a ``_direct`` socket: each piece is one ``recv()``.

        ``recv(n, MSG_WAITALL)`` has the kernel write *n* bytes straight into
        a new ``bytes``: nothing is zero-filled, and a read that is one piece
        (``read(IO_SIZE)`` once the body has sent that much) is that
        ``bytes`` itself, written once.  Pieces may grow with every byte the
        body has received (``_received``), not just this read's.
        """
        start = self._start
        got = min(self._stop - start, size)
        pieces: List[bytes] = []
        if got:
            pieces.append(self._view[start:start + got].tobytes())
            self._start = start + got
        before = self._received
        while got < size:
            data = self._recv_all(piece_size(before + got, before + size))
            if not data:
                raise _short_read(total, got)
            pieces.append(data)
            got += len(data)
        self._received = before + size
        return b''.join(pieces)

    def read_chunk_data(self, size: int) -> bytes:
        """Return *size* bytes of chunk data, checking the CRLF that ends them."""
        total = size + 2
        if total <= BUF_LEN:
            view = self.take(total)
            end = view[size:]
            data = view[0:size].tobytes()
        else:
            self._check_readable()
            if self._owed:
                self._pay()
            data = self._read_pieces(size, total)
            end = memoryview(bytearray(2))
            self._fill(end, self._drain(end), total, size)
        if end != LINE_END:
            raise ProtocolError(
                'bad chunk data termination: {!r}'.format(end.tobytes())
            )
        return data

    def readline(self, size: int) -> bytes:
        """Return one line ending in ``b'\\r\\n'`` found within *size* bytes.

        Like a file's ``readline()``, the line ends at the first ``b'\\n'``;
        a bare LF (not preceded by CR) is an error.  So a chunked body gives
        the same chunks, or the same error, whether it is read from this
        stream or from any file-like object.
        """
        self._check_readable()
        if self._owed:
            self._pay()
        buf = self._buf
        start = self._start
        stop = self._stop
        index = buf.find(LF, start, min(stop, start + size))
        if index < 0:
            self._compact()
            start = 0
            stop = self._stop
            view = self._view
            while True:
                if stop >= size:
                    raise ProtocolError(_not_found(LINE_END, buf, size))
                added = self._recv_body(view[stop:])
                if added == 0:
                    self._stop = stop
                    raise ProtocolError(_not_found(LINE_END, buf, stop))
                index = buf.find(LF, stop, min(stop + added, size))
                stop += added
                if index >= 0:
                    break
            self._stop = stop
        if index == start or buf[index - 1] != CR:
            raise ProtocolError('{!r} not found in {!r}...'.format(
                LINE_END, bytes(buf[start:min(index + 1, start + 32)])
            ))
        self._start = index + 1
        return self._view[start:index + 1].tobytes()

    # -- writing ---------------------------------------------------------------

    def send_all(self, data: Buffer) -> None:
        """Send *data* now; the queue must be empty (a whole small message)."""
        if self._closed:
            raise ConnectionClosedError(CLOSED)
        # Counted before it is tried: a send that failed half-way may have
        # put some of it on the wire.
        size = len(data)
        self.sent += size
        try:
            sent = self._send(data)
            if type(sent) is not int or sent != size:
                write_rest(self._send, data, sent)
        except BlockingIOError:  # the kernel's timeout (see arm())
            raise socket.timeout('timed out') from None

    def write_now(self, data: Buffer) -> int:
        """Send the queue, then *data* itself: for views of reused buffers."""
        self.flush()
        self.send_all(data)
        return len(data)

    def write(self, data: Buffer) -> int:
        """Queue *data*; send the queue first if it would exceed ``BUF_LEN``."""
        if self._closed:
            raise ConnectionClosedError(CLOSED)
        size = len(data)
        if self._size + size > BUF_LEN:
            self.flush()
            if size > BUF_LEN:
                self.send_all(data)
                return size
        self._parts.append(data)
        self._size += size
        return size

    def flush(self) -> None:
        """Send everything queued, in one ``send()`` when the kernel allows."""
        parts = self._parts
        if parts:
            data = parts[0] if len(parts) == 1 else b''.join(parts)
            self._parts = []
            self._size = 0
            self.send_all(data)
