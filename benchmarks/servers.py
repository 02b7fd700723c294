# SPDX-License-Identifier: LGPL-3.0-or-later
"""The servers under test, each run in a child process and asked over a pipe.

Three kinds serve the same echo workload: ``raw`` (bare sockets),
``degu`` (``degu.server.Server`` / ``SSLServer``) and ``stdlib``
(``http.server``).  A fourth, ``raw-http``, is the floor of the fairness
part: a fixed answer to each request, from a thread per connection.  A child counts its own errors: for degu, every record
of WARNING or above on the ``degu`` loggers, which include the exceptions
an app raises (the server logs them at ERROR).  Nothing of the server is
subclassed, and nothing is added to the measured path: the app is called
as it is.
"""

import cProfile
import http.server
import logging
import multiprocessing
import os
import socket
import socketserver
import sys
import threading
import time
import _thread
from typing import Any, Callable, Dict, Optional, Tuple

from .common import read_status_kib
from .workload import PING_SIZE, SERVER_MAX_REQUESTS, App, Response, echo_app

# The request that ends a --profile run (see ProfiledApp).
PROFILE_DONE_URI = '/profile-done'


class ErrorCounter:
    """Counts what went wrong inside a server child (thread-safe enough: GIL)."""

    def __init__(self) -> None:
        self.count = 0
        self.last: Optional[str] = None

    def add(self, what: str) -> None:
        self.count += 1
        self.last = what


class CountingHandler(logging.Handler):
    """A logging handler that counts records instead of printing them."""

    def __init__(self, counter: ErrorCounter) -> None:
        super().__init__(logging.WARNING)
        self.counter = counter

    def emit(self, record: logging.LogRecord) -> None:
        self.counter.add(record.getMessage())


def count_degu_log_records(counter: ErrorCounter) -> None:
    """Count WARNING and above from every ``degu.*`` logger, and print nothing."""
    log = logging.getLogger('degu')
    log.addHandler(CountingHandler(counter))
    log.propagate = False


class ProfiledApp:
    """Profiles the server's connection thread through RGI's own hooks.

    ``on_connect()`` runs in the new connection's thread before its first
    request: it turns the profiler on for that thread.  The client ends the
    run with a GET of ``PROFILE_DONE_URI``, whose handler (still in that
    thread) turns the profiler off, saves the stats to *path* and sets
    *finished*.  The profile so covers every request of the timed run.
    """

    def __init__(self, app: App, path: str, finished: threading.Event) -> None:
        self.app = app
        self.path = path
        self.finished = finished
        self.profiler = cProfile.Profile()

    def on_connect(self, session: Any, sock: Any) -> bool:
        self.profiler.enable()
        return True

    def __call__(self, session: Any, request: Any, api: Any) -> Response:
        if request.method == 'GET' and request.uri == PROFILE_DONE_URI:
            self.profiler.disable()
            self.profiler.dump_stats(self.path)
            self.finished.set()
            return (200, 'OK', {}, None)
        response: Response = self.app(session, request, api)
        return response


def recv_exactly(sock: socket.socket, view: memoryview) -> bool:
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


def _raw_echo(sock: socket.socket, size: int, counter: ErrorCounter,
              as_bytes: bool = False) -> None:
    """Receive exactly *size* bytes, send them back, until the peer closes.

    With *as_bytes*, each message is made ``bytes`` before it goes back (what
    a library returning ``bytes`` cannot avoid: the large-body baseline).
    """
    buf = bytearray(size)
    view = memoryview(buf)
    try:
        while recv_exactly(sock, view):
            sock.sendall(bytes(buf) if as_bytes else view)
    except Exception as e:
        counter.add(repr(e))
    finally:
        sock.close()


class RawServer:
    """The floor: a thread per connection echoing fixed-size messages."""

    def __init__(self, sock: socket.socket, size: int, counter: ErrorCounter,
                 sslctx: Any = None, as_bytes: bool = False) -> None:
        self.sock = sock
        self.size = size
        self.counter = counter
        self.sslctx = sslctx
        self.as_bytes = as_bytes

    def serve_forever(self) -> None:
        while True:
            (conn, _) = self.sock.accept()
            if conn.family != socket.AF_UNIX:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.sslctx is not None:
                conn = self.sslctx.wrap_socket(conn, server_side=True)
            threading.Thread(
                target=_raw_echo, args=(conn, self.size, self.counter, self.as_bytes),
                daemon=True
            ).start()


