"""Bounded memory of what already passed the full checks.

Request lines, status lines, header lines and whole preambles repeat from
message to message, so the parser and the renderer remember the results of
their checks.  A cache only ever holds results the full checks produced, so
it can never accept what they would refuse.  Each cache is emptied when it
reaches ``CACHE_MAX`` entries: a peer sending endless new lines costs at most
that much memory, and gains nothing but the full checks.
"""

from typing import Dict, TypeVar

K = TypeVar('K')
V = TypeVar('V')

# Entries per cache.  Real traffic uses a handful of distinct lines per
# endpoint; 512 covers many endpoints while keeping each cache small.
CACHE_MAX = 512


def remember(cache: Dict[K, V], key: K, value: V) -> V:
    """Store ``cache[key] = value`` (emptying a full cache first); return value."""
    if len(cache) >= CACHE_MAX:
        cache.clear()
    cache[key] = value
    return value
