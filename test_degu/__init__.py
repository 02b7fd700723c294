# SPDX-License-Identifier: LGPL-3.0-or-later
"""Degu's test suite (run it with ``python3 -m test_degu``)."""
