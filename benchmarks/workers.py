# SPDX-License-Identifier: LGPL-3.0-or-later
"""Part 5, workers: ``degu serve --workers N`` under 50 keep-alive clients.

One server process runs Python code on one core at a time (the GIL), so
this part measures what ``--workers`` buys: the same small GET (``app``
below answers 12 bytes) served by ``degu serve --workers 1`` and
``--workers 2`` over TCP loopback, 50 concurrent keep-alive connections,
the cases interleaved, the median of each reported, and the ratio of 2
workers to 1 (and to 1 pinned to one CPU: ``WORKER_CASES``).  The target (``report.py``): 2 workers give at least 1.3x one
worker on a 2-core machine.

The load comes from ``wrk`` (Debian's package, which ``.ci/run`` installs)
when it is installed: a C program, so the clients cost little of the CPU
the server needs.  Without it, a load generator of ours does the same with
2 processes of 25 raw connections each (``own_load()``); it costs more CPU,
so its ratio is lower.  The report names the tool.

Unlike the other parts, nothing here is pinned to one CPU (but the server
of the "1 CPU" case): the point is to use them all.  The servers and the
load generator run with the CPU set the benchmark had before it pinned
itself.
"""

import os
import re
import selectors
import shutil
import socket
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional, Set, Tuple

from .common import Progress, Settings, median

# (name, --workers, server pinned to one CPU).  One worker is measured as
# deployed (free to run on every CPU; the target compares 2 workers with
# this) and also pinned to one CPU: CPython threads that chase the GIL
# across CPUs serve much less than the same threads on one CPU, so the
# second ratio, 2 workers against that, is the stricter one.
WORKER_CASES: Tuple[Tuple[str, int, bool], ...] = (
    ('1 worker', 1, False),
    ('1 worker, 1 CPU', 1, True),
    ('2 workers', 2, False),
)
CLIENTS = 50
TREE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REQUEST = b'GET / HTTP/1.1\r\nHost: bench\r\n\r\n'


def app(session: Any, request: Any, api: Any) -> Any:
    """What the servers of this part serve (``--app benchmarks.workers:app``)."""
    return (200, 'OK', {}, b'hello, world')


def _unpinned(affinity: Optional[Set[int]]) -> Any:
    if affinity is None or not hasattr(os, 'sched_setaffinity'):
        return None
    return lambda: os.sched_setaffinity(0, affinity)


