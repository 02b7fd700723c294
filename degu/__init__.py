# SPDX-License-Identifier: LGPL-3.0-or-later
"""Degu: an embedded HTTP/1.1 server and client library.

Importing ``degu`` is deliberately cheap: this module imports none of its
submodules (nor ``socket``, ``ssl``, ``threading`` or ``multiprocessing``).
"""

import os
import warnings
from typing import Any, Callable, Dict, Optional, Tuple, TypeVar

__version__ = '0.19.0'

IPv6_LOOPBACK = ('::1', 0, 0, 0)
IPv6_ANY = ('::', 0, 0, 0)
IPv4_LOOPBACK = ('127.0.0.1', 0)
IPv4_ANY = ('0.0.0.0', 0)
ADDRESS_CONSTANTS = (IPv6_LOOPBACK, IPv6_ANY, IPv4_LOOPBACK, IPv4_ANY)


# ---------------------------------------------------------------------------
# Embedding: run a server in a background process
#
# The parent process imports ``multiprocessing`` only when a server is
# started, and never ``degu.server``: the child builds the app, binds the
# socket, reports the bound address (or the exception that stopped it) on a
# queue, then serves until it is terminated.

# Seconds between checks that a starting server process is still alive while
# the parent waits for its address (startup itself may take any time).
_STARTUP_POLL = 0.1

# How a caught startup exception is described when it cannot travel through
# the queue (it does not survive pickling).
_UNPICKLABLE = 'server startup failed with an unpicklable exception: {!r}'


def _transportable(error: BaseException) -> BaseException:
    """*error* itself if it survives a pickle round trip, else a RuntimeError.

    ``Queue.put()`` pickles in a background thread where a failure would be
    lost, leaving the parent waiting forever; so we check first.
    """
    import pickle
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return RuntimeError(_UNPICKLABLE.format(error))
    return error


def _run_server(queue: Any, sslconfig: Optional[Dict[str, Any]], address: Any,
                build_func: Callable[..., Any], build_args: Tuple[Any, ...],
                options: Dict[str, Any]) -> None:
    """Body of the server process: build, bind, report, serve forever.

    A module-level function, so that it can be the target of a process
    under any start method (``spawn`` and ``forkserver`` pickle it by name).
    """
    import signal
    # A SIGTERM handler inherited through fork() would make terminate()
    # (and the join() after it) wait forever.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        from degu.server import Server, SSLServer
        app = build_func(*build_args)
        if sslconfig is None:
            server = Server(address, app, **options)
        else:
            server = SSLServer(sslconfig, address, app, **options)
    except Exception as e:
        # Not BaseException: a SystemExit or KeyboardInterrupt here should
        # end the child (the parent then reports its exit code), not travel
        # to the parent and end that too.
        queue.put(_transportable(e))
        return
    queue.put(server.address)
    server.serve_forever()


def _stop_process(process: Any) -> None:
    """Terminate *process* and wait for it; does nothing the second time."""
    process.terminate()
    process.join()


def _await_address(queue: Any, process: Any) -> Any:
    """The child's first (and only) report: its bound address or an exception."""
    import queue as queue_module
    while True:
        try:
            return queue.get(timeout=_STARTUP_POLL)
        except queue_module.Empty:
            if not process.is_alive():
                break
    try:
        # It may have reported just before exiting.
        return queue.get(timeout=_STARTUP_POLL)
    except queue_module.Empty:
        raise RuntimeError(
            'server process exited with code {!r} before reporting its '
            'address'.format(process.exitcode)
        ) from None


def _start(context: Any, sslconfig: Optional[Dict[str, Any]], address: Any,
           build_func: Callable[..., Any], build_args: Tuple[Any, ...],
           options: Dict[str, Any]) -> Tuple[Any, Any]:
    """Start a daemon server process with *context*; ``(process, address)``.

    A startup exception raised in the child is re-raised here, after the
    child has been terminated and joined.
    """
    queue = context.Queue()
    process = context.Process(
        target=_run_server,
        args=(queue, sslconfig, address, build_func, build_args, options),
        daemon=True,
    )
    with warnings.catch_warnings():
        # Python 3.12+ warns that fork() in a multi-threaded process may
        # deadlock the child.  The child here only imports degu.server and
        # serves, taking no lock a parent thread could hold, so the warning
        # (an error under -W error) does not apply.
        warnings.filterwarnings(
            'ignore', category=DeprecationWarning,
            message=r'.*multi-threaded, use of fork\(\) may lead to deadlocks',
        )
        process.start()
    try:
        report = _await_address(queue, process)
    except BaseException:
        _stop_process(process)
        raise
    finally:
        queue.close()
    if isinstance(report, BaseException):
        _stop_process(process)
        raise report
    return (process, report)


