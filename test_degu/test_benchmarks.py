# SPDX-License-Identifier: LGPL-3.0-or-later
"""Tests for the benchmark (``benchmarks/``, run as ``python3 -m benchmarks``).

The benchmark's numbers depend on the machine, so nothing here looks at a
timing: the tests check the report's shape, that every case produced
samples, that no error occurred anywhere (client, server, concurrency),
that errors *are* counted when they happen, and that the benchmark uses
only Degu's public API.
"""

import ast
import json
import os
import re
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

import pytest

import degu
import benchmarks
from benchmarks import main as bench
from benchmarks import servers, workload
from benchmarks.clients import degu_client
from benchmarks.large import LARGE_CASES
from benchmarks.pingpong import CASES, FAMILIES
from benchmarks.report import TARGETS, format_report
from test_degu.helpers import recv_exactly

TREE = os.path.dirname(os.path.dirname(os.path.abspath(benchmarks.__file__)))
PACKAGE = os.path.join(TREE, 'benchmarks')
GUARD = 120  # seconds; only against a hang, never a timing assertion


def run_bench(args: List[str]) -> 'subprocess.CompletedProcess[str]':
    """``python3 -m benchmarks ARGS`` in a fresh interpreter, from the tree."""
    env = dict(os.environ)
    env['PYTHONPATH'] = TREE + (os.pathsep + env['PYTHONPATH']
                                if env.get('PYTHONPATH') else '')
    return subprocess.run(
        [sys.executable, '-m', 'benchmarks'] + args, env=env, cwd=TREE,
        timeout=GUARD, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True,
    )


@pytest.fixture(scope='module')
def quick() -> Dict[str, Any]:
    """One quick run over every family, shared by the shape tests."""
    proc = run_bench(['--quick', '--json'])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report: Dict[str, Any] = json.loads(proc.stdout)
    report['_stderr'] = proc.stderr
    return report


def is_positive_number(value: Any) -> bool:
    return type(value) in (int, float) and value > 0


def test_no_errors(quick: Dict[str, Any]) -> None:
    assert quick['errors'] == []


def test_top_level_keys(quick: Dict[str, Any]) -> None:
    assert set(quick) - {'_stderr'} == {
        'environment', 'pinned', 'cpu', 'pin_note', 'settings', 'families',
        'skipped', 'pingpong', 'large', 'concurrency', 'footprint', 'workers',
        'fairness', 'targets', 'errors', 'seconds',
    }
    assert set(quick['environment']) == {
        'degu', 'python', 'implementation', 'platform', 'cpus',
        'loadavg_start', 'loadavg_end',
    }
    assert quick['environment']['degu'] == degu.__version__
    assert quick['settings']['rounds'] == 2


def test_pinned_by_default(quick: Dict[str, Any]) -> None:
    if hasattr(os, 'sched_setaffinity'):
        assert quick['pinned'] is True
        assert type(quick['cpu']) is int
        assert quick['pin_note'] == bench.PIN_NOTE.format(quick['cpu'])
    else:
        assert quick['pinned'] is False
        assert quick['cpu'] is None


def test_families_run_or_skipped_with_reason(quick: Dict[str, Any]) -> None:
    skipped = [s['family'] for s in quick['skipped']]
    assert sorted(quick['families'] + skipped) == sorted(FAMILIES)
    assert 'unix' in quick['families']
    assert 'inet' in quick['families']
    for skip in quick['skipped']:
        assert type(skip['reason']) is str and skip['reason']
    assert [f['family'] for f in quick['pingpong']] == quick['families']


