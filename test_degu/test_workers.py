# SPDX-License-Identifier: LGPL-3.0-or-later
"""Tests for degu/workers.py, degu/lifecycle.py and degu/activation.py.

The library is tested in this process (``Workers`` forks real worker
processes, talked to with ``degu.client.Client``), and ``degu serve
--workers`` in a subprocess.  Nothing here looks at a timing: where a test
waits for something (a replacement worker, say), it polls in a bounded loop
and fails only when the guard runs out.
"""

import errno
import json
import logging
import os
import re
import signal
import socket
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Set, Type

import pytest

from degu import activation, lifecycle, workers
from degu.client import Client, SSLClient
from degu.errors import TYPE_ERROR
from degu.server import Server
from degu.workers import SharedListener, Workers

from .helpers import Background, wait_until
from .serving import GUARD, SLOW_APP_MODULE, STOPPED, Serving, run_degu

LINUX = os.uname().sysname == 'Linux'


def pid_app(session: Any, request: Any, api: Any) -> Any:
    """Answers with the pid of the process that served the request."""
    if request.path == ['exit']:
        os._exit(7)
    if request.path == ['term']:  # SIGTERM, taken by this connection's thread
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
    return (200, 'OK', {}, str(os.getpid()).encode())


def build_pid_app() -> Any:
    return pid_app


def ask_pid(address: Any, client: Any = None) -> int:
    client = Client(address) if client is None else client
    conn = client.connect()
    try:
        return int(conn.get('/', {}).body.read())
    finally:
        conn.close()


def pids_seen(address: Any, want: int, client: Any = None) -> Set[int]:
    """The pids answering new connections, until *want* of them (bounded)."""
    seen: Set[int] = set()
    for _ in range(500):
        seen.add(ask_pid(address, client))
        if len(seen) >= want:
            break
    return seen


@pytest.fixture
def supervised() -> Iterator[Callable[..., Workers]]:
    """Start ``Workers`` with ``serve_forever()`` in a thread; shut down after."""
    started: List[Background] = []

    def start(*args: Any, **kw: Any) -> Workers:
        w = Workers(*args, **kw)
        started.append(Background(w, GUARD))
        return w

    yield start
    for running in started:
        running.stop()


# -- pure parts ------------------------------------------------------------------------

def test_restart_delay() -> None:
    assert workers.restart_delay(0) == 0.0
    assert workers.restart_delay(-1) == 0.0
    delays = [workers.restart_delay(n) for n in range(1, 10)]
    assert delays[:4] == [0.1, 0.2, 0.4, 0.8]
    assert delays == sorted(delays)
    assert workers.restart_delay(8) == workers.RESTART_DELAY_MAX
    assert workers.restart_delay(10 ** 6) == workers.RESTART_DELAY_MAX


def test_available_cpus() -> None:
    if hasattr(os, 'sched_getaffinity'):
        assert workers.available_cpus() == len(os.sched_getaffinity(0))
    assert workers.available_cpus() >= 1


def test_stop_flag() -> None:
    flag = lifecycle.StopFlag()
    try:
        assert not flag.is_set()
        assert flag.wait(0) == []
        threading.Timer(0.01, flag.set, args=(signal.SIGTERM,)).start()
        assert flag.wait(GUARD) != []
        assert flag.is_set() and flag.signals == [signal.SIGTERM]
        for _ in range(100000):  # a full pipe does not block or fail
            flag.set()
        assert flag.wait(0) != []
        (r, w) = os.pipe()
        os.write(w, b'x')
        other = lifecycle.StopFlag()
        assert other.wait(GUARD, also=[r]) == [r]
        other.close()
        os.close(r)
        os.close(w)
    finally:
        flag.close()
    flag.set()  # harmless once closed


# -- socket activation: the variables ----------------------------------------------------

