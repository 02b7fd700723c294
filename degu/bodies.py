# SPDX-License-Identifier: LGPL-3.0-or-later
"""Message bodies: streaming in (``Body``, ``ChunkedBody``) and out (all four).

Every body object walks one state machine and never goes back::

    BODY_READY --first operation--> BODY_STARTED --all data moved--> BODY_CONSUMED
         \\                              |
          `---------- any failure ------+------> BODY_ERROR

* ``READY``: nothing read or written yet; any operation may start.
* ``STARTED``: ``read(size)`` / ``readchunk()`` calls may continue; starting a
  different kind of operation (iterating, ``write_to()``) is refused.
* ``CONSUMED``: every byte was moved; every further call is refused.
* ``ERROR``: something failed half-way (short data, bad chunk, a raising
  source or destination).  The body refuses further use, and the connection
  it was reading from is told, because its stream position is now unknown:
  ``fail()`` when reading failed (the sender's fault: a client-side stream
  closes, a server-side one refuses further reads, so that the server
  blames and answers its peer), ``abandon()`` when writing to the
  destination failed (the sender did nothing wrong: a client-side stream
  closes, a server-side one is closed by the server after the response,
  as for any request body not read to its end).  Nothing is ever
  half-consumed silently.

Incoming bodies read from a live connection (a ``degu.sockio.Stream``,
sharing its buffer) or from any object with ``readinto()`` (and
``readline()`` for chunked data), such as a file or ``io.BytesIO``, which
``FileSource`` adapts to the same ``Source`` interface: the body classes
never ask which kind of source they have.  Outgoing bodies are written with
``body.write_to(wfile)``, where ``wfile`` has a ``write()`` method: a
``Stream`` or any file-like object.

A chunk is the tuple ``(extension, data)``: ``extension`` is ``None`` or a
``(key, value)`` pair of str, ``data`` is ``bytes``; the final chunk of a
chunked body has ``data == b''``.
"""

from collections import namedtuple
from typing import Any, Callable, Final, Iterable, Iterator, List, Optional, Tuple

from .errors import TYPE_ERROR, ContentTooLargeError, ProtocolError
from .limits import (
    BODY_CONSUMED,
    BODY_ERROR,
    BODY_READY,
    BODY_STARTED,
    BUF_LEN,
    IO_SIZE,
    MAX_IO_SIZE,
    MAX_LENGTH,
    MAX_LINE_LEN,
)
from .parsing import parse_chunk
from .ranges import ContentRange, Range
from .rendering import format_chunk
from .sockio import Stream
from .sources import CRLF, FileSource, Source, piece_size, write_rest

Chunk = Tuple[Optional[Tuple[str, str]], bytes]

_STATE_MESSAGES: Final = {
    BODY_STARTED: 'BODY_STARTED, cannot start another operation',
    BODY_CONSUMED: 'BODY_CONSUMED, already consumed',
    BODY_ERROR: 'BODY_ERROR, cannot be used',
}


def _state_error(obj: object, state: int) -> ValueError:
    return ValueError(
        '{}.state == {}'.format(type(obj).__name__, _STATE_MESSAGES[state])
    )


def _check_content_length(content_length: Any) -> int:
    if type(content_length) is not int:
        raise TypeError(TYPE_ERROR.format(
            'content_length', int, type(content_length), content_length
        ))
    if not (0 <= content_length <= MAX_LENGTH):
        raise ValueError('need 0 <= content_length <= {}; got {}'.format(
            MAX_LENGTH, content_length
        ))
    return content_length


def _source(rfile: Any, chunked: bool) -> Source:
    """What a body reads through: a ``Stream`` as it is, anything else adapted."""
    if type(rfile) is Stream:
        src: Source = rfile
        return src
    return FileSource(rfile, chunked)


def _get_write(wfile: Any) -> Callable[[Any], Any]:
    write: Callable[[Any], Any] = wfile.write
    if not callable(write):
        raise TypeError('wfile.write() is not callable')
    return write


