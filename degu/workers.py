# SPDX-License-Identifier: LGPL-3.0-or-later
"""Pre-forked worker processes: one app on one address, on every core.

A thread-per-connection server in one CPython process runs Python code on
one core at a time (the GIL).  ``Workers`` runs N copies of the server, each
in a process of its own, all accepting on one listening socket::

    supervisor (this process)       binds the socket (or takes systemd's),
        |                           forks the workers, restarts a dead one,
        |                           turns SIGTERM/SIGINT into their graceful stop
        +-- worker 1   build_func(*build_args) -> Server(listener, app).serve_forever()
        +-- worker 2   ...
        +-- worker N

>>> def build():
...     return lambda session, request, api: (200, 'OK', {}, b'hello')
>>> workers = Workers(('127.0.0.1', 0), build, workers=2)
>>> len(workers.pids)
2
>>> workers.shutdown()
True

**One inherited socket, not ``SO_REUSEPORT``.**  The supervisor binds once
and every worker inherits that socket through ``fork()``.  That is the only
way that works for every address Degu takes: ``AF_UNIX`` socket files and
abstract names have no ``SO_REUSEPORT``, a socket passed by systemd is one
socket, and port 0 picks one port for all.  It also means a worker that dies
loses nothing: connections waiting in the accept queue belong to the one
socket and go to another worker (with ``SO_REUSEPORT`` each worker has its
own queue, and the connections in a dead worker's queue are reset).  The
kernel hands each new connection to one of the workers waiting in accept;
a busy worker, which gets the CPU later, tends to lose that race, which
spreads the load.  The price is that every idle worker wakes for each new
connection (all but one find nothing to accept), a cost that only matters
with many short connections and many more workers than cores.

**A shared socket must not be shut down.**  ``shutdown()`` on a listening
socket acts on the socket itself, in every process that holds it: one
worker stopping would close it for all the others (and for systemd, which
keeps its socket for the service's next start).  So each worker serves a
``SharedListener``, whose ``shutdown()`` only wakes this process's accept
loop.

**Each worker builds its own app**, after the fork: whatever the app opens
(connections, threads, files) belongs to one process, and a restarted
worker starts afresh.  *build_func* may be any callable (no pickling is
involved).  For TLS pass *sslconfig* (a config dict or an
``ssl.SSLContext``): it is checked, and the context built, once, in the
supervisor, so that a mistake fails there.

**Stopping.**  ``shutdown()`` (or ``stop()`` followed by ``serve_forever()``
returning) sends each worker SIGTERM; the worker's ``Server.shutdown()``
stops accepting, closes idle connections and lets requests in flight finish
for up to ``shutdown_timeout`` seconds.  A worker still alive
``WORKER_EXIT_MARGIN`` seconds after that is killed.  Workers ignore SIGINT:
Ctrl-C in a terminal reaches every process of the group, and it is the
supervisor's to act on.  A worker also stops gracefully if the supervisor
disappears (it watches a pipe the supervisor holds).

**A worker that dies is restarted**, at once if it had served for
``WORKER_STABLE_LIFE`` seconds, else after a delay that doubles with each
quick death (``restart_delay()``), so a worker that crashes on start does
not make the supervisor spin.
"""

import errno
import logging
import os
import select
import signal
import socket
import sys
import threading
import time
import traceback
from typing import Any, Callable, List, Optional, Tuple

from . import addresses
from .lifecycle import StopFlag, serve_until, signal_name

__all__ = (
    'Workers', 'SharedListener', 'available_cpus',
    'restart_delay', 'WORKER_STABLE_LIFE', 'RESTART_DELAY_MIN', 'RESTART_DELAY_MAX',
    'WORKER_EXIT_MARGIN',
)

log = logging.getLogger('degu.workers')

# A worker that dies after serving this long was not crashing on start: it
# is restarted at once and its count of quick deaths starts again.
# (systemd counts StartLimitBurst=5 starts in StartLimitIntervalSec=10.)
WORKER_STABLE_LIFE = 10.0

# The delay before restarting a worker after its first quick death, doubled
# for each further one, up to the maximum: a worker that can never start
# costs one fork every RESTART_DELAY_MAX seconds, not a busy loop.  (systemd's
# RestartSec defaults to 100 ms.)
RESTART_DELAY_MIN = 0.1
RESTART_DELAY_MAX = 10.0

