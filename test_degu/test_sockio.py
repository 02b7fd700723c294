# SPDX-License-Identifier: LGPL-3.0-or-later
"""Tests for degu.sockio: the ``Stream``, its read side and its write side.

Most tests use ``FakeSocket``, a scripted stand-in for a connected socket
that hands out its data in pieces of chosen sizes (one byte per ``recv``,
random splits, everything at once) and records every ``send()``.  The
timeout and end-to-end tests use a real ``socket.socketpair()``.

``FakeSocket`` and ``SPLITS`` are also used by test_bodies and test_messages.
"""

import fcntl
import gc
import itertools
import os
import random
import socket
import struct
import sys
import termios
import threading
import time
import tracemalloc
from typing import Any, Iterable, Iterator, List, Optional, Tuple

import pytest

from degu.addresses import timeval
from degu.errors import (
    TYPE_ERROR,
    ConnectionClosedError,
    HeadersTooLargeError,
    ProtocolError,
)
from degu.limits import BUF_LEN, IO_SIZE, MAX_IO_SIZE, MIN_BODY_RATE
from degu.sockio import FIRST_PIECE, Stream
from test_degu.helpers import draining, tcp_pair

PREAMBLE_END = b'\r\n\r\n'
CONTINUE = b'HTTP/1.1 100 Continue\r\n\r\n'


class FakeSocket:
    """A scripted connected socket.

    * ``recv_into()`` first returns the raw values of *returns* one by one
      (anything, even bad values, without touching the buffer), then hands
      out *data*: at most ``next(sizes)`` bytes per call (all that fits when
      *sizes* is None), then ``0`` (EOF) forever.
    * ``send()`` records the bytes it is given and returns the next value of
      *sends* (again anything); once *sends* is exhausted it sends it all.
    * ``sendall()``, ``settimeout()`` and ``close()`` are recorded.
    """

    def __init__(
        self,
        data: bytes = b'',
        sizes: Optional[Iterable[int]] = None,
        returns: Iterable[Any] = (),
        sends: Iterable[Any] = (),
    ) -> None:
        self.data = data
        self.pos = 0
        self.sizes = None if sizes is None else iter(sizes)
        self.returns = iter(returns)
        self.sends = iter(sends)
        self.recv_calls = 0
        self.recv_lens: List[int] = []
        self.send_calls: List[Tuple[bytes, Any]] = []
        self.sendall_calls: List[bytes] = []
        self.timeouts: List[Optional[float]] = []
        self.close_calls = 0

    def recv_into(self, dst: memoryview) -> Any:
        assert type(dst) is memoryview
        self.recv_calls += 1
        self.recv_lens.append(len(dst))
        for value in self.returns:
            return value
        size = len(dst)
        if self.sizes is not None:
            size = min(size, next(self.sizes))
        piece = self.data[self.pos:self.pos + size]
        dst[0:len(piece)] = piece
        self.pos += len(piece)
        return len(piece)

    def send(self, data: Any) -> Any:
        result: Any = len(data)
        for value in self.sends:
            result = value
            break
        self.send_calls.append((bytes(data), result))
        return result

    @property
    def stream(self) -> bytes:
        """What the peer would have received: the claimed part of each send."""
        return b''.join(data[:sent] for (data, sent) in self.send_calls)

    def sendall(self, data: bytes) -> None:
        self.sendall_calls.append(bytes(data))

    def settimeout(self, value: Optional[float]) -> None:
        self.timeouts.append(value)

    def close(self) -> None:
        self.close_calls += 1

    @property
    def unread(self) -> bytes:
        return self.data[self.pos:]


def then_all(*sizes: int) -> Iterator[int]:
    """recv() sizes: the given ones, then as much as fits."""
    return itertools.chain(sizes, itertools.repeat(BUF_LEN))


def random_sizes(seed: int, top: int = 64) -> Iterator[int]:
    rng = random.Random(seed)
    while True:
        yield rng.randint(1, top)


def log_random_sizes(seed: int, bits: int = 17) -> Iterator[int]:
    """Sizes spread evenly over orders of magnitude (1 byte to 128 KiB)."""
    rng = random.Random(seed)
    while True:
        yield int(2 ** rng.uniform(0, bits))


# How a FakeSocket hands out its data: the `sizes` argument per split kind
# ('lograndom' suits big data; SPLITS are the kinds every Reader test uses).
SPLITS = ('whole', 'one', 'random')


def sizes_for(split: str, seed: int = 7) -> Optional[Iterator[int]]:
    if split == 'whole':
        return None
    if split == 'one':
        return itertools.repeat(1)
    if split == 'lograndom':
        return log_random_sizes(seed)
    assert split == 'random'
    return random_sizes(seed)


def fake_reader(data: bytes, split: str = 'whole', seed: int = 7) -> Stream:
    return Stream(FakeSocket(data, sizes_for(split, seed)))


def check_error(exc: type, message: str, func: Any, *args: Any) -> None:
    with pytest.raises(exc) as cm:
        func(*args)
    assert type(cm.value) is exc
    assert str(cm.value) == message


def not_found(end: bytes, data: bytes) -> str:
    return '{!r} not found in {!r}...'.format(end, data[:32])


# ---------------------------------------------------------------------------
# Reader basics

def test_reader_init() -> None:
    sock = FakeSocket()
    reader = Stream(sock)
    assert reader.sock is sock
    assert reader.timeout is None
    assert reader.closed is False
    assert reader.buffered() == 0
    assert reader.owes is False
    assert reader.broken is False
    assert reader.server_side is False
    assert Stream(sock, 2.5).timeout == 2.5
    assert Stream(sock, server_side=True).server_side is True
    assert sock.recv_calls == 0


def test_reader_closed_property_is_read_only() -> None:
    reader = Stream(FakeSocket())
    with pytest.raises(AttributeError):
        setattr(reader, 'closed', True)


def test_reader_close() -> None:
    sock = FakeSocket(b'GET / HTTP/1.1\r\n\r\nmore')
    reader = Stream(sock)
    assert reader.read_preamble() == b'GET / HTTP/1.1'
    assert reader.buffered() == 4
    reader.close()
    assert reader.closed is True
    assert sock.close_calls == 1
    assert reader.buffered() == 0
    reader.close()  # idempotent: the socket is closed once
    assert sock.close_calls == 1


@pytest.mark.parametrize('call', [
    lambda r: r.read_preamble(),
    lambda r: r.readinto(memoryview(bytearray(5))),
    lambda r: r.read(5),
    lambda r: r.read(0),
    lambda r: r.read(BUF_LEN + 1),
    lambda r: r.readline(4096),
])
def test_reader_closed_refuses(call: Any) -> None:
    sock = FakeSocket(b'GET / HTTP/1.1\r\n\r\n')
    reader = Stream(sock)
    reader.close()
    check_error(ConnectionClosedError, 'Connection is closed', call, reader)
    assert sock.recv_calls == 0


def test_fail_client_side_closes() -> None:
    # A read that failed half-way loses the stream's position: a client has
    # nothing left to say, so its stream closes at once.
    sock = FakeSocket(b'GET / HTTP/1.1\r\n\r\nmore')
    stream = Stream(sock)
    stream.read_preamble()
    stream.fail()
    assert (stream.broken, stream.closed) == (True, True)
    assert stream.buffered() == 0
    assert sock.close_calls == 1
    check_error(ConnectionClosedError, 'Connection is closed', stream.read, 1)
    check_error(ConnectionClosedError, 'Connection is closed', stream.send_all, b'x')


