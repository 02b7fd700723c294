# SPDX-License-Identifier: LGPL-3.0-or-later
"""The original Degu 0.19's own documentation, run as doctests against Degu.

The original's reference pages (in the shared reference folder beside the
repository, not part of it, or where ``DEGU_ORIGINAL_DOCS`` says) are full
of examples.  Each page is run here as a doctest; every example must pass
except the few listed in ``DELIBERATE``, each of which is a difference
documented in doc/compat.rst.  The test is skipped where the reference is not present.

Exception details are compared too (no IGNORE_EXCEPTION_DETAIL), so the
messages the original documents are checked as well.
"""

import doctest
import os
from typing import Dict, List, Set

import pytest

TREE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# DEGU_ORIGINAL_DOCS names the pages when the tree under test is a copy
# (the compiled run of ``python3 -m test_degu``).
REFERENCE = os.environ.get('DEGU_ORIGINAL_DOCS') or os.path.join(
    os.path.dirname(TREE), 'shared', 'reference', 'degu-0.19-doc')
PAGES = [
    'degu.rst', 'degu.base.rst', 'degu.server.rst', 'degu.client.rst',
    'degu.applib.rst', 'degu.misc.rst', 'degu.rgi.rst', 'degu.util.rst',
    'rgi.rst',
]

# page -> the source of each example expected to fail, and why.
DELIBERATE: Dict[str, Dict[str, str]] = {
    'degu.client.rst': {
        'sslclient.sslctx.protocol == ssl.PROTOCOL_TLSv1_2\n':
            'TLS contexts use PROTOCOL_TLS_CLIENT (doc/compat.rst, TLS)',
    },
}


class Collector(doctest.DocTestRunner):
    """Records the source of every failing example instead of printing."""

    def __init__(self) -> None:
        super().__init__(optionflags=doctest.ELLIPSIS, verbose=False)
        self.failed: List[str] = []

    def report_failure(self, out, test, example, got):  # type: ignore[no-untyped-def]
        self.failed.append(example.source)

    def report_unexpected_exception(self, out, test, example, exc_info):  # type: ignore[no-untyped-def]
        self.failed.append(example.source)


@pytest.mark.skipif(not os.path.isdir(REFERENCE),
                    reason='the original Degu docs are not beside the tree')
@pytest.mark.parametrize('page', PAGES)
def test_original_examples(page: str) -> None:
    filename = os.path.join(REFERENCE, page)
    with open(filename, encoding='utf-8') as fp:
        text = fp.read()
    test = doctest.DocTestParser().get_doctest(text, {}, page, filename, 0)
    assert len(test.examples) > 0
    runner = Collector()
    runner.run(test, clear_globs=True)
    expected: Set[str] = set(DELIBERATE.get(page, {}))
    assert set(runner.failed) == expected
    assert len(runner.failed) == len(expected)
