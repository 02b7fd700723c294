# SPDX-License-Identifier: LGPL-3.0-or-later
"""systemd socket activation: serving a listening socket another process made.

A ``.socket`` unit makes systemd create and bind the listening socket itself,
then start the service when the first connection arrives (or at boot), with
the socket already open as file descriptor 3.  The service learns of it from
three environment variables (the ``sd_listen_fds(3)`` convention)::

    LISTEN_PID=4242         the process the sockets are for
    LISTEN_FDS=1            how many: descriptors 3, 4, ... (SD_LISTEN_FDS_START)
    LISTEN_FDNAMES=web      optional: their names, separated by ':'

The variables are inherited by every child process, so they only count when
``LISTEN_PID`` is this very process; and, as ``sd_listen_fds(1)`` does, they
are removed from the environment once read, so that no child (a worker, a
program the app runs) believes the sockets are its own.

This is plain parsing, so it needs no library from systemd: ``parse_listen_env()``
is a pure function of the environment and a pid, and ``listen_socket()``
applies it to this process.

Why it helps: the socket outlives the service.  While the service restarts,
the kernel keeps queueing new connections on the socket, so none is refused;
the service may run without the privilege to bind a low port or create the
socket file; and the socket's owner and mode (``SocketUser=``,
``SocketMode=``) are set in one place.
"""

import os
import socket
from typing import List, Mapping, MutableMapping, Optional, Tuple

__all__ = ('SD_LISTEN_FDS_START', 'LISTEN_VARIABLES', 'parse_listen_env',
           'listen_socket')

# The first passed descriptor: 0, 1 and 2 are stdin, stdout and stderr.
SD_LISTEN_FDS_START = 3

LISTEN_VARIABLES = ('LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES')

# A passed socket whose name systemd did not set (its default name).
UNKNOWN_NAME = 'unknown'

Passed = List[Tuple[int, str]]


def _number(environ: Mapping[str, str], name: str) -> int:
    text = environ[name]
    if not (text.isdigit() and text.isascii()):
        raise ValueError('{}: need a number; got {!r}'.format(name, text))
    return int(text)


def parse_listen_env(environ: Mapping[str, str], pid: int) -> Optional[Passed]:
    """The sockets passed to process *pid*, as ``[(fd, name), ...]``.

    None when nothing was passed to *pid* (no ``LISTEN_PID``, or another
    process's); a malformed variable is a ``ValueError``.

    >>> parse_listen_env({'LISTEN_PID': '42', 'LISTEN_FDS': '1'}, 42)
    [(3, 'unknown')]
    >>> parse_listen_env({'LISTEN_PID': '42', 'LISTEN_FDS': '2',
    ...                   'LISTEN_FDNAMES': 'web:admin'}, 42)
    [(3, 'web'), (4, 'admin')]
    >>> print(parse_listen_env({'LISTEN_PID': '41', 'LISTEN_FDS': '1'}, 42))
    None
    >>> parse_listen_env({'LISTEN_PID': '42', 'LISTEN_FDS': 'one'}, 42)
    Traceback (most recent call last):
      ...
    ValueError: LISTEN_FDS: need a number; got 'one'
    """
    if 'LISTEN_PID' not in environ:
        return None
    if _number(environ, 'LISTEN_PID') != pid:
        return None
    if 'LISTEN_FDS' not in environ:
        raise ValueError('LISTEN_PID is set but LISTEN_FDS is not')
    count = _number(environ, 'LISTEN_FDS')
    names_text = environ.get('LISTEN_FDNAMES')
    if names_text is None:
        names = [UNKNOWN_NAME] * count
    else:
        names = names_text.split(':') if names_text else []
        if len(names) != count:
            raise ValueError('LISTEN_FDNAMES names {} sockets, LISTEN_FDS says {}'.format(
                len(names), count))
    return [(SD_LISTEN_FDS_START + i, names[i]) for i in range(count)]


def _check_listening(sock: socket.socket, fd: int) -> None:
    if sock.type != socket.SOCK_STREAM:
        raise ValueError('passed descriptor {} is not a stream socket'.format(fd))
    if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
        raise ValueError('passed descriptor {} is not listening'.format(fd))


def listen_socket(environ: Optional[MutableMapping[str, str]] = None,
                  pid: Optional[int] = None) -> Optional[Tuple[socket.socket, str]]:
    """The listening socket systemd passed to this process, with its name.

    None when no socket was passed.  The ``LISTEN_*`` variables are removed
    from *environ* (default: ``os.environ``) in any case.  Degu serves one
    socket, so more than one is a ``ValueError``, as is a descriptor that is
    not a listening stream socket.  The socket is made close-on-exec, so
    programs the app runs do not inherit it (forked workers still do).
    """
    env: MutableMapping[str, str] = os.environ if environ is None else environ
    try:
        passed = parse_listen_env(env, os.getpid() if pid is None else pid)
    finally:
        for name in LISTEN_VARIABLES:
            env.pop(name, None)
    if not passed:
        return None
    if len(passed) > 1:
        raise ValueError('systemd passed {} sockets ({}); Degu serves one'.format(
            len(passed), ', '.join(name for (_, name) in passed)))
    (fd, name) = passed[0]
    try:
        sock = socket.socket(fileno=fd)
    except OSError as e:
        raise ValueError('passed descriptor {} is not a socket: {}'.format(fd, e)) from None
    try:
        _check_listening(sock, fd)
        sock.set_inheritable(False)
        # Accept in blocking mode, whatever mode systemd left it in.
        sock.setblocking(True)
    except BaseException:
        sock.detach()
        raise
    return (sock, name)
