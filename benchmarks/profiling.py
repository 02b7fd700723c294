# SPDX-License-Identifier: LGPL-3.0-or-later
"""``--profile``: cProfile of the degu client and of the server's connection thread.

The server side is profiled through the app's ``on_connect`` hook (see
``servers.ProfiledApp``), so nothing private of ``degu.server`` is touched.
"""

import cProfile
import os
import pstats
from typing import Any, Dict, List, Tuple

from .clients import DeguPing
from .servers import PROFILE_DONE_URI, ServerProcess, ServerSpec, family_address


# Socket calls block until the peer has answered, so under cProfile's wall
# clock their time is mostly the *other* process working; they are shown
# apart from the work this side does itself.
BLOCKING_CALLS = ('recv_into', 'recv', 'send', 'sendall')


def _is_blocking(func: Tuple[str, int, str]) -> bool:
    (filename, _, name) = func
    return filename == '~' and any(
        "'{}' of '_socket.socket'".format(call) in name
        or "'{}' of '_ssl._SSLSocket'".format(call) in name
        for call in BLOCKING_CALLS
    )


def _where(func: Tuple[str, int, str]) -> str:
    (filename, line, name) = func
    if filename == '~':
        return name
    return '{}:{}({})'.format(os.path.basename(filename), line, name)


def format_profile(title: str, stats: pstats.Stats, requests: int, top: int) -> str:
    """Top functions by own time, per request; socket waits listed apart."""
    raw: Dict[Any, Any] = getattr(stats, 'stats')
    rows: List[Tuple[float, float, int, Any]] = []
    waits: List[Tuple[float, float, int, Any]] = []
    for (func, (_cc, nc, tt, ct, _callers)) in raw.items():
        (waits if _is_blocking(func) else rows).append((tt, ct, nc, func))
    rows.sort(key=lambda row: row[0], reverse=True)
    work = sum(row[0] for row in rows)
    lines = ['{}: {} requests, {:.1f} us/request of own work '
             '(cProfile overhead included)'.format(title, requests,
                                                   work / requests * 1e6)]
    lines.append('{:>9} {:>9} {:>9} {:>7}  {}'.format(
        'calls/rq', 'own us/rq', 'cum us/rq', 'own %', 'function'))
    for (tt, ct, nc, func) in rows[:top]:
        lines.append('{:>9.2f} {:>9.2f} {:>9.2f} {:>6.1f}%  {}'.format(
            nc / requests, tt / requests * 1e6, ct / requests * 1e6,
            100 * tt / work if work else 0.0, _where(func)))
    waits.sort(key=lambda row: row[0], reverse=True)
    for (tt, ct, nc, func) in waits:
        lines.append('{:>9.2f} {:>9.2f} {:>9} {:>7}  {} (waits for the peer)'.format(
            nc / requests, tt / requests * 1e6, '', '', _where(func)))
    return '\n'.join(lines)


def run_profile(seconds: float, top: int, tmpdir: str) -> str:
    """cProfile the degu client and server per-request path over AF_UNIX."""
    stats_path = os.path.join(tmpdir, 'server.pstats')
    server = ServerProcess(ServerSpec(
        'degu', 'unix', family_address('unix', tmpdir, 'profile'),
        profile=stats_path))
    try:
        client = DeguPing('unix', server.address, None)
        client.open()
        profiler = cProfile.Profile()
        profiler.enable()
        count = client.run(seconds)
        profiler.disable()
        # Ends the server's profile (in its connection thread) and saves it.
        done = client.conn.get(PROFILE_DONE_URI, {})
        client.close()
        if done.status != 200:
            raise RuntimeError('{}: {!r}'.format(PROFILE_DONE_URI, done))
    finally:
        server.stop()
    client_stats = pstats.Stats(profiler)
    server_stats = pstats.Stats(stats_path)
    return '\n\n'.join([
        format_profile('Client (degu.client, AF_UNIX, ping-pong)', client_stats,
                       count, top),
        format_profile('Server connection thread (degu.server, AF_UNIX, ping-pong)',
                       server_stats, count, top),
    ])


