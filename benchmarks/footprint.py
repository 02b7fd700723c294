# SPDX-License-Identifier: LGPL-3.0-or-later
"""Part 4, footprint: import time, import RSS, RSS per idle keep-alive connection."""

import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any, Dict, List

import degu

from .clients import degu_client
from .common import Progress, Settings, read_status_kib
from .servers import ServerProcess, ServerSpec, family_address
from .workload import PING_BODY, PING_URI

IDLE_CONNECTIONS = 50


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
        'degu', 'unix', family_address('unix', tmpdir, 'idle'),
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
        progress.step('no /proc/self/status: RSS figures skipped')
        progress.step('')
    return result
