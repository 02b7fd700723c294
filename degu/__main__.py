# SPDX-License-Identifier: LGPL-3.0-or-later
"""``python3 -m degu``: the command line (the logic lives in ``degu.cli``)."""

import sys

from .cli import main

if __name__ == '__main__':
    sys.exit(main())
