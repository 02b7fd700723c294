"""Degu's benchmark: ``python3 -m degu bench`` (the numbers of the README table).

What is measured, and against what:

* **Ping-pong.**  A POST with a 100-byte body, echoed back by the server,
  over one persistent connection, the server in a child process.  The same
  workload runs three ways, interleaved (A B C A B C ...) so that slow drift
  of the machine hits every case alike:

  ========  ============================================================
  ``raw``   plain ``send``/``recv`` of 100 bytes each way: no HTTP at all,
            the floor any HTTP library sits on
  ``degu``  ``degu.client.Connection.post()`` to a ``degu.server.Server``
  ``stdlib``  ``http.client.HTTPConnection`` to ``http.server``'s threading
            server speaking HTTP/1.1 (one ``send()`` per response,
            ``TCP_NODELAY``)
  ========  ============================================================

  For each case: the median of the per-round round trips per second, and
  the CPU time per round trip of client and server together (each process
  measures its own ``time.process_time()``; the server reports its figure
  over a pipe).  Families: ``unix`` (``AF_UNIX``), ``inet``, ``inet6`` and
  ``tls`` (TLS over ``AF_INET``).

* **Large bodies.**  16 MiB sent up and echoed back over ``AF_UNIX``, as a
  content-length ``Body`` and as a ``ChunkedBody`` (16 chunks of 1 MiB),
  in MB/s (10**6 bytes), against a raw socket copy of the same bytes.

* **Concurrency.**  1, 10 and 50 keep-alive degu clients (threads, one
  connection each) against one server: total round trips per second, and
  the errors seen (there must be none).

* **Footprint.**  The cost of ``import degu`` (fresh interpreter, best of
  N), the RSS growth of importing ``degu.server`` and ``degu.client``, and
  the server RSS per idle keep-alive connection.

By default every process is pinned to one CPU (``os.sched_setaffinity``):
on a small VM, waking a process on another CPU costs more than the work of a
whole round trip and swings results several-fold.  ``--no-pin`` turns this
off.  Timings are never asserted anywhere; the targets below are reported
with PASS/FAIL only.
"""

import argparse
import cProfile
import http.client
import http.server
import importlib
import json
import multiprocessing
import os
import platform
import pstats
import shutil
import socket
import socketserver
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

import degu

# -- workload ------------------------------------------------------------------

PING_SIZE = 100
PING_BODY = bytes(range(PING_SIZE))
PING_URI = '/ping'

LARGE_SIZE = 16 * 1024 * 1024
LARGE_CHUNK = 1024 * 1024

CONCURRENCY_LEVELS = (1, 10, 50)
IDLE_CONNECTIONS = 50

# The server closes a connection after this many requests (degu's maximum);
# a timed slice stops a little before it, and each slice gets a new
# connection, opened before the clock starts.
SERVER_MAX_REQUESTS = 75000
SLICE_MAX_REQUESTS = 70000

# Round trips between two looks at the clock.
BATCH = 20

FAMILIES = ('unix', 'inet', 'inet6', 'tls')
CASES = ('raw', 'degu', 'stdlib')
LARGE_CASES = ('raw', 'degu-body', 'degu-chunked', 'degu-read')

PIN_NOTE = (
    'client and server processes pinned to CPU {} (os.sched_setaffinity); '
    'on a small VM cross-CPU wake-ups otherwise dominate and swing results '
    'several-fold. Use --no-pin to unpin.'
)
UNPIN_NOTE = (
    'not pinned (--no-pin): cross-CPU wake-ups may dominate and swing '
    'results several-fold; the ratio targets are defined for pinned runs.'
)

# Targets from the performance issue: (key, description, limit, higher is better).
TARGETS: Tuple[Tuple[str, str, float, bool], ...] = (
    ('degu_vs_raw', 'ping-pong degu/raw (unix)', 0.50, True),
    ('degu_vs_stdlib', 'ping-pong degu/stdlib (unix)', 6.0, True),
    ('body_vs_raw', '16 MiB Body vs raw (unix)', 0.8, True),
    ('chunked_vs_raw', '16 MiB chunked vs raw (unix)', 0.8, True),
    ('import_ms', 'import degu, ms', 1.0, False),
    ('import_submodules', 'import degu loads no submodule', 0, False),
    ('rss_import_mib', 'RSS growth importing server+client, MiB', 3.0, False),
    ('idle_conn_kib', 'server RSS per idle keep-alive connection, KiB', 100.0, False),
    ('concurrency_errors', 'errors with 1/10/50 concurrent clients', 0, False),
)


class Settings:
    """How long and how often to run each part."""

    def __init__(self, rounds: int, seconds: float, warmup: float,
                 large_reps: int, concurrency_seconds: float,
                 import_runs: int, rss_runs: int) -> None:
        self.rounds = rounds
        self.seconds = seconds
        self.warmup = warmup
        self.large_reps = large_reps
        self.concurrency_seconds = concurrency_seconds
        self.import_runs = import_runs
        self.rss_runs = rss_runs

    def as_dict(self) -> Dict[str, Any]:
        return dict(vars(self))


# -- progress ------------------------------------------------------------------

class Progress:
    """One status line on stderr: rewritten in place on a terminal."""

    def __init__(self, total: int, quiet: bool = False) -> None:
        self.total = total
        self.done = 0
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.width = 0

    def step(self, text: str) -> None:
        self.done += 1
        self.show(text)

    def show(self, text: str) -> None:
        if self.quiet:
            return
        line = '[{:3d}/{:3d}] {}'.format(min(self.done, self.total), self.total, text)
        if self.tty:
            pad = max(0, self.width - len(line))
            sys.stderr.write('\r' + line + ' ' * pad)
            self.width = len(line)
        else:
            sys.stderr.write(line + '\n')
        sys.stderr.flush()

    def finish(self) -> None:
        if self.tty and not self.quiet and self.width:
            sys.stderr.write('\r' + ' ' * self.width + '\r')
            sys.stderr.flush()


# -- memory helpers --------------------------------------------------------------