def test_parse_listen_env() -> None:
    parse = activation.parse_listen_env
    assert parse({}, 7) is None
    assert parse({'LISTEN_FDS': '1'}, 7) is None  # no LISTEN_PID: not for us
    assert parse({'LISTEN_PID': '8', 'LISTEN_FDS': '1'}, 7) is None
    assert parse({'LISTEN_PID': '7', 'LISTEN_FDS': '0'}, 7) == []
    assert parse({'LISTEN_PID': '7', 'LISTEN_FDS': '3', 'LISTEN_FDNAMES': 'a:b:c'}, 7) == [
        (3, 'a'), (4, 'b'), (5, 'c')]
    for (env, message) in [
        ({'LISTEN_PID': 'x'}, "LISTEN_PID: need a number; got 'x'"),
        ({'LISTEN_PID': '7'}, 'LISTEN_PID is set but LISTEN_FDS is not'),
        ({'LISTEN_PID': '7', 'LISTEN_FDS': '-1'}, "LISTEN_FDS: need a number; got '-1'"),
        ({'LISTEN_PID': '7', 'LISTEN_FDS': '2', 'LISTEN_FDNAMES': 'a'},
         'LISTEN_FDNAMES names 1 sockets, LISTEN_FDS says 2'),
    ]:
        with pytest.raises(ValueError) as e:
            parse(env, 7)
        assert str(e.value) == message


def test_listen_socket_unsets_the_variables() -> None:
    env = {'LISTEN_PID': '1', 'LISTEN_FDS': '1', 'LISTEN_FDNAMES': 'web', 'HOME': '/'}
    assert activation.listen_socket(env, pid=2) is None
    assert env == {'HOME': '/'}
    env = {'LISTEN_PID': '2', 'LISTEN_FDS': '2', 'LISTEN_FDNAMES': 'web:admin'}
    with pytest.raises(ValueError) as e:
        activation.listen_socket(env, pid=2)
    assert str(e.value) == 'systemd passed 2 sockets (web, admin); Degu serves one'
    assert env == {}
    env = {'LISTEN_PID': '2', 'LISTEN_FDS': 'two'}
    with pytest.raises(ValueError):
        activation.listen_socket(env, pid=2)
    assert env == {}


# -- SharedListener ----------------------------------------------------------------------

def test_shared_listener_stops_only_itself() -> None:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        sock.listen(8)
        listener = SharedListener.share(sock)
        assert listener.fileno() != sock.fileno()
        errors: List[OSError] = []

        def accept() -> None:
            try:
                listener.accept()
            except OSError as e:
                errors.append(e)

        thread = threading.Thread(target=accept)
        thread.start()
        listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() ...
        thread.join(GUARD)
        assert not thread.is_alive()
        assert [e.errno for e in errors] == [errno.EINVAL]
        listener.close()
        with pytest.raises(OSError) as e:
            listener.accept()
        assert e.value.errno == errno.EINVAL
        # ... while the socket itself still listens, for everyone else.
        with socket.create_connection(sock.getsockname(), timeout=GUARD):
            sock.settimeout(GUARD)
            (conn, _) = sock.accept()
            conn.close()


def test_shared_listener_serves() -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(b'')
        sock.listen(8)
        server = Server(SharedListener.share(sock), pid_app)
        thread = threading.Thread(target=server.serve_forever)
        thread.start()
        assert ask_pid(sock.getsockname()) == os.getpid()
        server.shutdown()
        thread.join(GUARD)
        assert not thread.is_alive()
        # A plain Server given this socket would have shut it down.
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(sock.getsockname())


# -- Workers, the library --------------------------------------------------------------

@pytest.mark.parametrize('build_func, options, exc, message', [
    (build_pid_app, {'workers': '2'}, TypeError, TYPE_ERROR.format('workers', int, str, '2')),
    (build_pid_app, {'workers': 0}, ValueError, 'workers must be >= 1; got 0'),
    (17, {}, TypeError, 'build_func: not callable: 17'),
    (build_pid_app, {'nope': 1}, TypeError, 'unsupported Server() **options: nope'),
    (build_pid_app, {'shutdown_timeout': 0}, ValueError, 'shutdown_timeout must be > 0; got 0'),
], ids=['workers-str', 'workers-0', 'not-callable', 'unknown-option', 'shutdown_timeout-0'])
def test_workers_bad_arguments(build_func: Any, options: Dict[str, Any],
                               exc: Type[Exception], message: str) -> None:
    with pytest.raises(exc) as e:
        Workers(('127.0.0.1', 0), build_func, **options)
    assert str(e.value) == message


def test_workers_answer_from_each_process(supervised: Any) -> None:
    w = supervised(('127.0.0.1', 0), build_pid_app, workers=3)
    assert repr(w) == 'Workers({!r}, workers=3)'.format(w.address)
    assert len(set(w.pids)) == 3 and os.getpid() not in w.pids
    assert pids_seen(w.address, 3) == set(w.pids)


