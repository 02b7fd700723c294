# SPDX-License-Identifier: LGPL-3.0-or-later
"""Part 3, concurrency: 1, 10 and 50 keep-alive degu clients against one server."""

import threading
import time
from typing import Any, Dict, List, Optional, Tuple

from .clients import degu_client
from .common import Progress, Settings
from .servers import ServerProcess, ServerSpec, family_address
from .workload import PING_BODY, PING_URI, SLICE_MAX_REQUESTS

CONCURRENCY_LEVELS = (1, 10, 50)


def _concurrent_level(address: Any, clients: int, seconds: float) -> Dict[str, Any]:
    conns: List[Any] = []
    errors: List[str] = []
    counts = [0] * clients
    try:
        for _ in range(clients):
            conn = degu_client('unix', address, None).connect()
            conns.append(conn)
            # One request first: the server has started this connection's
            # thread before the clock starts.
            conn.post(PING_URI, {}, PING_BODY).body.read()
        barrier = threading.Barrier(clients + 1)
        deadline = [0.0]

        def worker(i: int) -> None:
            request = conns[i].request
            n = 0
            try:
                barrier.wait()
                stop = deadline[0]
                # Stop short of the server's max_requests (it would close
                # the connection): one fast client can get there.
                while n < SLICE_MAX_REQUESTS:
                    for _ in range(10):
                        response = request('POST', PING_URI, {}, PING_BODY)
                        if response.body.read() != PING_BODY:
                            raise ValueError('echo mismatch')
                    n += 10
                    if time.perf_counter() >= stop:
                        break
            except Exception as e:
                errors.append(repr(e))
            counts[i] = n

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        t0 = time.perf_counter()
        deadline[0] = t0 + seconds
        barrier.wait()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - t0
    except Exception as e:
        errors.append(repr(e))
        wall = 0.0
    finally:
        for conn in conns:
            conn.close()
    total = sum(counts)
    return {
        'clients': clients,
        'round_trips': total,
        'rt_per_s': total / wall if wall else None,
        'errors': errors,
    }


def bench_concurrency(settings: Settings, tmpdir: str,
                      progress: Progress) -> Dict[str, Any]:
    server = ServerProcess(ServerSpec(
        'degu', 'unix', family_address('unix', tmpdir, 'concurrent')))
    levels = []
    server_errors: Tuple[int, Optional[str]] = (0, None)
    try:
        for clients in CONCURRENCY_LEVELS:
            level = _concurrent_level(server.address, clients,
                                      settings.concurrency_seconds)
            levels.append(level)
            progress.step('{} concurrent clients: {:,.0f} round trips/s'.format(
                clients, level['rt_per_s'] or 0.0))
        # Let the server notice the closed connections before asking.
        time.sleep(0.05)
        server_errors = server.errors()
    finally:
        server.stop()
    errors = [e for level in levels for e in level['errors']]
    if server_errors[0]:
        errors.append('server: {} errors, last: {}'.format(*server_errors))
    return {
        'family': 'unix',
        'levels': levels,
        'max_connections': 50,
        'errors': errors,
    }
