# SPDX-License-Identifier: LGPL-3.0-or-later
"""Bounded resources, through real sockets and child processes (issue 13).

What a hostile peer must not be able to take, and how each bound is checked:

* **time**: a body trickled below ``MIN_BODY_RATE`` is cut off (the server
  answers ``408`` and frees the slot; the client raises ``TimeoutError``);
* **memory**: a server or client process holds memory in proportion to
  the bytes a peer actually sent, not to what it announced (the RSS of a
  child process, read from ``/proc``);
* **threads**: when the system refuses a new thread (``RLIMIT_NPROC``), the
  accept loop refuses that connection with a ``503`` and goes on;
* **the log**: however much garbage a peer sends, each connection costs a
  small, constant number of log bytes, at INFO and at WARNING;
* **local access**: ``allowed_uids`` refuses ``AF_UNIX`` peers of other
  users (a real second uid, where the tests run as root).

Child processes are either fresh interpreters (``python3 -c``, for RSS: a
forked child shares, and soon copies, the test process's memory) or forks
(to change uid and limits without exec'ing an interpreter that uid may not
be able to read).  No test asserts how long something took: slow peers are
bounded loops, and "cut off" means "before the loop ran out".
"""

import json
import logging
import multiprocessing
import os
import random
import resource
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

import degu
from degu.client import Client
from degu.limits import MAX_LOGGED_MESSAGE, MAX_IO_SIZE, MIN_BODY_RATE
from degu.server import Server
from degu.sockio import TOO_SLOW
from test_degu.helpers import Live, read_until_closed, reap, wait_until

# Bound for anything that should happen at once.  Only reached when a test
# fails.
PATIENCE = 10.0

HAVE_PROC = os.path.isfile('/proc/self/status')
IS_ROOT = hasattr(os, 'geteuid') and os.geteuid() == 0
LINUX = sys.platform.startswith('linux')
# The uid a root test run switches to, to be "another local user".
NOBODY = 65534

REQUEST_TIMEOUT = (b'HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n'
                   b'connection: close\r\n\r\n')
UNAVAILABLE = (b'HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n'
               b'connection: close\r\n\r\n')


def echo_app(session: Any, request: Any, api: Any) -> Any:
    body = request.body
    data = b'' if body is None else body.read()
    return (200, 'OK', {}, data or request.uri.encode())


def trickle_until_answered(sock: socket.socket, count: int, delay: float) -> bytes:
    """Send one body byte every *delay* seconds until the peer answers.

    Returns what the peer sent back (then closed); b'' if all *count* bytes
    went out unanswered (the peer never cut us off).
    """
    for _ in range(count):
        (readable, _, _) = select.select([sock], [], [], delay)
        if readable:
            return read_until_closed(sock, PATIENCE)
        try:
            sock.sendall(b'x')
        except OSError:
            return read_until_closed(sock, PATIENCE)
    return b''


def child_env() -> Dict[str, str]:
    """The environment of a fresh interpreter that imports *this* degu."""
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(degu.__file__)))
    old = env.get('PYTHONPATH')
    env['PYTHONPATH'] = root if not old else root + os.pathsep + old
    return env


def status(pid: int) -> Dict[str, int]:
    """The numeric fields (kB or counts) of ``/proc/<pid>/status``."""
    fields: Dict[str, int] = {}
    with open('/proc/{}/status'.format(pid)) as fp:
        for line in fp:
            (name, _, value) = line.partition(':')
            parts = value.split()
            if parts and parts[0].isdigit():
                fields[name] = int(parts[0])
    return fields


