# SPDX-License-Identifier: LGPL-3.0-or-later
"""The one thing pyproject.toml cannot say: the optional mypyc build.

All the metadata is in pyproject.toml.  The default build is pure Python
with no runtime dependencies.  With ``DEGU_MYPYC=1`` in the environment the
modules on the per-request path are compiled with mypyc (mypy is then needed
in the build environment, and only there)::

    DEGU_MYPYC=1 python3 -m pip install --no-build-isolation .
"""

import os
from typing import Any, List

from setuptools import setup

# The modules on the per-request path; compiling them is optional.
# (degu/errors.py stays pure Python: mypyc cannot compile subclasses of
# built-in exceptions, and nothing there is on the hot path.)
MYPYC_MODULES = [
    'degu/caches.py',
    'degu/ranges.py',
    'degu/parsing.py',
    'degu/rendering.py',
    'degu/sources.py',
    'degu/sockio.py',
    'degu/bodies.py',
    'degu/messages.py',
    'degu/session.py',
    'degu/handler.py',
    'degu/server.py',
    'degu/client.py',
]


def ext_modules() -> List[Any]:
    if os.environ.get('DEGU_MYPYC') != '1':
        return []
    from mypyc.build import mypycify
    return list(mypycify(MYPYC_MODULES, opt_level='3'))


setup(ext_modules=ext_modules())
