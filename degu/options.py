# SPDX-License-Identifier: LGPL-3.0-or-later
"""The keyword options of ``Server`` and ``Client``: names, defaults, checks.

Both take their configuration as keyword options (``Server(address, app,
timeout=5)``, ``Client(address, host=None)``).  Every option is checked when
the object is built, so a mistake fails there, with a message naming it,
rather than later on a connection.  The defaults live in ``degu.limits``.
"""

from typing import Any, Dict, Tuple

from .errors import TYPE_ERROR
from .limits import (
    CLIENT_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_REQUESTS,
    DEFAULT_TIMEOUT,
    MAX_SESSION_REQUESTS,
    SHUTDOWN_TIMEOUT,
)

SERVER_OPTIONS = ('max_connections', 'max_requests', 'timeout', 'shutdown_timeout',
                  'access_log', 'allowed_uids')
CLIENT_OPTIONS = ('host', 'authorization', 'timeout', 'on_connect')


def check_names(cls_name: str, options: Dict[str, Any],
                allowed: Tuple[str, ...]) -> None:
    """Refuse options that *cls_name* does not know, naming all of them."""
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError('unsupported {}() **options: {}'.format(
            cls_name, ', '.join(unknown)
        ))


def _check_timeout(timeout: Any, optional: bool, name: str = 'timeout') -> Any:
    if timeout is None and optional:
        return None
    if type(timeout) is not int and type(timeout) is not float:
        wanted: Any = (int, float, type(None)) if optional else (int, float)
        raise TypeError(TYPE_ERROR.format(name, wanted, type(timeout), timeout))
    if not (timeout > 0):
        raise ValueError('{} must be > 0; got {!r}'.format(name, timeout))
    return timeout


def server_options(cls_name: str, options: Dict[str, Any],
                   allowed: Tuple[str, ...] = SERVER_OPTIONS) -> Dict[str, Any]:
    """The checked server options, defaults filled in."""
    check_names(cls_name, options, allowed)
    max_connections = options.get('max_connections', DEFAULT_MAX_CONNECTIONS)
    if type(max_connections) is not int:
        raise TypeError(TYPE_ERROR.format(
            'max_connections', int, type(max_connections), max_connections
        ))
    if max_connections <= 0:
        raise ValueError(
            'max_connections must be > 0; got {!r}'.format(max_connections)
        )
    max_requests = options.get('max_requests', DEFAULT_MAX_REQUESTS)
    if type(max_requests) is not int:
        raise TypeError(TYPE_ERROR.format(
            'max_requests', int, type(max_requests), max_requests
        ))
    if not (1 <= max_requests <= MAX_SESSION_REQUESTS):
        raise ValueError('need 1 <= max_requests <= {}; got {}'.format(
            MAX_SESSION_REQUESTS, max_requests
        ))
    return {
        'max_connections': max_connections,
        'max_requests': max_requests,
        'timeout': _check_timeout(options.get('timeout', DEFAULT_TIMEOUT), False),
        'shutdown_timeout': _check_timeout(
            options.get('shutdown_timeout', SHUTDOWN_TIMEOUT), False, 'shutdown_timeout'
        ),
        'access_log': _check_bool('access_log', options.get('access_log', False)),
        'allowed_uids': _check_uids(options.get('allowed_uids')),
    }


def _check_uids(uids: Any) -> Any:
    """``allowed_uids``: ``None`` (any peer) or a non-empty tuple of user ids."""
    if uids is None:
        return None
    if type(uids) is not tuple:
        raise TypeError(TYPE_ERROR.format(
            'allowed_uids', (tuple, type(None)), type(uids), uids
        ))
    if not uids:
        raise ValueError('allowed_uids: empty, no peer could connect; '
                         'None allows any peer')
    for (i, uid) in enumerate(uids):
        name = 'allowed_uids[{}]'.format(i)
        if type(uid) is not int:
            raise TypeError(TYPE_ERROR.format(name, int, type(uid), uid))
        if uid < 0:
            raise ValueError('{} must be >= 0; got {!r}'.format(name, uid))
    return uids


def _check_bool(name: str, value: Any) -> bool:
    if type(value) is not bool:
        raise TypeError(TYPE_ERROR.format(name, bool, type(value), value))
    return value


def _check_optional_str(name: str, value: Any) -> Any:
    if value is not None and type(value) is not str:
        raise TypeError(TYPE_ERROR.format(name, (str, type(None)), type(value), value))
    return value


def client_options(cls_name: str, options: Dict[str, Any],
                   allowed: Tuple[str, ...] = CLIENT_OPTIONS) -> Dict[str, Any]:
    """The checked client options (``host`` only when given), defaults filled in."""
    check_names(cls_name, options, allowed)
    checked: Dict[str, Any] = {
        'authorization': _check_optional_str(
            'authorization', options.get('authorization')
        ),
        'timeout': _check_timeout(options.get('timeout', CLIENT_TIMEOUT), True),
    }
    if 'host' in options:
        checked['host'] = _check_optional_str('host', options['host'])
    on_connect = options.get('on_connect')
    if on_connect is not None and not callable(on_connect):
        raise TypeError('on_connect: not callable: {!r}'.format(on_connect))
    checked['on_connect'] = on_connect
    if 'ssl_host' in allowed:
        checked['ssl_host'] = _check_optional_str('ssl_host', options.get('ssl_host'))
    return checked