def test_pingpong_cases(quick: Dict[str, Any]) -> None:
    for family in quick['pingpong']:
        assert sorted(family['cases']) == sorted(CASES)
        for (name, case) in family['cases'].items():
            assert case['errors'] == [], (family['family'], name)
            assert len(case['samples']) == 2
            assert type(case['round_trips']) is int and case['round_trips'] > 0
            for key in ('rt_per_s', 'cpu_us_per_rt', 'client_cpu_us_per_rt'):
                assert is_positive_number(case[key]), (family['family'], name, key)
            assert type(case['server_cpu_us_per_rt']) is float
        for key in ('degu_vs_raw', 'degu_vs_stdlib', 'cpu_raw_vs_degu',
                    'cpu_stdlib_vs_degu'):
            assert is_positive_number(family[key])


def test_large_bodies(quick: Dict[str, Any]) -> None:
    large = quick['large']
    assert large['errors'] == []
    assert large['bytes_each_way'] == 16 * 1024 * 1024
    assert sorted(large['cases']) == sorted(LARGE_CASES)
    for case in large['cases'].values():
        assert is_positive_number(case['mb_per_s'])
        assert case['transfers'] == 2  # 2 rounds x 1 transfer
    for key in ('body_vs_raw', 'chunked_vs_raw', 'read_vs_raw'):
        assert is_positive_number(large[key])


def test_concurrency(quick: Dict[str, Any]) -> None:
    conc = quick['concurrency']
    assert conc['errors'] == []
    assert [level['clients'] for level in conc['levels']] == [1, 10, 50]
    for level in conc['levels']:
        assert level['errors'] == []
        # Every client got its turn at least once per batch of 10.
        assert level['round_trips'] >= 10 * level['clients']
        assert is_positive_number(level['rt_per_s'])


def test_workers(quick: Dict[str, Any]) -> None:
    part = quick['workers']
    assert part['errors'] == []
    assert part['clients'] == 50 and part['rounds'] == 1
    assert [level['workers'] for level in part['levels']] in ([1, 1, 2], [1, 2])
    for level in part['levels']:
        assert is_positive_number(level['rps']) and len(level['samples']) == 1
    assert is_positive_number(part['ratio'])
    assert part['tool'] in ('wrk (-t2)', 'own load generator (2 processes)')


def test_own_load_generator() -> None:
    # The fallback when wrk is missing: it counts answers, and no error.
    from benchmarks import workers
    (proc, address) = workers._start_server(2, None)
    try:
        (rps, errors) = workers.own_load(address, 1, None)
    finally:
        assert workers._stop_server(proc) is None
    assert errors == []
    assert is_positive_number(rps)


def test_footprint(quick: Dict[str, Any]) -> None:
    foot = quick['footprint']
    assert foot['errors'] == []
    assert is_positive_number(foot['import_ms'])
    assert foot['import_runs'] == 3
    # SPEC §10.1: `import degu` imports no submodule (a contract, not a timing).
    assert foot['import_submodules'] == []
    assert 'degu' in foot['import_new_modules']
    if sys.platform.startswith('linux'):
        assert type(foot['rss_import_mib']) is float
        assert type(foot['rss_import_modules']) is int
        idle = foot['idle']
        assert set(idle) == {'connections', 'threads_added', 'rss_kib_per_conn',
                             'vm_kib_per_conn', 'errors'}
        assert idle['connections'] == 50
        assert idle['threads_added'] == 50  # one thread per connection
        assert type(idle['rss_kib_per_conn']) is float
        assert type(idle['vm_kib_per_conn']) is float


def test_targets(quick: Dict[str, Any]) -> None:
    targets = quick['targets']
    assert [t['name'] for t in targets] == [t[0] for t in TARGETS]
    for t in targets:
        assert t['ok'] in (True, False, None)
        assert (t['value'] is None) is (t['ok'] is None)
    # Error-free runs: the "no errors" target is met.
    assert targets[-1] == {
        'name': 'concurrency_errors',
        'description': 'errors with 1/10/50 concurrent clients',
        'value': 0, 'limit': 0, 'higher_is_better': False, 'ok': True,
    }


