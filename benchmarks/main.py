# SPDX-License-Identifier: LGPL-3.0-or-later
"""The benchmark's command line and the order of its parts.

Run from the source tree (the benchmark is not installed)::

    python3 -m benchmarks                 # everything, pinned to one CPU
    python3 -m benchmarks --quick         # a smoke run; numbers mean little
    python3 -m benchmarks --json          # the report as JSON on stdout
    python3 -m benchmarks --profile       # cProfile client and server instead

Exit status 0, 1 if any error occurred anywhere, 2 on bad usage.
"""

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Set, Tuple

import degu

from .clients import TLSSetup, family_skip_reason
from .common import Progress, Settings
from .concurrency import CONCURRENCY_LEVELS, bench_concurrency
from .fairness import bench_fairness
from .footprint import bench_footprint
from .large import LARGE_CASES, bench_large
from .pingpong import CASES, FAMILIES, bench_family
from .profiling import run_profile
from .workers import WORKER_CASES, bench_workers
from .report import collect_targets, format_report

PROG = 'python3 -m benchmarks'

PIN_NOTE = (
    'client and server processes pinned to CPU {} (os.sched_setaffinity); '
    'on a small VM cross-CPU wake-ups otherwise dominate and swing results '
    'several-fold. Use --no-pin to unpin.'
)
UNPIN_NOTE = (
    'not pinned (--no-pin): cross-CPU wake-ups may dominate and swing '
    'results several-fold; the ratio targets are defined for pinned runs.'
)


def _compiled() -> bool:
    """True when degu.server is a mypyc-compiled extension module."""
    import degu.server
    return not str(degu.server.__file__).endswith('.py')


def _families(text: str) -> List[str]:
    names = [name.strip() for name in text.split(',') if name.strip()]
    for name in names:
        if name not in FAMILIES:
            raise argparse.ArgumentTypeError(
                'unknown family {!r}; choose from {}'.format(name, ', '.join(FAMILIES)))
    if not names:
        raise argparse.ArgumentTypeError('need at least one family')
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description='Benchmark degu against a raw socket and the stdlib.',
    )
    parser.add_argument('--families', type=_families, default=list(FAMILIES),
                        help='comma-separated subset of: {} (default: all)'.format(
                            ','.join(FAMILIES)))
    parser.add_argument('--rounds', type=int, default=None,
                        help='interleaved rounds per case (default 7, --quick 2)')
    parser.add_argument('--seconds', type=float, default=None,
                        help='length of each timed ping-pong slice (default 0.5)')
    parser.add_argument('--no-pin', action='store_true',
                        help='do not pin client and server to one CPU')
    parser.add_argument('--cpu', type=int, default=None,
                        help='CPU to pin to (default: the lowest allowed one)')
    parser.add_argument('--json', action='store_true',
                        help='print the results as JSON on stdout')
    parser.add_argument('--quick', action='store_true',
                        help='a fast smoke run (numbers are not meaningful)')
    parser.add_argument('--quiet', action='store_true',
                        help='no progress line on stderr')
    parser.add_argument('--profile', action='store_true',
                        help='instead: cProfile degu client and server over AF_UNIX')
    parser.add_argument('--top', type=int, default=15,
                        help='functions shown per profile (default 15)')
    return parser


def make_settings(args: argparse.Namespace) -> Settings:
    if args.quick:
        settings = Settings(rounds=2, seconds=0.05, warmup=0.02, large_reps=1,
                            concurrency_seconds=0.1, import_runs=3, rss_runs=1,
                            quick=True)
    else:
        settings = Settings(rounds=7, seconds=0.5, warmup=0.2, large_reps=2,
                            concurrency_seconds=1.5, import_runs=15, rss_runs=3)
    if args.rounds is not None:
        settings.rounds = args.rounds
    if args.seconds is not None:
        settings.seconds = args.seconds
    return settings


def _pin(args: argparse.Namespace) -> Tuple[Optional[Set[int]], Optional[int], str]:
    """Pin this process (and so its future children) to one CPU."""
    if args.no_pin:
        return (None, None, UNPIN_NOTE)
    if not hasattr(os, 'sched_setaffinity'):
        return (None, None, 'cannot pin: os.sched_setaffinity is not available '
                            'on this platform; results may swing several-fold.')
    old = os.sched_getaffinity(0)
    cpu = args.cpu if args.cpu is not None else min(old)
    os.sched_setaffinity(0, {cpu})
    return (old, cpu, PIN_NOTE.format(cpu))