def test_fail_server_side_keeps_write_side() -> None:
    # A server still has something to say: why it gives up.  Reads are
    # refused, writes still go out, and the stream closes when told to.
    sock = FakeSocket(b'GET / HTTP/1.1\r\n\r\nmore')
    stream = Stream(sock, server_side=True)
    stream.read_preamble()
    stream.owe(CONTINUE)
    stream.fail()
    assert (stream.broken, stream.closed, stream.owes) == (True, False, False)
    assert stream.buffered() == 0
    assert sock.close_calls == 0
    for call in (stream.read_preamble, lambda: stream.read(1),
                 lambda: stream.readline(10), lambda: stream.take(1),
                 lambda: stream.readinto(memoryview(bytearray(1))),
                 lambda: stream.read_chunk_data(1)):
        check_error(ConnectionClosedError, 'Connection is closed', call)
    stream.send_all(b'HTTP/1.1 400 Bad Request')
    assert sock.send_calls == [(b'HTTP/1.1 400 Bad Request', 24)]
    stream.close()
    assert sock.close_calls == 1


def test_wrap_replaces_socket() -> None:
    first = FakeSocket()
    second = FakeSocket(b'GET / HTTP/1.1\r\n\r\n')
    stream = Stream(first)
    seen = []

    def wrapper(sock: Any) -> Any:
        seen.append(sock)
        return second

    stream.wrap(wrapper)
    assert seen == [first]
    assert stream.sock is second
    assert stream.read_preamble() == b'GET / HTTP/1.1'
    stream.send_all(b'x')
    assert (first.recv_calls, first.send_calls) == (0, [])
    assert second.send_calls == [(b'x', 1)]


def test_wrap_failure_closes() -> None:
    # A socket handed to a Stream is closed by the Stream, whatever happens.
    sock = FakeSocket()
    stream = Stream(sock)

    def wrapper(sock: Any) -> Any:
        raise OSError('handshake failed')

    with pytest.raises(OSError):
        stream.wrap(wrapper)
    assert stream.closed is True
    assert sock.close_calls == 1


class TLSLikeSocket(FakeSocket):
    """Records the close_notify attempt of Stream.close()."""

    def __init__(self, unwrap_error: Optional[BaseException] = None) -> None:
        super().__init__()
        self.unwrap_error = unwrap_error
        self.calls: List[str] = []

    def fileno(self) -> int:
        return -1 if self.close_calls else 7

    def settimeout(self, value: Optional[float]) -> None:
        self.calls.append('settimeout({!r})'.format(value))

    def unwrap(self) -> None:
        self.calls.append('unwrap')
        if self.unwrap_error is not None:
            raise self.unwrap_error

    def close(self) -> None:
        self.calls.append('close')
        super().close()


@pytest.mark.parametrize('error', [None, OSError('want read'), ValueError('closed')])
def test_close_says_close_notify_first(error: Any) -> None:
    sock = TLSLikeSocket(error)
    Stream(sock).close()
    # Non-blocking, so a peer that does not read cannot hold the thread.
    assert sock.calls == ['settimeout(0)', 'unwrap', 'close']


def test_reader_gc_closes_socket() -> None:
    # The reader is the last owner of the socket (bodies hold on to it).
    sock = FakeSocket()
    reader = Stream(sock)
    del reader
    gc.collect()
    assert sock.close_calls == 1
    sock = FakeSocket()
    reader = Stream(sock)
    reader.close()
    del reader
    gc.collect()
    assert sock.close_calls == 1


def test_reader_gc_closes_socketpair() -> None:
    (a, b) = socket.socketpair()
    try:
        reader = Stream(a)
        del reader
        gc.collect()
        assert a.fileno() == -1
    finally:
        a.close()
        b.close()


def test_reader_bad_sock(monkeypatch: pytest.MonkeyPatch) -> None:
    # A rejected sock is left alone, and no error escapes from __del__.
    unraisable: List[Any] = []
    monkeypatch.setattr(sys, 'unraisablehook', unraisable.append)

    class NoRecvInto:
        closed = 0

        def close(self) -> None:
            self.closed += 1

    sock = NoRecvInto()
    with pytest.raises(AttributeError):
        Stream(sock)
    gc.collect()
    assert unraisable == []
    assert sock.closed == 0


# ---------------------------------------------------------------------------
# Reader.read_preamble()

REQUEST = b'PUT /foo HTTP/1.1\r\nContent-Length: 5'
MESSAGE = REQUEST + PREAMBLE_END + b'hello'


@pytest.mark.parametrize('split', SPLITS)
def test_read_preamble(split: Any) -> None:
    reader = fake_reader(MESSAGE, split)
    preamble = reader.read_preamble()
    assert type(preamble) is bytes
    assert preamble == REQUEST
    assert reader.read(5) == b'hello'
    assert reader.read_preamble() is None


@pytest.mark.parametrize('first', range(1, len(MESSAGE)))
def test_read_preamble_split_at_every_position(first: Any) -> None:
    # The first recv() gets `first` bytes, the second everything else; this
    # splits the terminator at each of its positions too.
    sock = FakeSocket(MESSAGE, then_all(first))
    reader = Stream(sock)
    assert reader.read_preamble() == REQUEST
    assert reader.read(5) == b'hello'


@pytest.mark.parametrize('cut', range(1, 4))
def test_read_preamble_terminator_split_one_byte_pieces(cut: Any) -> None:
    # b'\r\n\r\n' arrives as two pieces, the split at `cut`.
    end = len(REQUEST) + cut
    sock = FakeSocket(MESSAGE, then_all(end, 1, 1, 1))
    reader = Stream(sock)
    assert reader.read_preamble() == REQUEST
    assert sock.recv_calls >= 2


@pytest.mark.parametrize('seed', range(20))
def test_read_preamble_random_splits(seed: Any) -> None:
    messages = [MESSAGE, b'GET / HTTP/1.1' + PREAMBLE_END, MESSAGE]
    reader = fake_reader(b''.join(messages), 'random', seed)
    for _ in range(2):
        assert reader.read_preamble() == REQUEST
        assert reader.read(5) == b'hello'
        assert reader.read_preamble() == b'GET / HTTP/1.1'
        reader = fake_reader(b''.join(messages), 'one')


def test_read_preamble_eof_before_any_byte() -> None:
    sock = FakeSocket(b'')
    reader = Stream(sock)
    assert reader.read_preamble() is None
    assert sock.recv_calls == 1
    assert reader.closed is False


def test_read_preamble_eof_between_messages() -> None:
    reader = fake_reader(b'GET / HTTP/1.1\r\n\r\n', 'one')
    assert reader.read_preamble() == b'GET / HTTP/1.1'
    assert reader.read_preamble() is None


@pytest.mark.parametrize('split', SPLITS)
@pytest.mark.parametrize('data', [
    b'G',
    b'GET / HTTP/1.1',
    b'GET / HTTP/1.1\r\n',
    b'GET / HTTP/1.1\r\n\r',
    b'GET / HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n',
])
def test_read_preamble_eof_mid_preamble(split: Any, data: Any) -> None:
    reader = fake_reader(data, split)
    check_error(ProtocolError, not_found(PREAMBLE_END, data), reader.read_preamble)


def test_read_preamble_eof_mid_preamble_shows_no_stale_bytes() -> None:
    # The message shows only bytes of this preamble, never leftovers of the
    # previous message on the same connection.
    first = b'POST /a/much/longer/request/line HTTP/1.1\r\nX: y' + PREAMBLE_END
    reader = fake_reader(first + b'GET /', 'whole')
    assert reader.read_preamble() == first[:-4]
    check_error(ProtocolError, not_found(PREAMBLE_END, b'GET /'), reader.read_preamble)
    reader = Stream(FakeSocket(first + b'GET /', then_all(len(first))))
    assert reader.read_preamble() == first[:-4]
    check_error(ProtocolError, not_found(PREAMBLE_END, b'GET /'), reader.read_preamble)


def big_preamble(size: int) -> bytes:
    """A preamble of exactly *size* bytes, terminator included."""
    head = b'GET / HTTP/1.1\r\nX-Big: '
    return head + b'x' * (size - len(head) - 4) + PREAMBLE_END


@pytest.mark.parametrize('split', SPLITS)
def test_read_preamble_exactly_buf_len(split: Any) -> None:
    data = big_preamble(BUF_LEN)
    assert len(data) == BUF_LEN
    reader = fake_reader(data + b'tail', split)
    assert reader.read_preamble() == data[:-4]
    assert reader.read(4) == b'tail'