def test_progress_on_stderr(quick: Dict[str, Any]) -> None:
    # Not a terminal: one line per step, numbered up to the total.
    lines = quick['_stderr'].splitlines()
    steps = [re.match(r'\[ *(\d+)/ *(\d+)\] ', line) for line in lines]
    numbers = [(int(m.group(1)), int(m.group(2))) for m in steps if m]
    assert len(numbers) == len(lines)
    total = numbers[0][1]
    assert numbers == [(n, total) for n in range(1, total + 1)]
    assert 'unix degu round 1/2: ' in quick['_stderr']


def test_text_report_of_real_run(quick: Dict[str, Any]) -> None:
    report = dict(quick)
    del report['_stderr']
    text = format_report(report)
    assert text.startswith('Degu {} benchmark: Python '.format(degu.__version__))
    assert 'Note: ' + quick['pin_note'] in text
    assert 'Load average (1 min) at start / end: ' in text
    for heading in ('Ping-pong:', 'Large bodies:', 'Concurrent keep-alive',
                    'Footprint', 'Targets'):
        assert heading in text
    if not quick['fairness'].get('skipped'):
        # The floor is reported beside degu, from the same run.
        assert quick['fairness']['floor']['errors'] == []
        assert is_positive_number(quick['fairness']['floor']['rps'])
        assert '  floor, the same load on a Python thread per connection' in text
    assert text.splitlines()[-2] == 'No errors.'


def test_text_output_and_skip_note() -> None:
    proc = run_bench(['--quick', '--quiet', '--no-pin', '--families', 'inet6,unix',
                      '--rounds', '1', '--seconds', '0.02'])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr == ''
    out = proc.stdout
    assert 'Note: ' + bench.UNPIN_NOTE in out
    assert 'Targets (defined for pinned runs)' in out
    assert 'median of 1 interleaved rounds x 0.02 s' in out
    rows = [line.split()[:2] for line in out.splitlines()
            if line.startswith(('unix ', 'inet6 '))]
    assert ['unix', 'degu'] in rows
    assert 'No errors.' in out


def test_profile_mode() -> None:
    proc = run_bench(['--profile', '--quick', '--top', '5'])
    if os.environ.get('DEGU_EXPECT_COMPILED') == '1':
        assert proc.returncode == 2
        assert '--profile needs the pure-Python build' in proc.stderr
        return
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert 'Client (degu.client, AF_UNIX, ping-pong): ' in out
    assert 'Server connection thread (degu.server, AF_UNIX, ping-pong): ' in out
    # Two tables of 5 rows each, then the socket calls of each side.
    rows = [line for line in out.splitlines() if re.match(r' +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+%  ', line)]
    assert len(rows) == 10
    waits = [line for line in out.splitlines() if line.endswith('(waits for the peer)')]
    assert any("'recv_into' of '_socket.socket'" in line for line in waits)
    assert any("'send' of '_socket.socket'" in line for line in waits)