def test_workers_unix_socket(tmp_path: Any) -> None:
    path = str(tmp_path / 'workers.socket')
    w = Workers(path, build_pid_app, workers=2)
    try:
        assert w.address == path
        assert pids_seen(path, 2) == set(w.pids)
    finally:
        assert w.shutdown() is True
    assert w.pids == []
    assert w.shutdown() is True  # again: nothing to do


def test_workers_tls(pki: Any) -> None:
    w = Workers(('127.0.0.1', 0), build_pid_app, workers=2,
                sslconfig=pki.server_sslconfig)
    try:
        client = SSLClient(pki.client_sslconfig, w.address)
        assert pids_seen(w.address, 2, client) == set(w.pids)
    finally:
        assert w.shutdown() is True


def test_workers_on_a_given_socket() -> None:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        sock.listen(8)
        w = Workers(sock, build_pid_app, workers=2)
        assert w.address == sock.getsockname()
        assert pids_seen(w.address, 2) == set(w.pids)
        assert w.shutdown() is True
        # The caller's socket is still open, and still listening.
        assert sock.fileno() >= 0
        with socket.create_connection(sock.getsockname(), timeout=GUARD):
            pass


class BuildError(Exception):
    pass


def build_raises() -> Any:
    raise BuildError('no app today')


def build_exits() -> Any:
    os._exit(5)


def test_workers_start_failures() -> None:
    with pytest.raises(BuildError) as e:
        Workers(('127.0.0.1', 0), build_raises, workers=2)
    assert str(e.value) == 'no app today'
    with pytest.raises(RuntimeError) as e2:
        Workers(('127.0.0.1', 0), build_exits, workers=1)
    assert str(e2.value) == 'worker 1 exited with status 5 before it was ready'
    with pytest.raises(OSError) as e3:
        Workers(('127.0.0.1', 0), build_pid_app, sslconfig={
            'cert_file': '/nonexistent.cert', 'key_file': '/nonexistent.key',
            'allow_unauthenticated_clients': True})
    assert e3.value.errno == errno.ENOENT
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # no worker left behind


def test_dead_worker_is_replaced(supervised: Any) -> None:
    w = supervised(('127.0.0.1', 0), build_pid_app, workers=2)
    first = set(w.pids)
    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: victim not in w.pids and len(w.pids) == 2, 'a new worker', GUARD)
    assert len(first & set(w.pids)) == 1
    assert pids_seen(w.address, 2) == set(w.pids)


def test_worker_stops_on_a_signal_taken_by_a_connection_thread(supervised: Any) -> None:
    # The worker's main thread sleeps in its stop flag's poll() while a
    # connection thread takes the SIGTERM: it must still wake and stop (and
    # the supervisor then starts another worker).
    w = supervised(('127.0.0.1', 0), build_pid_app, workers=1)
    conn = Client(w.address).connect()
    try:
        victim = int(conn.get('/term', {}).body.read())
    finally:
        conn.close()
    assert victim in w.pids
    wait_until(lambda: victim not in w.pids, 'the worker to stop', GUARD)


def test_crashing_worker_backs_off(supervised: Any, tmp_path: Any,
                                   caplog: Any) -> None:
    marker = str(tmp_path / 'broken')

    def build() -> Any:
        if os.path.exists(marker):
            raise BuildError('broken on restart')
        return pid_app

    caplog.set_level(logging.INFO, logger='degu.workers')
    w = supervised(('127.0.0.1', 0), build, workers=1)
    open(marker, 'w').close()
    os.kill(w.pids[0], signal.SIGKILL)

    def restarts() -> List[str]:
        found = [r.getMessage() for r in caplog.records
                 if r.name == 'degu.workers' and 'restarting in' in r.getMessage()]
        return found if len(found) >= 4 else []

    lines = wait_until(restarts, 'four restarts', GUARD)
    delays = [float(re.search(r'restarting in ([0-9.]+) s$', line).group(1))  # type: ignore
              for line in lines[:4]]
    assert delays == [0.1, 0.2, 0.4, 0.8]
    assert 'was killed by SIGKILL' in lines[0]
    assert 'exited with status {}'.format(workers.START_FAILED) in lines[1]


def slow_app_builder(started: str, release: str) -> Callable[[], Any]:
    """An app whose /slow creates *started*, then waits for *release* to exist."""
    def app(session: Any, request: Any, api: Any) -> Any:
        if request.path == ['slow']:
            open(started, 'w').close()
            for _ in range(GUARD * 100):
                if os.path.exists(release):
                    break
                time.sleep(0.01)
            return (200, 'OK', {}, b'finished')
        return pid_app(session, request, api)
    return lambda: app


