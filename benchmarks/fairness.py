# SPDX-License-Identifier: LGPL-3.0-or-later
"""Part 6, fairness: 500 concurrent keep-alive clients (``wrk``) against one server.

One degu server (a child process, on the CPU the benchmark is pinned to,
``max_connections=600``: the default of 50 would refuse most of them with a
``503``) answers ``GET /`` (12 bytes) to ``wrk -t1 -c500 --latency`` running
on another CPU.  Reported: requests/s, the latency percentiles wrk measured,
the requests that waited more than 2 s (wrk's timeouts), and how many
connects the kernel dropped from a full accept queue meanwhile
(``TcpExtListenOverflows`` of ``/proc/net/netstat``, machine-wide).  Skipped
without ``wrk`` or without a second CPU.

The same load first goes to the floor (``raw-http`` of
``benchmarks.servers``): a Python server with a thread per connection that
answers each request with fixed bytes and parses nothing.  Its latencies
are what the interpreter, the GIL and the kernel cost such a server on this
machine, whatever it does per request; degu's are reported beside them.
"""

import os
import re
import shutil
import subprocess
from typing import Any, Dict, Optional, Set

from .common import Progress, Settings
from .servers import ServerProcess, ServerSpec
from .workers import app

CLIENTS = 500
MAX_CONNECTIONS = 600
PERCENTILES = ('50', '75', '90', '99')
_UNITS = {'us': 1e-3, 'ms': 1.0, 's': 1e3}


def _ms(text: str) -> float:
    """``'4.35ms'`` -> 4.35 (wrk's units, in milliseconds)."""
    m = re.match(r'([0-9.]+)(us|ms|s)$', text)
    if m is None:
        raise ValueError('bad wrk duration: {!r}'.format(text))
    return float(m.group(1)) * _UNITS[m.group(2)]


def listen_overflows() -> Optional[int]:
    """The kernel's ``TcpExtListenOverflows`` counter, or None."""
    try:
        with open('/proc/net/netstat') as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for (names, values) in zip(lines[0::2], lines[1::2]):
        if names.startswith('TcpExt:'):
            table = dict(zip(names.split()[1:], values.split()[1:]))
            if 'ListenOverflows' in table:
                return int(table['ListenOverflows'])
    return None


def parse_wrk(out: str) -> Dict[str, Any]:
    """Requests/s, latency percentiles (ms) and timeouts from ``wrk --latency``."""
    result: Dict[str, Any] = {'rps': None, 'timeouts': 0, 'errors': []}
    for p in PERCENTILES:
        m = re.search(r'^\s+{}%\s+(\S+)'.format(p), out, re.M)
        result['p' + p] = _ms(m.group(1)) if m else None
    m = re.search(r'Requests/sec:\s+([0-9.]+)', out)
    if m:
        result['rps'] = float(m.group(1))
    m = re.search(r'Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)', out)
    if m:
        result['timeouts'] = int(m.group(4))
        if m.group(1) != '0' or m.group(2) != '0' or m.group(3) != '0':
            result['errors'].append(m.group(0))
    m = re.search(r'Non-2xx or 3xx responses: \d+', out)
    if m:
        result['errors'].append(m.group(0))
    if result['rps'] is None:
        result['errors'].append('wrk: no result: ' + out[-200:])
    return result


def _under_load(wrk: str, spec: ServerSpec, seconds: int, cpu: int) -> Dict[str, Any]:
    """Serve *spec* in a child process to ``wrk`` on *cpu*; wrk's figures."""
    server = ServerProcess(spec)
    try:
        before = listen_overflows()
        out = subprocess.run(
            [wrk, '-t1', '-c{}'.format(CLIENTS), '-d{}s'.format(seconds), '--latency',
             'http://{}:{}/'.format(*server.address)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=seconds + 60,
            universal_newlines=True,
            preexec_fn=lambda: os.sched_setaffinity(0, {cpu}),
        ).stdout
        after = listen_overflows()
        (count, last) = server.errors()
    finally:
        server.stop()
    result = parse_wrk(out)
    result['listen_overflows'] = (after - before if before is not None
                                  and after is not None else None)
    if count:
        result['errors'].append('server: {} errors, last: {}'.format(count, last))
    return result


def bench_fairness(settings: Settings, progress: Progress, cpu: Optional[int],
                   affinity: Optional[Set[int]]) -> Dict[str, Any]:
    seconds = 1 if settings.rounds < 3 else 6
    wrk = shutil.which('wrk')
    others = sorted((affinity or set()) - {cpu}) if cpu is not None else []
    base: Dict[str, Any] = {'clients': CLIENTS, 'max_connections': MAX_CONNECTIONS,
                            'seconds': seconds, 'skipped': None, 'errors': []}
    if wrk is None:
        base['skipped'] = 'wrk is not installed'
    elif not others:
        base['skipped'] = 'needs a second CPU for wrk (and a pinned run)'
    if base['skipped']:
        progress.step('500 clients: skipped ({})'.format(base['skipped']))
        return base
    assert wrk is not None
    floor = _under_load(wrk, ServerSpec('raw-http', 'inet', ('127.0.0.1', 0)),
                        seconds, others[0])
    result = dict(base)
    result.update(_under_load(wrk, ServerSpec(
        'degu', 'inet', ('127.0.0.1', 0), app=app,
        options={'max_connections': MAX_CONNECTIONS}), seconds, others[0]))
    result['floor'] = floor
    result['errors'] = result['errors'] + ['floor: ' + e for e in floor['errors']]
    progress.step('500 clients: p99 {} ms, {} timeouts (floor: p99 {} ms)'.format(
        result['p99'], result['timeouts'], floor['p99']))
    return result