def _write_all(write: Callable[[Any], Any], data: bytes) -> int:
    """Write all of *data* through a ``write()`` that may write less."""
    added = write(data)
    if type(added) is not int or added != len(data):
        write_rest(write, data, added)
    return len(data)


def _readchunk(src: Source) -> Chunk:
    (size, extension) = parse_chunk(src.readline(MAX_LINE_LEN)[:-2])
    return (extension, src.read_chunk_data(size))


def readchunk(rfile: Any) -> Chunk:
    """Read one chunk from *rfile* and return it as ``(extension, data)``."""
    return _readchunk(_source(rfile, True))


def write_chunk(wfile: Any, chunk: Any) -> int:
    """Write one ``(extension, data)`` chunk; return the number of bytes written."""
    line = format_chunk(chunk)  # checks the chunk (hence chunk: Any)
    write = _get_write(wfile)
    data = chunk[1]
    total = _write_all(write, line)
    if data:
        total += _write_all(write, data)
    return total + _write_all(write, CRLF)


class _StateMachine:
    """The state every body walks (see the module docstring), and its checks."""

    __slots__ = ('_state',)

    _state: int

    @property
    def state(self) -> int:
        return self._state

    def _start(self, only_ready: bool) -> None:
        """Begin an operation: from READY, or also from STARTED to continue one."""
        state = self._state
        if state != BODY_READY and (only_ready or state != BODY_STARTED):
            raise _state_error(self, state)
        self._state = BODY_STARTED


class _IncomingBody(_StateMachine):
    """What ``Body`` and ``ChunkedBody`` share: what they read from.

    ``rfile`` is the object given to the constructor; ``_src`` is the same
    object seen as a ``Source`` (itself when it is a ``Stream``).
    """

    __slots__ = ('_rfile', '_src')

    _rfile: Any
    _src: Source

    @property
    def rfile(self) -> Any:
        return self._rfile

    def _fail(self) -> None:
        """Reading failed: enter BODY_ERROR; the source is told (its position is lost)."""
        self._state = BODY_ERROR
        self._src.fail()

    def _abandon(self) -> None:
        """Writing where the body goes failed: enter BODY_ERROR, tell the source."""
        self._state = BODY_ERROR
        self._src.abandon()

    def _move(self, src: Source, wfile: Stream, size: int) -> int:
        """Move *size* bytes from the source to a connection; return *size*.

        Each piece goes straight from the source's buffer (a connection's
        scratch buffer, or a file source's) to the socket, without a copy,
        in pieces that grow as bytes arrive (see ``piece_size()``).
        """
        got = 0
        while got < size:
            piece = piece_size(got, size)
            try:
                view = src.take(piece)
            except BaseException:
                self._fail()
                raise
            try:
                wfile.write_now(view)
            except BaseException:
                self._abandon()
                raise
            got += piece
        return size

    def _done(self) -> None:
        """Enter BODY_CONSUMED; the source learns the message was read."""
        self._state = BODY_CONSUMED
        self._src.finished()


class _OutgoingBody(_StateMachine):
    """What ``BodyIter`` and ``ChunkedBodyIter`` share: the iterable they write."""

    __slots__ = ('_source',)

    _source: Iterable[Any]

    @property
    def source(self) -> Iterable[Any]:
        return self._source

    def _streams_to(self, wfile: Any) -> bool:
        """Whether to send each item as soon as the source produced it.

        Written to a connection from a generator (or any other iterator), an
        item may be the last for a while (a log line, a progress report), so
        it goes out at once; a list or tuple is all there already, and a
        small body from one goes out in one ``send()``.
        """
        kind = type(self._source)
        return type(wfile) is Stream and kind is not list and kind is not tuple


