# SPDX-License-Identifier: LGPL-3.0-or-later
"""The one thing pyproject.toml cannot say: the optional mypyc build.

All the metadata is in pyproject.toml.  The default build is pure Python
with no runtime dependencies.  With ``DEGU_MYPYC=1`` in the environment the
modules on the per-request path are compiled with mypyc (mypy is then needed
in the build environment, and only there)::

    DEGU_MYPYC=1 python3 -m pip install --no-build-isolation .

The compiled build behaves as the pure one, with one difference that
cannot be avoided: a call with missing or extra arguments to a compiled
function or class is refused by mypyc's own argument parsing, so its
``TypeError`` reads ``__init__() missing required argument 'stop' (pos 2)``
where CPython says ``Range.__init__() missing 1 required positional
argument: 'stop'``.  (Every check Degu makes itself keeps its message.)
The public classes an application subclasses stay subclassable
(``allow_interpreted_subclasses``).
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
