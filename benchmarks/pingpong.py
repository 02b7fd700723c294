# SPDX-License-Identifier: LGPL-3.0-or-later
"""Part 1, ping-pong: raw, degu and stdlib round trips, interleaved by round."""

import time
from typing import Any, Dict, List, Optional

from .clients import PING_CLASSES, Ping, TLSSetup
from .common import Progress, Settings, median, ratio
from .servers import ServerProcess, ServerSpec, family_address

FAMILIES = ('unix', 'inet', 'inet6', 'tls')
CASES = ('raw', 'degu', 'stdlib')


class CaseRun:
    """One case of one family: its server, its client, its samples."""

    def __init__(self, family: str, case: str) -> None:
        self.family = family
        self.case = case
        self.server: Optional[ServerProcess] = None
        self.client: Optional[Ping] = None
        self.samples: List[Dict[str, float]] = []
        self.errors: List[str] = []

    def error(self, e: BaseException) -> None:
        self.errors.append('{}/{}: {!r}'.format(self.family, self.case, e))

    def timed_slice(self, seconds: float, record: bool) -> None:
        server = self.server
        client = self.client
        if server is None or client is None or self.errors:
            return
        try:
            client.open()
            try:
                server_cpu0 = server.cpu()
                cpu0 = time.process_time()
                t0 = time.perf_counter()
                count = client.run(seconds)
                wall = time.perf_counter() - t0
                cpu1 = time.process_time()
                server_cpu1 = server.cpu()
            finally:
                client.close()
        except Exception as e:
            self.error(e)
            return
        if not record:
            return
        client_us = (cpu1 - cpu0) / count * 1e6
        server_us = (server_cpu1 - server_cpu0) / count * 1e6
        self.samples.append({
            'round_trips': count,
            'seconds': wall,
            'rt_per_s': count / wall,
            'cpu_us': client_us + server_us,
            'client_cpu_us': client_us,
            'server_cpu_us': server_us,
        })

    def result(self) -> Dict[str, Any]:
        samples = self.samples
        if self.server is not None:
            try:
                (count, last) = self.server.errors()
            except (OSError, EOFError) as e:
                count, last = 1, repr(e)
            if count:
                self.errors.append('{}/{} server: {} errors, last: {}'.format(
                    self.family, self.case, count, last))
        return {
            'rt_per_s': median([s['rt_per_s'] for s in samples]),
            'cpu_us_per_rt': median([s['cpu_us'] for s in samples]),
            'client_cpu_us_per_rt': median([s['client_cpu_us'] for s in samples]),
            'server_cpu_us_per_rt': median([s['server_cpu_us'] for s in samples]),
            'round_trips': sum(int(s['round_trips']) for s in samples),
            'samples': [round(s['rt_per_s'], 1) for s in samples],
            'errors': list(self.errors),
        }


def bench_family(family: str, settings: Settings, tmpdir: str,
                 tls: Optional[TLSSetup], progress: Progress) -> Dict[str, Any]:
    sslconfig = tls.server_sslconfig if (family == 'tls' and tls) else None
    client_sslctx = tls.client_sslctx if (family == 'tls' and tls) else None
    runs = [CaseRun(family, case) for case in CASES]
    try:
        for run in runs:
            spec = ServerSpec(run.case, family,
                              family_address(family, tmpdir, run.case), sslconfig)
            try:
                run.server = ServerProcess(spec)
                run.client = PING_CLASSES[run.case](family, run.server.address,
                                                    client_sslctx)
            except Exception as e:
                run.error(e)
        for run in runs:
            run.timed_slice(settings.warmup, False)
        for r in range(settings.rounds):
            for run in runs:
                run.timed_slice(settings.seconds, True)
                last = run.samples[-1]['rt_per_s'] if run.samples else 0.0
                progress.step('{} {} round {}/{}: {:,.0f} round trips/s'.format(
                    family, run.case, r + 1, settings.rounds, last))
        cases = {run.case: run.result() for run in runs}
    finally:
        for run in runs:
            if run.server is not None:
                run.server.stop()
    degu_rt = cases['degu']['rt_per_s']
    return {
        'family': family,
        'cases': cases,
        'degu_vs_raw': ratio(degu_rt, cases['raw']['rt_per_s']),
        'degu_vs_stdlib': ratio(degu_rt, cases['stdlib']['rt_per_s']),
        'cpu_raw_vs_degu': ratio(cases['raw']['cpu_us_per_rt'],
                                 cases['degu']['cpu_us_per_rt']),
        'cpu_stdlib_vs_degu': ratio(cases['stdlib']['cpu_us_per_rt'],
                                    cases['degu']['cpu_us_per_rt']),
    }
