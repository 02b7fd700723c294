# SPDX-License-Identifier: LGPL-3.0-or-later
"""Check that a mypyc run really exercises compiled modules.

``python3 -m test_degu`` runs the suite a second time against a mypyc build
with ``DEGU_EXPECT_COMPILED=1``; without that variable these tests skip.
"""

import importlib
import os

import pytest

COMPILED = (
    'degu.caches',
    'degu.ranges',
    'degu.parsing',
    'degu.rendering',
    'degu.sources',
    'degu.sockio',
    'degu.bodies',
    'degu.messages',
    'degu.server',
    'degu.client',
)

pytestmark = pytest.mark.skipif(
    os.environ.get('DEGU_EXPECT_COMPILED') != '1',
    reason='not a compiled run (DEGU_EXPECT_COMPILED is not 1)',
)


@pytest.mark.parametrize('name', COMPILED)
def test_module_is_compiled(name):
    module = importlib.import_module(name)
    assert module.__file__.endswith('.so'), module.__file__


def test_pure_modules_stay_pure():
    # Built-in exception subclasses cannot be compiled by mypyc.
    errors = importlib.import_module('degu.errors')
    assert errors.__file__.endswith('.py')
