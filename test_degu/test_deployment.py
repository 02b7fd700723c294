# SPDX-License-Identifier: LGPL-3.0-or-later
"""doc/deployment.rst, exercised: its unit files, its nginx config, its commands.

The page's files are its ``code-block`` directives with a ``:caption:``;
its commands are the ``$ `` lines of its ``console`` blocks.  Each command
is run here (``COMMANDS`` says by which test), with only the paths, ports
and addresses made local.  The unit files are checked with
``systemd-analyze verify`` (and their ``ExecStart=`` with Degu's own
parser), nginx runs with the page's configuration in front of ``degu
serve`` on a Unix socket, and socket activation runs under systemd's
``systemd-socket-activate``.  A tool that is not installed makes its test
skip (``.ci/run`` installs nginx).
"""

import configparser
import grp
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from degu import cli
from degu.client import Client, SSLClient

from .helpers import HAVE_IPV6, reap
from .serving import (
    GUARD, RELEASE_GATE, STOPPED, TREE, Serving, activated_command, degu_env,
)

PAGE = os.path.join(TREE, 'doc', 'deployment.rst')
NGINX = shutil.which('nginx') or ('/usr/sbin/nginx' if os.path.exists('/usr/sbin/nginx')
                                  else None)
SYSTEMD_ANALYZE = shutil.which('systemd-analyze')
SOCKET_ACTIVATE = shutil.which('systemd-socket-activate')

# python3 -m test_degu's compiled run copies the code and its tests, not doc/.
pytestmark = pytest.mark.skipif(not os.path.exists(PAGE),
                                reason='doc/deployment.rst is not in this tree')


def read_page() -> str:
    with open(PAGE) as fp:
        return fp.read()


def _indented_block(lines: List[str], start: int) -> str:
    """The indented block starting at *start* (blank lines inside kept), dedented."""
    block: List[str] = []
    for line in lines[start:]:
        if line.strip() and not line.startswith(' '):
            break
        block.append(line)
    return textwrap.dedent('\n'.join(block)).strip('\n') + '\n'


def page_files() -> List[Tuple[str, str]]:
    """``(caption, text)`` of each ``code-block`` with a caption, in order."""
    lines = read_page().split('\n')
    files = []
    for (i, line) in enumerate(lines):
        m = re.fullmatch(r'   :caption: (\S+)', line)
        if m and lines[i - 1].startswith('.. code-block:: '):
            files.append((m.group(1), _indented_block(lines, i + 2)))
    return files


def page_commands() -> List[str]:
    """The ``$ `` lines of the page's ``console`` blocks."""
    lines = read_page().split('\n')
    commands = []
    for (i, line) in enumerate(lines):
        if line == '.. code-block:: console':
            for text in _indented_block(lines, i + 1).split('\n'):
                if text.startswith('$ '):
                    commands.append(text[2:])
    return commands


def page_file(caption: str, index: int = 0) -> str:
    return [text for (name, text) in page_files() if name == caption][index]


# The page's commands, and the test that runs each.
COMMANDS = {
    'degu serve --app myapp:build --workers auto --address 127.0.0.1:8000':
        'test_workers_command',
    'systemd-socket-activate --listen 127.0.0.1:8000 degu serve --app myapp:build '
    '--workers 2': 'test_socket_activate_command',
    'systemd-analyze verify myapp.socket myapp.service': 'test_units_verify',
    'nginx -t': 'test_nginx_in_front',
    'degu serve --app myapp:build --workers auto --address [::]:8443 --tls '
    '--cert /etc/myapp/tls/server.pem --key /etc/myapp/tls/server.key '
    '--ca /etc/myapp/tls/clients-ca.pem': 'test_tls_commands',
    'degu request GET [::1]:8443 / --tls-config /etc/myapp/tls/client.json':
        'test_tls_commands',
}


def test_every_command_has_its_test() -> None:
    assert sorted(page_commands()) == sorted(COMMANDS)
    for name in set(COMMANDS.values()):
        assert callable(globals()[name]), name


def test_page_files() -> None:
    assert [name for (name, _) in page_files()] == [
        'myapp.service', 'myapp.socket', 'myapp.service', 'nginx-myapp.conf']


# -- the app the page serves, and a "degu" command -------------------------------------

MYAPP = RELEASE_GATE + '''

def build():
    def app(session, request, api):
        if request.path == ['slow']:
            wait_for_release()
        text = 'pid={}\\n'.format(os.getpid()) + ''.join(
            '{}={}\\n'.format(k, request.headers[k]) for k in sorted(request.headers))
        return (200, 'OK', {}, text.encode())
    return app
'''