def _start_server(workers: int, affinity: Optional[Set[int]]
                  ) -> Tuple['subprocess.Popen[bytes]', Tuple[str, int]]:
    env = dict(os.environ)
    env['PYTHONPATH'] = TREE + (os.pathsep + env['PYTHONPATH'] if env.get('PYTHONPATH') else '')
    proc = subprocess.Popen(
        [sys.executable, '-m', 'degu', 'serve', '--app', 'benchmarks.workers:app',
         '--address', '127.0.0.1:0', '--workers', str(workers), '--quiet',
         '--max-requests', '75000'],
        cwd=TREE, env=env, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
        preexec_fn=_unpinned(affinity),
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    m = re.fullmatch(r'Serving on http://127\.0\.0\.1:(\d+)/\n', line)
    if m is None:
        proc.kill()
        proc.wait()
        raise RuntimeError('degu serve did not start: {!r}'.format(line))
    return (proc, ('127.0.0.1', int(m.group(1))))


def _stop_server(proc: 'subprocess.Popen[bytes]') -> Optional[str]:
    proc.terminate()
    status = proc.wait(60)
    if proc.stdout is not None:
        proc.stdout.close()
    return None if status == 0 else 'degu serve exited with status {}'.format(status)


# -- load generators -----------------------------------------------------------

def wrk_load(address: Tuple[str, int], seconds: int,
             affinity: Optional[Set[int]]) -> Tuple[float, List[str]]:
    """Requests per second that ``wrk`` got, and the errors it saw."""
    wrk = shutil.which('wrk')
    assert wrk is not None
    url = 'http://{}:{}/'.format(*address)
    out = subprocess.run(
        [wrk, '-t2', '-c{}'.format(CLIENTS), '-d{}s'.format(seconds), url],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=seconds + 60,
        universal_newlines=True, preexec_fn=_unpinned(affinity),
    ).stdout
    errors = []
    m = re.search(r'Requests/sec:\s+([0-9.]+)', out)
    for pattern in (r'Socket errors: .*', r'Non-2xx or 3xx responses: \d+'):
        errors.extend(re.findall(pattern, out))
    if m is None:
        errors.append('wrk: no result: ' + out[-200:])
        return (0.0, errors)
    return (float(m.group(1)), errors)


def _load_process(address: Tuple[str, int], clients: int, seconds: float, out: int) -> None:
    """One load process: *clients* keep-alive connections, GET / in turn."""
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(clients):
        sock = socket.create_connection(address)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        sock.send(REQUEST)
        sel.register(sock, selectors.EVENT_READ, bytearray())
        socks.append(sock)
    count = errors = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for (key, _) in sel.select(1.0):
            buf = key.data
            data = key.fileobj.recv(65536)  # type: ignore
            if not data:
                errors += 1
                sel.unregister(key.fileobj)
                continue
            buf += data
            # The answer is always the same: headers, then 12 bytes.
            while True:
                end = buf.find(b'\r\n\r\n')
                if end < 0 or len(buf) < end + 4 + 12:
                    break
                if not buf.startswith(b'HTTP/1.1 200 '):
                    errors += 1
                del buf[:end + 4 + 12]
                count += 1
                key.fileobj.send(REQUEST)  # type: ignore
    os.write(out, '{} {}\n'.format(count, errors).encode())


def own_load(address: Tuple[str, int], seconds: int,
             affinity: Optional[Set[int]]) -> Tuple[float, List[str]]:
    """Like ``wrk_load()``, with 2 processes of 25 connections of our own."""
    (r, w) = os.pipe()
    pids = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:
            try:
                if affinity is not None:
                    os.sched_setaffinity(0, affinity)
                _load_process(address, CLIENTS // 2, seconds, w)
            finally:
                os._exit(0)
        pids.append(pid)
    os.close(w)
    with os.fdopen(r) as fp:
        results = [line.split() for line in fp]
    for pid in pids:
        os.waitpid(pid, 0)
    count = sum(int(c) for (c, _) in results)
    errors = sum(int(e) for (_, e) in results)
    problems = ['{} bad or closed connections'.format(errors)] if errors else []
    if len(results) != 2:
        problems.append('a load process failed')
    return (count / seconds, problems)


# -- the part ------------------------------------------------------------------

def bench_workers(settings: Settings, progress: Progress,
                  affinity: Optional[Set[int]]) -> Dict[str, Any]:
    seconds = max(1, int(round(settings.concurrency_seconds * 2)))
    rounds = 1 if settings.rounds < 3 else 3
    use_wrk = shutil.which('wrk') is not None
    load = wrk_load if use_wrk else own_load
    if affinity is None and hasattr(os, 'sched_getaffinity'):
        affinity = os.sched_getaffinity(0)
    cases = [case for case in WORKER_CASES if affinity or not case[2]]
    samples: Dict[str, List[float]] = {name: [] for (name, _, _) in cases}
    errors: List[str] = []
    for _ in range(rounds):
        for (name, workers, pinned) in cases:
            server_cpus = {min(affinity)} if pinned and affinity else affinity
            try:
                (proc, address) = _start_server(workers, server_cpus)
            except (OSError, RuntimeError) as e:
                errors.append(repr(e))
                continue
            try:
                (rps, problems) = load(address, seconds, affinity)
            finally:
                stopped = _stop_server(proc)
            samples[name].append(rps)
            errors.extend(problems + ([stopped] if stopped else []))
            progress.step('{}: {:,.0f} requests/s'.format(name, rps))
    medians = {name: median(samples[name]) for name in samples}
    (one, pinned_one, two) = (medians.get('1 worker'), medians.get('1 worker, 1 CPU'),
                              medians.get('2 workers'))
    return {
        'tool': 'wrk (-t2)' if use_wrk else 'own load generator (2 processes)',
        'clients': CLIENTS,
        'seconds': seconds,
        'rounds': rounds,
        'cpus': len(affinity) if affinity else os.cpu_count(),
        'levels': [{'case': name, 'workers': workers, 'pinned': pinned,
                    'rps': medians[name], 'samples': samples[name]}
                   for (name, workers, pinned) in cases],
        'ratio': two / one if one and two else None,
        'ratio_vs_one_cpu': two / pinned_one if pinned_one and two else None,
        'errors': errors,
    }