class Body(_IncomingBody):
    """A body of exactly ``content_length`` bytes read from ``rfile``.

    >>> import io
    >>> body = Body(io.BytesIO(b'hello, world'), 12)
    >>> body.read(5), body.read()
    (b'hello', b', world')
    """

    __slots__ = ('_content_length', '_remaining')

    def __init__(self, rfile: Any, content_length: Any) -> None:
        # Arguments typed Any are checked here, exactly, even when compiled.
        if type(content_length) is not int:
            _check_content_length(content_length)
        length: int = content_length
        if not (0 <= length <= MAX_LENGTH):
            _check_content_length(length)
        # (_source(), inlined: a Body per request reads from a Stream.)
        self._src = rfile if type(rfile) is Stream else FileSource(rfile, False)
        self._content_length = length
        self._rfile = rfile
        self._remaining = length
        self._state = BODY_READY

    @property
    def content_length(self) -> int:
        return self._content_length

    @property
    def chunked(self) -> bool:
        return False

    def __repr__(self) -> str:
        return '{}({}, {})'.format(
            type(self).__name__, self._src.label(), self._content_length
        )

    def read(self, size: Any = None) -> bytes:
        """Read *size* bytes (at most), or with no argument all that is left.

        ``read(size)`` keeps the body ``STARTED`` even when it returns the last
        bytes; the call that then returns ``b''`` makes it ``CONSUMED``.
        ``read()`` returns everything left and makes it ``CONSUMED``.

        (*size* is typed ``Any`` so that a compiled build still checks its
        exact type here, with the message of the contract.)
        """
        remaining = self._remaining
        state = self._state  # (_start(False), inlined: once per request)
        if size is None:
            if remaining > MAX_IO_SIZE:
                # Too much for one bytes object: the body stays READY, so an
                # app may still stream it (iterate, or read(size) in pieces).
                raise ContentTooLargeError(
                    'would exceed max read size: {} > {}'.format(
                        remaining, MAX_IO_SIZE
                    )
                )
            if state != BODY_READY and state != BODY_STARTED:
                raise _state_error(self, state)
            data = b''
            if remaining:
                try:
                    data = self._src.read(remaining)
                except BaseException:
                    self._fail()
                    raise
                self._remaining = 0
            self._state = BODY_CONSUMED
            self._src.finished()
            return data
        if type(size) is not int:
            raise TypeError(TYPE_ERROR.format('size', int, type(size), size))
        want: int = size
        if not (0 <= want <= MAX_IO_SIZE):
            raise ValueError(
                'need 0 <= size <= {}; got {}'.format(MAX_IO_SIZE, want)
            )
        if state != BODY_READY and state != BODY_STARTED:
            raise _state_error(self, state)
        self._state = BODY_STARTED
        if remaining == 0:
            self._done()
            return b''
        if want > remaining:
            want = remaining
        if not want:
            return b''
        try:
            data = self._src.read(want)
        except BaseException:
            self._fail()
            raise
        self._remaining = remaining - want
        return data

    def __iter__(self) -> Iterator[bytes]:
        self._start(True)
        return self._iter()

    def _iter(self) -> Iterator[bytes]:
        src = self._src
        try:
            while self._remaining > 0:
                size = min(IO_SIZE, self._remaining)
                data = src.read(size)
                self._remaining -= size
                yield data
        except BaseException:
            self._fail()
            raise
        self._done()

    def write_to(self, wfile: Any) -> int:
        """Copy the whole body to ``wfile.write()``; return the byte count."""
        write = _get_write(wfile)
        self._start(True)
        src = self._src
        if type(wfile) is Stream and self._remaining > BUF_LEN:
            return self._relay(src, wfile)
        total = 0
        while self._remaining > 0:
            size = min(IO_SIZE, self._remaining)
            try:
                data = src.read(size)
            except BaseException:
                self._fail()
                raise
            try:
                total += _write_all(write, data)
            except BaseException:
                self._abandon()
                raise
            self._remaining -= size
        self._done()
        return total

    def _relay(self, src: Source, wfile: Stream) -> int:
        """``write_to()`` a connection, from another or from a file (``_move()``).

        (A body that fits in ``BUF_LEN`` is not relayed this way but
        queued, so that it shares the preamble's ``send()``.)
        """
        total = self._move(src, wfile, self._remaining)
        self._remaining = 0
        self._done()
        return total


