# SPDX-License-Identifier: LGPL-3.0-or-later
# What mypy and a mypyc build see of degu._mypyc (see its docstring): the
# real decorator, by the name mypyc recognises.  Never imported at run time.
from mypy_extensions import mypyc_attr as mypyc_attr
