# SPDX-License-Identifier: LGPL-3.0-or-later
"""The report: targets checked against the results, and the text form.

The targets come from the performance issue.  Each is reported as met,
missed or n/a (not measured); a missed target is a goal not reached on this
machine, never an error: it does not change the exit status, and a
``--quick`` run (too short to judge) shows the values without judging them.
"""

from typing import Any, Dict, List, Optional, Tuple

from .large import LARGE_CASES
from .pingpong import CASES
from .workload import PING_SIZE

# (key, description, limit, higher is better).  A limit of None is the
# build's: PINGPONG_LIMITS.
TARGETS: Tuple[Tuple[str, str, Optional[float], bool], ...] = (
    ('degu_vs_raw', 'ping-pong degu/raw (unix)', None, True),
    ('degu_vs_raw_inet6', 'ping-pong degu/raw (inet6)', None, True),
    ('degu_vs_stdlib', 'ping-pong degu/stdlib (unix)', 6.0, True),
    ('read_vs_raw', '16 MiB Body.read() both ways vs raw (unix)', 0.9, True),
    ('body_vs_raw', '16 MiB Body iterated vs raw (unix)', 0.9, True),
    ('chunked_vs_raw', '16 MiB chunked vs raw (unix)', 0.9, True),
    ('import_ms', 'import degu, ms', 1.0, False),
    ('import_submodules', 'import degu loads no submodule', 0, False),
    ('rss_import_mib', 'RSS growth importing server+client, MiB', 3.0, False),
    ('idle_conn_kib', 'server RSS per idle keep-alive connection, KiB', 100.0, False),
    ('workers_2_vs_1', '2 workers / 1 worker, 50 keep-alive clients', 1.3, True),
    ('fair_p99_ms', '500 keep-alive clients: p99 latency, ms', 50.0, False),
    ('fair_timeouts', '500 keep-alive clients: requests waiting > 2 s', 0, False),
    ('concurrency_errors', 'errors with 1/10/50 concurrent clients', 0, False),
)

# The ping-pong ratio to reach, by build: the pure-Python build, and the
# mypyc build (the original Degu's C extension measured 0.77 here).
PINGPONG_LIMITS = {'pure': 0.65, 'mypyc': 0.80}


def build() -> str:
    """``'mypyc'`` when degu.server is a compiled extension module, else ``'pure'``."""
    import degu.server
    return 'pure' if str(degu.server.__file__).endswith('.py') else 'mypyc'


def collect_targets(report: Dict[str, Any]) -> List[Dict[str, Any]]:
    values: Dict[str, Any] = {}
    for fam in report['pingpong']:
        if fam['family'] == 'unix':
            values['degu_vs_raw'] = fam['degu_vs_raw']
            values['degu_vs_stdlib'] = fam['degu_vs_stdlib']
        elif fam['family'] == 'inet6':
            values['degu_vs_raw_inet6'] = fam['degu_vs_raw']
    large = report.get('large')
    if large:
        values['read_vs_raw'] = large['read_vs_raw']
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
    workers = report.get('workers')
    if workers:
        values['workers_2_vs_1'] = workers['ratio']
    fair = report.get('fairness')
    if fair and not fair.get('skipped'):
        values['fair_p99_ms'] = fair.get('p99')
        values['fair_timeouts'] = fair.get('timeouts')
    targets = []
    for (key, description, limit, higher) in TARGETS:
        if limit is None:
            limit = PINGPONG_LIMITS[build()]
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
    workers = report.get('workers')
    if workers:
        add('')
        add('Workers: degu serve --workers N, GET / (12-byte answer) over TCP loopback, '
            '{} keep-alive clients'.format(workers['clients']))
        add('({}; {} s per run, median of {} interleaved runs; {} CPUs, not pinned '
            'but in the "1 CPU" case)'.format(
            workers['tool'], workers['seconds'], workers['rounds'], workers['cpus']))
        add('{:<18} {:>12}'.format('case', 'requests/s'))
        for level in workers['levels']:
            add('{:<18} {:>12}'.format(level['case'], _fmt(level['rps'], ',.0f')))
        add('{:<18} {:>12}'.format('2 / 1 worker', _fmt(workers['ratio'], '.2f')))
        add('{:<18} {:>12}'.format('2 / 1 on 1 CPU', _fmt(workers['ratio_vs_one_cpu'],
                                                          '.2f')))
    fair = report.get('fairness')
    if fair:
        add('')
        add('Fairness: {} keep-alive clients (wrk -t1, {} s, on another CPU), '
            'GET / over TCP loopback, server max_connections={}'.format(
                fair['clients'], fair['seconds'], fair['max_connections']))
        if fair.get('skipped'):
            add('  skipped: ' + fair['skipped'])
        else:
            add('  {} requests/s; latency p50 {} ms, p75 {} ms, p90 {} ms, p99 {} ms; '
                'waited > 2 s: {}; connects dropped (listen overflows): {}'.format(
                    _fmt(fair['rps'], ',.0f'), _fmt(fair['p50'], '.1f'),
                    _fmt(fair['p75'], '.1f'), _fmt(fair['p90'], '.1f'),
                    _fmt(fair['p99'], '.1f'), fair['timeouts'],
                    _fmt(fair['listen_overflows'], 'd')))
            floor = fair.get('floor')
            if floor:
                add('  floor, the same load on a Python thread per connection answering '
                    'fixed bytes:')
                add('  {} requests/s; latency p50 {} ms, p75 {} ms, p90 {} ms, p99 {} ms; '
                    'waited > 2 s: {}'.format(
                        _fmt(floor['rps'], ',.0f'), _fmt(floor['p50'], '.1f'),
                        _fmt(floor['p75'], '.1f'), _fmt(floor['p90'], '.1f'),
                        _fmt(floor['p99'], '.1f'), floor['timeouts']))
    add('')
    quick = report['settings'].get('quick')
    add('Targets' + (' (defined for pinned runs)' if not report['pinned'] else '')
        + ', {} build'.format(build())
        + (': a --quick run is too short to judge them' if quick else ''))
    for t in report['targets']:
        if quick:
            mark = '  --  '
        else:
            mark = {True: ' met  ', False: 'missed', None: ' n/a  '}[t['ok']]
        add('  [{}] {:<52} {:>9} ({} {})'.format(
            mark, t['description'], _fmt(t['value'], '.3f'),
            '>=' if t['higher_is_better'] else '<=', t['limit']))
    if not quick and any(t['ok'] is False for t in report['targets']):
        add('  (A missed target is a goal not reached on this machine, not an error.)')
    add('')
    if report['errors']:
        add('ERRORS ({}):'.format(len(report['errors'])))
        for e in report['errors']:
            add('  ' + e)
    else:
        add('No errors.')
    add('Total time: {:.1f} s'.format(report['seconds']))
    return '\n'.join(lines)