def test_shutdown_lets_requests_finish(tmp_path: Any) -> None:
    (started, release) = (str(tmp_path / 'started'), str(tmp_path / 'release'))
    w = Workers(('127.0.0.1', 0), slow_app_builder(started, release), workers=2)
    answers: List[bytes] = []

    def slow() -> None:
        conn = Client(w.address).connect()
        answers.append(conn.get('/slow', {}).body.read())

    thread = threading.Thread(target=slow)
    thread.start()
    wait_until(lambda: os.path.exists(started), 'the slow request', GUARD)
    stopper = threading.Thread(target=lambda: answers.append(w.shutdown()))
    stopper.start()
    wait_until(lambda: len(w.pids) == 1, 'the idle worker to stop', GUARD)
    assert answers == []  # the busy worker is still finishing its request
    open(release, 'w').close()
    thread.join(GUARD)
    stopper.join(GUARD)
    assert answers == [b'finished', True]


def test_kill() -> None:
    w = Workers(('127.0.0.1', 0), build_pid_app, workers=2)
    pids = w.pids
    w.kill()
    assert w.pids == []
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    w.kill()


# -- run_until_signal, in this process ---------------------------------------------------

def test_run_until_signal_server() -> None:
    server = Server(('127.0.0.1', 0), pid_app)
    before = signal.getsignal(signal.SIGTERM)

    def ask_then_signal() -> None:
        ask_pid(server.address)
        os.kill(os.getpid(), signal.SIGTERM)

    ready = threading.Thread(target=ask_then_signal).start
    assert lifecycle.run_until_signal(server, ready) == 0
    assert signal.getsignal(signal.SIGTERM) is before


def run_until_signal_taken_by_another_thread(server: Any) -> int:
    """``run_until_signal(server)``, stopped by a SIGTERM sent to another thread.

    The kernel may hand a process's signal to any of its threads; Python's
    handler still runs in the main thread, which must then wake up from its
    poll().  If it stayed asleep, a second signal (to the main thread) wakes
    it after GUARD seconds, and the result is 1, not 0.
    """
    returned = threading.Event()

    def ask_then_signal_here() -> None:
        ask_pid(server.address)
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
        if not returned.wait(GUARD):
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    ready = threading.Thread(target=ask_then_signal_here).start
    try:
        return lifecycle.run_until_signal(server, ready)
    finally:
        returned.set()


def test_run_until_signal_signal_taken_by_another_thread() -> None:
    # A Server: the main thread sleeps in the stop flag's poll().
    assert run_until_signal_taken_by_another_thread(Server(('127.0.0.1', 0), pid_app)) == 0


def test_run_until_signal_workers_signal_taken_by_another_thread() -> None:
    # Workers: the supervisor sleeps in its own stop flag's poll().
    w = Workers(('127.0.0.1', 0), build_pid_app, workers=1)
    assert run_until_signal_taken_by_another_thread(w) == 0
    assert w.pids == []


def test_run_until_signal_second_signal(tmp_path: Any) -> None:
    (started, release) = (str(tmp_path / 'started'), str(tmp_path / 'release'))
    w = Workers(('127.0.0.1', 0), slow_app_builder(started, release), workers=1,
                shutdown_timeout=GUARD)
    errors: List[Exception] = []

    def slow() -> None:
        try:
            Client(w.address).connect().get('/slow', {}).body.read()
        except Exception as e:
            errors.append(e)

    thread = threading.Thread(target=slow)
    thread.start()

    def signal_twice() -> None:
        wait_until(lambda: os.path.exists(started), 'the slow request', GUARD)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGINT)

    # Once the handlers are in place (else SIGINT would interrupt pytest).
    ready = threading.Thread(target=signal_twice).start
    assert lifecycle.run_until_signal(w, ready) == 1
    thread.join(GUARD)
    assert len(errors) == 1 and isinstance(errors[0], ConnectionError)
    assert w.pids == []


# -- degu serve --workers ----------------------------------------------------------------

@pytest.fixture
def appdir(tmp_path: Any) -> str:
    (tmp_path / 'pidapp.py').write_text(SLOW_APP_MODULE)
    return str(tmp_path)


