# SPDX-License-Identifier: LGPL-3.0-or-later
"""``degu serve``: what the command does once its arguments are parsed.

It loads the app (``--app MODULE:CALLABLE``, or ``FilesApp`` for a
directory), takes the socket systemd passed if there is one
(``degu.activation``), builds a ``Server``/``SSLServer`` in this process or
``Workers`` (``--workers``), prints ``Serving on URL``, and runs it until a
signal with ``degu.lifecycle.run_until_signal()``: SIGTERM or SIGINT stop it
gracefully, a second one at once.  The parser itself is ``degu.cli``'s.
"""

import argparse
import importlib
import inspect
import json
import logging
import os
import socket
from typing import Any, BinaryIO, Callable, Dict, Optional, TextIO, Tuple, cast

from . import addresses
from .addresses import describe

__all__ = ('cmd_serve', 'is_rgi_app', 'app_builder', 'load_app')

log = logging.getLogger('degu.cli')

LOG_FORMAT = '%(asctime)s %(levelname)s %(name)s: %(message)s'
WORKERS_LOG_FORMAT = '%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s'
"""With --workers each line names the process that wrote it."""


# -- loading an app ------------------------------------------------------------

def _takes(signature: inspect.Signature, count: int) -> bool:
    try:
        signature.bind(*([None] * count))
    except TypeError:
        return False
    return True


def is_rgi_app(obj: Any) -> bool:
    """True if *obj* can be called as ``app(session, request, api)``
    but not with no arguments (which would make it a build function).

    >>> is_rgi_app(lambda session, request, api: None)
    True
    >>> is_rgi_app(lambda: None)
    False
    """
    if not callable(obj):
        return False
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        # No introspectable signature (some builtins): assume an app.
        return True
    return _takes(signature, 3) and not _takes(signature, 0)


def app_builder(spec: str) -> Callable[[], Callable[..., Any]]:
    """Import ``module:callable``; return a function that returns the app.

    The callable may be the app itself (anything callable with
    ``(session, request, api)``) or a build function called with no
    arguments that returns the app.  ``callable`` may be a dotted path
    (``module:obj.attr``).  The import and the checks happen now; a build
    function is called by the returned function (in each worker, with
    ``--workers``).
    """
    (module_name, sep, attr_path) = spec.partition(':')
    if not sep or not module_name or not attr_path:
        raise ValueError('need MODULE:CALLABLE; got {!r}'.format(spec))
    module = importlib.import_module(module_name)
    obj: Any = module
    for attr in attr_path.split('.'):
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            raise ValueError('{!r} has no attribute {!r}'.format(
                module_name, attr_path
            )) from None
    if not callable(obj):
        raise ValueError('{} is not callable: {!r}'.format(spec, obj))
    if is_rgi_app(obj):
        return lambda: cast(Callable[..., Any], obj)
    try:
        signature: Optional[inspect.Signature] = inspect.signature(obj)
    except (TypeError, ValueError):
        signature = None
    if signature is not None and not _takes(signature, 0):
        raise ValueError(
            '{} is neither an RGI app (session, request, api) nor a build '
            'function taking no arguments'.format(spec)
        )

    def build() -> Callable[..., Any]:
        app = obj()
        if not callable(app):
            raise ValueError('{}() returned a non-callable app: {!r}'.format(spec, app))
        return cast(Callable[..., Any], app)

    return build


def load_app(spec: str) -> Callable[..., Any]:
    """Import ``module:callable`` and return the RGI app it names (see
    ``app_builder()``)."""
    return app_builder(spec)()


# -- serve ---------------------------------------------------------------------

def _build_sslconfig(args: argparse.Namespace) -> Dict[str, Any]:
    sslconfig: Dict[str, Any] = {'cert_file': args.cert, 'key_file': args.key}
    if args.allow_anonymous:
        sslconfig['allow_unauthenticated_clients'] = True
    else:
        sslconfig['ca_file'] = args.ca
    return sslconfig


def _check_serve_args(parser: argparse.ArgumentParser,
                      args: argparse.Namespace) -> None:
    """Cross-option rules that argparse cannot express by itself."""
    if args.app is not None and args.directory is not None:
        parser.error('give either a DIRECTORY or --app, not both')
    tls_files = [name for name in ('cert', 'key', 'ca') if getattr(args, name)]
    if args.temp_pki:
        if tls_files:
            parser.error('--temp-pki cannot be combined with --cert/--key/--ca')
        return
    if not args.tls:
        if tls_files or args.allow_anonymous:
            parser.error('--cert/--key/--ca/--allow-anonymous need --tls')
        return
    if not (args.cert and args.key):
        parser.error('--tls needs --cert and --key (or use --temp-pki)')
    if args.allow_anonymous and args.ca:
        parser.error('--ca and --allow-anonymous exclude each other')
    if not (args.ca or args.allow_anonymous):
        parser.error('--tls needs --ca (client CA) or --allow-anonymous')


def _app_builder(parser: argparse.ArgumentParser,
                 args: argparse.Namespace) -> Callable[[], Callable[..., Any]]:
    """What builds the app: called here, or in each worker with --workers.

    Without workers the app is built at once, so that a build function
    returning junk is a usage error, like a spec naming nothing.
    """
    if args.app is not None:
        try:
            builder = app_builder(args.app)
            if args.workers is None:
                app = builder()
                return lambda: app
            return builder
        except (ImportError, ValueError) as e:
            parser.error('--app: {}'.format(e))
    directory = os.path.abspath(args.directory or os.curdir)
    if not os.path.isdir(directory):
        parser.error('not a directory: {!r}'.format(directory))

    def files_app() -> Callable[..., Any]:
        from .applib import FilesApp
        return cast(Callable[..., Any], FilesApp(directory))

    return files_app


