"""Move bytes between a socket and the parser: the connection reader and writer.

This module knows nothing about HTTP except where a preamble ends
(``b'\\r\\n\\r\\n'``) and where a chunk-size line ends (``b'\\r\\n'``).  It
owns the two per-connection buffers:

* ``Reader`` keeps one ``BUF_LEN`` ``bytearray`` and fills it with
  ``sock.recv_into()`` through a ``memoryview``, so a keep-alive connection
  reuses the same memory for every request.  Bytes that arrive after a
  preamble stay buffered and are handed to the body that follows.

* ``Writer`` gathers the pieces of one outgoing message (preamble, small
  body, chunk lines) and sends them with as few ``send()`` calls as
  possible: a preamble plus a body that fits in ``BUF_LEN`` goes out in a
  single ``send()``.

The reader's buffer, drawn as offsets into ``_buf``::

    0          _start            _stop           BUF_LEN
    |  consumed  |  received, unread  |   free     |

Once a reader or writer has failed it is *closed*: the socket is closed and
every later call raises ``ValueError``, so a half-read message can never be
mistaken for the start of the next one.
"""

import time
from typing import Any, Callable, List, Optional, Union

from .errors import TYPE_ERROR
from .limits import BUF_LEN, IO_SIZE

# Largest read served from the reusable scratch buffer: a Body piece or a
# 1 MiB chunk plus its CRLF.  Bigger reads (up to MAX_IO_SIZE) allocate.
SCRATCH_SIZE = IO_SIZE + 2

Buffer = Union[bytes, bytearray, memoryview]

PREAMBLE_END = b'\r\n\r\n'
LINE_END = b'\r\n'
LF = b'\n'
CR = 0x0D  # b'\r'[0]


def _check_received(received: Any, size: int) -> int:
    if type(received) is not int:
        raise TypeError(
            TYPE_ERROR.format('received', int, type(received), received)
        )
    if not (0 <= received <= size):
        raise ValueError(
            'need 0 <= received <= {}; got {}'.format(size, received)
        )
    return received


def _not_found(end: bytes, buf: bytearray, stop: int) -> ValueError:
    """The error for a missing *end*, showing the start of ``buf[:stop]``.

    Only the *stop* bytes actually received count: the rest of the buffer
    holds stale bytes of earlier messages, which must not leak into errors.
    """
    return ValueError(
        '{!r} not found in {!r}...'.format(end, bytes(buf[:min(stop, 32)]))
    )


def _check_sent(sent: Any, size: int) -> int:
    if type(sent) is not int:
        raise TypeError(TYPE_ERROR.format('sent', int, type(sent), sent))
    if not (0 <= sent <= size):
        raise ValueError('need 0 <= sent <= {}; got {}'.format(size, sent))
    return sent


def write_rest(write: Callable[[Any], Any], data: Buffer, added: Any) -> None:
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


