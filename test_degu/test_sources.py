# SPDX-License-Identifier: LGPL-3.0-or-later
"""Tests for degu.sources: what bodies read from, and the kernel-waiting calls.

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
from degu.sources import FileSource, blocking_call, piece_size
from test_degu.helpers import draining
from test_degu.test_sockio import check_error

NO_TIMEVAL = struct.pack('ll', 0, 0)


def test_blocking_call_times_out_and_restores() -> None:
    # Nothing arrives: the kernel gives up after `seconds`, and the socket's
    # own timeout and the kernel option are as they were.
    (a, b) = socket.socketpair()
    a.settimeout(7)
    try:
        with pytest.raises(BlockingIOError):
            blocking_call(a, socket.SO_RCVTIMEO, 0.05, a.recv, 10, socket.MSG_WAITALL)
        assert a.gettimeout() == 7
        assert a.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, 16) == NO_TIMEVAL
    finally:
        a.close()
        b.close()


def test_blocking_call_waits_for_all() -> None:
    # MSG_WAITALL: one call returns every byte, sent in pieces meanwhile.
    (a, b) = socket.socketpair()
    a.settimeout(7)
    data = os.urandom(3 * IO_SIZE)

    def send() -> None:
        for i in range(0, len(data), 100000):
            b.sendall(data[i:i + 100000])
    thread = threading.Thread(target=send)
    thread.start()
    try:
        assert blocking_call(a, socket.SO_RCVTIMEO, 5, a.recv, len(data),
                             socket.MSG_WAITALL) == data
        assert a.gettimeout() == 7
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
