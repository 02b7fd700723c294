# SPDX-License-Identifier: LGPL-3.0-or-later
"""Tests for degu.sources: what bodies read from, and the kernel-waiting reads.

(The ``Source`` behaviour of a ``Stream`` and of a ``FileSource`` under a
body is tested through the bodies, in test_bodies; the body deadline in
test_sockio.)
"""

import io
import os
import socket
import struct
import threading

import pytest

from degu.bodies import Body
from degu.errors import ProtocolError
from degu.limits import FIRST_PIECE, IO_SIZE
from degu.sockio import Stream
from degu.sources import TOO_SLOW, FileSource, piece_size
from test_degu.helpers import draining
from test_degu.test_sockio import check_error


def rcvtimeo(sock: socket.socket) -> float:
    """The kernel's receive timeout of *sock*, in seconds."""
    (seconds, micro) = struct.unpack('ll', sock.getsockopt(
        socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.calcsize('ll')))
    return seconds + micro / 1e6


def test_recv_all_waits_the_credit_then_restores() -> None:
    # Nothing arrives: the kernel gives up after the body's credit, and the
    # receive timeout is the stream's own again.
    (a, b) = socket.socketpair()
    try:
        stream = Stream(a, 7)
        stream.arm()
        stream._credit = 0.05
        with pytest.raises(TimeoutError) as info:
            stream._recv_all(10)
        assert str(info.value) == TOO_SLOW
        assert a.gettimeout() is None
        assert abs(rcvtimeo(a) - 7) < 0.01  # (the kernel keeps clock ticks)
    finally:
        a.close()
        b.close()


def test_recv_all_waits_for_all() -> None:
    # MSG_WAITALL: one call returns every byte, sent in pieces meanwhile.
    (a, b) = socket.socketpair()
    data = os.urandom(3 * IO_SIZE)

    def send() -> None:
        for i in range(0, len(data), 100000):
            b.sendall(data[i:i + 100000])
    thread = threading.Thread(target=send)
    thread.start()
    try:
        stream = Stream(a, 7)
        stream.arm()
        assert stream._recv_all(len(data)) == data
        assert abs(rcvtimeo(a) - 7) < 0.01
    finally:
        thread.join()
        a.close()
        b.close()


def test_file_source_take_reuses_its_buffer() -> None:
    src = FileSource(io.BytesIO(bytes(range(256)) * 4), False)
    first = src.take(100)
    assert first.tobytes() == bytes(range(100))
    second = src.take(50)
    assert second.tobytes() == bytes(range(100, 150))
    assert second.obj is first.obj  # the same buffer, read into again
    third = src.take(200)
    assert third.obj is not first.obj  # too small: a bigger one
    assert third.tobytes() == (bytes(range(256)) * 2)[150:350]
    check_error(ProtocolError, 'expected to read 1000 bytes, but received 674',
                src.take, 1000)


def test_body_from_file_to_stream() -> None:
    # A Body read from a file goes to a connection in pieces of
    # piece_size() read into one reused buffer, and arrives whole.
    data = os.urandom(3 * IO_SIZE + 12345)
    assert piece_size(0, len(data)) == FIRST_PIECE
    (a, b) = socket.socketpair()
    (thread, got) = draining(b)
    try:
        stream = Stream(a, timeout=5)
        body = Body(io.BytesIO(data), len(data))
        assert body.write_to(stream) == len(data)
        a.shutdown(socket.SHUT_WR)
        thread.join()
        assert bytes(got) == data
        assert stream.sent == len(data)
    finally:
        a.close()
        b.close()