class Reader:
    """Buffered reading from one connected socket (or anything with ``recv_into``)."""

    __slots__ = ('sock', '_recv_into', '_buf', '_view', '_start', '_stop',
                 '_closed', 'timeout', '_interim', '_scratch')

    def __init__(self, sock: Any, timeout: Optional[float] = None) -> None:
        # Closed until fully built, so __del__ leaves a rejected sock alone.
        self._closed = True
        self.sock = sock
        self._recv_into = sock.recv_into
        self._buf = bytearray(BUF_LEN)
        self._view = memoryview(self._buf)
        self._start = 0
        self._stop = 0
        self._closed = False
        # When set, a whole preamble must arrive within this many seconds.
        self.timeout = timeout
        # An interim response owed to the peer before it sends a body
        # (``100 Continue``); sent by the first body read, see send_before_body().
        self._interim = b''
        # Allocated on the first read bigger than BUF_LEN (see _take()).
        self._scratch: Optional[memoryview] = None

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close the socket; used when a message fails half-way through."""
        if not self._closed:
            self._closed = True
            self._start = self._stop = 0
            self.sock.close()

    def mark_closed(self) -> None:
        """Refuse further reads; the socket's owner closes it (or did)."""
        self._closed = True
        self._start = self._stop = 0

    def __del__(self) -> None:
        # The reader is what bodies hold on to, so it is the last owner of
        # the socket: when it goes, the socket is closed quietly (rather than
        # by the socket's own finalizer, with a ResourceWarning).
        if not self._closed:
            self._closed = True
            self.sock.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError('Connection is closed')

    def _recv(self, dst: memoryview) -> int:
        return _check_received(self._recv_into(dst), len(dst))

    def send_before_body(self, interim: bytes) -> None:
        """Owe *interim* to the peer: it is sent when the body is first read.

        This is how ``Expect: 100-continue`` works: a client waits for
        ``100 Continue`` before sending a body, and the server says so only
        once the app actually reads that body.
        """
        self._interim = interim

    def has_interim(self) -> bool:
        """True while an owed interim response has not been sent."""
        return bool(self._interim)

    def _send_interim(self) -> None:
        interim = self._interim
        self._interim = b''
        self.sock.sendall(interim)

    def _compact(self) -> None:
        """Move unread bytes to the front of the buffer."""
        start = self._start
        if start:
            stop = self._stop
            self._buf[0:stop - start] = self._view[start:stop]
            self._start = 0
            self._stop = stop - start

    def buffered(self) -> int:
        """How many received bytes are waiting to be read."""
        return self._stop - self._start

    def read_preamble(self) -> Optional[bytes]:
        """Return the next preamble without its ``b'\\r\\n\\r\\n'``.

        Returns ``None`` when the peer closed the connection before sending a
        single byte (a clean close between messages).  Raises ``ValueError``
        when the terminator is not within ``BUF_LEN`` bytes, or the peer
        closed mid-preamble.
        """
        self._check_open()
        self._interim = b''
        buf = self._buf
        start = self._start
        if start == self._stop:
            # Nothing buffered, the usual case between messages: receive
            # straight into the front of the buffer.
            added = self._recv_into(self._view)
            if type(added) is not int or not (0 <= added <= BUF_LEN):
                _check_received(added, BUF_LEN)
            self._start = start = 0
            self._stop = added
            if added == 0:
                return None
            index = buf.find(PREAMBLE_END, 0, added)
        else:
            index = buf.find(PREAMBLE_END, start, self._stop)
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
                    raise _not_found(PREAMBLE_END, buf, stop)
                if deadline >= 0 and stop > 0:
                    # A trickling peer gets `timeout` seconds for the whole
                    # preamble, not `timeout` seconds per recv().
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError('preamble not received in time')
                    self.sock.settimeout(left)
                    adjusted = True
                added = self._recv(view[stop:])
                if added == 0:
                    self._stop = stop
                    if stop == 0:
                        return -1
                    raise _not_found(PREAMBLE_END, buf, stop)
                index = buf.find(PREAMBLE_END, max(0, stop - 3), stop + added)
                stop += added
                if index >= 0:
                    self._stop = stop
                    return index
        finally:
            if adjusted:
                self.sock.settimeout(self.timeout)

    def readinto(self, dst: memoryview) -> int:
        """Fill *dst* from the buffer, or straight from the socket when empty."""
        self._check_open()
        if self._interim:
            self._send_interim()
        avail = self._stop - self._start
        if avail:
            size = min(avail, len(dst))
            start = self._start
            dst[0:size] = self._view[start:start + size]
            self._start = start + size
            return size
        return self._recv(dst)

    def _take(self, size: int) -> memoryview:
        """Consume exactly *size* bytes; return a view valid until the next read.

        Up to ``BUF_LEN`` the bytes are gathered in the connection buffer;
        up to ``IO_SIZE + 2`` (a body piece, or a chunk with its CRLF) in a
        scratch buffer kept for the connection's later large reads, so
        streaming a big body costs one copy per piece and no new allocation.
        """
        if self._interim:
            self._send_interim()
        start = self._start
        avail = self._stop - start
        if size <= avail:
            self._start = start + size
            return self._view[start:start + size]
        if size <= BUF_LEN:
            self._compact()
            stop = self._stop
            view = self._view
            while stop < size:
                added = self._recv(view[stop:])
                if added == 0:
                    self._stop = stop
                    raise ValueError(
                        'expected to read {} bytes, but received {}'.format(size, stop)
                    )
                stop += added
            self._stop = stop
            self._start = size
            return view[0:size]
        # Bigger than the buffer: drain it, then receive the rest directly.
        if size <= SCRATCH_SIZE:
            if self._scratch is None:
                self._scratch = memoryview(bytearray(SCRATCH_SIZE))
            dst = self._scratch[0:size]
        else:
            dst = memoryview(bytearray(size))
        got = self.readinto(dst)
        while got < size:
            added = self._recv(dst[got:])
            if added == 0:
                raise ValueError(
                    'expected to read {} bytes, but received {}'.format(size, got)
                )
            got += added
        return dst

    def take(self, size: int) -> memoryview:
        """Like ``read()``, but a view that is only valid until the next read."""
        self._check_open()
        return self._take(size)

    def read(self, size: int) -> bytes:
        """Return exactly *size* bytes, or raise ``ValueError`` on early EOF."""
        self._check_open()
        return self._take(size).tobytes()

    def read_chunk_data(self, size: int) -> bytes:
        """Return *size* bytes of chunk data, checking the CRLF that ends them."""
        self._check_open()
        view = self._take(size + 2)
        if view[size:] != LINE_END:
            raise ValueError(
                'bad chunk data termination: {!r}'.format(view[size:].tobytes())
            )
        return view[0:size].tobytes()

    def readline(self, size: int) -> bytes:
        """Return one line ending in ``b'\\r\\n'`` found within *size* bytes.

        Like a file's ``readline()``, the line ends at the first ``b'\\n'``;
        a bare LF (not preceded by CR) is an error.  So a chunked body gives
        the same chunks, or the same error, whether it is read from this
        reader or from any file-like object.
        """
        self._check_open()
        if self._interim:
            self._send_interim()
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
                    raise _not_found(LINE_END, buf, size)
                added = self._recv(view[stop:])
                if added == 0:
                    self._stop = stop
                    raise _not_found(LINE_END, buf, stop)
                index = buf.find(LF, stop, min(stop + added, size))
                stop += added
                if index >= 0:
                    break
            self._stop = stop
        if index == start or buf[index - 1] != CR:
            raise ValueError('{!r} not found in {!r}...'.format(
                LINE_END, bytes(buf[start:min(index + 1, start + 32)])
            ))
        self._start = index + 1
        return self._view[start:index + 1].tobytes()


class Writer:
    """Buffered writing of whole messages to one connected socket."""

    __slots__ = ('sock', '_send', '_parts', '_size', '_closed')

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self._send = sock.send
        self._parts: List[Buffer] = []
        self._size = 0
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._parts = []
            self._size = 0
            self.sock.close()

    def send_all(self, data: Buffer) -> None:
        """Send *data* now; the queue must be empty (a whole small message)."""
        if self._closed:
            raise ValueError('Connection is closed')
        sent = self._send(data)
        if type(sent) is not int or sent != len(data):
            write_rest(self._send, data, sent)

    def write_now(self, data: Buffer) -> int:
        """Send the queue, then *data* itself: for views of reused buffers."""
        self.flush()
        self.send_all(data)
        return len(data)

    def write(self, data: Buffer) -> int:
        """Queue *data*; send the queue first if it would exceed ``BUF_LEN``."""
        if self._closed:
            raise ValueError('Connection is closed')
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
