# SPDX-License-Identifier: LGPL-3.0-or-later
"""Part 2, large bodies: 16 MiB up and back over AF_UNIX, degu vs a raw socket."""

import time
from typing import Any, Dict, List

from .clients import connect_raw, degu_client
from .common import Progress, Settings, median, ratio
from .servers import ServerProcess, ServerSpec, family_address, recv_exactly
from .workload import LARGE_SIZE, large_app, large_data

LARGE_CASES = ('raw', 'degu-body', 'degu-chunked', 'degu-read')


def same_bytes(pieces: List[bytes], payload: bytes) -> bool:
    """Whether *pieces* make up *payload*, compared piece by piece.

    Not ``b''.join(pieces) == payload``: a 16 MiB join after each transfer,
    on top of the 16 MiB of pieces, takes the heap past glibc's trim
    threshold (twice the biggest block freed so far), so the memory is
    given back to the kernel and the next transfer pays ~4,000 page faults
    (~5 ms) inside its timing: the benchmark would measure its own check.
    """
    view = memoryview(payload)
    done = 0
    for piece in pieces:
        if view[done:done + len(piece)] != piece:
            return False
        done += len(piece)
    return done == len(payload)


def bench_large(settings: Settings, tmpdir: str, progress: Progress) -> Dict[str, Any]:
    """16 MiB up and back over AF_UNIX: degu ``Body`` / chunked vs a raw socket.

    The raw case receives into a preallocated buffer and makes it ``bytes``
    on both sides: the floor of a ``read()`` that returns ``bytes``.
    """
    from degu.base import ChunkedBodyIter
    (payload, chunks) = large_data()
    servers: Dict[str, ServerProcess] = {}
    times: Dict[str, List[float]] = {case: [] for case in LARGE_CASES}
    errors: List[str] = []
    try:
        # The baseline: each side receives into one preallocated buffer,
        # then makes it bytes (the copy a bytes-returning read() needs too).
        servers['raw'] = ServerProcess(ServerSpec(
            'raw-bytes', 'unix', family_address('unix', tmpdir, 'large-raw'),
            size=LARGE_SIZE))
        servers['degu'] = ServerProcess(ServerSpec(
            'degu', 'unix', family_address('unix', tmpdir, 'large-degu'),
            app=large_app))
        raw_sock = connect_raw('unix', servers['raw'].address, None)
        raw_buf = bytearray(LARGE_SIZE)
        raw_view = memoryview(raw_buf)
        conn = degu_client('unix', servers['degu'].address, None).connect()

        def one(case: str) -> float:
            """One transfer up and back; returns its time (checks after the clock)."""
            t0 = time.perf_counter()
            if case == 'raw':
                raw_sock.sendall(payload)
                if not recv_exactly(raw_sock, raw_view):
                    raise ConnectionError('raw server closed the connection')
                data = bytes(raw_buf)
                elapsed = time.perf_counter() - t0
                if data != payload:
                    raise ValueError('raw large echo mismatch')
                return elapsed
            if case == 'degu-read':
                response = conn.post('/read', {}, payload)
                data = response.body.read()
            elif case == 'degu-body':
                response = conn.post('/iter', {}, payload)
                pieces = list(response.body)
            else:
                response = conn.post('/iter', {}, ChunkedBodyIter(iter(chunks)))
                pieces = [chunk[1] for chunk in response.body]
            elapsed = time.perf_counter() - t0
            if case == 'degu-read':
                pieces = [data]
            if response.status != 200 or not same_bytes(pieces, payload):
                raise ValueError('{} large echo mismatch'.format(case))
            return elapsed

        for case in LARGE_CASES:  # warm up
            one(case)
        for r in range(settings.rounds):
            for case in LARGE_CASES:
                for _ in range(settings.large_reps):
                    times[case].append(one(case))
                progress.step('large {} round {}/{}: {:,.0f} MB/s'.format(
                    case, r + 1, settings.rounds,
                    2 * LARGE_SIZE / times[case][-1] / 1e6))
        raw_sock.close()
        conn.close()
    except Exception as e:
        errors.append('large: {!r}'.format(e))
    finally:
        for server in servers.values():
            try:
                (count, last) = server.errors()
                if count:
                    errors.append('large {} server: {} errors, last: {}'.format(
                        server.spec.kind, count, last))
            except (OSError, EOFError):
                pass
            server.stop()
    cases: Dict[str, Any] = {}
    for case in LARGE_CASES:
        t = median(times[case])
        cases[case] = {
            'mb_per_s': 2 * LARGE_SIZE / t / 1e6 if t else None,
            'seconds': t,
            'transfers': len(times[case]),
        }
    raw = cases['raw']['mb_per_s']
    return {
        'family': 'unix',
        'bytes_each_way': LARGE_SIZE,
        'cases': cases,
        'body_vs_raw': ratio(cases['degu-body']['mb_per_s'], raw),
        'read_vs_raw': ratio(cases['degu-read']['mb_per_s'], raw),
        'chunked_vs_raw': ratio(cases['degu-chunked']['mb_per_s'], raw),
        'errors': errors,
    }
