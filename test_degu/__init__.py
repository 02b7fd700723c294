"""Degu's test suite (run it with ``python3 -m test_degu``)."""