class ChunkedBody(_IncomingBody):
    """A body in chunked transfer encoding, read chunk by chunk from ``rfile``.

    >>> import io
    >>> src = io.BytesIO(b'5\\r\\nhello\\r\\n5;foo=bar\\r\\nworld\\r\\n0\\r\\n\\r\\n')
    >>> list(ChunkedBody(src))
    [(None, b'hello'), (('foo', 'bar'), b'world'), (None, b'')]
    """

    __slots__ = ()

    def __init__(self, rfile: Any) -> None:
        self._src = _source(rfile, True)
        self._rfile = rfile
        self._state = BODY_READY

    @property
    def chunked(self) -> bool:
        return True

    def __repr__(self) -> str:
        return '{}({})'.format(type(self).__name__, self._src.label())

    def _next(self) -> Chunk:
        try:
            return _readchunk(self._src)
        except BaseException:
            self._fail()
            raise

    def readchunk(self) -> Chunk:
        """Return the next ``(extension, data)``; the empty one is the last."""
        self._start(False)
        chunk = self._next()
        if not chunk[1]:
            self._done()
        return chunk

    def read(self) -> bytes:
        """Return the data of all remaining chunks joined (at most 16 MiB).

        The data is gathered in one growing ``bytearray``, not as a list of
        one ``bytes`` object per chunk: a peer sending millions of tiny
        chunks then costs about the bytes it sent, not fifty times that.
        """
        self._start(False)
        first = self._next()[1]
        data = self._next()[1] if first else first
        if not data:
            # One chunk (or none), the usual case: no copy at all.
            self._done()
            return first
        out = bytearray(first)
        while data:
            total = len(out) + len(data)
            if total > MAX_IO_SIZE:
                self._fail()
                raise ContentTooLargeError(
                    'chunks exceed MAX_IO_SIZE: {} > {}'.format(total, MAX_IO_SIZE)
                )
            out += data
            data = self._next()[1]
        self._done()
        return bytes(out)

    def __iter__(self) -> Iterator[Chunk]:
        self._start(True)
        return self._iter()

    def _iter(self) -> Iterator[Chunk]:
        while True:
            chunk = self._next()
            if not chunk[1]:
                self._done()
                yield chunk
                return
            yield chunk

    def write_to(self, wfile: Any) -> int:
        """Re-emit every chunk (extensions kept) to ``wfile``; return the byte count."""
        _get_write(wfile)
        self._start(True)
        src = self._src
        if type(src) is Stream and type(wfile) is Stream:
            return self._relay(src, wfile)
        total = 0
        while True:
            chunk = self._next()
            try:
                total += write_chunk(wfile, chunk)
            except BaseException:
                self._abandon()
                raise
            if not chunk[1]:
                break
        self._done()
        return total

    def _relay(self, src: Stream, wfile: Stream) -> int:
        """``write_to()`` from one connection to another.

        Each chunk goes out as soon as it has arrived, unless the next one
        is already waiting in the source's buffer.  A chunk bigger than
        ``BUF_LEN`` is moved in pieces, as a ``Body`` is: a relay never
        holds a whole 16 MiB chunk.
        """
        total = 0
        size = -1
        while size != 0:
            data = b''
            try:
                (size, extension) = parse_chunk(src.readline(MAX_LINE_LEN)[:-2])
                if size <= BUF_LEN:
                    data = src.read_chunk_data(size)
            except BaseException:
                self._fail()
                raise
            try:
                if size <= BUF_LEN:
                    total += write_chunk(wfile, (extension, data))
                    if not src.buffered():
                        wfile.flush()
                else:
                    total += wfile.write(_chunk_line(size, extension))
            except BaseException:
                self._abandon()
                raise
            if size > BUF_LEN:
                total += self._move(src, wfile, size)
                try:
                    end = src.take(2)
                    if end != CRLF:
                        raise ProtocolError(
                            'bad chunk data termination: {!r}'.format(end.tobytes())
                        )
                except BaseException:
                    self._fail()
                    raise
                try:
                    total += wfile.write(CRLF)
                except BaseException:
                    self._abandon()
                    raise
        self._done()
        return total


