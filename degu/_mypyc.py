# SPDX-License-Identifier: LGPL-3.0-or-later
"""What only a mypyc build reads: ``mypyc_attr``, the class decorator.

``@mypyc_attr(allow_interpreted_subclasses=True)`` keeps a class that mypyc
compiles subclassable from Python, as it is in the pure-Python build.  mypy
and mypyc see the real decorator from ``mypy_extensions`` (they recognise it
by that name, through this module); at run time ``typing.TYPE_CHECKING`` is
False, nothing outside the standard library is imported, and the decorator
is a no-op.  (A plain variable, not ``TYPE_CHECKING`` itself, keeps mypy from
taking the run-time branch for unreachable code, which mypyc would compile
into an error.)
"""

from typing import TYPE_CHECKING, Any

_TYPE_CHECKING = TYPE_CHECKING
if _TYPE_CHECKING:
    from mypy_extensions import mypyc_attr
else:
    def mypyc_attr(*attrs: Any, **kwattrs: Any) -> Any:  # type: ignore[misc]
        return lambda cls: cls

__all__ = ('mypyc_attr',)
