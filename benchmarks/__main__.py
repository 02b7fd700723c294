# SPDX-License-Identifier: LGPL-3.0-or-later
"""``python3 -m benchmarks``: run Degu's benchmark (see ``benchmarks.main``)."""

import sys

from .main import main

if __name__ == '__main__':
    sys.exit(main())