def _server_options(args: argparse.Namespace) -> Dict[str, Any]:
    options: Dict[str, Any] = {}
    for name in ('max_connections', 'max_requests', 'timeout', 'shutdown_timeout'):
        value = getattr(args, name)
        if value is not None:
            options[name] = value
    # One line per request on 'degu.access', unless --quiet.
    options['access_log'] = not args.quiet
    return options


def _takes_allowed_uids() -> bool:
    """Whether ``Server`` has the ``allowed_uids`` option (peer uid checks)."""
    from .server import Server
    if 'allowed_uids' in getattr(Server, '_options', ()):
        return True
    try:
        return 'allowed_uids' in inspect.signature(Server).parameters
    except (TypeError, ValueError):
        return False


def _peer_options(args: argparse.Namespace, family: int) -> Dict[str, Any]:
    """On ``AF_UNIX``: only our own uid may connect, unless --allow-any-user."""
    if family != getattr(socket, 'AF_UNIX', None) or not _takes_allowed_uids():
        return {}
    return {'allowed_uids': None if args.allow_any_user else (os.getuid(),)}


def _say(stream: BinaryIO, line: str) -> None:
    """Write one line to a binary stream and flush it at once (for pipes)."""
    stream.write(line.encode() + b'\n')
    stream.flush()


def _passed_socket(stderr: TextIO) -> Tuple[Any, Optional[str]]:
    """The socket systemd passed (and its name), or ``(None, None)``."""
    from .activation import listen_socket
    passed = listen_socket()
    if passed is None:
        return (None, None)
    (sock, name) = passed
    log.info('Serving the socket systemd passed: fd %d (%s), %s; --address is not used',
             sock.fileno(), name, describe(sock.getsockname()))
    return passed


def _make_server(args: argparse.Namespace, target: Any, builder: Callable[[], Any],
                 sslconfig: Optional[Dict[str, Any]], options: Dict[str, Any]) -> Any:
    """A ``Server``/``SSLServer`` in this process, or ``Workers`` (--workers)."""
    if args.workers is not None:
        from .workers import Workers, available_cpus
        count = available_cpus() if args.workers == 'auto' else args.workers
        return Workers(target, builder, workers=count, sslconfig=sslconfig, **options)
    if isinstance(target, socket.socket):
        # systemd keeps this socket for the service's next start: stopping
        # must not shut it down (see degu.workers.SharedListener).
        from .workers import SharedListener
        target = SharedListener.share(target)
    app = builder()
    if sslconfig is None:
        from .server import Server
        return Server(target, app, **options)
    from .server import SSLServer
    return SSLServer(sslconfig, target, app, **options)


def cmd_serve(parser: argparse.ArgumentParser, args: argparse.Namespace,
              stdout: BinaryIO, stderr: TextIO) -> int:
    """Run a server until SIGINT/SIGTERM; return the exit status."""
    _check_serve_args(parser, args)
    builder = _app_builder(parser, args)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format=LOG_FORMAT if args.workers is None else WORKERS_LOG_FORMAT,
        stream=stderr,
    )
    try:
        (passed, _) = _passed_socket(stderr)
    except (OSError, ValueError) as e:
        print('degu serve: socket activation: {}'.format(e), file=stderr, flush=True)
        return 1
    target = args.address if passed is None else passed
    family = passed.family if passed is not None else addresses.family(args.address)
    options = _server_options(args)
    options.update(_peer_options(args, family))
    pki: Any = None
    try:
        if args.temp_pki:
            from .sslhelpers import TempPKI
            pki = TempPKI(client_pki=not args.allow_anonymous)
            if args.allow_anonymous:
                sslconfig = pki.anonymous_server_sslconfig
                client_config = pki.anonymous_client_sslconfig
            else:
                sslconfig = pki.server_sslconfig
                client_config = pki.client_sslconfig
            _say(stdout, 'Client TLS config: ' + json.dumps(client_config, sort_keys=True))
        elif args.tls:
            sslconfig = _build_sslconfig(args)
        else:
            sslconfig = None
        tls = sslconfig is not None
        try:
            server = _make_server(args, target, builder, sslconfig, options)
        except (OSError, ValueError, TypeError, RuntimeError) as e:
            where = describe(target.getsockname() if passed is not None else target, tls)
            print('degu serve: cannot serve on {}: {}'.format(where, e),
                  file=stderr, flush=True)
            return 1
        url = describe(server.address, tls)
        try:
            from .lifecycle import run_until_signal
            # The handlers first: whoever reads the line may signal at once.
            status = run_until_signal(server, lambda: _say(stdout, 'Serving on ' + url))
            _say(stdout, 'Stopped serving on {}{}'.format(
                url, '' if status == 0 else ' (not cleanly: see the log)'))
            return status
        finally:
            if passed is None and type(server.address) is str:
                _unlink_quietly(server.address)
    except KeyboardInterrupt:
        # Ctrl-C while starting up (creating the PKI, say): a clean stop too.
        return 0
    finally:
        if pki is not None:
            pki.__del__()


def _unlink_quietly(filename: str) -> None:
    try:
        os.unlink(filename)
    except OSError:
        pass