@pytest.fixture
def site() -> Iterator[str]:
    """A directory with myapp.py and a ``degu`` command, readable by every
    user (nginx's workers run as nobody)."""
    path = tempfile.mkdtemp(prefix='degu-deploy-')
    try:
        os.chmod(path, 0o755)
        with open(os.path.join(path, 'myapp.py'), 'w') as fp:
            fp.write(MYAPP)
        degu = os.path.join(path, 'degu')
        with open(degu, 'w') as fp:
            # (systemd-socket-activate passes no environment: say it here.)
            fp.write('#!/bin/sh\nPYTHONPATH={} exec {} -m degu "$@"\n'.format(
                shlex.quote(TREE), shlex.quote(sys.executable)))
        os.chmod(degu, 0o755)
        yield path
    finally:
        shutil.rmtree(path)


def answer(address: Any, uri: str = '/', client: Any = None) -> Dict[str, str]:
    """The ``key=value`` lines of myapp's answer, as a dict."""
    client = Client(address) if client is None else client
    conn = client.connect()
    try:
        body = conn.get(uri, {}).body.read().decode()
    finally:
        conn.close()
    return dict(line.split('=', 1) for line in body.splitlines())


def local(command: str, site: str, **subs: str) -> List[str]:
    """A page command with ``degu`` from *site* and *subs* replaced."""
    for (old, new) in subs.items():
        command = command.replace(old, new)
    argv = shlex.split(command)
    return [os.path.join(site, 'degu') if arg == 'degu' else arg for arg in argv]


def command_for(test: str) -> List[str]:
    return [c for (c, name) in COMMANDS.items() if name == test]


# -- the unit files ------------------------------------------------------------------------

def exec_start(unit: str) -> List[str]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore
    parser.read_string(unit)
    return shlex.split(parser['Service']['ExecStart'])


@pytest.mark.parametrize('index', [0, 1])
def test_service_units(index: int) -> None:
    unit = page_file('myapp.service', index)
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore
    parser.read_string(unit)
    assert parser.sections() == ['Unit', 'Service', 'Install']
    service = parser['Service']
    assert service['KillMode'] == 'mixed'
    assert service['Type'] == 'exec'
    # Long enough for a graceful stop: shutdown_timeout plus the supervisor's margin.
    from degu.limits import SHUTDOWN_TIMEOUT
    from degu.workers import WORKER_EXIT_MARGIN
    assert int(service['TimeoutStopSec']) > SHUTDOWN_TIMEOUT + WORKER_EXIT_MARGIN
    argv = exec_start(unit)
    assert argv[:2] == ['/usr/bin/degu', 'serve']
    args = cli.build_parser('degu').parse_args(argv[1:])
    assert (args.app, args.workers) == ('myapp:build', 'auto')
    if index == 1:
        assert parser['Unit']['Requires'] == 'myapp.socket'
        assert '--address' not in argv and args.allow_any_user


def test_socket_unit() -> None:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore
    parser.read_string(page_file('myapp.socket'))
    socket_section = parser['Socket']
    assert socket_section['ListenStream'] == '/run/myapp/http.socket'
    assert socket_section['SocketMode'] == '0660'


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason='systemd-analyze is not installed')
@pytest.mark.parametrize('units', [['myapp.service'], ['myapp.socket', 'myapp.service']])
def test_units_verify(site: str, units: List[str]) -> None:
    assert SYSTEMD_ANALYZE is not None
    (command,) = command_for('test_units_verify')
    index = 0 if len(units) == 1 else 1
    for name in units:
        text = page_file(name, index if name == 'myapp.service' else 0)
        # verify wants the ExecStart= program to exist.
        text = text.replace('/usr/bin/degu', os.path.join(site, 'degu'))
        with open(os.path.join(site, name), 'w') as fp:
            fp.write(text)
    argv = shlex.split(command)
    if len(units) == 1:
        argv = argv[:2] + ['myapp.service']
    result = subprocess.run([SYSTEMD_ANALYZE] + argv[1:], cwd=site, capture_output=True,
                            timeout=GUARD, universal_newlines=True)
    assert (result.returncode, result.stdout, result.stderr) == (0, '', '')
    # And it does complain about a mistake.
    with open(os.path.join(site, 'myapp.service'), 'a') as fp:
        fp.write('[Service]\nKillSignal=SIGNOPE\n')
    result = subprocess.run([SYSTEMD_ANALYZE] + argv[1:], cwd=site, capture_output=True,
                            timeout=GUARD, universal_newlines=True)
    assert 'SIGNOPE' in result.stderr