class Records(logging.Handler):
    """Every record of the 'degu' loggers, formatted as `degu serve` would."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: List[str] = []
        self.setFormatter(logging.Formatter(
            '%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s'
        ))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def records() -> Iterator[Callable[[int], Records]]:
    logger = logging.getLogger('degu')
    saved = (logger.level, logger.propagate)
    handlers: List[Records] = []

    def at(level: int) -> Records:
        handler = Records()
        handlers.append(handler)
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
        return handler
    yield at
    for handler in handlers:
        logger.removeHandler(handler)
    (logger.level, logger.propagate) = saved


# ---------------------------------------------------------------------------
# The body deadline (item 1)

def test_min_body_rate() -> None:
    # Apache mod_reqtimeout's default MinRate.
    assert MIN_BODY_RATE == 500


def test_trickled_bodies_cut_off_slots_freed(records: Callable[[int], Records]) -> None:
    # Two slots, two peers each trickling a body at 20 bytes/s (one byte per
    # 0.05 s): with timeout=0.5 each is cut off after about half a second
    # (its budget of waiting is spent), answered 408, logged once, and its
    # slot is free again: a third connection is served.  Without the body
    # deadline each would hold its slot for the 1000 bytes, 50 s.
    log = records(logging.INFO)
    with Live(('127.0.0.1', 0), echo_app, timeout=0.5, max_connections=2) as live:
        socks = [socket.create_connection(live.address, timeout=PATIENCE)
                 for _ in range(2)]
        peers = [repr(sock.getsockname()) for sock in socks]
        try:
            for sock in socks:
                sock.sendall(b'PUT /up HTTP/1.1\r\ncontent-length: 1000\r\n\r\n')
            results: List[bytes] = [b''] * 2

            def run(i: int) -> None:
                results[i] = trickle_until_answered(socks[i], 1000, 0.05)
            threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            assert results == [REQUEST_TIMEOUT, REQUEST_TIMEOUT]
        finally:
            for sock in socks:
                sock.close()
        conn = Client(live.address, timeout=PATIENCE).connect()
        assert conn.put('/next', {}, b'fast').body.read() == b'fast'
        conn.close()
    for peer in peers:
        # One line says why, at INFO (the other says the connection opened).
        lines = [line for line in log.lines if peer in line]
        assert len(lines) == 2, log.lines
        assert lines[1].endswith(
            "- {} Handled 0 requests: TimeoutError('{}')".format(peer, TOO_SLOW))
        assert ' INFO ' in lines[1]


def test_slow_but_steady_body_is_served() -> None:
    # 1000 bytes every 0.1 s (10 kB/s, 20 times MIN_BODY_RATE) for longer
    # than the timeout: served.
    data = os.urandom(10000)
    with Live(('127.0.0.1', 0), echo_app, timeout=0.4) as live:
        with socket.create_connection(live.address, timeout=PATIENCE) as sock:
            sock.sendall('PUT /up HTTP/1.1\r\ncontent-length: {}\r\n\r\n'.format(
                len(data)).encode())
            for i in range(0, len(data), 1000):
                time.sleep(0.1)
                sock.sendall(data[i:i + 1000])
            expected = 'HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n'.format(
                len(data)).encode() + data
            got = b''
            while len(got) < len(expected):
                part = sock.recv(65536)
                assert part
                got += part
            assert got == expected


class Trickler:
    """A raw server: answers one request with *head*, then trickles *body*."""

    def __init__(self, head: bytes, body: bytes, delay: float) -> None:
        self.listener = socket.socket()
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen(1)
        self.address = self.listener.getsockname()
        self.sent = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(head, body, delay),
                                       daemon=True)
        self.thread.start()

    def _run(self, head: bytes, body: bytes, delay: float) -> None:
        (sock, _) = self.listener.accept()
        with sock:
            sock.settimeout(PATIENCE)
            buf = b''
            while b'\r\n\r\n' not in buf:
                buf += sock.recv(4096)
            sock.sendall(head)
            for i in range(len(body)):
                if self.stop.wait(delay):
                    return
                try:
                    sock.sendall(body[i:i + 1])
                except OSError:
                    return
                self.sent += 1

    def close(self) -> None:
        self.stop.set()
        self.thread.join(PATIENCE)
        self.listener.close()


@pytest.mark.parametrize('head, body, read', [
    pytest.param(b'HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n', b'x' * 1000,
                 lambda body: body.read(), id='Body.read'),
    pytest.param(b'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n',
                 b'1\r\nx\r\n' * 200, lambda body: body.read(), id='ChunkedBody.read'),
    pytest.param(b'HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n', b'x' * 1000,
                 lambda body: list(body), id='Body.iter'),
])
def test_client_cuts_off_trickled_response_body(head: bytes, body: bytes, read: Any) -> None:
    # A hostile server trickles the body (20 bytes/s): the client (timeout
    # 0.3) gives up after about 0.3 s of waiting, closes the connection,
    # and says why.
    server = Trickler(head, body, 0.05)
    try:
        conn = Client(server.address, timeout=0.3).connect()
        response = conn.get('/', {})
        with pytest.raises(TimeoutError) as cm:
            read(response.body)
        assert str(cm.value) == TOO_SLOW
        assert conn.closed is True
        assert server.sent < len(body) // 2
    finally:
        server.close()


# ---------------------------------------------------------------------------
# Memory follows the data received (item 2)

SERVER_SCRIPT = r'''
import json, sys
from degu.server import Server

def app(session, request, api):
    body = request.body
    data = b'' if body is None else body.read()
    return (200, 'OK', {}, str(len(data)).encode())

server = Server(('127.0.0.1', 0), app, max_connections=100, timeout=30)
print(json.dumps(server.address), flush=True)
server.serve_forever()
'''


class ChildServer:
    """SERVER_SCRIPT in a fresh interpreter: its RSS is its own."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, '-c', SERVER_SCRIPT],
                                     stdout=subprocess.PIPE, env=child_env())
        assert self.proc.stdout is not None
        self.address = tuple(json.loads(self.proc.stdout.readline()))
        # Warm up: the first request loads and allocates what every request
        # needs; then only the accept loop's thread is left.
        self.request('PUT', b'hello')
        wait_until(lambda: self.status()['Threads'] == 1, 'the warm-up to end', PATIENCE)

    def request(self, method: str, body: Any) -> bytes:
        conn = Client(self.address, timeout=60).connect()
        try:
            data: bytes = conn.request(method, '/', {}, body).body.read()
            return data
        finally:
            conn.close()

    def status(self) -> Dict[str, int]:
        return status(self.proc.pid)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(PATIENCE)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