# How long after its shutdown_timeout a stopping worker may take to exit
# before it is killed (its last connections must be cut and closed, and the
# process must exit).
WORKER_EXIT_MARGIN = 5.0

# How often the supervisor looks for dead workers when the kernel cannot
# tell it (no os.pidfd_open()): the longest a dead worker waits for its
# replacement beyond its restart delay.
SUPERVISE_POLL = 0.2

# How often a stopping supervisor looks at the workers it waits for.
STOP_POLL = 0.02

# Exit status of a worker whose build_func or Server raised.
START_FAILED = 3


def restart_delay(quick_deaths: int) -> float:
    """Seconds to wait before restarting a worker that died *quick_deaths*
    times in a row, each within ``WORKER_STABLE_LIFE`` of its start.

    >>> [restart_delay(n) for n in range(5)]
    [0.0, 0.1, 0.2, 0.4, 0.8]
    >>> restart_delay(100)
    10.0
    """
    if quick_deaths <= 0:
        return 0.0
    return min(RESTART_DELAY_MAX, RESTART_DELAY_MIN * 2.0 ** min(quick_deaths - 1, 64))


def available_cpus() -> int:
    """The CPUs this process may run on (``--workers auto``).

    ``os.sched_getaffinity()`` where it exists (a container or ``taskset``
    may allow fewer CPUs than the machine has), else ``os.cpu_count()``.
    """
    if hasattr(os, 'sched_getaffinity'):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


# ---------------------------------------------------------------------------
# A listening socket shared between processes

class SharedListener(socket.socket):
    """A listening socket shared with other processes, as one ``Server`` sees it.

    ``SharedListener.share(sock)`` wraps a duplicate of *sock*'s descriptor
    (the same socket in the kernel).  It differs from a plain socket in two
    ways, both so that one process can stop serving without harming the
    others that hold the socket: ``shutdown()`` does not shut the socket
    (that would close it everywhere) but stops this object's ``accept()``;
    and ``accept()`` waits with ``poll()`` on the socket and on a pipe
    that ``shutdown()`` and ``close()`` write to, so it can be stopped.
    The socket is in non-blocking mode (in every process: the mode belongs
    to the socket), and an ``accept()`` that loses the race for a new
    connection to another process simply waits again.
    """

    _stopping = False
    _accepting = 0
    _lock: threading.Lock
    _wake_r = -1
    _wake_w = -1

    @classmethod
    def share(cls, sock: socket.socket) -> 'SharedListener':
        listener = cls(sock.family, sock.type, sock.proto, fileno=os.dup(sock.fileno()))
        listener.setblocking(False)
        listener._lock = threading.Lock()
        (listener._wake_r, listener._wake_w) = os.pipe()
        return listener

    def accept(self) -> Tuple[socket.socket, Any]:
        with self._lock:
            if self._stopping:
                raise OSError(errno.EINVAL, 'listener is shut down')
            self._accepting += 1
        fd = self.fileno()
        # poll(), not select(): a busy server's descriptors may pass 1024.
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        try:
            while True:
                if self._stopping:
                    raise OSError(errno.EINVAL, 'listener is shut down')
                try:
                    return super().accept()
                except BlockingIOError:
                    pass
                except OSError:
                    if self._stopping:
                        raise OSError(errno.EINVAL, 'listener is shut down') from None
                    raise
                poller.poll()
        finally:
            with self._lock:
                self._accepting -= 1
                last = self._stopping and not self._accepting
            if last:
                self._close_pipe()

    def shutdown(self, how: int) -> None:
        """Stop ``accept()`` here; the socket itself stays open for the others."""
        self._stop()

    def close(self) -> None:
        if self._stop():
            self._close_pipe()
        super().close()

    def _stop(self) -> bool:
        """Stop accepting; True if no ``accept()`` is running (none will)."""
        with self._lock:
            self._stopping = True
            idle = not self._accepting
        try:
            os.write(self._wake_w, b'\0')
        except OSError:
            pass
        return idle

    def _close_pipe(self) -> None:
        with self._lock:
            fds = [fd for fd in (self._wake_r, self._wake_w) if fd >= 0]
            self._wake_r = self._wake_w = -1
        for fd in fds:
            os.close(fd)