def main(argv: Optional[List[str]] = None) -> int:
    """Run the benchmark; return 0, or 1 if any error occurred (2: bad usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    if args.rounds is not None and args.rounds < 1:
        parser.print_usage(sys.stderr)
        sys.stderr.write('error: --rounds must be >= 1\n')
        return 2
    if args.seconds is not None and not args.seconds > 0:
        parser.print_usage(sys.stderr)
        sys.stderr.write('error: --seconds must be > 0\n')
        return 2
    if args.profile and _compiled():
        parser.print_usage(sys.stderr)
        sys.stderr.write('error: --profile needs the pure-Python build '
                         '(cProfile cannot see into mypyc-compiled modules)\n')
        return 2
    settings = make_settings(args)
    (old_affinity, cpu, pin_note) = _pin(args)
    tmpdir = tempfile.mkdtemp(prefix='degu-bench.')
    try:
        if args.profile:
            seconds = settings.seconds * settings.rounds
            print(pin_note)
            print(run_profile(seconds, args.top, tmpdir))
            return 0
        report = run(args, settings, tmpdir, cpu, pin_note, old_affinity)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
        if old_affinity is not None:
            os.sched_setaffinity(0, old_affinity)
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        print(format_report(report))
    return 1 if report['errors'] else 0


def _loadavg() -> Optional[float]:
    """The 1-minute load average: other work on the machine skews rt/s."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def run(args: argparse.Namespace, settings: Settings, tmpdir: str,
        cpu: Optional[int], pin_note: str,
        affinity: Optional[Set[int]] = None) -> Dict[str, Any]:
    started = time.perf_counter()
    tls: Optional[TLSSetup] = TLSSetup() if 'tls' in args.families else None
    families = []
    skipped = []
    for family in args.families:
        reason = family_skip_reason(family, tls)
        if reason is None:
            families.append(family)
        else:
            skipped.append({'family': family, 'reason': reason})
    total = (len(families) * settings.rounds * len(CASES)
             + settings.rounds * len(LARGE_CASES) + len(CONCURRENCY_LEVELS) + 3
             + (1 if settings.rounds < 3 else 3) * len(WORKER_CASES) + 1)
    progress = Progress(total, args.quiet)
    report: Dict[str, Any] = {
        'environment': {
            'degu': degu.__version__,
            'python': platform.python_version(),
            'implementation': platform.python_implementation(),
            'platform': platform.platform(),
            'cpus': os.cpu_count(),
            'loadavg_start': _loadavg(),
        },
        'pinned': cpu is not None,
        'cpu': cpu,
        'pin_note': pin_note,
        'settings': settings.as_dict(),
        'families': families,
        'skipped': skipped,
        'pingpong': [],
    }
    errors: List[str] = []
    try:
        for family in families:
            result = bench_family(family, settings, tmpdir, tls, progress)
            report['pingpong'].append(result)
            for case in CASES:
                errors.extend(result['cases'][case]['errors'])
    finally:
        if tls is not None:
            tls.cleanup()
    report['large'] = bench_large(settings, tmpdir, progress)
    errors.extend(report['large']['errors'])
    report['concurrency'] = bench_concurrency(settings, tmpdir, progress)
    errors.extend(report['concurrency']['errors'])
    report['footprint'] = bench_footprint(settings, tmpdir, progress)
    errors.extend(report['footprint']['errors'])
    # Unpinned: the CPUs the benchmark had before it pinned itself.
    report['workers'] = bench_workers(settings, progress, affinity)
    errors.extend(report['workers']['errors'])
    report['fairness'] = bench_fairness(settings, progress, cpu, affinity)
    errors.extend(report['fairness']['errors'])
    progress.finish()
    report['environment']['loadavg_end'] = _loadavg()
    report['targets'] = collect_targets(report)
    report['errors'] = errors
    report['seconds'] = time.perf_counter() - started
    return report


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