@pytest.fixture
def child_server() -> Iterator[ChildServer]:
    server = ChildServer()
    yield server
    server.close()


def reset_peak(pid: int) -> None:
    """Make VmHWM (peak RSS) start again from the current RSS."""
    with open('/proc/{}/clear_refs'.format(pid), 'w') as fp:
        fp.write('5')


@pytest.mark.skipif(not HAVE_PROC, reason='needs /proc')
def test_server_rss_follows_bytes_not_announced_sizes(child_server: ChildServer) -> None:
    # 20 connections announce 16 MiB bodies but send 900 bytes in all, and
    # wait.  Each costs its thread and what arrived (a 64 KiB first piece),
    # not 16 MiB: 320 MiB if buffers followed the announced sizes.
    before = child_server.status()
    socks = []
    try:
        for _ in range(20):
            sock = socket.create_connection(child_server.address, timeout=PATIENCE)
            sock.sendall('PUT / HTTP/1.1\r\ncontent-length: {}\r\n\r\n'.format(
                MAX_IO_SIZE).encode() + b'x' * 45)
            socks.append(sock)
        wait_until(lambda: child_server.status()['Threads'] == 21, 'a thread per connection',
                   PATIENCE)
        time.sleep(0.2)  # (each has read its 45 bytes and waits for more)
        during = child_server.status()
    finally:
        for sock in socks:
            sock.close()
    growth = during['VmRSS'] - before['VmRSS']
    assert growth < 8 * 1024, (before['VmRSS'], during['VmRSS'])


def chunked_wire(count: int) -> bytes:
    return b'2\r\nab\r\n' * count + b'0\r\n\r\n'


def check_chunked_peak(child_server: ChildServer, count: int) -> None:
    wire = chunked_wire(count)
    reset_peak(child_server.proc.pid)
    before = child_server.status()
    conn = Client(child_server.address, timeout=120).connect()
    try:
        sock = conn.sock
        sock.sendall(b'PUT / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n')
        sock.sendall(wire)
        expected = str(2 * count).encode()
        reply = b''
        while not reply.endswith(b'\r\n\r\n' + expected):
            part = sock.recv(4096)
            assert part, reply
            reply += part
    finally:
        conn.close()
    peak = child_server.status()['VmHWM'] - before['VmRSS']
    data_kib = 2 * count // 1024
    # The data gathered in one bytearray, then copied once into bytes: about
    # twice the data; a list of one bytes object per chunk would be 20 times.
    assert peak < 3 * data_kib + 2048, (peak, data_kib)