def _chunk_line(size: int, extension: Optional[Tuple[str, str]]) -> bytes:
    """The size line of a chunk of *size* bytes (whose data is not at hand).

    >>> _chunk_line(65536, ('k', 'v'))
    b'10000;k=v\\r\\n'
    """
    # The renderer checks and writes the extension; only the size differs.
    return '{:x}'.format(size).encode('ascii') + format_chunk((extension, b''))[1:]


class BodyIter(_OutgoingBody):
    """An outgoing body of ``content_length`` bytes produced by an iterable."""

    __slots__ = ('_content_length',)

    def __init__(self, source: Iterable[bytes], content_length: Any) -> None:
        self._source = source
        self._content_length = _check_content_length(content_length)
        self._state = BODY_READY

    @property
    def content_length(self) -> int:
        return self._content_length

    @property
    def chunked(self) -> bool:
        return False

    def __repr__(self) -> str:
        return '{}(<source>, {})'.format(type(self).__name__, self._content_length)

    def write_to(self, wfile: Any) -> int:
        """Write every item; the items must add up to ``content_length`` exactly."""
        write = _get_write(wfile)
        self._start(True)
        content_length = self._content_length
        streaming = self._streams_to(wfile)
        total = 0
        try:
            # Items are checked below (typed Any: even when compiled).
            for data in self._source:
                if type(data) is not bytes:
                    raise TypeError(
                        'BodyIter source item: need a {!r}; got a {!r}'.format(
                            bytes, type(data)
                        )
                    )
                if data:
                    total += _write_all(write, data)
                    if streaming:
                        wfile.flush()
                if total > content_length:
                    raise ValueError('exceeds content_length: {} > {}'.format(
                        total, content_length
                    ))
            if total < content_length:
                raise ValueError('deceeds content_length: {} < {}'.format(
                    total, content_length
                ))
        except BaseException:
            self._state = BODY_ERROR
            raise
        self._state = BODY_CONSUMED
        return total


class ChunkedBodyIter(_OutgoingBody):
    """An outgoing chunked body produced by an iterable of ``(extension, data)``."""

    __slots__ = ()

    def __init__(self, source: Iterable[Chunk]) -> None:
        self._source = source
        self._state = BODY_READY

    @property
    def chunked(self) -> bool:
        return True

    def __repr__(self) -> str:
        return '{}(<source>)'.format(type(self).__name__)

    def write_to(self, wfile: Any) -> int:
        """Write every chunk; exactly the last one must have empty data."""
        _get_write(wfile)
        self._start(True)
        streaming = self._streams_to(wfile)
        total = 0
        done = False
        try:
            # write_chunk() checks each item (typed Any: even when compiled).
            for chunk in self._source:
                if done:
                    raise ValueError('additional chunk after empty chunk data')
                total += write_chunk(wfile, chunk)
                done = not chunk[1]
                if streaming and not done:
                    wfile.flush()
            if not done:
                raise ValueError('final chunk data was not empty')
        except BaseException:
            self._state = BODY_ERROR
            raise
        self._state = BODY_CONSUMED
        return total


# The classes an RGI app uses to build bodies, handed to it as ``api``.
API = namedtuple(
    'API', 'Body ChunkedBody BodyIter ChunkedBodyIter Range ContentRange'
)
APIType = API
api = API(Body, ChunkedBody, BodyIter, ChunkedBodyIter, Range, ContentRange)