@pytest.mark.parametrize('split', SPLITS)
@pytest.mark.parametrize('size', [BUF_LEN + 1, BUF_LEN + 2, BUF_LEN + 3, BUF_LEN + 4,
                                  BUF_LEN + 100])
def test_read_preamble_over_buf_len(split: Any, size: Any) -> None:
    # The terminator ends past BUF_LEN (even when it starts within it).
    data = big_preamble(size)
    sock = FakeSocket(data, sizes_for(split))
    reader = Stream(sock)
    check_error(HeadersTooLargeError, not_found(PREAMBLE_END, data), reader.read_preamble)
    # Never more than BUF_LEN bytes were taken from the socket.
    assert sock.pos == BUF_LEN


def test_read_preamble_limit_counts_unconsumed_bytes_only() -> None:
    # A second preamble of exactly BUF_LEN bytes, behind a first one that
    # was received in the same recv(), is still accepted.
    first = b'GET /1 HTTP/1.1' + PREAMBLE_END
    second = big_preamble(BUF_LEN)
    reader = fake_reader(first + second, 'whole')
    assert reader.read_preamble() == first[:-4]
    assert reader.read_preamble() == second[:-4]
    reader = fake_reader(first + big_preamble(BUF_LEN + 1), 'whole')
    assert reader.read_preamble() == first[:-4]
    check_error(HeadersTooLargeError, not_found(PREAMBLE_END, second), reader.read_preamble)


def test_read_preamble_leftover_goes_to_body() -> None:
    data = b'PUT / HTTP/1.1\r\nContent-Length: 11' + PREAMBLE_END + b'hello world'
    sock = FakeSocket(data)
    reader = Stream(sock)
    assert reader.read_preamble() == data[:-15]
    assert reader.buffered() == 11
    dst = bytearray(20)
    assert reader.readinto(memoryview(dst)) == 11
    assert dst[:11] == b'hello world'
    assert sock.recv_calls == 1


def test_read_preamble_pipelined() -> None:
    messages = [
        b'GET /%d HTTP/1.1' % i + PREAMBLE_END for i in range(5)
    ]
    sock = FakeSocket(b''.join(messages))
    reader = Stream(sock)
    for i in range(5):
        assert reader.read_preamble() == b'GET /%d HTTP/1.1' % i
    assert sock.recv_calls == 1
    assert reader.buffered() == 0
    assert reader.read_preamble() is None
    assert sock.recv_calls == 2


def test_read_body_that_came_with_its_preamble() -> None:
    # The usual small message: preamble and body in one recv(), the body
    # read whole (read_preamble() keeps it as bytes already).
    for body in (b'', b'x', b'hello world'):
        sock = FakeSocket(b'PUT / HTTP/1.1' + PREAMBLE_END + body)
        reader = Stream(sock)
        assert reader.read_preamble() == b'PUT / HTTP/1.1'
        assert reader.read(len(body)) == body
        assert reader.buffered() == 0
        assert reader.read_preamble() is None
        assert sock.recv_calls == 2


def test_read_pipelined_bodies() -> None:
    # What followed the first preamble is two bodies and a preamble: each
    # read gets its own bytes, whichever message they came with.
    data = (b'A' + PREAMBLE_END + b'ab' + b'cd' + b'B' + PREAMBLE_END + b'efg')
    sock = FakeSocket(data)
    reader = Stream(sock)
    assert reader.read_preamble() == b'A'
    assert reader.read(2) == b'ab'
    assert reader.read(2) == b'cd'
    assert reader.read_preamble() == b'B'
    assert reader.read(3) == b'efg'
    assert sock.recv_calls == 1


def test_read_after_buffer_moved() -> None:
    # The bytes that came with a preamble ('abc', at offset 5) are kept as
    # bytes; once the buffer is compacted, other bytes sit at offset 5,
    # and a read of the same length there must get those.
    reader = Stream(ScriptSocket(b'A' + PREAMBLE_END + b'abc', b'dEFGHIJK'))
    assert reader.read_preamble() == b'A'
    assert bytes(reader.take(1)) == b'a'
    assert reader.read(4) == b'bcdE'
    assert bytes(reader.take(1)) == b'F'
    assert reader.read(3) == b'GHI'
    assert reader.read(2) == b'JK'


def test_read_after_preamble_that_came_in_pieces() -> None:
    # Two pipelined preambles arrive together (the bytes after the first are
    # kept as bytes); the third comes in two receives and ends at the same
    # offset as the first, followed by a body as long as those kept bytes.
    # The read must get the new body, not what came with the first preamble.
    second = b'GET /b HTTP/1.1' + PREAMBLE_END
    reader = Stream(ScriptSocket(b'GET / HTTP/1.1' + PREAMBLE_END + second,
                                 b'PUT / HTTP/1.1', PREAMBLE_END + b'y' * len(second)))
    assert reader.read_preamble() == b'GET / HTTP/1.1'
    assert reader.read_preamble() == b'GET /b HTTP/1.1'
    assert reader.read_preamble() == b'PUT / HTTP/1.1'
    assert reader.read(len(second)) == b'y' * len(second)


def test_read_preamble_empty_preamble() -> None:
    # b'\r\n\r\n' alone is an empty preamble (the parser rejects it later).
    assert fake_reader(PREAMBLE_END).read_preamble() == b''


def test_read_preamble_reuses_buffer() -> None:
    # Between messages the whole buffer is offered to recv_into() again.
    sock = FakeSocket(b'GET / HTTP/1.1\r\n\r\n' * 2, then_all(18))
    reader = Stream(sock)
    reader.read_preamble()
    reader.read_preamble()
    assert sock.recv_lens == [BUF_LEN, BUF_LEN]


@pytest.mark.parametrize('value', [None, 1.0, '1', b'1', True, [1]])
def test_read_preamble_recv_type_error(value: Any) -> None:
    # recv_into() must return an int (here: the first recv of a message).
    reader = Stream(FakeSocket(returns=[value]))
    check_error(TypeError, TYPE_ERROR.format('received', int, type(value), value),
                reader.read_preamble)


class ScriptSocket(FakeSocket):
    """recv_into() replays *script*: bytes are copied in, other values returned raw."""

    def __init__(self, *script: Any) -> None:
        super().__init__()
        self.script = list(script)

    def recv_into(self, dst: memoryview) -> Any:
        self.recv_calls += 1
        self.recv_lens.append(len(dst))
        if not self.script:
            return 0
        item = self.script.pop(0)
        if type(item) is bytes:
            assert len(item) <= len(dst)
            dst[0:len(item)] = item
            return len(item)
        return item


@pytest.mark.parametrize('script, size, got', [
    ((-1,), BUF_LEN, -1),
    ((BUF_LEN + 1,), BUF_LEN, BUF_LEN + 1),
    ((b'GET ', -1), BUF_LEN - 4, -1),
    ((b'GET ', BUF_LEN - 3), BUF_LEN - 4, BUF_LEN - 3),
])
def test_read_preamble_recv_range_error(script: Any, size: Any, got: Any) -> None:
    reader = Stream(ScriptSocket(*script))
    check_error(ValueError, 'need 0 <= received <= {}; got {}'.format(size, got),
                reader.read_preamble)


@pytest.mark.parametrize('value', [None, 1.0, '1', True])
def test_read_preamble_recv_type_error_later(value: Any) -> None:
    reader = Stream(ScriptSocket(b'GET ', value))
    check_error(TypeError, TYPE_ERROR.format('received', int, type(value), value),
                reader.read_preamble)


# ---------------------------------------------------------------------------
# The preamble deadline (SPEC 13.16)

def test_deadline_adjusts_and_restores_socket_timeout() -> None:
    sock = FakeSocket(MESSAGE, itertools.repeat(3))
    reader = Stream(sock, timeout=30)
    assert reader.read_preamble() == REQUEST
    # The first recv() uses the socket's own timeout; each later one gets
    # what is left of the deadline; afterwards the timeout is restored.
    assert len(sock.timeouts) == sock.recv_calls
    assert sock.timeouts[-1] == 30
    for left in sock.timeouts[:-1]:
        assert left is not None and 0 < left <= 30