# -- the commands ------------------------------------------------------------------------

def test_workers_command(site: str) -> None:
    (command,) = command_for('test_workers_command')
    argv = local(command, site, **{'127.0.0.1:8000': '127.0.0.1:0'})
    with Serving(site, command=argv) as s:
        assert re.fullmatch(r'Serving on http://127\.0\.0\.1:\d+/\n', s.lines[0])
        pids = {answer(s.address)['pid'] for _ in range(200)}
        assert str(s.proc.pid) not in pids
        assert s.stop(signal.SIGTERM) == 0
        assert s.rest() == STOPPED + s.url + '\n'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.skipif(SOCKET_ACTIVATE is None, reason='systemd-socket-activate is not installed')
def test_socket_activate_command(site: str) -> None:
    (command,) = command_for('test_socket_activate_command')
    port = free_port()
    argv = local(command, site, **{'127.0.0.1:8000': '127.0.0.1:{}'.format(port)})
    stderr_name = os.path.join(site, 'stderr')
    with open(stderr_name, 'wb') as stderr:
        proc = subprocess.Popen(argv, cwd=site, env=degu_env(), stdout=subprocess.PIPE,
                                stderr=stderr, stdin=subprocess.DEVNULL)
    try:
        # It listens at once, and starts degu on the first connection.
        for _ in range(GUARD * 100):
            with open(stderr_name) as fp:
                if 'Listening on' in fp.read():
                    break
            time.sleep(0.01)
        found = answer(('127.0.0.1', port))
        assert found['pid'] != str(proc.pid)
        assert proc.stdout is not None
        assert proc.stdout.readline() == 'Serving on http://127.0.0.1:{}/\n'.format(
            port).encode()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(GUARD) == 0
    finally:
        reap(proc)
    with open(stderr_name) as fp:
        log = fp.read()
    assert 'Serving the socket systemd passed: fd 3' in log
    assert '2 workers serving http://127.0.0.1:{}/'.format(port) in log


def test_restart_with_socket_activation_refuses_nothing(site: str) -> None:
    """``systemctl restart`` of a socket-activated service: the socket stays,
    the old process finishes its request, the new one takes new connections."""
    (_, activated) = (page_file('myapp.service', 0), page_file('myapp.service', 1))
    argv = [os.path.join(site, 'degu')] + exec_start(activated)[1:]
    with socket.socket() as sock:  # systemd's socket
        sock.bind(('127.0.0.1', 0))
        sock.listen(64)
        address = sock.getsockname()
        with Serving(site, command=activated_command(sock, argv),
                     pass_fds=[sock.fileno()]) as old:
            slow: List[Dict[str, str]] = []
            thread = threading.Thread(target=lambda: slow.append(answer(address, '/slow')))
            thread.start()
            for _ in range(GUARD * 100):
                if os.path.exists(os.path.join(site, 'started')):
                    break
                time.sleep(0.01)
            old.send(signal.SIGTERM)
            with Serving(site, command=activated_command(sock, argv),
                         pass_fds=[sock.fileno()], name='new') as new:
                # Every new connection is answered, by the old process or the new one.
                for _ in range(20):
                    assert 'pid' in answer(address)
                open(os.path.join(site, 'release'), 'w').close()
                thread.join(GUARD)
                assert old.wait() == 0
                assert 'pid' in slow[0]
                old_pids = re.findall(r'started: pid (\d+)', old.stderr())
                assert len(old_pids) == 2 and slow[0]['pid'] in old_pids
                assert answer(address)['pid'] not in old_pids
                assert new.stop(signal.SIGTERM) == 0


# -- nginx in front -------------------------------------------------------------------------

NGINX_MAIN = '''
daemon off;
pid {prefix}/nginx.pid;
error_log stderr warn;
{user}
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {site_conf};
}}
'''


