"""Shared pytest fixtures: one throw-away PKI for the whole test session."""

from typing import Iterator

import pytest

from degu.sslhelpers import TempPKI


@pytest.fixture(scope='session')
def pki() -> Iterator[TempPKI]:
    """A ``TempPKI()`` (server + client CAs and certs, 2048-bit RSA).

    Creating one costs about a second of ``openssl``, so it is shared by
    every test; do not modify its files.  Its directory is removed at the
    end of the session.
    """
    temp_pki = TempPKI()
    yield temp_pki
    temp_pki.__del__()