def test_deadline_not_used_when_first_recv_has_it_all() -> None:
    sock = FakeSocket(MESSAGE)
    reader = Stream(sock, timeout=30)
    assert reader.read_preamble() == REQUEST
    assert sock.timeouts == []


def test_no_deadline_without_timeout() -> None:
    sock = FakeSocket(MESSAGE, itertools.repeat(1))
    reader = Stream(sock)
    assert reader.read_preamble() == REQUEST
    assert sock.timeouts == []


def test_deadline_expired() -> None:
    # With timeout=0 the deadline has passed by the second recv().
    sock = FakeSocket(MESSAGE, itertools.repeat(4))
    reader = Stream(sock, timeout=0)
    check_error(TimeoutError, 'preamble not received in time', reader.read_preamble)
    assert sock.recv_calls == 1
    assert sock.timeouts == []


def trickle(sock: socket.socket, data: bytes, delay: float,
            stop: threading.Event, sent: List[int]) -> None:
    for i in range(len(data)):
        if stop.wait(delay):
            return
        try:
            sock.sendall(data[i:i + 1])
        except OSError:
            return
        sent[0] += 1


def test_deadline_trickling_peer_socketpair() -> None:
    # The peer sends one byte every 0.2 s: each recv() is well within the
    # timeout, but the whole preamble would take ~7 s.  The reader gives up
    # after 0.5 s in total, long before the peer is done.
    (a, b) = socket.socketpair()
    a.settimeout(0.5)
    stop = threading.Event()
    sent = [0]
    data = b'GET / HTTP/1.1\r\nX: y\r\n\r\n'
    thread = threading.Thread(target=trickle, args=(b, data, 0.2, stop, sent))
    thread.start()
    try:
        reader = Stream(a, timeout=0.5)
        with pytest.raises(socket.timeout):
            reader.read_preamble()
        assert sent[0] < len(data)
        assert a.gettimeout() == 0.5
    finally:
        stop.set()
        thread.join()
        a.close()
        b.close()


def test_deadline_slow_but_complete_socketpair() -> None:
    (a, b) = socket.socketpair()
    a.settimeout(5)
    stop = threading.Event()
    data = b'GET / HTTP/1.1\r\n\r\n'
    pieces = [data[0:5], data[5:12], data[12:]]

    def send() -> None:
        for piece in pieces:
            if stop.wait(0.05):
                return
            b.sendall(piece)

    thread = threading.Thread(target=send)
    thread.start()
    try:
        reader = Stream(a, timeout=5)
        assert reader.read_preamble() == b'GET / HTTP/1.1'
        assert a.gettimeout() == 5
    finally:
        stop.set()
        thread.join()
        a.close()
        b.close()


# ---------------------------------------------------------------------------
# The body deadline: MIN_BODY_RATE (issue 13)

TOO_SLOW = 'body not received in time: slower than 500 bytes/s'

# How each body read may be asked of a stream (all wait through _recv_body).
BODY_READS = [
    pytest.param(lambda s: s.read(100), id='read'),
    pytest.param(lambda s: s.read(BUF_LEN + 100), id='read-big'),
    pytest.param(lambda s: s.take(BUF_LEN + 100), id='take-big'),
    pytest.param(lambda s: s.readline(100), id='readline'),
    pytest.param(lambda s: s.read_chunk_data(100), id='read_chunk_data'),
    # (readinto() returns what arrived: one byte per call here.)
    pytest.param(lambda s: [s.readinto(memoryview(bytearray(100))) for _ in range(100)],
                 id='readinto'),
]


def test_body_rate_constant() -> None:
    assert MIN_BODY_RATE == 500
    assert TOO_SLOW == 'body not received in time: slower than {} bytes/s'.format(
        MIN_BODY_RATE)


def test_body_fast_path_leaves_socket_timeout_alone() -> None:
    # A peer that keeps up costs no settimeout() at all, however many
    # recv() calls its body takes.
    data = b'x' * (3 * IO_SIZE)
    sock = FakeSocket(data, itertools.repeat(1000))
    stream = Stream(sock, timeout=30)
    assert stream.read(len(data)) == data
    assert sock.recv_calls > 3000
    assert sock.timeouts == []


@pytest.mark.parametrize('call', BODY_READS)
def test_body_trickle_cut_off_socketpair(call: Any) -> None:
    # One byte every 0.03 s (33 bytes/s) with timeout=0.3: each recv() is
    # well within the timeout, but the budget of 0.3 s of waiting is gone
    # after about ten bytes.  The same for every way a body is read.
    (a, b) = socket.socketpair()
    a.settimeout(0.3)
    stop = threading.Event()
    sent = [0]
    data = b'x' * 200
    thread = threading.Thread(target=trickle, args=(b, data, 0.03, stop, sent))
    thread.start()
    try:
        stream = Stream(a, timeout=0.3)
        check_error(TimeoutError, TOO_SLOW, call, stream)
        assert sent[0] < 100
        # The socket's own timeout is back for whatever comes next.
        assert a.gettimeout() == 0.3
    finally:
        stop.set()
        thread.join()
        a.close()
        b.close()


def test_body_trickle_cut_off_client_side_closes() -> None:
    # As any failed body read: a client-side stream closes, and says why.
    (a, b) = socket.socketpair()
    a.settimeout(0.3)
    stop = threading.Event()
    thread = threading.Thread(target=trickle, args=(b, b'x' * 100, 0.05, stop, [0]))
    thread.start()
    try:
        stream = Stream(a, timeout=0.3)
        from degu.bodies import Body
        body = Body(stream, 100)
        check_error(TimeoutError, TOO_SLOW, body.read)
        assert stream.closed is True
        assert a.fileno() == -1
    finally:
        stop.set()
        thread.join()
        b.close()


def test_body_pause_within_timeout_then_fast() -> None:
    # One pause shorter than the timeout is fine: the budget is the grace.
    (a, b) = socket.socketpair()
    a.settimeout(2)
    data = os.urandom(100000)

    def send() -> None:
        b.sendall(data[:10])
        time.sleep(0.3)
        b.sendall(data[10:])

    thread = threading.Thread(target=send)
    thread.start()
    try:
        assert Stream(a, timeout=2).read(len(data)) == data
    finally:
        thread.join()
        a.close()
        b.close()


def test_body_slow_app_is_not_the_peers_fault() -> None:
    # Only the time spent waiting for the peer counts: here the peer sent
    # everything at once, and the reader dawdles between reads for longer
    # than the whole budget.
    (a, b) = socket.socketpair()
    a.settimeout(0.2)
    try:
        b.sendall(b'x' * 30)
        stream = Stream(a, timeout=0.2)
        for _ in range(3):
            assert stream.read(10) == b'x' * 10
            time.sleep(0.3)
    finally:
        a.close()
        b.close()


def test_body_budget_refilled_for_each_body() -> None:
    # Each body gets the whole budget: two bodies, each after a pause of
    # 60% of the timeout, are both fine (with one budget for both, the
    # second pause would overdraw it).
    (a, b) = socket.socketpair()
    a.settimeout(1)

    def send() -> None:
        for _ in range(2):
            time.sleep(0.6)
            b.sendall(b'y' * 10)

    thread = threading.Thread(target=send)
    thread.start()
    try:
        from degu.bodies import Body
        stream = Stream(a, timeout=1)
        for _ in range(2):
            assert Body(stream, 10).read() == b'y' * 10
    finally:
        thread.join()
        a.close()
        b.close()


def test_body_bytes_refill_the_budget() -> None:
    # A peer sending 1000 bytes every 0.1 s (10 kB/s) for longer than the
    # timeout keeps up: each pause costs 0.1 s, each 1000 bytes give 2 s.
    (a, b) = socket.socketpair()
    a.settimeout(0.4)
    data = os.urandom(12000)

    def send() -> None:
        for i in range(0, len(data), 1000):
            time.sleep(0.1)
            b.sendall(data[i:i + 1000])

    thread = threading.Thread(target=send)
    thread.start()
    try:
        assert Stream(a, timeout=0.4).read(len(data)) == data
    finally:
        thread.join()
        a.close()
        b.close()