@pytest.mark.skipif(NGINX is None, reason='nginx is not installed')
def test_nginx_in_front(site: str) -> None:
    assert NGINX is not None
    socket_file = os.path.join(site, 'http.socket')
    port = free_port()
    conf = page_file('nginx-myapp.conf')
    conf = conf.replace('unix:/run/myapp/http.socket', 'unix:' + socket_file)
    conf = conf.replace('listen 80;', 'listen 127.0.0.1:{};'.format(port))
    site_conf = os.path.join(site, 'nginx-myapp.conf')
    with open(site_conf, 'w') as fp:
        fp.write(conf)
    user = ''
    if os.getuid() == 0:
        user = 'user nobody {};'.format(grp.getgrgid(_nobody_gid()).gr_name)
    main_conf = os.path.join(site, 'nginx.conf')
    with open(main_conf, 'w') as fp:
        fp.write(NGINX_MAIN.format(prefix=site, user=user, site_conf=site_conf))
    nginx = [NGINX, '-p', site, '-c', main_conf, '-e', 'stderr']
    (command,) = command_for('test_nginx_in_front')
    assert shlex.split(command) == ['nginx', '-t']
    check = subprocess.run(nginx + ['-t'], capture_output=True, timeout=GUARD,
                           universal_newlines=True)
    assert check.returncode == 0, check.stderr
    assert 'syntax is ok' in check.stderr
    # The socket as systemd makes it from myapp.socket: mode 0660, nginx's group.
    argv = [os.path.join(site, 'degu')] + exec_start(page_file('myapp.service', 1))[1:]
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(socket_file)
        os.chmod(socket_file, 0o660)
        if os.getuid() == 0:
            os.chown(socket_file, 0, _nobody_gid())
        sock.listen(64)
        with Serving(site, command=activated_command(sock, argv),
                     pass_fds=[sock.fileno()]) as degu:
            proxy = subprocess.Popen(nginx, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
            try:
                _wait_for_port(port, proxy)
                client = Client(('127.0.0.1', port), host='app.example.com')
                conn = client.connect()
                seen = []
                for _ in range(5):  # several requests on one connection
                    body = conn.get('/hello', {}).body.read().decode()
                    seen.append(dict(line.split('=', 1) for line in body.splitlines()))
                conn.close()
                assert seen[0]['host'] == 'app.example.com'
                assert seen[0]['x-forwarded-for'] == '127.0.0.1'
                assert seen[0]['x-forwarded-proto'] == 'http'
                assert 'connection' not in seen[0]
            finally:
                proxy.terminate()
                (_, errors) = proxy.communicate(timeout=GUARD)
            assert degu.stop(signal.SIGTERM) == 0
            log = degu.stderr()
        assert os.path.exists(socket_file)  # systemd's: left in place
    assert b'[emerg]' not in errors and b'[error]' not in errors, errors
    peer = 'unix:\\d+/{}/\\d+'.format(65534 if os.getuid() == 0 else os.getuid())
    assert len(re.findall(peer + r' "GET /hello" 200 ', log)) == 5


def _nobody_gid() -> int:
    for name in ('nogroup', 'nobody'):
        try:
            return grp.getgrnam(name).gr_gid
        except KeyError:
            pass
    return 65534


def _wait_for_port(port: int, proc: Any) -> None:
    for _ in range(GUARD * 100):
        assert proc.poll() is None, proc.stderr.read()
        try:
            socket.create_connection(('127.0.0.1', port), timeout=GUARD).close()
            return
        except ConnectionRefusedError:
            time.sleep(0.01)
    raise AssertionError('nginx did not start listening')


# -- TLS with client certificates ----------------------------------------------------------

@pytest.mark.skipif(not HAVE_IPV6, reason='no IPv6 loopback')
def test_tls_commands(site: str, pki: Any) -> None:
    (serve, request) = command_for('test_tls_commands')
    server = pki.server_sslconfig
    files = {
        '/etc/myapp/tls/server.pem': server['cert_file'],
        '/etc/myapp/tls/server.key': server['key_file'],
        '/etc/myapp/tls/clients-ca.pem': server['ca_file'],
        '[::]:8443': '[::1]:0',
    }
    with Serving(site, command=local(serve, site, **files)) as s:
        assert re.fullmatch(r'Serving on https://\[::1\]:\d+/\n', s.lines[0])
        client_json = os.path.join(site, 'client.json')
        with open(client_json, 'w') as fp:
            json.dump(pki.client_sslconfig, fp)
        argv = local(request, site, **{'/etc/myapp/tls/client.json': client_json,
                                       '[::1]:8443': '[::1]:{}'.format(s.address[1])})
        result = subprocess.run(argv, cwd=site, env=degu_env(), capture_output=True,
                                timeout=GUARD)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(b'pid=')
        # A client without a certificate from the CA gets nowhere.
        anonymous = dict(pki.client_sslconfig)
        del anonymous['cert_file'], anonymous['key_file']
        with pytest.raises(OSError):
            answer(s.address, client=SSLClient(anonymous, s.address))
        assert s.stop(signal.SIGTERM) == 0