def read_status_kib(field: str) -> Optional[int]:
    """A ``kB`` field (``VmRSS``, ``VmSize``) of ``/proc/self/status``, or None."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


# -- the servers, run in child processes ---------------------------------------------

class ErrorCounter:
    """Counts what went wrong inside a server child (thread-safe enough: GIL)."""

    def __init__(self) -> None:
        self.count = 0
        self.last: Optional[str] = None

    def add(self, what: str) -> None:
        self.count += 1
        self.last = what


class _CountingHandler:
    """A logging handler factory: counts ``degu.server`` records >= WARNING."""

    @staticmethod
    def install(counter: ErrorCounter) -> None:
        import logging

        class Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                counter.add(record.getMessage())

        log = logging.getLogger('degu.server')
        log.addHandler(Handler(logging.WARNING))
        log.propagate = False


def echo_app(session: Any, request: Any, api: Any) -> Tuple[int, str, Dict[str, Any], Any]:
    """The RGI app of the ping-pong cases: echo the request body back."""
    body = request.body
    if body is None:
        return (200, 'OK', {}, None)
    return (200, 'OK', {}, body.read())


def _recv_exactly(sock: socket.socket, view: memoryview) -> bool:
    """Fill *view*; False on a clean close before the first byte."""
    size = len(view)
    got = sock.recv_into(view)
    if got == size:
        return True
    if got == 0:
        return False
    while got < size:
        added = sock.recv_into(view[got:])
        if added == 0:
            raise ConnectionError('peer closed after {} of {} bytes'.format(got, size))
        got += added
    return True


def _raw_echo(sock: socket.socket, size: int, counter: ErrorCounter) -> None:
    """Receive exactly *size* bytes, send them back, until the peer closes."""
    buf = bytearray(size)
    view = memoryview(buf)
    try:
        while _recv_exactly(sock, view):
            sock.sendall(view)
    except Exception as e:
        counter.add(repr(e))
    finally:
        sock.close()


class RawServer:
    """The floor: a thread per connection echoing fixed-size messages."""

    def __init__(self, sock: socket.socket, size: int, counter: ErrorCounter,
                 sslctx: Any = None) -> None:
        self.sock = sock
        self.size = size
        self.counter = counter
        self.sslctx = sslctx

    def serve_forever(self) -> None:
        while True:
            (conn, _) = self.sock.accept()
            if conn.family != socket.AF_UNIX:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.sslctx is not None:
                conn = self.sslctx.wrap_socket(conn, server_side=True)
            threading.Thread(
                target=_raw_echo, args=(conn, self.size, self.counter), daemon=True
            ).start()


class StdlibHandler(http.server.BaseHTTPRequestHandler):
    """Echo handler for the stdlib case, as a careful stdlib user would write it.

    ``wbufsize`` buffers the status line, headers and body; ``http.server``
    flushes after each request, so every response leaves in one ``send()``.
    """

    protocol_version = 'HTTP/1.1'
    wbufsize = 65536
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        size = int(self.headers['Content-Length'])
        data = self.rfile.read(size)
        self.send_response(200)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class StdlibUnixHandler(StdlibHandler):
    disable_nagle_algorithm = False  # TCP_NODELAY does not exist for AF_UNIX


class _ErrorCounting:
    """Mixin: count handler exceptions instead of printing tracebacks."""

    counter: ErrorCounter

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.counter.add(repr(sys.exc_info()[1]))


class StdlibServer(_ErrorCounting, http.server.ThreadingHTTPServer):
    daemon_threads = True


class StdlibServer6(StdlibServer):
    address_family = socket.AF_INET6


class StdlibTLSServer(StdlibServer):
    """``ThreadingHTTPServer`` with each accepted socket wrapped in TLS."""

    sslctx: Any = None

    def get_request(self) -> Tuple[Any, Any]:
        (sock, address) = self.socket.accept()
        return (self.sslctx.wrap_socket(sock, server_side=True), address)


class StdlibUnixServer(_ErrorCounting, socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


def _family_address(family: str, tmpdir: str, name: str) -> Any:
    if family == 'unix':
        return os.path.join(tmpdir, name + '.sock')
    if family == 'inet6':
        return ('::1', 0, 0, 0)
    return ('127.0.0.1', 0)


def _bind(family: str, address: Any) -> socket.socket:
    if family == 'unix':
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    elif family == 'inet6':
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(address)
    sock.listen(64)
    return sock


class ServerSpec:
    """What a child process should serve."""

    def __init__(self, kind: str, family: str, address: Any,
                 sslconfig: Optional[Dict[str, Any]] = None, size: int = PING_SIZE,
                 options: Optional[Dict[str, Any]] = None,
                 profile: Optional[str] = None,
                 app: Optional[Callable[..., Any]] = None) -> None:
        self.kind = kind
        self.family = family
        self.address = address
        self.sslconfig = sslconfig
        self.size = size
        self.options = options if options is not None else {}
        self.profile = profile
        self.app = app if app is not None else echo_app


def _server_sslctx(spec: ServerSpec) -> Any:
    """The server ``SSLContext`` of a ``tls`` spec, else None."""
    if spec.family != 'tls':
        return None
    if spec.sslconfig is None:
        raise ValueError('tls server needs an sslconfig')
    from degu.tls import build_server_sslctx
    return build_server_sslctx(spec.sslconfig)


def _compiled() -> bool:
    """True when degu.server is a mypyc-compiled extension module."""
    import degu.server
    return not str(degu.server.__file__).endswith('.py')


def _build_degu_server(spec: ServerSpec, counter: ErrorCounter,
                       finished: threading.Event, sslctx: Any) -> Any:
    from degu.server import Server, SSLServer
    _CountingHandler.install(counter)
    options = dict(spec.options)
    options.setdefault('max_requests', SERVER_MAX_REQUESTS)
    if spec.profile is not None:
        profiler = cProfile.Profile()
        path = spec.profile

        class ProfiledServer(Server):
            """Profiles the (single) connection thread, then saves the stats."""

            def _connection(self, *args: Any) -> None:
                profiler.enable()
                try:
                    super()._connection(*args)
                finally:
                    profiler.disable()
                    profiler.dump_stats(path)
                    finished.set()

        return ProfiledServer(spec.address, spec.app, **options)
    if sslctx is not None:
        return SSLServer(sslctx, spec.address, spec.app, **options)
    return Server(spec.address, spec.app, **options)


def _build_server(spec: ServerSpec, counter: ErrorCounter,
                  finished: threading.Event) -> Tuple[Any, Any]:
    """Return ``(server, address)``; ``server.serve_forever()`` runs in a thread."""
    sslctx = _server_sslctx(spec)
    if spec.kind == 'degu':
        server = _build_degu_server(spec, counter, finished, sslctx)
        return (server, server.address)
    if spec.kind == 'raw':
        sock = _bind(spec.family, spec.address)
        return (RawServer(sock, spec.size, counter, sslctx), sock.getsockname())
    if spec.kind == 'stdlib':
        if spec.family == 'unix':
            handler: Any = StdlibUnixHandler
            stdlib: Any = StdlibUnixServer(spec.address, handler)
        elif spec.family == 'inet6':
            stdlib = StdlibServer6(spec.address[:2], StdlibHandler)
        elif spec.family == 'tls':
            stdlib = StdlibTLSServer(spec.address, StdlibHandler)
            stdlib.sslctx = sslctx
        else:
            stdlib = StdlibServer(spec.address, StdlibHandler)
        stdlib.counter = counter
        return (stdlib, stdlib.server_address)
    raise ValueError('unknown server kind: {!r}'.format(spec.kind))


def _server_child(conn: Any, spec: ServerSpec) -> None:
    """Child process: serve *spec* in a thread, answer questions on *conn*.

    Questions: ``'cpu'`` (``time.process_time()`` of this whole process),
    ``'mem'`` (VmRSS and VmSize in KiB, thread count),
    ``'errors'`` (count, last), ``'stop'``.
    """
    counter = ErrorCounter()
    finished = threading.Event()
    try:
        (server, address) = _build_server(spec, counter, finished)
    except BaseException as e:
        conn.send(('error', repr(e)))
        return
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn.send(('ready', address))
    while True:
        try:
            question = conn.recv()
        except EOFError:
            return
        if question == 'cpu':
            conn.send(time.process_time())
        elif question == 'mem':
            conn.send((read_status_kib('VmRSS'), read_status_kib('VmSize'),
                       threading.active_count()))
        elif question == 'errors':
            conn.send((counter.count, counter.last))
        elif question == 'stop':
            if spec.profile is not None:
                finished.wait(10)
            conn.send('stopped')
            return


class ServerProcess:
    """Parent-side handle of one server child process."""

    def __init__(self, spec: ServerSpec) -> None:
        ctx = multiprocessing.get_context('fork')
        (self.conn, child_conn) = ctx.Pipe()
        self.spec = spec
        self.process = ctx.Process(target=_server_child, args=(child_conn, spec),
                                   daemon=True)
        self.process.start()
        child_conn.close()
        if not self.conn.poll(30):
            self.stop()
            raise RuntimeError('{} server did not start'.format(spec.kind))
        (status, value) = self.conn.recv()
        if status != 'ready':
            self.stop()
            raise RuntimeError('{} server failed: {}'.format(spec.kind, value))
        self.address = value

    def ask(self, question: str) -> Any:
        self.conn.send(question)
        return self.conn.recv()

    def cpu(self) -> float:
        return float(self.ask('cpu'))

    def errors(self) -> Tuple[int, Optional[str]]:
        (count, last) = self.ask('errors')
        return (count, last)

    def stop(self) -> None:
        if self.process.is_alive():
            try:
                self.ask('stop')
            except (OSError, EOFError):
                pass
            self.process.join(5)
            if self.process.is_alive():
                self.process.terminate()
                self.process.join()
        self.conn.close()


# -- the clients, run in this process ---------------------------------------------------

class Ping:
    """A ping-pong client: ``run()`` does round trips on one connection."""

    def __init__(self, family: str, address: Any, sslctx: Any) -> None:
        self.family = family
        self.address = address
        self.sslctx = sslctx

    def open(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def round_trips(self, count: int) -> None:
        raise NotImplementedError

    def run(self, seconds: float) -> int:
        """Round trips for *seconds* (checked every ``BATCH``); returns the count."""
        stop = time.perf_counter() + seconds
        done = 0
        while done < SLICE_MAX_REQUESTS:
            self.round_trips(BATCH)
            done += BATCH
            if time.perf_counter() >= stop:
                break
        return done


def _connect_raw(family: str, address: Any, sslctx: Any) -> socket.socket:
    if family == 'unix':
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(address)
        return sock
    sock = socket.create_connection(address[:2])
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if sslctx is not None:
        wrapped: socket.socket = sslctx.wrap_socket(sock, server_hostname=address[0])
        return wrapped
    return sock


class RawPing(Ping):
    def open(self) -> None:
        self.sock = _connect_raw(self.family, self.address, self.sslctx)
        self.buf = bytearray(PING_SIZE)
        self.view = memoryview(self.buf)

    def close(self) -> None:
        self.sock.close()

    def round_trips(self, count: int) -> None:
        sock = self.sock
        view = self.view
        for _ in range(count):
            sock.sendall(PING_BODY)
            if not _recv_exactly(sock, view):
                raise ConnectionError('raw server closed the connection')
        if self.buf != PING_BODY:
            raise ValueError('raw echo mismatch')


def degu_client(family: str, address: Any, sslctx: Any) -> Any:
    from degu.client import Client, SSLClient
    if family == 'tls':
        return SSLClient(sslctx, address)
    return Client(address)


class DeguPing(Ping):
    def open(self) -> None:
        self.conn = degu_client(self.family, self.address, self.sslctx).connect()

    def close(self) -> None:
        self.conn.close()

    def round_trips(self, count: int) -> None:
        request = self.conn.request
        for _ in range(count):
            response = request('POST', PING_URI, {}, PING_BODY)
            data = response.body.read()
        if response.status != 200 or data != PING_BODY:
            raise ValueError('degu echo mismatch: {!r}'.format(response))


class UnixHTTPConnection(http.client.HTTPConnection):
    """``http.client`` over ``AF_UNIX`` (the stdlib has no such class)."""

    def __init__(self, path: str) -> None:
        super().__init__('localhost')
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(self.path)
        self.sock = sock


def stdlib_connection(family: str, address: Any, sslctx: Any) -> http.client.HTTPConnection:
    if family == 'unix':
        return UnixHTTPConnection(address)
    if family == 'tls':
        return http.client.HTTPSConnection(address[0], address[1], context=sslctx)
    return http.client.HTTPConnection(address[0], address[1])


class StdlibPing(Ping):
    def open(self) -> None:
        self.conn = stdlib_connection(self.family, self.address, self.sslctx)
        self.conn.connect()

    def close(self) -> None:
        self.conn.close()

    def round_trips(self, count: int) -> None:
        conn = self.conn
        for _ in range(count):
            conn.request('POST', PING_URI, PING_BODY)
            response = conn.getresponse()
            data = response.read()
        if response.status != 200 or data != PING_BODY:
            raise ValueError('stdlib echo mismatch')


PING_CLASSES: Dict[str, Callable[[str, Any, Any], Ping]] = {
    'raw': RawPing,
    'degu': DeguPing,
    'stdlib': StdlibPing,
}


# -- TLS ------------------------------------------------------------------------

class TLSSetup:
    """A throw-away PKI and the two contexts built from it, or why not."""

    def __init__(self) -> None:
        self.pki: Any = None
        self.server_sslconfig: Optional[Dict[str, Any]] = None
        self.client_sslctx: Any = None
        self.skip_reason: Optional[str] = None
        try:
            importlib.import_module('degu.tls')
        except ImportError as e:
            self.skip_reason = 'degu.tls is not available yet ({})'.format(e)
            return
        if shutil.which('openssl') is None:
            self.skip_reason = 'the openssl binary (needed by TempPKI) is missing'
            return
        try:
            try:
                # degu.misc re-exports TempPKI once it exists.
                helpers = importlib.import_module('degu.misc')
            except ImportError:
                helpers = importlib.import_module('degu.sslhelpers')
            TempPKI = getattr(helpers, 'TempPKI')
            from degu.tls import build_client_sslctx, build_server_sslctx
            self.pki = TempPKI()
            self.server_sslconfig = self.pki.server_sslconfig
            build_server_sslctx(self.server_sslconfig)
            self.client_sslctx = build_client_sslctx(self.pki.client_sslconfig)
        except Exception as e:
            self.skip_reason = 'TLS setup failed: {!r}'.format(e)

    def cleanup(self) -> None:
        if self.pki is not None:
            self.pki.__del__()
            self.pki = None


def family_skip_reason(family: str, tls: Optional[TLSSetup]) -> Optional[str]:
    if family == 'unix' and not hasattr(socket, 'AF_UNIX'):
        return 'AF_UNIX is not available on this platform'
    if family == 'inet6':
        if not socket.has_ipv6:
            return 'IPv6 is not available'
        try:
            probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            try:
                probe.bind(('::1', 0, 0, 0))
            finally:
                probe.close()
        except OSError as e:
            return 'cannot bind ::1 ({})'.format(e)
    if family == 'tls':
        if tls is None:
            return 'TLS not set up'
        return tls.skip_reason
    return None


# -- statistics helpers ------------------------------------------------------------------

def median(values: List[float]) -> Optional[float]:
    return statistics.median(values) if values else None


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    if a is None or b is None or b == 0:
        return None
    return a / b


# -- part 1: ping-pong -----------------------------------------------------------------

class CaseRun:
    """One case of one family: its server, its client, its samples."""

    def __init__(self, family: str, case: str) -> None:
        self.family = family
        self.case = case
        self.server: Optional[ServerProcess] = None
        self.client: Optional[Ping] = None
        self.samples: List[Dict[str, float]] = []
        self.errors: List[str] = []

    def error(self, e: BaseException) -> None:
        self.errors.append('{}/{}: {!r}'.format(self.family, self.case, e))

    def timed_slice(self, seconds: float, record: bool) -> None:
        server = self.server
        client = self.client
        if server is None or client is None or self.errors:
            return
        try:
            client.open()
            try:
                server_cpu0 = server.cpu()
                cpu0 = time.process_time()
                t0 = time.perf_counter()
                count = client.run(seconds)
                wall = time.perf_counter() - t0
                cpu1 = time.process_time()
                server_cpu1 = server.cpu()
            finally:
                client.close()
        except Exception as e:
            self.error(e)
            return
        if not record:
            return
        client_us = (cpu1 - cpu0) / count * 1e6
        server_us = (server_cpu1 - server_cpu0) / count * 1e6
        self.samples.append({
            'round_trips': count,
            'seconds': wall,
            'rt_per_s': count / wall,
            'cpu_us': client_us + server_us,
            'client_cpu_us': client_us,
            'server_cpu_us': server_us,
        })

    def result(self) -> Dict[str, Any]:
        samples = self.samples
        if self.server is not None:
            try:
                (count, last) = self.server.errors()
            except (OSError, EOFError) as e:
                count, last = 1, repr(e)
            if count:
                self.errors.append('{}/{} server: {} errors, last: {}'.format(
                    self.family, self.case, count, last))
        return {
            'rt_per_s': median([s['rt_per_s'] for s in samples]),
            'cpu_us_per_rt': median([s['cpu_us'] for s in samples]),
            'client_cpu_us_per_rt': median([s['client_cpu_us'] for s in samples]),
            'server_cpu_us_per_rt': median([s['server_cpu_us'] for s in samples]),
            'round_trips': sum(int(s['round_trips']) for s in samples),
            'samples': [round(s['rt_per_s'], 1) for s in samples],
            'errors': list(self.errors),
        }


def bench_family(family: str, settings: Settings, tmpdir: str,
                 tls: Optional[TLSSetup], progress: Progress) -> Dict[str, Any]:
    sslconfig = tls.server_sslconfig if (family == 'tls' and tls) else None
    client_sslctx = tls.client_sslctx if (family == 'tls' and tls) else None
    runs = [CaseRun(family, case) for case in CASES]
    try:
        for run in runs:
            spec = ServerSpec(run.case, family,
                              _family_address(family, tmpdir, run.case), sslconfig)
            try:
                run.server = ServerProcess(spec)
                run.client = PING_CLASSES[run.case](family, run.server.address,
                                                    client_sslctx)
            except Exception as e:
                run.error(e)
        for run in runs:
            run.timed_slice(settings.warmup, False)
        for r in range(settings.rounds):
            for run in runs:
                run.timed_slice(settings.seconds, True)
                last = run.samples[-1]['rt_per_s'] if run.samples else 0.0
                progress.step('{} {} round {}/{}: {:,.0f} round trips/s'.format(
                    family, run.case, r + 1, settings.rounds, last))
        cases = {run.case: run.result() for run in runs}
    finally:
        for run in runs:
            if run.server is not None:
                run.server.stop()
    degu_rt = cases['degu']['rt_per_s']
    return {
        'family': family,
        'cases': cases,
        'degu_vs_raw': ratio(degu_rt, cases['raw']['rt_per_s']),
        'degu_vs_stdlib': ratio(degu_rt, cases['stdlib']['rt_per_s']),
        'cpu_raw_vs_degu': ratio(cases['raw']['cpu_us_per_rt'],
                                 cases['degu']['cpu_us_per_rt']),
        'cpu_stdlib_vs_degu': ratio(cases['stdlib']['cpu_us_per_rt'],
                                    cases['degu']['cpu_us_per_rt']),
    }


# -- part 2: large bodies -----------------------------------------------------------------

_LARGE: Dict[str, Any] = {}


def large_data() -> Tuple[bytes, List[Tuple[None, bytes]]]:
    """The 16 MiB payload and its 1 MiB chunks (+ the empty last one), built once.

    Built lazily, so importing this module costs no memory, and before the
    large-body servers are forked, so they share it.
    """
    if not _LARGE:
        body = bytes(range(256)) * (LARGE_SIZE // 256)
        view = memoryview(body)
        chunks: List[Tuple[None, bytes]] = [
            (None, view[i:i + LARGE_CHUNK].tobytes())
            for i in range(0, LARGE_SIZE, LARGE_CHUNK)
        ]
        chunks.append((None, b''))
        _LARGE['body'] = body
        _LARGE['chunks'] = chunks
    return (_LARGE['body'], _LARGE['chunks'])


def large_app(session: Any, request: Any, api: Any) -> Tuple[int, str, Dict[str, Any], Any]:
    """Consume a 16 MiB upload, answer with 16 MiB of the same kind.

    ``/read``: whole-body ``Body.read()``, echoed back as ``bytes``.
    ``/iter``: stream the upload (``Body`` in 1 MiB pieces, or chunk by chunk)
    and answer with the payload as ``bytes`` or as 1 MiB chunks.
    """
    (payload, chunks) = large_data()
    body = request.body
    if request.path == ['read']:
        return (200, 'OK', {}, body.read())
    total = 0
    if body.chunked:
        for (_, data) in body:
            total += len(data)
    else:
        for data in body:
            total += len(data)
    if total != LARGE_SIZE:
        raise ValueError('large upload: got {} bytes'.format(total))
    if body.chunked:
        return (200, 'OK', {}, api.ChunkedBodyIter(iter(chunks)))
    return (200, 'OK', {}, payload)


def bench_large(settings: Settings, tmpdir: str, progress: Progress) -> Dict[str, Any]:
    """16 MiB up and back over AF_UNIX: degu ``Body`` / chunked vs a raw socket."""
    from degu.bodies import ChunkedBodyIter
    (payload, chunks) = large_data()
    servers: Dict[str, ServerProcess] = {}
    times: Dict[str, List[float]] = {case: [] for case in LARGE_CASES}
    errors: List[str] = []
    try:
        servers['raw'] = ServerProcess(ServerSpec(
            'raw', 'unix', _family_address('unix', tmpdir, 'large-raw'),
            size=LARGE_SIZE))
        servers['degu'] = ServerProcess(ServerSpec(
            'degu', 'unix', _family_address('unix', tmpdir, 'large-degu'),
            app=large_app))
        raw_sock = _connect_raw('unix', servers['raw'].address, None)
        raw_buf = bytearray(LARGE_SIZE)
        raw_view = memoryview(raw_buf)
        conn = degu_client('unix', servers['degu'].address, None).connect()

        def one(case: str) -> float:
            """One transfer up and back; returns its time (checks after the clock)."""
            t0 = time.perf_counter()
            if case == 'raw':
                raw_sock.sendall(payload)
                if not _recv_exactly(raw_sock, raw_view):
                    raise ConnectionError('raw server closed the connection')
                elapsed = time.perf_counter() - t0
                if raw_buf != payload:
                    raise ValueError('raw large echo mismatch')
                return elapsed
            if case == 'degu-read':
                response = conn.post('/read', {}, payload)
                data = response.body.read()
            elif case == 'degu-body':
                response = conn.post('/iter', {}, payload)
                pieces = list(response.body)
            else:
                response = conn.post('/iter', {}, ChunkedBodyIter(iter(chunks)))
                pieces = [chunk[1] for chunk in response.body]
            elapsed = time.perf_counter() - t0
            if case != 'degu-read':
                data = b''.join(pieces)
            if response.status != 200 or data != payload:
                raise ValueError('{} large echo mismatch'.format(case))
            return elapsed

        for case in LARGE_CASES:  # warm up
            one(case)
        for r in range(settings.rounds):
            for case in LARGE_CASES:
                for _ in range(settings.large_reps):
                    times[case].append(one(case))
                progress.step('large {} round {}/{}: {:,.0f} MB/s'.format(
                    case, r + 1, settings.rounds,
                    2 * LARGE_SIZE / times[case][-1] / 1e6))
        raw_sock.close()
        conn.close()
    except Exception as e:
        errors.append('large: {!r}'.format(e))
    finally:
        for server in servers.values():
            try:
                (count, last) = server.errors()
                if count:
                    errors.append('large {} server: {} errors, last: {}'.format(
                        server.spec.kind, count, last))
            except (OSError, EOFError):
                pass
            server.stop()
    cases: Dict[str, Any] = {}
    for case in LARGE_CASES:
        t = median(times[case])
        cases[case] = {
            'mb_per_s': 2 * LARGE_SIZE / t / 1e6 if t else None,
            'seconds': t,
            'transfers': len(times[case]),
        }
    raw = cases['raw']['mb_per_s']
    return {
        'family': 'unix',
        'bytes_each_way': LARGE_SIZE,
        'cases': cases,
        'body_vs_raw': ratio(cases['degu-body']['mb_per_s'], raw),
        'read_vs_raw': ratio(cases['degu-read']['mb_per_s'], raw),
        'chunked_vs_raw': ratio(cases['degu-chunked']['mb_per_s'], raw),
        'errors': errors,
    }


# -- part 3: concurrent keep-alive clients --------------------------------------------------

def _concurrent_level(address: Any, clients: int, seconds: float) -> Dict[str, Any]:
    conns: List[Any] = []
    errors: List[str] = []
    counts = [0] * clients
    try:
        for _ in range(clients):
            conn = degu_client('unix', address, None).connect()
            conns.append(conn)
            # One request first: the server has started this connection's
            # thread before the clock starts.
            conn.post(PING_URI, {}, PING_BODY).body.read()
        barrier = threading.Barrier(clients + 1)
        deadline = [0.0]

        def worker(i: int) -> None:
            request = conns[i].request
            n = 0
            try:
                barrier.wait()
                stop = deadline[0]
                while True:
                    for _ in range(10):
                        response = request('POST', PING_URI, {}, PING_BODY)
                        if response.body.read() != PING_BODY:
                            raise ValueError('echo mismatch')
                    n += 10
                    if time.perf_counter() >= stop:
                        break
            except Exception as e:
                errors.append(repr(e))
            counts[i] = n

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        t0 = time.perf_counter()
        deadline[0] = t0 + seconds
        barrier.wait()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - t0
    except Exception as e:
        errors.append(repr(e))
        wall = 0.0
    finally:
        for conn in conns:
            conn.close()
    total = sum(counts)
    return {
        'clients': clients,
        'round_trips': total,
        'rt_per_s': total / wall if wall else None,
        'errors': errors,
    }


def bench_concurrency(settings: Settings, tmpdir: str,
                      progress: Progress) -> Dict[str, Any]:
    server = ServerProcess(ServerSpec(
        'degu', 'unix', _family_address('unix', tmpdir, 'concurrent')))
    levels = []
    server_errors: Tuple[int, Optional[str]] = (0, None)
    try:
        for clients in CONCURRENCY_LEVELS:
            level = _concurrent_level(server.address, clients,
                                      settings.concurrency_seconds)
            levels.append(level)
            progress.step('{} concurrent clients: {:,.0f} round trips/s'.format(
                clients, level['rt_per_s'] or 0.0))
        # Let the server notice the closed connections before asking.
        time.sleep(0.05)
        server_errors = server.errors()
    finally:
        server.stop()
    errors = [e for level in levels for e in level['errors']]
    if server_errors[0]:
        errors.append('server: {} errors, last: {}'.format(*server_errors))
    return {
        'family': 'unix',
        'levels': levels,
        'max_connections': 50,
        'errors': errors,
    }


# -- part 4: footprint ----------------------------------------------------------------------

def _child_env() -> Dict[str, str]:
    """Environment for a fresh interpreter that imports *this* degu."""
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(degu.__file__)))
    old = env.get('PYTHONPATH')
    env['PYTHONPATH'] = root if not old else root + os.pathsep + old
    return env


IMPORT_SCRIPT = r'''
import sys, time
before = set(sys.modules)
t0 = time.perf_counter()
import degu
t1 = time.perf_counter()
new = sorted(set(sys.modules) - before)
import json
print(json.dumps({'seconds': t1 - t0, 'modules': new}))
'''

RSS_SCRIPT = r'''
def rss():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
import sys
before = rss()
count = len(sys.modules)
import degu.server, degu.client
after = rss()
import json
print(json.dumps({'before_kib': before, 'after_kib': after,
                  'modules': len(sys.modules) - count}))
'''


def _run_script(script: str) -> Dict[str, Any]:
    out = subprocess.run([sys.executable, '-c', script], env=_child_env(),
                         stdout=subprocess.PIPE, check=True).stdout
    result: Dict[str, Any] = json.loads(out)
    return result


def _idle_connections(tmpdir: str) -> Dict[str, Any]:
    """Server RSS (and address space) per idle keep-alive connection."""
    server = ServerProcess(ServerSpec(
        'degu', 'unix', _family_address('unix', tmpdir, 'idle'),
        options={'max_connections': IDLE_CONNECTIONS + 10}))
    conns: List[Any] = []
    try:
        def connect() -> None:
            conn = degu_client('unix', server.address, None).connect()
            conn.post(PING_URI, {}, PING_BODY).body.read()
            conns.append(conn)

        connect()  # the first connection pays for one-time setup
        time.sleep(0.1)
        (rss0, vm0, threads0) = server.ask('mem')
        for _ in range(IDLE_CONNECTIONS):
            connect()
        time.sleep(0.2)
        (rss1, vm1, threads1) = server.ask('mem')
        (error_count, last) = server.errors()
    finally:
        for conn in conns:
            conn.close()
        server.stop()
    result: Dict[str, Any] = {
        'connections': IDLE_CONNECTIONS,
        'threads_added': threads1 - threads0,
        'rss_kib_per_conn': None,
        'vm_kib_per_conn': None,
        'errors': ['idle server: {} errors, last: {}'.format(error_count, last)]
        if error_count else [],
    }
    if rss0 is not None and rss1 is not None:
        result['rss_kib_per_conn'] = (rss1 - rss0) / IDLE_CONNECTIONS
    if vm0 is not None and vm1 is not None:
        result['vm_kib_per_conn'] = (vm1 - vm0) / IDLE_CONNECTIONS
    return result


def bench_footprint(settings: Settings, tmpdir: str, progress: Progress) -> Dict[str, Any]:
    imports = [_run_script(IMPORT_SCRIPT) for _ in range(settings.import_runs)]
    best = min(imports, key=lambda r: r['seconds'])
    submodules = sorted({m for r in imports for m in r['modules']
                         if m.startswith('degu.')})
    progress.step('import degu: {:.3f} ms'.format(best['seconds'] * 1e3))
    result: Dict[str, Any] = {
        'import_ms': best['seconds'] * 1e3,
        'import_runs': len(imports),
        'import_new_modules': best['modules'],
        'import_submodules': submodules,
        'rss_import_mib': None,
        'rss_import_modules': None,
        'idle': None,
        'errors': [],
    }
    if read_status_kib('VmRSS') is not None:
        rss = [_run_script(RSS_SCRIPT) for _ in range(settings.rss_runs)]
        growth = [r['after_kib'] - r['before_kib'] for r in rss]
        result['rss_import_mib'] = statistics.median(growth) / 1024
        result['rss_import_modules'] = rss[0]['modules']
        progress.step('import degu.server + degu.client: +{:.2f} MiB RSS'.format(
            result['rss_import_mib']))
        idle = _idle_connections(tmpdir)
        result['idle'] = idle
        result['errors'] = idle['errors']
        progress.step('idle keep-alive connection: {:.1f} KiB RSS'.format(
            idle['rss_kib_per_conn'] or 0.0))
    else:
        result['errors'] = []
        progress.step('no /proc/self/status: RSS figures skipped')
        progress.step('')
    return result


# -- targets -----------------------------------------------------------------------

def collect_targets(report: Dict[str, Any]) -> List[Dict[str, Any]]:
    values: Dict[str, Any] = {}
    for fam in report['pingpong']:
        if fam['family'] == 'unix':
            values['degu_vs_raw'] = fam['degu_vs_raw']
            values['degu_vs_stdlib'] = fam['degu_vs_stdlib']
    large = report.get('large')
    if large:
        values['body_vs_raw'] = large['body_vs_raw']
        values['chunked_vs_raw'] = large['chunked_vs_raw']
    foot = report.get('footprint')
    if foot:
        values['import_ms'] = foot['import_ms']
        values['import_submodules'] = len(foot['import_submodules'])
        values['rss_import_mib'] = foot['rss_import_mib']
        if foot['idle']:
            values['idle_conn_kib'] = foot['idle']['rss_kib_per_conn']
    conc = report.get('concurrency')
    if conc:
        values['concurrency_errors'] = len(conc['errors'])
    targets = []
    for (key, description, limit, higher) in TARGETS:
        value = values.get(key)
        if value is None:
            ok: Optional[bool] = None
        elif higher:
            ok = value >= limit
        else:
            ok = value <= limit
        targets.append({
            'name': key,
            'description': description,
            'value': value,
            'limit': limit,
            'higher_is_better': higher,
            'ok': ok,
        })
    return targets


# -- output ------------------------------------------------------------------------

def _fmt(value: Optional[float], spec: str) -> str:
    return '-' if value is None else format(value, spec)


def format_report(report: Dict[str, Any]) -> str:
    lines: List[str] = []
    add = lines.append
    env = report['environment']
    add('Degu {} benchmark: Python {} on {} ({} CPUs)'.format(
        env['degu'], env['python'], env['platform'], env['cpus']))
    add('Note: ' + report['pin_note'])
    add('Load average (1 min) at start / end: {} / {}. Other work on the machine '
        'lowers rt/s; CPU us per round trip is much less affected.'.format(
            _fmt(env.get('loadavg_start'), '.2f'), _fmt(env.get('loadavg_end'), '.2f')))
    s = report['settings']
    add('')
    add('Ping-pong: POST with a {}-byte body echoed back, one persistent connection, '
        'server in a child process;'.format(PING_SIZE))
    add('median of {} interleaved rounds x {:.2f} s; CPU = client + server '
        'process time per round trip.'.format(s['rounds'], s['seconds']))
    add('')
    add('{:<7} {:<7} {:>12} {:>10} {:>10} {:>10} {:>14} {:>12}'.format(
        'family', 'case', 'rt/s', 'CPU us/rt', 'client us', 'server us',
        'degu/raw', 'degu/stdlib'))
    for fam in report['pingpong']:
        for case in CASES:
            c = fam['cases'][case]
            extra = ('', '')
            if case == 'degu':
                extra = (_fmt(fam['degu_vs_raw'], '.2f'),
                         _fmt(fam['degu_vs_stdlib'], '.2f'))
            add('{:<7} {:<7} {:>12} {:>10} {:>10} {:>10} {:>14} {:>12}'.format(
                fam['family'], case, _fmt(c['rt_per_s'], ',.0f'),
                _fmt(c['cpu_us_per_rt'], '.1f'),
                _fmt(c['client_cpu_us_per_rt'], '.1f'),
                _fmt(c['server_cpu_us_per_rt'], '.1f'), *extra))
    for skip in report['skipped']:
        add('{:<7} skipped: {}'.format(skip['family'], skip['reason']))
    large = report.get('large')
    if large:
        add('')
        add('Large bodies: 16 MiB up and 16 MiB back over AF_UNIX, median MB/s '
            '(10^6 bytes, both directions counted);')
        add('body/chunked stream 1 MiB pieces on both sides; read = whole-body '
            'Body.read() on both sides.')
        add('{:<14} {:>10} {:>8}'.format('case', 'MB/s', 'vs raw'))
        for case in LARGE_CASES:
            c = large['cases'][case]
            vs = {'raw': 1.0, 'degu-body': large['body_vs_raw'],
                  'degu-chunked': large['chunked_vs_raw'],
                  'degu-read': large['read_vs_raw']}[case]
            add('{:<14} {:>10} {:>8}'.format(case, _fmt(c['mb_per_s'], ',.0f'),
                                             _fmt(vs, '.2f')))
    conc = report.get('concurrency')
    if conc:
        add('')
        add('Concurrent keep-alive degu clients (threads) over AF_UNIX, {:.2f} s each'
            .format(s['concurrency_seconds']))
        add('{:>8} {:>12} {:>12} {:>7}'.format('clients', 'rt/s', 'round trips',
                                               'errors'))
        for level in conc['levels']:
            add('{:>8} {:>12} {:>12} {:>7}'.format(
                level['clients'], _fmt(level['rt_per_s'], ',.0f'),
                level['round_trips'], len(level['errors'])))
    foot = report.get('footprint')
    if foot:
        add('')
        add('Footprint')
        add('  import degu: {:.3f} ms (best of {}); new modules: {}'.format(
            foot['import_ms'], foot['import_runs'],
            ', '.join(foot['import_new_modules']) or 'none'))
        add('  import degu.server + degu.client: +{} MiB RSS ({} modules)'.format(
            _fmt(foot['rss_import_mib'], '.2f'), foot['rss_import_modules']))
        idle = foot['idle']
        if idle:
            add('  idle keep-alive connection: {} KiB RSS, {} KiB address space '
                '(mostly the thread stack; {} connections, {} threads added)'.format(
                    _fmt(idle['rss_kib_per_conn'], '.1f'),
                    _fmt(idle['vm_kib_per_conn'], '.0f'), idle['connections'],
                    idle['threads_added']))
    add('')
    add('Targets' + ('' if report['pinned'] else ' (defined for pinned runs)'))
    for t in report['targets']:
        mark = {True: 'PASS', False: 'FAIL', None: 'n/a '}[t['ok']]
        add('  [{}] {:<52} {:>9} ({} {})'.format(
            mark, t['description'], _fmt(t['value'], '.3f'),
            '>=' if t['higher_is_better'] else '<=', t['limit']))
    add('')
    if report['errors']:
        add('ERRORS ({}):'.format(len(report['errors'])))
        for e in report['errors']:
            add('  ' + e)
    else:
        add('No errors.')
    add('Total time: {:.1f} s'.format(report['seconds']))
    return '\n'.join(lines)


# -- profiling ------------------------------------------------------------------------

# Socket calls block until the peer has answered, so under cProfile's wall
# clock their time is mostly the *other* process working; they are shown
# apart from the work this side does itself.
BLOCKING_CALLS = ('recv_into', 'recv', 'send', 'sendall')


def _is_blocking(func: Tuple[str, int, str]) -> bool:
    (filename, _, name) = func
    return filename == '~' and any(
        "'{}' of '_socket.socket'".format(call) in name
        or "'{}' of '_ssl._SSLSocket'".format(call) in name
        for call in BLOCKING_CALLS
    )


def _where(func: Tuple[str, int, str]) -> str:
    (filename, line, name) = func
    if filename == '~':
        return name
    return '{}:{}({})'.format(os.path.basename(filename), line, name)


def format_profile(title: str, stats: pstats.Stats, requests: int, top: int) -> str:
    """Top functions by own time, per request; socket waits listed apart."""
    raw: Dict[Any, Any] = getattr(stats, 'stats')
    rows: List[Tuple[float, float, int, Any]] = []
    waits: List[Tuple[float, float, int, Any]] = []
    for (func, (_cc, nc, tt, ct, _callers)) in raw.items():
        (waits if _is_blocking(func) else rows).append((tt, ct, nc, func))
    rows.sort(key=lambda row: row[0], reverse=True)
    work = sum(row[0] for row in rows)
    lines = ['{}: {} requests, {:.1f} us/request of own work '
             '(cProfile overhead included)'.format(title, requests,
                                                   work / requests * 1e6)]
    lines.append('{:>9} {:>9} {:>9} {:>7}  {}'.format(
        'calls/rq', 'own us/rq', 'cum us/rq', 'own %', 'function'))
    for (tt, ct, nc, func) in rows[:top]:
        lines.append('{:>9.2f} {:>9.2f} {:>9.2f} {:>6.1f}%  {}'.format(
            nc / requests, tt / requests * 1e6, ct / requests * 1e6,
            100 * tt / work if work else 0.0, _where(func)))
    waits.sort(key=lambda row: row[0], reverse=True)
    for (tt, ct, nc, func) in waits:
        lines.append('{:>9.2f} {:>9.2f} {:>9} {:>7}  {} (waits for the peer)'.format(
            nc / requests, tt / requests * 1e6, '', '', _where(func)))
    return '\n'.join(lines)


def run_profile(seconds: float, top: int, tmpdir: str) -> str:
    """cProfile the degu client and server per-request path over AF_UNIX."""
    stats_path = os.path.join(tmpdir, 'server.pstats')
    server = ServerProcess(ServerSpec(
        'degu', 'unix', _family_address('unix', tmpdir, 'profile'),
        profile=stats_path))
    try:
        client = DeguPing('unix', server.address, None)
        client.open()
        profiler = cProfile.Profile()
        profiler.enable()
        count = client.run(seconds)
        profiler.disable()
        client.close()
    finally:
        server.stop()
    client_stats = pstats.Stats(profiler)
    server_stats = pstats.Stats(stats_path)
    return '\n\n'.join([
        format_profile('Client (degu.client, AF_UNIX, ping-pong)', client_stats,
                       count, top),
        format_profile('Server connection thread (degu.server, AF_UNIX, ping-pong)',
                       server_stats, count, top),
    ])


# -- main ------------------------------------------------------------------------

def _families(text: str) -> List[str]:
    names = [name.strip() for name in text.split(',') if name.strip()]
    for name in names:
        if name not in FAMILIES:
            raise argparse.ArgumentTypeError(
                'unknown family {!r}; choose from {}'.format(name, ', '.join(FAMILIES)))
    if not names:
        raise argparse.ArgumentTypeError('need at least one family')
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='python3 -m degu bench',
        description='Benchmark degu against a raw socket and the stdlib.',
    )
    parser.add_argument('--families', type=_families, default=list(FAMILIES),
                        help='comma-separated subset of: {} (default: all)'.format(
                            ','.join(FAMILIES)))
    parser.add_argument('--rounds', type=int, default=None,
                        help='interleaved rounds per case (default 7, --quick 2)')
    parser.add_argument('--seconds', type=float, default=None,
                        help='length of each timed ping-pong slice (default 0.5)')
    parser.add_argument('--no-pin', action='store_true',
                        help='do not pin client and server to one CPU')
    parser.add_argument('--cpu', type=int, default=None,
                        help='CPU to pin to (default: the lowest allowed one)')
    parser.add_argument('--json', action='store_true',
                        help='print the results as JSON on stdout')
    parser.add_argument('--quick', action='store_true',
                        help='a fast smoke run (numbers are not meaningful)')
    parser.add_argument('--quiet', action='store_true',
                        help='no progress line on stderr')
    parser.add_argument('--profile', action='store_true',
                        help='instead: cProfile degu client and server over AF_UNIX')
    parser.add_argument('--top', type=int, default=15,
                        help='functions shown per profile (default 15)')
    return parser


def make_settings(args: argparse.Namespace) -> Settings:
    if args.quick:
        settings = Settings(rounds=2, seconds=0.05, warmup=0.02, large_reps=1,
                            concurrency_seconds=0.1, import_runs=3, rss_runs=1)
    else:
        settings = Settings(rounds=7, seconds=0.5, warmup=0.2, large_reps=2,
                            concurrency_seconds=1.5, import_runs=15, rss_runs=3)
    if args.rounds is not None:
        settings.rounds = args.rounds
    if args.seconds is not None:
        settings.seconds = args.seconds
    return settings


def _pin(args: argparse.Namespace) -> Tuple[Optional[Set[int]], Optional[int], str]:
    """Pin this process (and so its future children) to one CPU."""
    if args.no_pin:
        return (None, None, UNPIN_NOTE)
    if not hasattr(os, 'sched_setaffinity'):
        return (None, None, 'cannot pin: os.sched_setaffinity is not available '
                            'on this platform; results may swing several-fold.')
    old = os.sched_getaffinity(0)
    cpu = args.cpu if args.cpu is not None else min(old)
    os.sched_setaffinity(0, {cpu})
    return (old, cpu, PIN_NOTE.format(cpu))


def main(argv: Optional[List[str]] = None) -> int:
    """Run the benchmark; return 0, or 1 if any error occurred (2: bad usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    if args.rounds is not None and args.rounds < 1:
        parser.print_usage(sys.stderr)
        sys.stderr.write('error: --rounds must be >= 1\n')
        return 2
    if args.seconds is not None and not args.seconds > 0:
        parser.print_usage(sys.stderr)
        sys.stderr.write('error: --seconds must be > 0\n')
        return 2
    if args.profile and _compiled():
        parser.print_usage(sys.stderr)
        sys.stderr.write('error: --profile needs the pure-Python build '
                         '(cProfile cannot see into mypyc-compiled modules)\n')
        return 2
    settings = make_settings(args)
    (old_affinity, cpu, pin_note) = _pin(args)
    tmpdir = tempfile.mkdtemp(prefix='degu-bench.')
    try:
        if args.profile:
            seconds = settings.seconds * settings.rounds
            print(pin_note)
            print(run_profile(seconds, args.top, tmpdir))
            return 0
        report = run(args, settings, tmpdir, cpu, pin_note)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
        if old_affinity is not None:
            os.sched_setaffinity(0, old_affinity)
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        print(format_report(report))
    return 1 if report['errors'] else 0


def _loadavg() -> Optional[float]:
    """The 1-minute load average: other work on the machine skews rt/s."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def run(args: argparse.Namespace, settings: Settings, tmpdir: str,
        cpu: Optional[int], pin_note: str) -> Dict[str, Any]:
    started = time.perf_counter()
    tls: Optional[TLSSetup] = TLSSetup() if 'tls' in args.families else None
    families = []
    skipped = []
    for family in args.families:
        reason = family_skip_reason(family, tls)
        if reason is None:
            families.append(family)
        else:
            skipped.append({'family': family, 'reason': reason})
    total = (len(families) * settings.rounds * len(CASES)
             + settings.rounds * len(LARGE_CASES) + len(CONCURRENCY_LEVELS) + 3)
    progress = Progress(total, args.quiet)
    report: Dict[str, Any] = {
        'environment': {
            'degu': degu.__version__,
            'python': platform.python_version(),
            'implementation': platform.python_implementation(),
            'platform': platform.platform(),
            'cpus': os.cpu_count(),
            'loadavg_start': _loadavg(),
        },
        'pinned': cpu is not None,
        'cpu': cpu,
        'pin_note': pin_note,
        'settings': settings.as_dict(),
        'families': families,
        'skipped': skipped,
        'pingpong': [],
    }
    errors: List[str] = []
    try:
        for family in families:
            result = bench_family(family, settings, tmpdir, tls, progress)
            report['pingpong'].append(result)
            for case in CASES:
                errors.extend(result['cases'][case]['errors'])
    finally:
        if tls is not None:
            tls.cleanup()
    report['large'] = bench_large(settings, tmpdir, progress)
    errors.extend(report['large']['errors'])
    report['concurrency'] = bench_concurrency(settings, tmpdir, progress)
    errors.extend(report['concurrency']['errors'])
    report['footprint'] = bench_footprint(settings, tmpdir, progress)
    errors.extend(report['footprint']['errors'])
    progress.finish()
    report['environment']['loadavg_end'] = _loadavg()
    report['targets'] = collect_targets(report)
    report['errors'] = errors
    report['seconds'] = time.perf_counter() - started
    return report


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