def test_body_no_deadline_without_timeout() -> None:
    sock = FakeSocket(b'x' * 100, itertools.repeat(1))
    stream = Stream(sock)
    assert stream.read(100) == b'x' * 100
    assert sock.timeouts == []


# ---------------------------------------------------------------------------
# Reader.readinto(), read(), readline()

def test_readinto_from_buffer_then_socket() -> None:
    sock = FakeSocket(b'GET / HTTP/1.1\r\n\r\nabc' + b'defghij', then_all(21))
    reader = Stream(sock)
    reader.read_preamble()
    dst = bytearray(5)
    assert reader.readinto(memoryview(dst)) == 3  # only what is buffered
    assert dst[:3] == b'abc'
    assert sock.recv_calls == 1
    assert reader.readinto(memoryview(dst)) == 5  # straight from the socket
    assert dst == b'defgh'
    assert sock.recv_lens[-1] == 5
    assert reader.readinto(memoryview(dst)) == 2
    assert dst[:2] == b'ij'
    assert reader.readinto(memoryview(dst)) == 0


def test_readinto_smaller_than_buffered() -> None:
    reader = fake_reader(b'GET / HTTP/1.1\r\n\r\nabcdef')
    reader.read_preamble()
    dst = bytearray(2)
    assert reader.readinto(memoryview(dst)) == 2
    assert dst == b'ab'
    assert reader.buffered() == 4


@pytest.mark.parametrize('value', [None, 1.0, '1', True])
def test_readinto_recv_type_error(value: Any) -> None:
    reader = Stream(FakeSocket(returns=[value]))
    check_error(TypeError, TYPE_ERROR.format('received', int, type(value), value),
                reader.readinto, memoryview(bytearray(8)))


@pytest.mark.parametrize('value', [-1, 9, 2 ** 64])
def test_readinto_recv_range_error(value: Any) -> None:
    reader = Stream(FakeSocket(returns=[value]))
    check_error(ValueError, 'need 0 <= received <= 8; got {}'.format(value),
                reader.readinto, memoryview(bytearray(8)))


@pytest.mark.parametrize('split', SPLITS)
@pytest.mark.parametrize('size', [0, 1, 7, 100, BUF_LEN - 1, BUF_LEN, BUF_LEN + 1,
                                  3 * BUF_LEN + 17])
def test_read_exact_sizes(split: Any, size: Any) -> None:
    data = random.Random(size).randbytes(size + 50)
    reader = fake_reader(b'GET / HTTP/1.1\r\n\r\n' + data, split)
    reader.read_preamble()
    got = reader.read(size)
    assert type(got) is bytes
    assert got == data[:size]
    assert reader.read(50) == data[size:]
    check_error(ProtocolError, 'expected to read 1 bytes, but received 0', reader.read, 1)


def test_read_in_buffer_needs_no_recv() -> None:
    sock = FakeSocket(b'GET / HTTP/1.1\r\n\r\nhello world')
    reader = Stream(sock)
    reader.read_preamble()
    assert reader.read(5) == b'hello'
    assert reader.read(6) == b' world'
    assert sock.recv_calls == 1


def test_read_compacts_buffer() -> None:
    # Unread bytes at the end of the buffer move to the front so that a
    # read of up to BUF_LEN bytes always fits.
    head = big_preamble(BUF_LEN - 10)
    body = bytes(range(256)) * 128  # BUF_LEN bytes
    sock = FakeSocket(head + body)
    reader = Stream(sock)
    reader.read_preamble()
    assert reader.buffered() == 10
    assert reader.read(BUF_LEN) == body


@pytest.mark.parametrize('split', SPLITS)
@pytest.mark.parametrize('size, have', [
    (10, 0), (10, 9), (BUF_LEN, BUF_LEN - 1), (BUF_LEN + 1, 0), (BUF_LEN + 1, BUF_LEN),
    (5 * BUF_LEN, 4 * BUF_LEN + 3),
])
def test_read_eof(split: Any, size: Any, have: Any) -> None:
    data = b'x' * have
    reader = fake_reader(b'GET / HTTP/1.1\r\n\r\n' + data, split)
    reader.read_preamble()
    check_error(ProtocolError,
                'expected to read {} bytes, but received {}'.format(size, have),
                reader.read, size)


@pytest.mark.parametrize('value', [None, 1.0, '1', True])
@pytest.mark.parametrize('size', [10, BUF_LEN + 10])
def test_read_recv_type_error(value: Any, size: Any) -> None:
    reader = Stream(FakeSocket(returns=[value]))
    check_error(TypeError, TYPE_ERROR.format('received', int, type(value), value),
                reader.read, size)


def test_read_recv_range_error() -> None:
    reader = Stream(ScriptSocket(b'abc', BUF_LEN))
    check_error(ValueError,
                'need 0 <= received <= {}; got {}'.format(BUF_LEN - 3, BUF_LEN),
                reader.read, 10)
    reader = Stream(ScriptSocket(b'abc', BUF_LEN * 2))
    check_error(ValueError,
                'need 0 <= received <= {}; got {}'.format(BUF_LEN * 2 - 3, BUF_LEN * 2),
                reader.read, BUF_LEN * 2)


@pytest.mark.parametrize('split', SPLITS)
def test_readline(split: Any) -> None:
    data = b'5\r\nhello\r\n5;foo=bar\r\nworld\r\n0\r\n\r\n'
    reader = fake_reader(data, split)
    assert reader.readline(4096) == b'5\r\n'
    assert reader.read(7) == b'hello\r\n'
    line = reader.readline(4096)
    assert type(line) is bytes
    assert line == b'5;foo=bar\r\n'
    assert reader.read(7) == b'world\r\n'
    assert reader.readline(4096) == b'0\r\n'
    assert reader.readline(4096) == b'\r\n'
    check_error(ProtocolError, not_found(b'\r\n', b''), reader.readline, 4096)


def test_readline_crlf_split_across_recvs() -> None:
    sock = FakeSocket(b'abc\r\ndef\r\n', then_all(4, 1, 5))
    reader = Stream(sock)
    assert reader.readline(100) == b'abc\r\n'
    assert reader.readline(100) == b'def\r\n'


@pytest.mark.parametrize('split', SPLITS)
def test_readline_size_limit(split: Any) -> None:
    line = b'a' * 4094 + b'\r\n'
    long_line = b'b' * 4095 + b'\r\n'
    reader = fake_reader(line + long_line, split)
    assert reader.readline(4096) == line
    # 4097 bytes with the CRLF: the LF is beyond the limit.
    check_error(ProtocolError, not_found(b'\r\n', long_line), reader.readline, 4096)


@pytest.mark.parametrize('split', SPLITS)
def test_readline_size_limit_small(split: Any) -> None:
    reader = fake_reader(b'abcdef\r\n', split)
    check_error(ProtocolError, not_found(b'\r\n', b'abcd'), reader.readline, 4)
    reader = fake_reader(b'ab\r\n', split)
    assert reader.readline(4) == b'ab\r\n'


@pytest.mark.parametrize('split', SPLITS)
@pytest.mark.parametrize('data', [
    b'', b'5', b'5\r', b'5;foo=bar', b'a' * 40, b'a' * 4095,
])
def test_readline_eof(split: Any, data: Any) -> None:
    reader = fake_reader(data, split)
    check_error(ProtocolError, not_found(b'\r\n', data), reader.readline, 4096)


@pytest.mark.parametrize('split', SPLITS)
@pytest.mark.parametrize('data, shown', [
    (b'\n', b'\n'),
    (b'\n\r\n', b'\n'),
    (b'5\n', b'5\n'),
    (b'5;k=v\nX\r\n', b'5;k=v\n'),
    (b'5\r\r\n' + b'\n', None),
    (b'a' * 40 + b'\n\r\n', b'a' * 32),
])
def test_readline_bare_lf(split: Any, data: Any, shown: Any) -> None:
    # Like a file's readline(), the line ends at the first LF; a bare LF is
    # refused (so a chunked body reads the same from any source).
    reader = fake_reader(data, split)
    if shown is None:
        assert reader.readline(4096) == b'5\r\r\n'
    else:
        check_error(ProtocolError, not_found(b'\r\n', shown), reader.readline, 4096)