@pytest.mark.parametrize('args,message', [
    (['--families', 'bogus'],
     "unknown family 'bogus'; choose from unix, inet, inet6, tls"),
    (['--families', ','], 'need at least one family'),
    (['--rounds', '0'], 'error: --rounds must be >= 1'),
    (['--seconds', '0'], 'error: --seconds must be > 0'),
    (['--seconds', '-1'], 'error: --seconds must be > 0'),
    (['--rounds', 'x'], "invalid int value: 'x'"),
])
def test_bad_usage(args: List[str], message: str,
                   capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(args) == 2
    (out, err) = capsys.readouterr()
    assert out == ''
    assert message in err
    assert err.startswith('usage: python3 -m benchmarks')


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(['--help']) == 0
    out = capsys.readouterr()[0]
    for flag in ('--families', '--rounds', '--seconds', '--no-pin', '--json',
                 '--quick', '--profile'):
        assert flag in out


@pytest.mark.parametrize('text,expected', [
    ('unix', ['unix']),
    ('unix,tls', ['unix', 'tls']),
    (' inet , inet6 ', ['inet', 'inet6']),
])
def test_families_parser(text: str, expected: List[str]) -> None:
    assert bench._families(text) == expected


def test_import_is_cheap() -> None:
    """Importing the benchmark builds no 16 MiB payload (it is made lazily)."""
    code = ('import benchmarks.main, benchmarks.workload as w; '
            'print(len(w._LARGE), w.LARGE_SIZE)')
    env = dict(os.environ, PYTHONPATH=TREE)
    out = subprocess.run([sys.executable, '-c', code], env=env,
                         stdout=subprocess.PIPE, check=True, timeout=GUARD,
                         universal_newlines=True).stdout
    assert out == '0 16777216\n'


def test_large_data_built_once() -> None:
    (body, chunks) = workload.large_data()
    assert len(body) == workload.LARGE_SIZE
    assert len(chunks) == 17 and chunks[-1] == (None, b'')
    assert b''.join(data for (_, data) in chunks) == body
    assert workload.large_data()[0] is body


# -- errors are counted ---------------------------------------------------------

def failing_app(session: Any, request: Any, api: Any) -> Any:
    raise RuntimeError('this app always fails')


def wait_for_errors(server: servers.ServerProcess) -> Any:
    deadline = time.monotonic() + 10  # against a hang only
    while True:
        (count, last) = server.errors()
        if count or time.monotonic() > deadline:
            return (count, last)
        time.sleep(0.01)


def test_app_exceptions_are_counted(tmp_path: Any) -> None:
    address = servers.family_address('unix', str(tmp_path), 'failing')
    server = servers.ServerProcess(servers.ServerSpec('degu', 'unix', address,
                                                      app=failing_app))
    try:
        assert server.errors() == (0, None)
        conn = degu_client('unix', server.address, None).connect()
        try:
            conn.get('/', {})
        except Exception:
            pass  # how the server answers a failing app is not this test's concern
        conn.close()
        (count, last) = wait_for_errors(server)
    finally:
        server.stop()
    assert count >= 1
    assert type(last) is str and last


def test_counting_handler() -> None:
    import logging
    counter = servers.ErrorCounter()
    counter.add('one')
    assert (counter.count, counter.last) == (1, 'one')
    handler = servers.CountingHandler(counter)
    log = logging.getLogger('test_benchmarks.counting')
    log.addHandler(handler)
    log.propagate = False
    try:
        log.info('not counted')
        log.warning('counted %d', 2)
    finally:
        log.removeHandler(handler)
    assert (counter.count, counter.last) == (2, 'counted 2')


# -- only the public API --------------------------------------------------------

PUBLIC_MODULES = {'degu', 'degu.server', 'degu.client', 'degu.base', 'degu.misc',
                  'degu.applib', 'degu.rgi', 'degu.util'}


def degu_imports(path: str) -> List[Tuple[int, str, Optional[str]]]:
    """``(line, module, name)`` of every import of Degu in one source file."""
    found: List[Tuple[int, str, Optional[str]]] = []
    for node in ast.walk(ast.parse(open(path).read(), path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split('.')[0] == 'degu':
                    found.append((node.lineno, alias.name, None))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and \
                node.module is not None and node.module.split('.')[0] == 'degu':
            for alias in node.names:
                found.append((node.lineno, node.module, alias.name))
    return found


def test_uses_only_public_api() -> None:
    sources = sorted(name for name in os.listdir(PACKAGE) if name.endswith('.py'))
    assert 'servers.py' in sources and 'main.py' in sources
    used = set()
    for name in sources:
        path = os.path.join(PACKAGE, name)
        for (line, module, attr) in degu_imports(path):
            where = '{}:{}'.format(name, line)
            assert module in PUBLIC_MODULES, where
            assert attr is None or not attr.startswith('_'), where
            used.add(module)
        text = open(path).read()
        # No private attribute of Degu objects (Server._worker and the like;
        # dunders such as degu.server.__file__ are fine).
        assert re.search(r'\b(degu\.\w+\.|Server\.|Client\.)_(?!_)', text) is None, name
        assert re.search(r'class \w+\((SSL)?(Server|Client|Connection)\)', text) is None, name
        assert re.search(r'\bsuper\(\)\._(?!_)', text) is None, name
    assert {'degu', 'degu.server', 'degu.client', 'degu.base', 'degu.misc'} <= used


def test_no_bench_in_the_runtime_package() -> None:
    assert not os.path.exists(os.path.join(os.path.dirname(degu.__file__), 'bench.py'))


# -- Fairness: wrk's report, the floor server ---------------------------------

WRK_OUTPUT = '''\
Running 6s test @ http://127.0.0.1:40000/
  1 threads and 500 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     7.92ms   17.30ms   1.52s    97.50%
    Req/Sec    84.69k    12.44k  107.83k    68.33%
  Latency Distribution
     50%  544.00us
     75%    6.38ms
     90%    8.26ms
     99%    1.25s
  506004 requests in 6.05s, 29.44MB read
  Socket errors: connect 0, read 0, write 0, timeout 12
Requests/sec:  83698.11
Transfer/sec:      4.87MB
'''


def test_parse_wrk() -> None:
    from benchmarks.fairness import parse_wrk
    assert parse_wrk(WRK_OUTPUT) == {
        'rps': 83698.11, 'timeouts': 12, 'errors': [],
        'p50': 0.544, 'p75': 6.38, 'p90': 8.26, 'p99': 1250.0,
    }
    broken = WRK_OUTPUT.replace('read 0', 'read 3')
    assert parse_wrk(broken)['errors'] == [
        'Socket errors: connect 0, read 3, write 0, timeout 12']
    assert parse_wrk('unable to connect to 127.0.0.1:1 Connection refused')['errors'] == [
        'wrk: no result: unable to connect to 127.0.0.1:1 Connection refused']


def test_listen_overflows() -> None:
    from benchmarks.fairness import listen_overflows
    value = listen_overflows()
    if os.path.exists('/proc/net/netstat'):
        assert type(value) is int and value >= 0
    else:
        assert value is None


def test_raw_http_backlog_is_degus() -> None:
    from degu.limits import LISTEN_BACKLOG
    assert servers.RAW_HTTP_BACKLOG == LISTEN_BACKLOG


def test_raw_http_answers_each_request() -> None:
    # One answer per CRLFCRLF: split across recv() calls, or several in one.
    import socket
    import threading
    (ours, theirs) = socket.socketpair()
    counter = servers.ErrorCounter()
    thread = threading.Thread(target=servers._raw_http, args=(theirs, counter))
    thread.start()
    request = b'GET / HTTP/1.1\r\nhost: x\r\n\r\n'
    try:
        ours.sendall(request[:-1])
        time.sleep(0.05)  # (so that the last byte comes in a recv() of its own)
        ours.sendall(request[-1:])
        answer = servers.HTTP_ANSWER
        assert recv_exactly(ours, len(answer)) == answer
        ours.sendall(request * 3)
        assert recv_exactly(ours, 3 * len(answer)) == 3 * answer
    finally:
        ours.close()
        thread.join(GUARD)
    assert counter.count == 0


def test_floor_server_under_wrk() -> None:
    # The floor of the fairness part, under the load that part puts on it
    # (one second of it): wrk gets answers, and nobody counts an error.
    import shutil
    from benchmarks.fairness import _under_load
    wrk = shutil.which('wrk')
    if wrk is None:
        pytest.skip('wrk is not installed')
    cpu = min(os.sched_getaffinity(0))
    result = _under_load(wrk, servers.ServerSpec('raw-http', 'inet', ('127.0.0.1', 0)),
                         1, cpu)
    assert result['errors'] == []
    assert is_positive_number(result['rps'])
    for p in ('p50', 'p75', 'p90', 'p99'):
        assert is_positive_number(result[p])
