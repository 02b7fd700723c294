# SPDX-License-Identifier: LGPL-3.0-or-later
"""Test helpers shared by the tests of ``degu serve``: running the command.

``Serving`` runs ``python3 -m degu serve ARGS`` in a subprocess and reads its
first line, ``Serving on URL``, back into an address (``address_from_url()``);
``run_degu()`` runs any ``degu`` command to its end; ``activated_command()``
wraps a command so that it gets a listening socket as fd 3 with
``LISTEN_PID``/``LISTEN_FDS`` naming it, as systemd's socket activation does.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
from typing import Any, Dict, List, Optional

from degu.addresses import parse_address

from .helpers import reap

TREE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# How long any one subprocess may take before the test fails (not a timing
# assertion: only a guard against hanging forever).
GUARD = 30

SERVING = 'Serving on '
STOPPED = 'Stopped serving on '


# The source of app modules that a test writes into the directory ``degu
# serve`` runs in.  ``wait_for_release()``, called for a request, creates the
# file ``started`` and then waits (up to 30 s) until the test creates the
# file ``release``: a request in flight while the test signals the server.
RELEASE_GATE = '''
import os, time

def wait_for_release():
    open('started', 'w').close()
    for _ in range(3000):
        if os.path.exists('release'):
            break
        time.sleep(0.01)
'''

# An app module: ``/slow`` waits for the release and answers ``finished``;
# any other path answers the pid of the process that served it.
SLOW_APP_MODULE = RELEASE_GATE + '''

def app(session, request, api):
    if request.path == ['slow']:
        wait_for_release()
        return (200, 'OK', {}, b'finished')
    return (200, 'OK', {}, str(os.getpid()).encode())
'''


def degu_env(**extra: str) -> Dict[str, str]:
    env = dict(os.environ)
    env['PYTHONPATH'] = TREE + os.pathsep + env.get('PYTHONPATH', '')
    for name in ('LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES'):
        env.pop(name, None)
    env.update(extra)
    return env


def run_degu(*args: str, cwd: Optional[str] = None,
             stdin: bytes = b'') -> 'subprocess.CompletedProcess[bytes]':
    return subprocess.run(
        [sys.executable, '-m', 'degu'] + list(args),
        cwd=cwd, env=degu_env(), input=stdin, capture_output=True,
        timeout=GUARD,
    )


def address_from_url(url: str) -> Any:
    """The address a ``Serving on`` line names, in Degu's address forms.

    >>> address_from_url('http://127.0.0.1:8000/')
    ('127.0.0.1', 8000)
    >>> address_from_url('https://[::1]:8443/')
    ('::1', 8443, 0, 0)
    >>> address_from_url('tls+unix:/run/app.socket')
    '/run/app.socket'
    >>> address_from_url('@degu')
    b'\\x00degu'
    """
    for scheme in ('http://', 'https://'):
        if url.startswith(scheme):
            assert url.endswith('/'), url
            return parse_address(url[len(scheme):-1])
    if url.startswith('tls+'):
        url = url[len('tls+'):]
    if url.startswith('unix:'):
        return url[len('unix:'):]
    assert url.startswith('@'), url
    return parse_address(url)


def address_text(address: Any) -> str:
    """The command-line spelling of a bound address."""
    if type(address) is str:
        return address
    if type(address) is bytes:
        return '@' + address[1:].decode()
    if len(address) == 4:
        return '[{}]:{}'.format(address[0], address[1])
    return '{}:{}'.format(address[0], address[1])


# Run as "python3 -c ACTIVATE FD COMMAND...": make FD our fd 3, say so in the
# LISTEN_* variables (with our own pid: exec keeps it), and exec COMMAND.
ACTIVATE = '''
import os, sys
fd = int(sys.argv[1])
if fd != 3:
    os.dup2(fd, 3)
    os.close(fd)
os.environ['LISTEN_PID'] = str(os.getpid())
os.environ['LISTEN_FDS'] = '1'
os.environ['LISTEN_FDNAMES'] = 'web'
os.execv(sys.argv[2], sys.argv[2:])
'''


def activated_command(sock: socket.socket, command: List[str]) -> List[str]:
    """*command* run as systemd runs a socket-activated service, *sock* as fd 3
    (pass ``pass_fds=[sock.fileno()]`` to ``subprocess``)."""
    return [sys.executable, '-c', ACTIVATE, str(sock.fileno())] + command


class Serving:
    """``python3 -m degu serve ARGS`` in a subprocess, up to its address line.

    ``lines`` are the stdout lines read so far (up to the ``Serving on``
    line), ``url`` that line's URL and ``address`` the address it names.
    """

    def __init__(self, cwd: str, *args: str, command: Optional[List[str]] = None,
                 pass_fds: Any = (), name: str = 'serve') -> None:
        self.stderr_name = os.path.join(cwd, name + '.stderr')
        self.stderr_file = open(self.stderr_name, 'wb')
        if command is None:
            command = [sys.executable, '-m', 'degu', 'serve'] + list(args)
        self.proc = subprocess.Popen(
            command, cwd=cwd, env=degu_env(), stdout=subprocess.PIPE,
            stderr=self.stderr_file, stdin=subprocess.DEVNULL, pass_fds=pass_fds,
        )
        self.lines: List[str] = []
        guard = threading.Timer(GUARD, self.proc.kill)
        guard.start()
        try:
            self.url = self._read_url()
            self.address = address_from_url(self.url)
        except BaseException:
            self.close()
            raise
        finally:
            guard.cancel()

    def _read_url(self) -> str:
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline().decode()
            if not line:
                self.proc.wait()
                raise AssertionError('serve exited with {}: {}'.format(
                    self.proc.returncode, self.stderr()
                ))
            self.lines.append(line)
            if line.startswith(SERVING):
                return line[len(SERVING):].rstrip('\n')

    def stderr(self) -> str:
        self.stderr_file.flush()
        with open(self.stderr_name, 'rb') as fp:
            return fp.read().decode()

    def send(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def stop(self, signum: int = signal.SIGINT) -> int:
        """Send *signum*, wait for the exit; the exit status."""
        self.proc.send_signal(signum)
        return self.wait()

    def wait(self) -> int:
        return self.proc.wait(timeout=GUARD)

    def rest(self) -> str:
        """What it wrote on stdout after the address line (once it exited)."""
        assert self.proc.stdout is not None
        return self.proc.stdout.read().decode()

    def close(self) -> None:
        reap(self.proc)
        self.stderr_file.close()

    def __enter__(self) -> 'Serving':
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