def test_readline_after_preamble_in_same_recv() -> None:
    reader = fake_reader(b'POST / HTTP/1.1\r\n\r\nA;k=v\r\n0123456789\r\n')
    assert reader.read_preamble() == b'POST / HTTP/1.1'
    assert reader.readline(4096) == b'A;k=v\r\n'
    assert reader.read(12) == b'0123456789\r\n'


def test_readline_stale_bytes_not_shown() -> None:
    # A line cut short by EOF shows only its own bytes.
    reader = fake_reader(b'0123456789abcdef\r\nxyz', 'whole')
    assert reader.readline(4096) == b'0123456789abcdef\r\n'
    check_error(ProtocolError, not_found(b'\r\n', b'xyz'), reader.readline, 4096)


@pytest.mark.parametrize('value', [None, 1.0, '1', True])
def test_readline_recv_type_error(value: Any) -> None:
    reader = Stream(ScriptSocket(b'5', value))
    check_error(TypeError, TYPE_ERROR.format('received', int, type(value), value),
                reader.readline, 4096)


def test_readline_recv_range_error() -> None:
    reader = Stream(ScriptSocket(b'5', BUF_LEN))
    check_error(ValueError,
                'need 0 <= received <= {}; got {}'.format(BUF_LEN - 1, BUF_LEN),
                reader.readline, 4096)


@pytest.mark.parametrize('split', SPLITS)
@pytest.mark.parametrize('size', [0, 5, BUF_LEN, BUF_LEN + 1, 3 * BUF_LEN])
def test_take(split: Any, size: Any) -> None:
    data = random.Random(size).randbytes(2 * size + 10)
    reader = fake_reader(data, split)
    view = reader.take(size)
    assert type(view) is memoryview
    assert view == data[:size]
    # Only valid until the next read: copy before reading on.
    first = view.tobytes()
    second = reader.take(size)
    assert first == data[:size]
    assert second == data[size:2 * size]
    assert reader.read(10) == data[2 * size:]


def test_take_closed() -> None:
    reader = fake_reader(b'hello')
    reader.close()
    check_error(ConnectionClosedError, 'Connection is closed', reader.take, 1)


@pytest.mark.parametrize('split', SPLITS)
def test_read_large_reuses_scratch_safely(split: Any) -> None:
    # Reads bigger than BUF_LEN share one scratch buffer; read() copies.
    a = bytes([1]) * (BUF_LEN + 100)
    b = bytes([2]) * (BUF_LEN + 50)
    reader = fake_reader(a + b, split)
    got_a = reader.read(len(a))
    got_b = reader.read(len(b))
    assert got_a == a
    assert got_b == b


# Memory follows the bytes that arrive, never the size a peer announced.

