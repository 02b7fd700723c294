# SPDX-License-Identifier: LGPL-3.0-or-later
"""Shared pytest fixtures: one throw-away PKI for the whole test session."""

import faulthandler
import os
from typing import Any, Iterator

import pytest

from degu.sslhelpers import TempPKI


@pytest.fixture(scope='session')
def pki() -> Iterator[TempPKI]:
    """A ``TempPKI()`` (server + client CAs and certs, 2048-bit RSA).

    Creating one costs about a second of ``openssl``, so it is shared by
    every test; do not modify its files.  Its directory is removed at the
    end of the session.
    """
    temp_pki = TempPKI()
    yield temp_pki
    temp_pki.__del__()


# --- The `slow` marker (appended for test_fuzz.py) -------------------------
# Long randomized runs are marked @pytest.mark.slow and skipped unless
# pytest is given --run-slow (e.g. `python3 -m pytest --run-slow`).

def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        '--run-slow', action='store_true', default=False,
        help='also run the tests marked slow (long fuzzing runs)',
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        'markers', 'slow: long-running test, skipped unless --run-slow is given'
    )
    # (Output capture is off during configure: this is the real stderr.)
    _HANG_REPORT.append(os.dup(2))


def pytest_collection_modifyitems(
    config: pytest.Config, items: 'list[pytest.Item]'
) -> None:
    if config.getoption('--run-slow'):
        return
    skip_slow = pytest.mark.skip(reason='slow test: needs --run-slow')
    for item in items:
        if 'slow' in item.keywords:
            item.add_marker(skip_slow)


# --- A hung test ends the run -----------------------------------------------
# No test here takes more than seconds (the longest wait for a peer is
# serving.GUARD, 30 s).  One still running after TEST_TIME_LIMIT is hung: it
# dumps every thread's stack and ends the run with status 1, rather than
# holding CI until CI's own time limit.  (Not for the `slow` fuzzing runs.)
TEST_TIME_LIMIT = 300
_HANG_REPORT: 'list[int]' = []  # where the stacks go: the real stderr


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: Any) -> Iterator[None]:
    guarded = 'slow' not in item.keywords
    if guarded:
        faulthandler.dump_traceback_later(TEST_TIME_LIMIT, exit=True,
                                          file=_HANG_REPORT[0])
    try:
        yield
    finally:
        if guarded:
            faulthandler.cancel_dump_traceback_later()