def test_serve_workers(appdir: str) -> None:
    with Serving(appdir, '--app', 'pidapp:app', '-a', '127.0.0.1:0',
                 '--workers', '2') as s:
        assert s.lines == ['Serving on http://127.0.0.1:{}/\n'.format(s.address[1])]
        pids = pids_seen(s.address, 2)
        assert len(pids) == 2 and s.proc.pid not in pids
        assert s.stop(signal.SIGTERM) == 0
        assert s.rest() == STOPPED + s.url + '\n'
        log = s.stderr()
    assert '2 workers serving {}: pids '.format(s.url) in log
    for pid in pids:
        assert re.search(r'INFO degu\.access\[{}\]: 127\.0\.0\.1:\d+ "GET /" 200 '
                         r'\d+ \d+\.\d{{6}}\n'.format(pid), log)
        assert 'stopped: exited with status 0' in log
    assert 'Traceback' not in log


def test_serve_workers_auto_unix(appdir: str) -> None:
    path = os.path.join(appdir, 'w.socket')
    with Serving(appdir, '--app', 'pidapp:app', '-a', path, '--workers', 'auto',
                 '--quiet') as s:
        assert s.address == path
        assert len(pids_seen(path, workers.available_cpus())) == workers.available_cpus()
        assert s.stop(signal.SIGINT) == 0
        assert s.stderr() == ''
    assert not os.path.exists(path)


def test_serve_workers_tls(appdir: str) -> None:
    with Serving(appdir, '--app', 'pidapp:app', '-a', '127.0.0.1:0',
                 '--workers', '2', '--temp-pki') as s:
        assert s.url.startswith('https://127.0.0.1:')
        config = json.loads(s.lines[0][len('Client TLS config: '):])
        client = SSLClient(config, s.address)
        assert len(pids_seen(s.address, 2, client)) == 2
        assert s.stop() == 0


def test_serve_workers_sigterm_lets_slow_request_finish(appdir: str) -> None:
    with Serving(appdir, '--app', 'pidapp:app', '-a', '127.0.0.1:0',
                 '--workers', '2') as s:
        answers: List[bytes] = []
        thread = threading.Thread(target=lambda: answers.append(
            Client(s.address).connect().get('/slow', {}).body.read()))
        thread.start()
        wait_until(lambda: os.path.exists(os.path.join(appdir, 'started')), 'slow', GUARD)
        s.send(signal.SIGTERM)
        wait_until(lambda: 'stopped: exited with status 0' in s.stderr(),
                   'the idle worker to stop', GUARD)
        assert s.proc.poll() is None and answers == []
        open(os.path.join(appdir, 'release'), 'w').close()
        thread.join(GUARD)
        assert answers == [b'finished']
        assert s.wait() == 0


def test_serve_workers_killed_worker_is_replaced(appdir: str) -> None:
    with Serving(appdir, '--app', 'pidapp:app', '-a', '127.0.0.1:0',
                 '--workers', '2') as s:
        pids = pids_seen(s.address, 2)
        victim = min(pids)
        os.kill(victim, signal.SIGKILL)
        log = wait_until(lambda: 'restarting in' in s.stderr() and s.stderr(),
                         'the restart', GUARD)
        assert 'Worker 1 (pid {}) was killed by SIGKILL after'.format(victim) in log \
            or 'Worker 2 (pid {}) was killed by SIGKILL after'.format(victim) in log
        new = wait_until(lambda: pids_seen(s.address, 2) - {victim}
                         if len(pids_seen(s.address, 2) - {victim}) == 2 else None,
                         'two live workers', GUARD)
        assert victim not in new and len(new & pids) == 1
        assert s.stop() == 0


def test_serve_workers_usage(capsys: Any) -> None:
    from degu import cli
    with pytest.raises(SystemExit) as e:
        cli.main(['serve', '--workers', '0'])
    assert e.value.code == 2
    assert capsys.readouterr().err.endswith(
        "error: argument --workers: need a number > 0 or \"auto\"; got '0'\n")


def test_serve_workers_start_failure(appdir: str) -> None:
    with open(os.path.join(appdir, 'badapp.py'), 'w') as fp:
        fp.write('def build():\n    raise RuntimeError("cannot build")\n')
    result = run_degu('serve', '--app', 'badapp:build', '-a', '127.0.0.1:0',
                      '--workers', '2', '--quiet', cwd=appdir)
    assert result.returncode == 1
    assert result.stdout == b''
    assert re.fullmatch(
        r'degu serve: cannot serve on http://127\.0\.0\.1:0/: cannot build\n',
        result.stderr.decode())