def peak_while(func: Any, *args: Any) -> int:
    """Peak bytes allocated (tracemalloc) while *func* runs and raises."""
    import tracemalloc
    tracemalloc.start()
    try:
        with pytest.raises(ProtocolError):
            func(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize('call', [
    lambda stream: stream.read(MAX_IO_SIZE),
    lambda stream: stream.take(IO_SIZE),
    lambda stream: stream.read_chunk_data(MAX_IO_SIZE),
])
def test_big_read_allocates_as_bytes_arrive(call: Any) -> None:
    # 900 bytes arrive for a 16 MiB (or 1 MiB) read: the stream must not
    # have allocated the whole size first.
    stream = Stream(FakeSocket(b'x' * 900))
    assert peak_while(call, stream) < 4 * FIRST_PIECE


def test_big_read_allocates_about_twice_what_arrived() -> None:
    data = b'y' * (3 * IO_SIZE + 12345)
    stream = Stream(FakeSocket(data))
    peak = peak_while(stream.read, MAX_IO_SIZE)
    assert peak < 2 * len(data) + IO_SIZE


@pytest.mark.parametrize('split', SPLITS)
@pytest.mark.parametrize('size', [BUF_LEN + 1, FIRST_PIECE + 1, IO_SIZE, 3 * IO_SIZE + 7])
def test_read_big_sizes(split: Any, size: Any) -> None:
    data = random.Random(size).randbytes(size + 3)
    stream = fake_reader(data, split)
    assert stream.read(size) == data[:size]
    assert stream.read(3) == data[size:]
    check_error(ProtocolError, 'expected to read {} bytes, but received 0'.format(size),
                fake_reader(b'', split).read, size)
    check_error(ProtocolError, 'expected to read {} bytes, but received {}'.format(size, size - 1),
                fake_reader(data[:size - 1], split).read, size)


@pytest.mark.parametrize('split', SPLITS)
def test_take_scratch_grows_then_is_reused(split: Any) -> None:
    data = random.Random(3).randbytes(3 * IO_SIZE)
    stream = fake_reader(data, split)
    first = stream.take(IO_SIZE)
    assert first == data[:IO_SIZE]
    second = stream.take(IO_SIZE)
    assert second == data[IO_SIZE:2 * IO_SIZE]
    # The same memory, overwritten: a view is only valid until the next read.
    assert second.obj is first.obj
    assert stream.take(IO_SIZE - 1) == data[2 * IO_SIZE:-1]
    assert stream.read(1) == data[-1:]


@pytest.mark.parametrize('split', SPLITS)
@pytest.mark.parametrize('size', [0, 5, BUF_LEN, 2 * BUF_LEN])
def test_read_chunk_data(split: Any, size: Any) -> None:
    data = b'x' * size
    reader = fake_reader(data + b'\r\n' + data + b'\n\r', split)
    got = reader.read_chunk_data(size)
    assert type(got) is bytes
    assert got == data
    check_error(ProtocolError, "bad chunk data termination: b'\\n\\r'",
                reader.read_chunk_data, size)


def test_read_chunk_data_short() -> None:
    reader = fake_reader(b'hello\r')
    check_error(ProtocolError, 'expected to read 7 bytes, but received 6',
                reader.read_chunk_data, 5)


def test_read_chunk_data_closed() -> None:
    reader = fake_reader(b'hello\r\n')
    reader.close()
    check_error(ConnectionClosedError, 'Connection is closed', reader.read_chunk_data, 5)


# ---------------------------------------------------------------------------
# Interim responses (Expect: 100-continue, SPEC 13.15)

@pytest.mark.parametrize('first', [
    lambda r: r.readinto(memoryview(bytearray(3))),
    lambda r: r.read(3),
    lambda r: r.read(BUF_LEN + 3),
    lambda r: r.readline(4096),
])
def test_interim_sent_on_first_body_read_only(first: Any) -> None:
    data = b'PUT / HTTP/1.1\r\n\r\n' + b'ab\r\n' + b'x' * (BUF_LEN + 10)
    sock = FakeSocket(data, then_all(18))
    reader = Stream(sock)
    assert reader.read_preamble() == b'PUT / HTTP/1.1'
    reader.owe(CONTINUE)
    assert reader.owes is True
    assert sock.send_calls == []
    first(reader)
    # Paid through the write side, like any other bytes sent.
    assert sock.send_calls == [(CONTINUE, len(CONTINUE))]
    assert reader.owes is False
    reader.read(3)
    reader.readinto(memoryview(bytearray(3)))
    assert sock.send_calls == [(CONTINUE, len(CONTINUE))]


def test_interim_not_sent_without_read() -> None:
    sock = FakeSocket(b'PUT / HTTP/1.1\r\n\r\n')
    reader = Stream(sock)
    reader.read_preamble()
    reader.owe(CONTINUE)
    reader.close()
    assert sock.send_calls == []
    assert reader.owes is False


def test_interim_over_socketpair() -> None:
    (a, b) = socket.socketpair()
    try:
        reader = Stream(a)
        b.sendall(b'PUT / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n')
        assert reader.read_preamble() == b'PUT / HTTP/1.1\r\nExpect: 100-continue'
        reader.owe(CONTINUE)
        b.sendall(b'hello')
        assert reader.read(5) == b'hello'
        b.settimeout(5)
        assert b.recv(100) == CONTINUE
    finally:
        a.close()
        b.close()


# ---------------------------------------------------------------------------
# Writer

def test_writer_init() -> None:
    sock = FakeSocket()
    writer = Stream(sock)
    assert writer.sock is sock
    assert writer.closed is False
    with pytest.raises(AttributeError):
        setattr(writer, 'closed', True)
    assert sock.send_calls == []


def test_writer_send_all_one_send() -> None:
    sock = FakeSocket()
    writer = Stream(sock)
    message = b'HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nbar'
    writer.send_all(message)
    assert sock.send_calls == [(message, len(message))]


@pytest.mark.parametrize('data', [b'hello', bytearray(b'hello'), memoryview(b'hello')])
def test_writer_accepts_buffers(data: Any) -> None:
    sock = FakeSocket()
    Stream(sock).send_all(data)
    assert sock.stream == b'hello'
    sock = FakeSocket()
    writer = Stream(sock)
    assert writer.write(data) == 5
    writer.flush()
    assert sock.stream == b'hello'


@pytest.mark.parametrize('sends', [
    [1] * 10,
    [3, 3, 3, 1],
    [9, 1],
    [5, 4, 1],
])
def test_writer_partial_sends_loop(sends: Any) -> None:
    sock = FakeSocket(sends=sends)
    Stream(sock).send_all(b'0123456789')
    assert sock.stream == b'0123456789'
    # Each retry sends exactly what is left.
    done = 0
    for (data, sent) in sock.send_calls:
        assert data == b'0123456789'[done:]
        done += sent


@pytest.mark.parametrize('sends', [[0], [4, 0], [4, 3, 0]])
def test_writer_send_zero(sends: Any) -> None:
    sock = FakeSocket(sends=sends)
    sent = sum(sends)
    check_error(ValueError,
                'expected to write 10 bytes, but sent {}'.format(sent),
                Stream(sock).send_all, b'0123456789')


@pytest.mark.parametrize('value', [None, 1.0, '1', True, b'1'])
@pytest.mark.parametrize('before', [[], [3]])
def test_writer_send_type_error(value: Any, before: Any) -> None:
    sock = FakeSocket(sends=before + [value])
    check_error(TypeError, TYPE_ERROR.format('sent', int, type(value), value),
                Stream(sock).send_all, b'0123456789')


@pytest.mark.parametrize('sends, n, m', [
    ([-1], 10, -1),
    ([11], 10, 11),
    ([3, 8], 7, 8),
    ([3, -1], 7, -1),
])
def test_writer_send_range_error(sends: Any, n: Any, m: Any) -> None:
    sock = FakeSocket(sends=sends)
    check_error(ValueError, 'need 0 <= sent <= {}; got {}'.format(n, m),
                Stream(sock).send_all, b'0123456789')


def test_writer_write_queues_until_flush() -> None:
    sock = FakeSocket()
    writer = Stream(sock)
    assert writer.write(b'HTTP/1.1 200 OK\r\n\r\n') == 19
    assert writer.write(b'5\r\n') == 3
    assert writer.write(b'hello') == 5
    assert sock.send_calls == []
    writer.flush()
    assert len(sock.send_calls) == 1
    assert sock.stream == b'HTTP/1.1 200 OK\r\n\r\n5\r\nhello'
    writer.flush()  # nothing queued: no send
    assert len(sock.send_calls) == 1


def test_writer_flush_single_part() -> None:
    sock = FakeSocket()
    writer = Stream(sock)
    writer.write(b'abc')
    writer.flush()
    assert sock.send_calls == [(b'abc', 3)]


def test_writer_write_exactly_buf_len_queued() -> None:
    sock = FakeSocket()
    writer = Stream(sock)
    writer.write(b'a' * (BUF_LEN - 1))
    writer.write(b'b')
    assert sock.send_calls == []
    writer.flush()
    assert [len(d) for (d, s) in sock.send_calls] == [BUF_LEN]


def test_writer_write_overflow_flushes_first() -> None:
    sock = FakeSocket()
    writer = Stream(sock)
    writer.write(b'a' * 100)
    writer.write(b'b' * (BUF_LEN - 99))
    # The queue went out first; the new data waits in the queue.
    assert sock.stream == b'a' * 100
    writer.flush()
    assert sock.stream == b'a' * 100 + b'b' * (BUF_LEN - 99)


def test_writer_write_big_data_sent_directly() -> None:
    sock = FakeSocket()
    writer = Stream(sock)
    big = b'b' * (BUF_LEN + 1)
    writer.write(b'head')
    assert writer.write(big) == BUF_LEN + 1
    assert sock.send_calls == [(b'head', 4), (big, BUF_LEN + 1)]
    writer.flush()
    assert len(sock.send_calls) == 2


def test_writer_big_data_partial_sends() -> None:
    sock = FakeSocket(sends=[1000] * 40)
    writer = Stream(sock)
    big = bytes(range(256)) * 200
    writer.write(big)
    assert sock.stream == big


def test_writer_write_now() -> None:
    sock = FakeSocket()
    writer = Stream(sock)
    writer.write(b'head')
    view = memoryview(b'xxdataxx')[2:6]
    assert writer.write_now(view) == 4
    # The queue first, then the data itself, at once.
    assert sock.send_calls == [(b'head', 4), (b'data', 4)]
    assert writer.write_now(b'more') == 4
    assert sock.stream == b'headdatamore'


def test_writer_write_now_partial_and_closed() -> None:
    sock = FakeSocket(sends=[2, 1])
    writer = Stream(sock)
    assert writer.write_now(b'abcd') == 4
    assert sock.stream == b'abcd'
    writer.close()
    check_error(ConnectionClosedError, 'Connection is closed', writer.write_now, b'x')


def test_writer_close() -> None:
    sock = FakeSocket()
    writer = Stream(sock)
    writer.write(b'queued')
    writer.close()
    assert writer.closed is True
    assert sock.close_calls == 1
    writer.close()
    assert sock.close_calls == 1
    writer.flush()  # the queue was dropped
    assert sock.send_calls == []
    check_error(ConnectionClosedError, 'Connection is closed', writer.write, b'x')
    check_error(ConnectionClosedError, 'Connection is closed', writer.send_all, b'x')
    assert sock.send_calls == []


def test_reader_writer_socketpair() -> None:
    (a, b) = socket.socketpair()
    try:
        writer = Stream(a)
        reader = Stream(b)
        writer.write(b'POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n')
        writer.write(b'5\r\nhello\r\n')
        writer.write(b'0\r\n\r\n')
        writer.flush()
        writer.send_all(b'GET / HTTP/1.1\r\n\r\n')
        a.shutdown(socket.SHUT_WR)
        assert reader.read_preamble() == b'POST / HTTP/1.1\r\ntransfer-encoding: chunked'
        assert reader.readline(4096) == b'5\r\n'
        assert reader.read(7) == b'hello\r\n'
        assert reader.readline(4096) == b'0\r\n'
        assert reader.read(2) == b'\r\n'
        assert reader.read_preamble() == b'GET / HTTP/1.1'
        assert reader.read_preamble() is None
        reader.close()
        assert b.fileno() == -1
    finally:
        a.close()
        b.close()


# -- arm(): timeouts in the kernel ------------------------------------------

def test_arm_kernel_timeouts() -> None:
    (ours, theirs) = tcp_pair()
    try:
        stream = Stream(ours, 0.2, server_side=True)
        stream.arm()
        assert stream._kernel is True and ours.gettimeout() is None
        # A peer that sends nothing: socket.timeout, as with settimeout().
        with pytest.raises(socket.timeout):
            stream.read_preamble()
        # A preamble that stops half-way: the whole-preamble deadline.
        theirs.sendall(b'GET / HTTP/1.1\r\n')
        with pytest.raises((socket.timeout, TimeoutError)):
            stream.read_preamble()
    finally:
        ours.close()
        theirs.close()


def test_arm_kernel_send_timeout() -> None:
    (ours, theirs) = tcp_pair()
    try:
        stream = Stream(ours, 0.2)
        stream.arm()
        with pytest.raises(socket.timeout):
            for _ in range(10000):  # the peer never reads: the buffer fills
                stream.send_all(b'x' * 65536)
    finally:
        ours.close()
        theirs.close()


def test_arm_body_deadline() -> None:
    (ours, theirs) = tcp_pair()
    try:
        stream = Stream(ours, 0.2)
        stream.arm()
        # The first bytes come late (0.1 s of the 0.2 s budget spent), then
        # none: the next wait is what is left of the budget, set in the kernel.
        timer = threading.Timer(0.1, theirs.sendall, (b'x' * 10,))
        timer.start()
        with pytest.raises(TimeoutError) as info:
            stream.read(BUF_LEN * 4)
        timer.join()
        assert str(info.value) == TOO_SLOW
        # The receive timeout is the stream's own again afterwards.
        import struct
        raw = ours.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.calcsize('ll'))
        (seconds, micro) = struct.unpack('ll', raw)
        assert seconds == 0 and abs(micro - 200000) <= 10000  # (clock ticks)
    finally:
        ours.close()
        theirs.close()


