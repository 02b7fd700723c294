# SPDX-License-Identifier: LGPL-3.0-or-later
"""Running a server in the foreground until a signal, and stopping it well.

``run_until_signal(server)`` is what ``degu serve`` does with its server (a
``Server``, an ``SSLServer`` or ``degu.workers.Workers``): serve until SIGTERM
or SIGINT, then stop gracefully (``shutdown()``); a second signal stops at
once.  Exit status 0 after a graceful stop.

Signal handlers run in the main thread, between any two bytecodes of
whatever it was doing, possibly while it holds a lock.  So the handlers
here take no lock and do no work: they set a ``StopFlag`` (a byte written
to a pipe), and the main thread, waiting on that pipe with ``poll()``,
does the stopping outside of any handler.
"""

import logging
import os
import select
import signal
import threading
from typing import Any, Callable, List, Optional, Sequence

__all__ = ('StopFlag', 'StopNow', 'serve_until', 'run_until_signal', 'signal_name')

log = logging.getLogger('degu.server')


# ---------------------------------------------------------------------------
# Waiting for a stop, safely from signal handlers

class StopFlag:
    """A flag set from a signal handler or any thread, and waited for.

    Setting it writes one byte to a pipe (it takes no lock, so a signal
    handler may set it whatever the interrupted code holds); waiting is a
    ``poll()`` on that pipe, optionally with other descriptors (a worker
    also watches its supervisor's pipe).  ``signals`` lists the signals
    that set it, in order.
    """

    def __init__(self) -> None:
        (self._r, self._w) = os.pipe()
        os.set_blocking(self._w, False)
        self.signals: List[int] = []
        self._set = False

    def set(self, signum: Optional[int] = None) -> None:
        if signum is not None:
            self.signals.append(signum)
        self._set = True
        try:
            os.write(self._w, b'\0')
        except (BlockingIOError, OSError):
            pass  # the pipe is full (already set many times) or closed

    def is_set(self) -> bool:
        return self._set

    def fileno(self) -> int:
        """The write end of the pipe (non-blocking): a signal wakeup fd."""
        return self._w

    def wait(self, timeout: Optional[float] = None, also: Sequence[int] = ()) -> List[int]:
        """Wait until set, one of *also* is readable, or *timeout*; the ready fds."""
        if self._set:
            return [self._r]
        poller = select.poll()
        for fd in [self._r] + list(also):
            poller.register(fd, select.POLLIN)
        events = poller.poll(None if timeout is None else timeout * 1000)
        return [fd for (fd, _) in events]

    def close(self) -> None:
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._r = self._w = -1


class StopNow(Exception):
    """Raised by the signal handler on a second signal: stop at once."""


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)


# ---------------------------------------------------------------------------
# Running until a signal

def _serve_in_thread(server: Any, stop: StopFlag, failure: List[BaseException]
                     ) -> threading.Thread:
    def serve() -> None:
        try:
            server.serve_forever()
        except BaseException as e:  # reported by the waiting thread
            failure.append(e)
        finally:
            stop.set()

    thread = threading.Thread(target=serve, name='degu-serve', daemon=True)
    thread.start()
    return thread


def serve_until(server: Any, stop: StopFlag, also: Sequence[int] = ()) -> int:
    """``server.serve_forever()`` in a thread until *stop* is set (or one of
    the descriptors *also* is readable); then ``server.shutdown()``.

    Returns 0, or 1 if ``serve_forever()`` failed (that is logged).
    """
    failure: List[BaseException] = []
    thread = _serve_in_thread(server, stop, failure)
    while not stop.wait(also=also):
        pass
    server.shutdown()
    thread.join()
    if failure:
        log.error('Server failed: %r', failure[0])
        return 1
    return 0


def run_until_signal(server: Any, ready: Optional[Callable[[], None]] = None) -> int:
    """Serve *server* (a ``Server``, ``SSLServer`` or ``Workers``) until
    SIGTERM or SIGINT; return an exit status.

    The first signal stops it gracefully (``shutdown()``: nothing in flight
    is cut while ``shutdown_timeout`` lasts) and the result is 0.  A second
    signal stops it at once: workers are killed, the connections of a
    ``Server`` are left to end with the process, and the result is 1, as
    it is when the server failed.  The signal handlers only set a
    ``StopFlag``; the previous handlers are restored on return.  Call it
    from the main thread (only that one can set signal handlers).

    *ready*, if given, is called once the handlers are in place: what it
    tells (``degu serve`` prints its ``Serving on`` line) may make someone
    send a signal at once.
    """
    from .workers import Workers
    stop = StopFlag()
    is_workers = isinstance(server, Workers)

    def on_signal(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise StopNow(signum)
        stop.set(signum)
        if is_workers:
            server.stop()

    previous = {signum: signal.signal(signum, on_signal)
                for signum in (signal.SIGTERM, signal.SIGINT)}
    # The kernel may hand the signal to any thread (a connection's, say),
    # where it interrupts nothing: Python runs on_signal() in the main
    # thread, asleep in a poll() (stop.wait(), or the workers' own).  The
    # wakeup fd wakes it: the interpreter writes to the pipe of the flag
    # that thread waits on, whichever thread took the signal.
    previous_fd = signal.set_wakeup_fd(
        server.wakeup_fd() if is_workers else stop.fileno())
    try:
        if ready is not None:
            ready()
        if is_workers:
            return 0 if server.serve_forever() else 1
        return serve_until(server, stop)
    except StopNow as e:
        log.warning('Second signal (%s): stopping at once', signal_name(e.args[0]))
        if is_workers:
            server.kill()
        return 1
    finally:
        signal.set_wakeup_fd(previous_fd)
        for (signum, handler) in previous.items():
            signal.signal(signum, handler)
        stop.close()