@pytest.mark.skipif(not HAVE_PROC, reason='needs /proc')
def test_server_chunked_read_peak_about_twice_the_data(child_server: ChildServer) -> None:
    check_chunked_peak(child_server, 131072)  # 256 KiB of data, 900 KiB on the wire


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_PROC, reason='needs /proc')
def test_server_chunked_read_peak_at_the_limit(child_server: ChildServer) -> None:
    # The case: 16 MiB in two-byte chunks (1.1 GiB of RSS once).
    check_chunked_peak(child_server, (MAX_IO_SIZE - 2) // 2)


CLIENT_SCRIPT = r'''
import json, sys, threading, time
from degu.client import Client

def rss(field):
    with open('/proc/self/status') as fp:
        for line in fp:
            if line.startswith(field + ':'):
                return int(line.split()[1])

address = tuple(json.loads(sys.argv[1]))
kind = sys.argv[2]
client = Client(address, timeout=30)
before = rss('VmRSS')
if kind == 'announced':
    started = []
    def read():
        response = client.connect().get('/', {})
        started.append(1)
        try:
            response.body.read()
        except Exception:
            pass
    threads = [threading.Thread(target=read) for _ in range(20)]
    for thread in threads:
        thread.start()
    while len(started) < 20:
        time.sleep(0.01)
    time.sleep(0.3)
    print(json.dumps([before, rss('VmRSS')]), flush=True)
    for thread in threads:
        thread.join()
else:
    with open('/proc/self/clear_refs', 'w') as fp:
        fp.write('5')
    before = rss('VmRSS')
    data = client.connect().get('/', {}).body.read()
    print(json.dumps([before, rss('VmHWM'), len(data)]), flush=True)
'''


class HostileServer:
    """Answers each request with *answer*, then holds until ``close()``."""

    def __init__(self, answer: bytes) -> None:
        self.listener = socket.socket()
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen(32)
        self.address = self.listener.getsockname()
        self.answer = answer
        self.done = threading.Event()
        self.threads: List[threading.Thread] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.done.is_set():
            try:
                (sock, _) = self.listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        with sock:
            sock.settimeout(PATIENCE)
            buf = b''
            while b'\r\n\r\n' not in buf:
                data = sock.recv(4096)
                if not data:
                    return
                buf += data
            sock.sendall(self.answer)
            self.done.wait(60)

    def close(self) -> None:
        self.done.set()
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.thread.join(PATIENCE)
        for thread in self.threads:
            thread.join(PATIENCE)
        self.listener.close()


def run_client(server: HostileServer, kind: str) -> List[int]:
    proc = subprocess.Popen(
        [sys.executable, '-c', CLIENT_SCRIPT, json.dumps(server.address), kind],
        stdout=subprocess.PIPE, env=child_env(),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        server.close()
        assert proc.wait(60) == 0
        result: List[int] = json.loads(line)
        return result
    finally:
        reap(proc)


@pytest.mark.skipif(not HAVE_PROC, reason='needs /proc')
def test_client_rss_follows_bytes_not_announced_sizes() -> None:
    # A hostile server announces 16 MiB bodies and sends 45 bytes of each
    # to 20 client connections reading them.
    server = HostileServer('HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n'.format(
        MAX_IO_SIZE).encode() + b'x' * 45)
    (before, during) = run_client(server, 'announced')
    assert during - before < 8 * 1024, (before, during)


@pytest.mark.skipif(not HAVE_PROC, reason='needs /proc')
def test_client_chunked_read_peak_about_twice_the_data() -> None:
    count = 131072
    server = HostileServer(b'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n'
                           + chunked_wire(count))
    (before, peak, size) = run_client(server, 'chunked')
    assert size == 2 * count
    data_kib = size // 1024
    assert peak - before < 3 * data_kib + 2048, (before, peak, data_kib)


# ---------------------------------------------------------------------------
# A failed thread start costs one connection, not the accept loop (item 3)

def _limited_server(pipe: Any) -> None:
    """In a forked child: serve with RLIMIT_NPROC too low for any new thread.

    Root ignores RLIMIT_NPROC, so a root child first becomes NOBODY.
    SIGUSR1 lifts the limit again.
    """
    try:
        server = Server(('127.0.0.1', 0), echo_app, timeout=PATIENCE)
        if IS_ROOT:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
        (soft, hard) = resource.getrlimit(resource.RLIMIT_NPROC)
        resource.setrlimit(resource.RLIMIT_NPROC, (1, hard))

        def lift(signum: int, frame: Any) -> None:
            resource.setrlimit(resource.RLIMIT_NPROC, (hard, hard))
            pipe.send('lifted')
        signal.signal(signal.SIGUSR1, lift)
        try:
            threading.Thread(target=int).start()
            pipe.send('the limit does not bite')
            return
        except RuntimeError:
            pass
        pipe.send(server.address)
        server.serve_forever()
    finally:
        pipe.close()


@pytest.mark.skipif(not LINUX, reason='RLIMIT_NPROC counts threads on Linux')
def test_accept_loop_survives_failed_thread_start() -> None:
    ctx = multiprocessing.get_context('fork')
    (ours, theirs) = ctx.Pipe()
    proc = ctx.Process(target=_limited_server, args=(theirs,), daemon=True)
    proc.start()
    theirs.close()
    try:
        assert ours.poll(PATIENCE)
        address = ours.recv()
        if type(address) is str:
            pytest.skip(address)
        # Every connection is refused (no thread for it), one by one, and
        # the loop goes on to the next.
        for _ in range(3):
            with socket.create_connection(address, timeout=PATIENCE) as sock:
                assert read_until_closed(sock, PATIENCE) == UNAVAILABLE
        os.kill(proc.pid, signal.SIGUSR1)
        assert ours.poll(PATIENCE) and ours.recv() == 'lifted'
        # Threads again: served.
        conn = Client(address, timeout=PATIENCE).connect()
        assert conn.get('/back', {}).body.read() == b'/back'
        conn.close()
        assert proc.is_alive()
    finally:
        proc.terminate()
        proc.join(PATIENCE)
        ours.close()


# ---------------------------------------------------------------------------
# Bounded logging (item 5)

GARBAGE = [
    pytest.param(random.Random(13).randbytes(32768), id='random-bytes'),
    pytest.param(b'x' * 32768, id='no-line-end'),
    pytest.param(b'\r\n'.join([b'junk'] * 6000) + b'\r\n\r\n', id='junk-lines'),
    pytest.param(b'GET / HTTP/1.1\r\n' + b'bad header line\r\n' * 1800 + b'\r\n',
                 id='bad-headers'),
    pytest.param(b'PUT / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n'
                 + b'z' * 4000 + b'\r\n' + b'q' * 28000, id='bad-chunk'),
]

# What a connection may cost in the log: its two lines (opened, ended),
# with the peer's message cut to MAX_LOGGED_MESSAGE, plus their prefixes.
PER_CONNECTION = 2 * (MAX_LOGGED_MESSAGE + 150)


LOG_SCRIPT = r'''
import json, logging, sys
from degu.server import Server

def app(session, request, api):
    if request.body is not None:
        request.body.read()
    return (200, 'OK', {}, b'fine')

# As `degu serve` logs (`-q`: WARNING).
logging.basicConfig(level=int(sys.argv[1]), stream=sys.stderr,
                    format='%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s')
server = Server(('127.0.0.1', 0), app, timeout=10)
print(json.dumps(server.address), flush=True)
server.serve_forever()
'''


@pytest.mark.parametrize('level', [logging.INFO, logging.WARNING])
@pytest.mark.parametrize('garbage', GARBAGE)
def test_log_bounded_per_connection(level: int, garbage: bytes) -> None:
    # The server runs in a child process whose log (stderr) is all its own.
    count = 10
    proc = subprocess.Popen([sys.executable, '-c', LOG_SCRIPT, str(level)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=child_env())
    try:
        assert proc.stdout is not None and proc.stderr is not None
        address = tuple(json.loads(proc.stdout.readline()))
        for _ in range(count):
            with socket.create_connection(address, timeout=PATIENCE) as sock:
                try:
                    sock.sendall(garbage)
                except OSError:
                    pass  # the server answered and closed before all of it
                answer = read_until_closed(sock, PATIENCE)
                assert answer.startswith(b'HTTP/1.1 4')
        # (Each connection's last line is logged before it is closed.)
    finally:
        proc.terminate()
        (_, err) = proc.communicate(timeout=PATIENCE)
    lines = err.decode().splitlines()
    assert sum(len(line) + 1 for line in lines) <= count * PER_CONNECTION, lines[:4]
    if level == logging.WARNING:
        # `degu serve -q`: a peer's fault is not worth a warning.
        assert lines == []
    else:
        assert len(lines) == 2 * count + 2, lines  # (+ the two startup lines)
        assert not any('Traceback' in line for line in lines)


# ---------------------------------------------------------------------------
# Local access: allowed_uids (item 7)

def _connect_as(uid: int, address: Any, pipe: Any) -> None:
    """In a forked child: become *uid*, send a GET over AF_UNIX, report the reply."""
    try:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(PATIENCE)
        try:
            sock.connect(address)
        except OSError as e:
            sock.close()
            pipe.send(('error', repr(e)))
            return
        reply = b''
        try:
            # (A refused peer may see its send fail: the server closed first.)
            sock.sendall(b'GET /hi HTTP/1.1\r\n\r\n')
            while not reply.endswith(b'/hi'):  # (the connection stays open)
                data = sock.recv(4096)
                if not data:
                    break
                reply += data
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            sock.close()
        pipe.send(('reply', reply))
    finally:
        pipe.close()


def as_user(uid: int, address: Any) -> Tuple[str, Any]:
    """What a GET from another local user, *uid*, gets."""
    ctx = multiprocessing.get_context('fork')
    (ours, theirs) = ctx.Pipe()
    proc = ctx.Process(target=_connect_as, args=(uid, address, theirs))
    proc.start()
    theirs.close()
    try:
        assert ours.poll(PATIENCE)
        result: Tuple[str, Any] = ours.recv()
        return result
    finally:
        proc.join(PATIENCE)
        ours.close()


def get_raw(address: Any) -> bytes:
    family = socket.AF_UNIX if type(address) in (str, bytes) else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(PATIENCE)
        sock.connect(address)
        try:
            sock.sendall(b'GET /hi HTTP/1.1\r\nconnection: close\r\n\r\n')
        except BrokenPipeError:
            # A refused peer may be closed before its request is even
            # written: still read whatever the server said (nothing).
            pass
        return read_until_closed(sock, PATIENCE)


SERVED = b'HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 3\r\n\r\n/hi'
SERVED_KEEP = b'HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n/hi'


def abstract_name() -> bytes:
    return '\0degu-test-{}-{}'.format(os.getpid(), time.monotonic_ns()).encode()


@pytest.mark.skipif(not LINUX, reason='SO_PEERCRED and abstract names are Linux')
def test_allowed_uids_own_user(records: Callable[[int], Records]) -> None:
    log = records(logging.WARNING)
    me = os.getuid()
    with Live(abstract_name(), echo_app, allowed_uids=(me,)) as live:
        assert get_raw(live.address) == SERVED
    with Live(abstract_name(), echo_app, allowed_uids=(me + 1, me + 2)) as live:
        # Refused before any request: closed without a word.
        assert get_raw(live.address) == b''
        assert get_raw(live.address) == b''
    refused = [line for line in log.lines if 'Refused' in line]
    assert len(refused) == 2
    assert all(' WARNING ' in line for line in refused)
    assert refused[0].endswith(
        'Refused an AF_UNIX peer: uid {} (pid {}) is not in allowed_uids'.format(
            me, os.getpid()))


def test_allowed_uids_ignored_for_tcp() -> None:
    with Live(('127.0.0.1', 0), echo_app, allowed_uids=(os.getuid() + 1,)) as live:
        assert get_raw(live.address) == SERVED


@pytest.mark.skipif(not (LINUX and IS_ROOT), reason='needs root, to be a second user')
def test_abstract_name_open_to_every_local_user() -> None:
    # What the docs warn about: no file, no permissions; only allowed_uids.
    with Live(abstract_name(), echo_app) as live:
        assert as_user(NOBODY, live.address) == ('reply', SERVED_KEEP)
    with Live(abstract_name(), echo_app, allowed_uids=(os.getuid(),)) as live:
        assert as_user(NOBODY, live.address) == ('reply', b'')
        assert get_raw(live.address) == SERVED
    with Live(abstract_name(), echo_app, allowed_uids=(os.getuid(), NOBODY)) as live:
        assert as_user(NOBODY, live.address) == ('reply', SERVED_KEEP)


@pytest.mark.skipif(not (LINUX and IS_ROOT), reason='needs root, to be a second user')
def test_socket_file_permissions_and_allowed_uids() -> None:
    tmpdir = tempfile.mkdtemp(prefix='degu.')
    try:
        filename = os.path.join(tmpdir, 'app.socket')
        with Live(filename, echo_app) as live:
            # A directory only its owner may enter keeps other users out.
            os.chmod(tmpdir, 0o700)
            (kind, error) = as_user(NOBODY, live.address)
            assert kind == 'error' and 'PermissionError' in error
            # Opened up, file permissions are all there is...
            os.chmod(tmpdir, 0o755)
            os.chmod(filename, 0o777)
            assert as_user(NOBODY, live.address) == ('reply', SERVED_KEEP)
        os.remove(filename)
        with Live(filename, echo_app, allowed_uids=(os.getuid(),)) as live:
            # ...unless allowed_uids says who.
            os.chmod(tmpdir, 0o755)
            os.chmod(filename, 0o777)
            assert as_user(NOBODY, live.address) == ('reply', b'')
            assert get_raw(live.address) == SERVED
    finally:
        if os.path.exists(os.path.join(tmpdir, 'app.socket')):
            os.remove(os.path.join(tmpdir, 'app.socket'))
        os.rmdir(tmpdir)