def test_arm_without_kernel_timeouts() -> None:
    (ours, theirs) = tcp_pair()
    try:
        stream = Stream(ours, None)
        stream.arm()
        assert stream._kernel is False and ours.gettimeout() is None
        stream.timeout = 0.5
        # wrap() hands a TLS layer a socket with Python's own timeout.
        stream.arm()
        assert stream._kernel is True
        seen: List[Any] = []
        stream.wrap(lambda sock: seen.append(sock.gettimeout()) or sock)
        assert seen == [0.5] and stream._kernel is False
    finally:
        ours.close()
        theirs.close()


# ---------------------------------------------------------------------------
# Big transfers over a plain socket: the kernel waits (issue 17).  A socket
# that blocks by choice, or an armed one (its timeouts in the kernel).

NO_TIMEVAL = bytes(16)  # struct timeval {0, 0}: no kernel timeout


def armed(sock: socket.socket, timeout: Optional[float]) -> Stream:
    """A stream of *sock*, its *timeout* in the kernel (as a server's is)."""
    sock.settimeout(timeout)
    stream = Stream(sock, timeout=timeout)
    stream.arm()
    assert stream._direct is True
    return stream


def expected_timeouts(timeout: Optional[float]) -> Tuple[bytes, bytes]:
    """What kernel_timeouts() reads back once a transfer is over."""
    value = NO_TIMEVAL if timeout is None else timeval(timeout)
    return (value, value)


def kernel_timeouts(sock: socket.socket) -> Tuple[bytes, bytes]:
    return (sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, 16),
            sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, 16))


def queued(sock: socket.socket) -> int:
    """How many received bytes wait in *sock*'s queue, unread."""
    return struct.unpack('i', fcntl.ioctl(sock.fileno(), termios.FIONREAD, b'\0' * 4))[0]


def feed(sock: socket.socket, data: bytes, close: bool = True) -> threading.Thread:
    """Send *data* from another thread (then shut the write side)."""
    def run() -> None:
        try:
            sock.sendall(data)
            if close:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize('timeout', [None, 5])
def test_plain_socket_big_reads(timeout: Optional[float]) -> None:
    # IO_SIZE pieces (the first with bytes already buffered), then chunk
    # data bigger than IO_SIZE: the same bytes as any other socket gives,
    # and the socket's timeouts as they were.
    data = os.urandom(3 * IO_SIZE + 1000)
    (a, b) = socket.socketpair()
    thread = feed(b, b'POST / HTTP/1.1\r\n\r\n' + data + b'\r\n')
    try:
        stream = armed(a, timeout)
        assert stream.read_preamble() == b'POST / HTTP/1.1'
        assert stream.buffered() > 0
        assert stream.read(IO_SIZE) == data[:IO_SIZE]
        assert stream._received == IO_SIZE
        assert stream.read(IO_SIZE) == data[IO_SIZE:2 * IO_SIZE]
        stream.finished()
        assert stream._received == 0
        rest = data[2 * IO_SIZE:]
        assert stream.read_chunk_data(len(rest)) == rest
        assert stream.read_preamble() is None
        assert a.gettimeout() is None
        assert kernel_timeouts(a) == expected_timeouts(timeout)
    finally:
        thread.join()
        a.close()
        b.close()


def test_plain_socket_big_read_short() -> None:
    # The peer closes early: the same message as through recv_into().
    (a, b) = socket.socketpair()
    thread = feed(b, b'x' * 100000)
    try:
        stream = armed(a, 5)
        check_error(ProtocolError, 'expected to read 200000 bytes, but received 100000',
                    stream.read, 200000)
        assert kernel_timeouts(a) == expected_timeouts(5)
    finally:
        thread.join()
        a.close()
        b.close()


def test_plain_socket_big_read_memory_follows_bytes() -> None:
    # A peer announcing 16 MiB but sending 900 bytes: what the read allocated
    # (traced by tracemalloc, so even a buffer the kernel never wrote into
    # counts) follows the 900 bytes, not the 16 MiB.
    (a, b) = socket.socketpair()
    thread = feed(b, b'x' * 900)
    tracemalloc.start()
    try:
        stream = armed(a, 5)
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        check_error(ProtocolError, 'expected to read {} bytes, but received 900'.format(MAX_IO_SIZE),
                    stream.read, MAX_IO_SIZE)
        peak = tracemalloc.get_traced_memory()[1]
        assert peak - before < 2 * FIRST_PIECE
    finally:
        tracemalloc.stop()
        thread.join()
        a.close()
        b.close()


def test_plain_socket_big_send() -> None:
    # What does not fit in the socket buffer goes in one blocking send();
    # the kernel's timeouts are as before afterwards.
    data = os.urandom(4 * IO_SIZE)
    (a, b) = socket.socketpair()
    (thread, got) = draining(b)
    try:
        stream = armed(a, 5)
        stream.send_all(data)
        assert stream.sent == len(data)
        assert a.gettimeout() is None
        assert kernel_timeouts(a) == expected_timeouts(5)
        a.shutdown(socket.SHUT_WR)
        thread.join()
        assert bytes(got) == data
    finally:
        a.close()
        b.close()


def test_plain_socket_big_send_timeout() -> None:
    # A peer that reads nothing: the send times out as the socket's own
    # would, and the socket's timeouts are as before.
    (a, b) = socket.socketpair()
    try:
        stream = armed(a, 0.2)
        with pytest.raises(socket.timeout) as info:
            stream.send_all(bytes(4 * IO_SIZE))
        assert str(info.value) == 'timed out'
        assert a.gettimeout() is None
        assert kernel_timeouts(a) == expected_timeouts(0.2)
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize('family', ['unix', 'tcp'])
def test_plain_socket_big_read_interrupted(family: str) -> None:
    # A big read waiting in the kernel (MSG_WAITALL) still ends when another
    # thread interrupts the stream, as a server shutting down does.
    (a, b) = socket.socketpair() if family == 'unix' else tcp_pair()
    b.sendall(b'x' * 1000)
    errors: List[BaseException] = []
    stream = armed(a, 30)

    def read() -> None:
        try:
            stream.read(MAX_IO_SIZE)
        except BaseException as e:
            errors.append(e)
    thread = threading.Thread(target=read)
    thread.start()
    try:
        while queued(a):
            time.sleep(0.01)  # until the read took the bytes and waits
        time.sleep(0.05)
        stream.interrupt()
        thread.join(10)
        assert not thread.is_alive()
        assert [str(e) for e in errors] == [
            'expected to read {} bytes, but received 1000'.format(MAX_IO_SIZE)
        ]
        assert a.gettimeout() is None
    finally:
        b.close()
        a.close()
