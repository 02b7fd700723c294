# SPDX-License-Identifier: LGPL-3.0-or-later
"""``mypyc_attr``, the class decorator only a mypyc build reads.

``@mypyc_attr(allow_interpreted_subclasses=True)`` keeps a class that mypyc
compiles subclassable from Python, as it is in the pure-Python build.  At
run time it does nothing, and nothing outside the standard library is
imported.  mypy and mypyc see the real decorator instead: they read the
stub beside this file, ``_mypyc.pyi``, which names ``mypy_extensions`` (a
stub takes precedence over the module for them), and mypyc recognises the
decorator by that name.
"""

from typing import Any


def mypyc_attr(*attrs: Any, **kwattrs: Any) -> Any:
    return lambda cls: cls


__all__ = ('mypyc_attr',)
