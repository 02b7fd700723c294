# SPDX-License-Identifier: LGPL-3.0-or-later
"""Tests for degu.options: the keyword options of Server and Client."""

from typing import Any

import pytest

from degu import limits
from degu.errors import TYPE_ERROR
from degu.options import (
    CLIENT_OPTIONS,
    SERVER_OPTIONS,
    check_names,
    client_options,
    server_options,
)


def test_names() -> None:
    assert SERVER_OPTIONS == ('max_connections', 'max_requests', 'timeout',
                              'shutdown_timeout', 'access_log', 'allowed_uids')
    assert CLIENT_OPTIONS == ('host', 'authorization', 'timeout', 'on_connect')


def test_check_names() -> None:
    check_names('Thing', {'a': 1}, ('a', 'b'))
    with pytest.raises(TypeError) as cm:
        check_names('Thing', {'z': 1, 'a': 1, 'c': 2}, ('a', 'b'))
    assert str(cm.value) == 'unsupported Thing() **options: c, z'


def test_server_defaults() -> None:
    assert server_options('Server', {}) == {
        'max_connections': limits.DEFAULT_MAX_CONNECTIONS,
        'max_requests': limits.DEFAULT_MAX_REQUESTS,
        'timeout': limits.DEFAULT_TIMEOUT,
        'shutdown_timeout': limits.SHUTDOWN_TIMEOUT,
        'access_log': False,
        'allowed_uids': None,
    }
    assert server_options('Server', {'timeout': 2.5, 'max_requests': 1,
                                     'shutdown_timeout': 0.5}) == {
        'max_connections': 50, 'max_requests': 1, 'timeout': 2.5,
        'shutdown_timeout': 0.5, 'access_log': False, 'allowed_uids': None,
    }
    assert server_options('Server', {'access_log': True})['access_log'] is True
    with pytest.raises(TypeError) as cm:
        server_options('Server', {'access_log': 1})
    assert str(cm.value) == TYPE_ERROR.format('access_log', bool, int, 1)


@pytest.mark.parametrize('value, exc, message', [
    ('1', TypeError, TYPE_ERROR.format('shutdown_timeout', (int, float), str, '1')),
    (0, ValueError, 'shutdown_timeout must be > 0; got 0'),
])
def test_server_shutdown_timeout(value: Any, exc: type, message: str) -> None:
    with pytest.raises(exc) as cm:
        server_options('Server', {'shutdown_timeout': value})
    assert str(cm.value) == message


@pytest.mark.parametrize('uids', [None, (0,), (1000, 0, 65534), (2 ** 32 - 1,)])
def test_server_allowed_uids(uids: Any) -> None:
    assert server_options('Server', {'allowed_uids': uids})['allowed_uids'] is uids


@pytest.mark.parametrize('value, exc, message', [
    ([1000], TypeError, TYPE_ERROR.format('allowed_uids', (tuple, type(None)), list, [1000])),
    (1000, TypeError, TYPE_ERROR.format('allowed_uids', (tuple, type(None)), int, 1000)),
    ((), ValueError, 'allowed_uids: empty, no peer could connect; None allows any peer'),
    ((0, '1'), TypeError, TYPE_ERROR.format('allowed_uids[1]', int, str, '1')),
    ((True,), TypeError, TYPE_ERROR.format('allowed_uids[0]', int, bool, True)),
    ((0, 1, -1), ValueError, 'allowed_uids[2] must be >= 0; got -1'),
])
def test_server_allowed_uids_bad(value: Any, exc: type, message: str) -> None:
    with pytest.raises(exc) as cm:
        server_options('Server', {'allowed_uids': value})
    assert str(cm.value) == message


def test_server_unknown() -> None:
    with pytest.raises(TypeError) as cm:
        server_options('SSLServer', {'host': 'x'})
    assert str(cm.value) == 'unsupported SSLServer() **options: host'


def test_client_defaults() -> None:
    assert client_options('Client', {}) == {
        'authorization': None,
        'timeout': limits.CLIENT_TIMEOUT,
        'on_connect': None,
    }
    # 'host' is there only when given: the default depends on the address.
    assert client_options('Client', {'host': None})['host'] is None
    assert client_options('Client', {'host': 'example.com'})['host'] == 'example.com'
    assert client_options('Client', {'timeout': None})['timeout'] is None
    assert client_options('SSLClient', {}, CLIENT_OPTIONS + ('ssl_host',))['ssl_host'] is None


@pytest.mark.parametrize('name, value', [
    ('host', 5),
    ('host', b'example.com'),
    ('authorization', 1),
    ('authorization', b'Basic x'),
])
def test_client_str_option_types(name: str, value: Any) -> None:
    # Refused at construction, not later on the wire.
    with pytest.raises(TypeError) as cm:
        client_options('Client', {name: value})
    assert str(cm.value) == TYPE_ERROR.format(name, (str, type(None)), type(value), value)


def test_client_ssl_host_type() -> None:
    with pytest.raises(TypeError) as cm:
        client_options('SSLClient', {'ssl_host': 1}, CLIENT_OPTIONS + ('ssl_host',))
    assert str(cm.value) == TYPE_ERROR.format('ssl_host', (str, type(None)), int, 1)


@pytest.mark.parametrize('value', ['5', True, [5]])
def test_client_timeout_type(value: Any) -> None:
    with pytest.raises(TypeError) as cm:
        client_options('Client', {'timeout': value})
    assert str(cm.value) == TYPE_ERROR.format(
        'timeout', (int, float, type(None)), type(value), value
    )


@pytest.mark.parametrize('value', [0, -1, 0.0, float('nan')])
def test_client_timeout_value(value: Any) -> None:
    with pytest.raises(ValueError) as cm:
        client_options('Client', {'timeout': value})
    assert str(cm.value) == 'timeout must be > 0; got {!r}'.format(value)


def test_client_on_connect() -> None:
    def hook(conn: Any) -> bool:
        return True
    assert client_options('Client', {'on_connect': hook})['on_connect'] is hook
    with pytest.raises(TypeError) as cm:
        client_options('Client', {'on_connect': 'nope'})
    assert str(cm.value) == "on_connect: not callable: 'nope'"