# ---------------------------------------------------------------------------
# The supervisor

class _Slot:
    """One worker's place: its number, its process, and its history."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.pid: Optional[int] = None
        self.pidfd: Optional[int] = None
        self.started = 0.0
        self.status: Optional[int] = None  # how it last exited (os.waitpid)
        self.quick_deaths = 0
        self.restart_at: Optional[float] = None  # when a dead worker is due


def _pidfd(pid: int) -> Optional[int]:
    """A descriptor that becomes readable when *pid* exits (Linux 5.3+), or None."""
    pidfd_open = getattr(os, 'pidfd_open', None)
    if pidfd_open is None:
        return None
    try:
        fd: int = pidfd_open(pid)
        return fd
    except OSError:
        return None  # an old kernel, or a sandbox that forbids it


def _exit_text(status: int) -> str:
    if os.WIFSIGNALED(status):
        return 'was killed by {}'.format(signal_name(os.WTERMSIG(status)))
    return 'exited with status {}'.format(os.WEXITSTATUS(status))


class Workers:
    """``Server(address, build_func(*build_args), **options)`` in *workers*
    processes sharing one listening socket (see the module's docstring).

    *address* is any of Degu's address forms, or a listening socket (one
    passed by systemd, say).  *workers* is a number >= 1.  With *sslconfig*
    each worker runs an ``SSLServer``.  The workers are started, and have
    built their apps and their servers, when the constructor returns; a
    worker that fails to start makes it raise that worker's exception (or a
    ``RuntimeError`` if it died without one), after stopping the others.

    ``serve_forever()`` supervises them until ``stop()``, then stops them
    gracefully.  ``shutdown()`` does both at once.  ``kill()`` stops them
    at once.  ``address`` is the bound address, ``pids`` the workers' pids.
    """

    def __init__(self, address: Any, build_func: Callable[..., Any],
                 *build_args: Any, workers: Any = 1, sslconfig: Any = None,
                 **options: Any) -> None:
        if type(workers) is not int:
            from .errors import TYPE_ERROR
            raise TypeError(TYPE_ERROR.format('workers', int, type(workers), workers))
        if workers < 1:
            raise ValueError('workers must be >= 1; got {!r}'.format(workers))
        if not callable(build_func):
            raise TypeError('build_func: not callable: {!r}'.format(build_func))
        from .options import server_options
        from .server import Server, SSLServer
        self._server_class: Any = Server if sslconfig is None else SSLServer
        # The options every Server knows are checked here, before binding;
        # any other is left for the workers' Server to take or refuse.
        allowed = self._server_class._options
        checked = server_options(self._server_class.__name__, {
            name: value for (name, value) in options.items() if name in allowed
        }, allowed)
        self.shutdown_timeout: float = checked['shutdown_timeout']
        self.sslctx: Any = None
        if sslconfig is not None:
            from .tls import check_server_sslctx
            self.sslctx = check_server_sslctx(sslconfig)
        self.build_func = build_func
        self.build_args = build_args
        self.options = options
        self.sock = addresses.bind(address)
        self._owns_sock = self.sock is not address
        self.address = self.sock.getsockname()
        self._stop = StopFlag()
        (self._life_r, self._life_w) = os.pipe()
        self._lock = threading.Lock()
        self._stopping = False
        self._closed = False
        self._slots = [_Slot(n) for n in range(1, workers + 1)]
        try:
            self._start_all()
        except BaseException:
            self.kill()
            raise

    def __repr__(self) -> str:
        return 'Workers({!r}, workers={})'.format(self.address, len(self._slots))

    @property
    def pids(self) -> List[int]:
        """The pids of the workers alive (or not yet known to be dead)."""
        with self._lock:
            return [slot.pid for slot in self._slots if slot.pid is not None]

    def __enter__(self) -> 'Workers':
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.shutdown()

    # -- starting workers ----------------------------------------------------

    def _start_all(self) -> None:
        reports = [(slot, self._fork(slot, report=True)) for slot in self._slots]
        failure: Optional[BaseException] = None
        for (slot, fd) in reports:
            error = self._read_report(slot, fd)
            if error is not None and failure is None:
                failure = error
        if failure is not None:
            raise failure
        log.info('%d workers serving %s: pids %s', len(self._slots),
                 addresses.describe(self.address, self.sslctx is not None),
                 ', '.join(str(pid) for pid in self.pids))

    def _read_report(self, slot: _Slot, fd: int) -> Optional[BaseException]:
        """What a starting worker said: None (ready) or why it failed."""
        import pickle
        chunks = []
        try:
            while True:
                data = os.read(fd, 65536)
                if not data:
                    break
                chunks.append(data)
        finally:
            os.close(fd)
        if chunks:
            report = pickle.loads(b''.join(chunks))
            if report is None:
                return None
            if isinstance(report, BaseException):
                return report
        # It died without a word.
        assert slot.pid is not None
        (_, status) = os.waitpid(slot.pid, 0)
        self._forget(slot)
        return RuntimeError('worker {} {} before it was ready'.format(
            slot.number, _exit_text(status)))

    def _fork(self, slot: _Slot, report: bool) -> int:
        """Start *slot*'s worker; with *report*, the pipe it answers on (else -1)."""
        (report_r, report_w) = os.pipe() if report else (-1, -1)
        # Block the stop signals across fork(), so that the child cannot get
        # one before it has its own handlers.
        blocked = {signal.SIGTERM, signal.SIGINT}
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
        try:
            try:
                pid = os.fork()
            except OSError:
                if report:
                    os.close(report_r)
                    os.close(report_w)
                raise
            if pid == 0:  # the worker
                code = START_FAILED
                try:
                    if report:
                        os.close(report_r)
                    code = self._worker(slot, report_w, old_mask)
                except BaseException:
                    traceback.print_exc()
                finally:
                    for stream in (sys.stdout, sys.stderr):
                        try:
                            stream.flush()
                        except Exception:
                            pass
                    os._exit(code)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        if report:
            os.close(report_w)
        slot.pid = pid
        slot.pidfd = _pidfd(pid)
        slot.started = time.monotonic()
        slot.restart_at = None
        log.info('Worker %d started: pid %d', slot.number, pid)
        return report_r

    # -- inside a worker -------------------------------------------------------

    def _worker(self, slot: _Slot, report_fd: int, mask: Any) -> int:
        """The body of a worker process; returns its exit status."""
        stop = StopFlag()
        signal.signal(signal.SIGTERM, lambda signum, frame: stop.set(signum))
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        # Whichever of its threads takes the signal, the main one wakes (see
        # run_until_signal()); and the supervisor's wakeup fd is not ours.
        signal.set_wakeup_fd(stop.fileno())
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        # The supervisor's descriptors: only the read end of its lifeline is
        # ours to keep (it reads EOF when the supervisor is gone).
        os.close(self._life_w)
        self._stop.close()
        for other in self._slots:
            if other.pidfd is not None:
                os.close(other.pidfd)
        try:
            listener = SharedListener.share(self.sock)
            self.sock.close()
            app = self.build_func(*self.build_args)
            if self.sslctx is None:
                server = self._server_class(listener, app, **self.options)
            else:
                server = self._server_class(self.sslctx, listener, app, **self.options)
        except Exception as e:
            if report_fd >= 0:
                self._report(report_fd, e)
            else:
                log.error('Worker %d could not start', slot.number, exc_info=True)
            return START_FAILED
        if report_fd >= 0:
            self._report(report_fd, None)
        status = serve_until(server, stop, also=[self._life_r])
        logging.shutdown()
        return status

    @staticmethod
    def _report(fd: int, error: Optional[BaseException]) -> None:
        import pickle
        from . import _transportable
        data = pickle.dumps(None if error is None else _transportable(error))
        try:
            while data:
                data = data[os.write(fd, data):]
        finally:
            os.close(fd)

    # -- supervising -------------------------------------------------------------

    def stop(self) -> None:
        """Make ``serve_forever()`` stop the workers and return; safe in a
        signal handler and from any thread."""
        self._stop.set()

    def wakeup_fd(self) -> int:
        """What wakes ``serve_forever()`` when written to: for
        ``signal.set_wakeup_fd()`` (see ``run_until_signal()``)."""
        return self._stop.fileno()

    def serve_forever(self) -> bool:
        """Restart dead workers until ``stop()``; then stop the workers
        gracefully.  True if every worker then stopped cleanly (status 0).

        If an exception interrupts it (a ``KeyboardInterrupt``, say), the
        workers are killed before it propagates.
        """
        try:
            while not self._stop.is_set():
                try:
                    self._stop.wait(self._next_wake(), self._pidfds())
                except (OSError, ValueError):
                    pass  # a pidfd closed by a shutdown() in another thread
                self._reap()
                self._restart_due()
        except BaseException:
            self.kill()
            raise
        return self.shutdown()

    def _pidfds(self) -> List[int]:
        with self._lock:
            return [s.pidfd for s in self._slots if s.pidfd is not None]

    def _next_wake(self) -> Optional[float]:
        """How long the supervisor may sleep: until a restart is due, or a poll."""
        now = time.monotonic()
        timeouts = [max(0.0, s.restart_at - now) for s in self._slots
                    if s.restart_at is not None]
        if any(s.pid is not None and s.pidfd is None for s in self._slots):
            timeouts.append(SUPERVISE_POLL)
        return min(timeouts) if timeouts else None

    def _forget(self, slot: _Slot) -> None:
        if slot.pidfd is not None:
            os.close(slot.pidfd)
        slot.pid = slot.pidfd = None

    def _reap(self) -> List[_Slot]:
        """Collect the workers that exited; schedule their restarts (unless stopping)."""
        dead = []
        with self._lock:
            for slot in self._slots:
                if slot.pid is None:
                    continue
                try:
                    (pid, status) = os.waitpid(slot.pid, os.WNOHANG)
                except ChildProcessError:
                    (pid, status) = (slot.pid, 0)
                if pid == 0:
                    continue
                self._forget(slot)
                slot.status = status
                dead.append(slot)
                if self._stopping:
                    log.info('Worker %d (pid %d) stopped: %s', slot.number, pid,
                             _exit_text(status))
                    continue
                lived = time.monotonic() - slot.started
                slot.quick_deaths = 0 if lived >= WORKER_STABLE_LIFE else slot.quick_deaths + 1
                delay = restart_delay(slot.quick_deaths)
                slot.restart_at = time.monotonic() + delay
                log.warning('Worker %d (pid %d) %s after %.1f s; restarting in %.1f s',
                            slot.number, pid, _exit_text(status), lived, delay)
        return dead

    def _restart_due(self) -> None:
        now = time.monotonic()
        with self._lock:
            if self._stopping:
                return
            for slot in self._slots:
                if slot.pid is None and slot.restart_at is not None and slot.restart_at <= now:
                    self._fork(slot, report=False)

    # -- stopping ------------------------------------------------------------------

    def _signal_all(self, signum: int) -> None:
        for slot in self._slots:
            if slot.pid is not None:
                try:
                    os.kill(slot.pid, signum)
                except ProcessLookupError:
                    pass

    def shutdown(self) -> bool:
        """Stop every worker gracefully and wait for them; close the socket.

        True if each worker stopped with status 0.  A worker still running
        ``WORKER_EXIT_MARGIN`` seconds after its ``shutdown_timeout`` is
        killed (and that makes the result False).  Safe to call again.
        """
        self.stop()
        with self._lock:
            self._stopping = True
            stopped = [slot for slot in self._slots if slot.pid is not None]
            for slot in self._slots:
                slot.restart_at = None
            self._signal_all(signal.SIGTERM)
        deadline = time.monotonic() + self.shutdown_timeout + WORKER_EXIT_MARGIN
        killed = False
        while True:
            self._reap()
            if not self.pids:
                break
            if time.monotonic() >= deadline and not killed:
                log.warning('Workers %s still running: killing them', self.pids)
                with self._lock:
                    self._signal_all(signal.SIGKILL)
                killed = True
            time.sleep(STOP_POLL)
        self._close()
        return not killed and all(slot.status == 0 for slot in stopped)

    def kill(self) -> None:
        """Stop every worker at once (SIGKILL), wait for them, close the socket."""
        self.stop()
        with self._lock:
            self._stopping = True
            self._signal_all(signal.SIGKILL)
        for slot in self._slots:
            if slot.pid is not None:
                try:
                    os.waitpid(slot.pid, 0)
                except ChildProcessError:
                    pass
                self._forget(slot)
        self._close()

    def _close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._owns_sock:
            self.sock.close()  # (a socket the caller gave stays open)
        for fd in (self._life_r, self._life_w):
            os.close(fd)
        self._stop.close()
