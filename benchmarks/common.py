# SPDX-License-Identifier: LGPL-3.0-or-later
"""What every part of the benchmark shares: settings, progress, statistics."""

import statistics
import sys
from typing import Any, Dict, List, Optional


class Settings:
    """How long and how often to run each part."""

    def __init__(self, rounds: int, seconds: float, warmup: float,
                 large_reps: int, concurrency_seconds: float,
                 import_runs: int, rss_runs: int, quick: bool = False) -> None:
        self.rounds = rounds
        self.seconds = seconds
        self.warmup = warmup
        self.large_reps = large_reps
        self.concurrency_seconds = concurrency_seconds
        self.import_runs = import_runs
        self.rss_runs = rss_runs
        self.quick = quick  # too short to judge the targets by

    def as_dict(self) -> Dict[str, Any]:
        return dict(vars(self))


class Progress:
    """One status line on stderr: rewritten in place on a terminal."""

    def __init__(self, total: int, quiet: bool = False) -> None:
        self.total = total
        self.done = 0
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.width = 0

    def step(self, text: str) -> None:
        self.done += 1
        self.show(text)

    def show(self, text: str) -> None:
        if self.quiet:
            return
        line = '[{:3d}/{:3d}] {}'.format(min(self.done, self.total), self.total, text)
        if self.tty:
            pad = max(0, self.width - len(line))
            sys.stderr.write('\r' + line + ' ' * pad)
            self.width = len(line)
        else:
            sys.stderr.write(line + '\n')
        sys.stderr.flush()

    def finish(self) -> None:
        if self.tty and not self.quiet and self.width:
            sys.stderr.write('\r' + ' ' * self.width + '\r')
            sys.stderr.flush()


def median(values: List[float]) -> Optional[float]:
    return statistics.median(values) if values else None


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    if a is None or b is None or b == 0:
        return None
    return a / b


def read_status_kib(field: str) -> Optional[int]:
    """A number field of ``/proc/self/status`` (``VmRSS``, ``VmSize`` in kB;
    ``Threads``, every thread of the process), or None."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except OSError:
        return None
    return None