def _default_context() -> Any:
    """The ``multiprocessing`` module itself: its default context.

    ``multiprocessing.Process`` and ``multiprocessing.Queue`` use whatever
    start method is in force (``set_start_method()``, or the platform's
    default), and the process is then an instance of
    ``multiprocessing.Process``, as the original Degu documents for
    ``EmbeddedServer.process``.  ``multiprocessing.get_context()`` would
    return the concrete context instead (``fork``, ``spawn`` ...), whose
    ``Process`` classes are not subclasses of ``multiprocessing.Process``.
    Embedded servers run a module-level build function, so every start
    method can run them.
    """
    import multiprocessing
    return multiprocessing


def _check_sslconfig(sslconfig: Any) -> None:
    if type(sslconfig) is not dict:
        from .errors import TYPE_ERROR
        raise TypeError(
            TYPE_ERROR.format('sslconfig', dict, type(sslconfig), sslconfig)
        )


def start_server(address: Any, build_func: Callable[..., Any],
                 *build_args: Any, **options: Any) -> Tuple[Any, Any]:
    """Run ``Server(address, build_func(*build_args), **options)`` in a process.

    Returns ``(process, address)`` where *address* is the bound address (with
    the kernel-assigned port, for instance).  The process is a daemon: stop
    it with ``process.terminate()``.  *build_func* runs in the child, so it
    must be a module-level function when the start method is not ``fork``.
    """
    return _start(_default_context(), None, address, build_func,
                  build_args, options)


def start_sslserver(sslconfig: Dict[str, Any], address: Any,
                    build_func: Callable[..., Any], *build_args: Any,
                    **options: Any) -> Tuple[Any, Any]:
    """Like ``start_server()``, but run ``SSLServer(sslconfig, ...)``."""
    _check_sslconfig(sslconfig)
    return _start(_default_context(), sslconfig, address,
                  build_func, build_args, options)


_start_server = start_server
_start_sslserver = start_sslserver

_S = TypeVar('_S', bound='_ServerProcess')


class _ServerProcess:
    """What every server-in-a-process shares: its process and how to stop it.

    ``terminate()`` stops the process and waits for it.  It is repeatable,
    harmless after a failed ``__init__`` (``process`` is then ``None``), runs
    on garbage collection and on leaving a ``with`` block, and does nothing
    in any process but the one that started the server (so a forked copy of
    this object cannot stop its parent's server).
    """

    # Class-level defaults, so terminate() works after a failed __init__.
    process: Any = None
    address: Any = None
    _owner_pid: Optional[int] = None

    def _launch(self, context: Any, sslconfig: Optional[Dict[str, Any]],
                address: Any, build_func: Callable[..., Any],
                build_args: Tuple[Any, ...], options: Dict[str, Any]) -> None:
        (process, bound) = _start(
            context, sslconfig, address, build_func, build_args, options
        )
        self._owner_pid = os.getpid()
        self.process = process
        self.address = bound

    def terminate(self) -> None:
        """Stop the server process and wait for it; safe to call repeatedly."""
        if self.process is not None and self._owner_pid == os.getpid():
            _stop_process(self.process)

    def __del__(self) -> None:
        self.terminate()

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.terminate()


class EmbeddedServer(_ServerProcess):
    """A ``Server`` running in a background process, for as long as needed.

    ``build_func(*build_args)`` is called in the child process to create the
    app; ``address`` is the bound address.  Stop the server with
    ``terminate()`` (also called on garbage collection, and on leaving a
    ``with`` block)::

        with EmbeddedServer(IPv4_LOOPBACK, build_app) as server:
            client = Client(server.address)
    """

    def __init__(self, address: Any, build_func: Callable[..., Any],
                 *build_args: Any, **options: Any) -> None:
        self.build_func = build_func
        self.build_args = build_args
        self.options = options
        self._launch(_default_context(), None, address,
                     build_func, build_args, options)


class EmbeddedSSLServer(_ServerProcess):
    """An ``SSLServer`` running in a background process (see ``EmbeddedServer``)."""

    def __init__(self, sslconfig: Dict[str, Any], address: Any,
                 build_func: Callable[..., Any], *build_args: Any,
                 **options: Any) -> None:
        _check_sslconfig(sslconfig)
        self.sslconfig = sslconfig
        self.build_func = build_func
        self.build_args = build_args
        self.options = options
        self._launch(_default_context(), sslconfig, address,
                     build_func, build_args, options)