# What RawHTTPServer answers: what degu answers benchmarks.workers.app.
HTTP_ANSWER = b'HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\nhello, world'
PREAMBLE_END = b'\r\n\r\n'
# degu's own listen backlog (degu.limits.LISTEN_BACKLOG, which is not public
# API; a test keeps the two equal): a burst of 500 connects must not overflow.
RAW_HTTP_BACKLOG = 1024


def _raw_http(sock: socket.socket, counter: ErrorCounter) -> None:
    """Answer every request on *sock* with ``HTTP_ANSWER`` until the peer closes.

    A request is counted by its ``CRLFCRLF`` (a GET has no body), also when
    one is split between two ``recv()`` calls or several arrive in one.
    """
    rest = b''
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            seen = rest + data
            count = seen.count(PREAMBLE_END)
            if count:
                seen = seen[seen.rfind(PREAMBLE_END) + 4:]
                sock.sendall(HTTP_ANSWER * count)
            rest = seen[-3:]
    except ConnectionError:
        pass  # wrk resets its connections when its time is up
    except Exception as e:
        counter.add(repr(e))
    finally:
        sock.close()


class RawHTTPServer:
    """The least a Python server with a thread per connection can do.

    Each connection gets a thread that answers each request with the same
    bytes, parsing nothing: what is left of a request's cost is the
    interpreter's, the GIL's and the kernel's.  Started as degu starts its
    connection threads (``_thread.start_new_thread``), with degu's backlog.
    """

    def __init__(self, sock: socket.socket, counter: ErrorCounter) -> None:
        self.sock = sock
        self.counter = counter

    def serve_forever(self) -> None:
        while True:
            (conn, _) = self.sock.accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            _thread.start_new_thread(_raw_http, (conn, self.counter))


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


def family_address(family: str, tmpdir: str, name: str) -> Any:
    """Where a server of *family* listens: a socket file, or a kernel-chosen port."""
    if family == 'unix':
        return os.path.join(tmpdir, name + '.sock')
    if family == 'inet6':
        return ('::1', 0, 0, 0)
    return ('127.0.0.1', 0)


def _bind(family: str, address: Any, backlog: int = 64) -> socket.socket:
    if family == 'unix':
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    elif family == 'inet6':
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(address)
    sock.listen(backlog)
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
    from degu.server import build_server_sslctx
    return build_server_sslctx(spec.sslconfig)


def _build_degu_server(spec: ServerSpec, counter: ErrorCounter,
                       finished: threading.Event, sslctx: Any) -> Any:
    from degu.server import Server, SSLServer
    count_degu_log_records(counter)
    app: App = spec.app
    if spec.profile is not None:
        app = ProfiledApp(app, spec.profile, finished)
    options = dict(spec.options)
    options.setdefault('max_requests', SERVER_MAX_REQUESTS)
    if sslctx is not None:
        return SSLServer(sslctx, spec.address, app, **options)
    return Server(spec.address, app, **options)


def _build_server(spec: ServerSpec, counter: ErrorCounter,
                  finished: threading.Event) -> Tuple[Any, Any]:
    """Return ``(server, address)``; ``server.serve_forever()`` runs in a thread."""
    sslctx = _server_sslctx(spec)
    if spec.kind == 'degu':
        server = _build_degu_server(spec, counter, finished, sslctx)
        return (server, server.address)
    if spec.kind in ('raw', 'raw-bytes'):
        sock = _bind(spec.family, spec.address)
        return (RawServer(sock, spec.size, counter, sslctx, spec.kind == 'raw-bytes'),
                sock.getsockname())
    if spec.kind == 'raw-http':
        sock = _bind(spec.family, spec.address, RAW_HTTP_BACKLOG)
        return (RawHTTPServer(sock, counter), sock.getsockname())
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
            # The OS's count: connection threads are not threading.Threads.
            threads = read_status_kib('Threads')
            conn.send((read_status_kib('VmRSS'), read_status_kib('VmSize'),
                       threading.active_count() if threads is None else threads))
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
