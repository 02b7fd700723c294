# SPDX-License-Identifier: LGPL-3.0-or-later
"""The ``degu`` command (also ``python3 -m degu``): ``serve`` and ``request``.

``serve`` runs a Degu server in the foreground until Ctrl-C (or SIGTERM),
which stop it gracefully (what it does is ``degu.serve``'s)::

    python3 -m degu serve                       # current directory, FilesApp
    python3 -m degu serve /srv/www --address [::1]:8080
    python3 -m degu serve --app mymodule:build --address /tmp/app.socket
    python3 -m degu serve --temp-pki            # TLS with a throw-away PKI
    python3 -m degu serve --app mymodule:build --workers auto

``request`` sends one request and shows the response: status line, headers
and chunk lines on stderr, body data on stdout::

    python3 -m degu request GET 127.0.0.1:8000 /index.html

The benchmark is not part of the installed package: run
``python3 -m benchmarks`` from the source tree.

Addresses are written the way people type them (``HOST:PORT``,
``[V6ADDR]:PORT``, a socket path, ``@NAME``); ``degu.addresses.parse_address()``
turns them into the forms ``Server`` and ``Client`` take.

Exit status: 0 on success (``serve`` stopped gracefully by a signal counts
as success, ``request`` got a status below 400), 1 on a runtime failure or
an HTTP error status, 2 on bad command-line usage.
"""

import argparse
import json
import os
import sys
from typing import (
    Any, BinaryIO, Dict, Iterator, List, Optional, TextIO, Tuple, cast,
)

from . import __version__
from .addresses import parse_address
from .limits import (
    CLIENT_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_REQUESTS,
    DEFAULT_TIMEOUT,
    MAX_IO_SIZE,
    METHOD_BITS,
    METHODS,
    PUT_POST_MASK,
    SHUTDOWN_TIMEOUT,
)

from .serve import app_builder, cmd_serve, is_rgi_app, load_app

__all__ = ('main', 'parse_address', 'load_app', 'app_builder', 'is_rgi_app',
           'build_parser')

DEFAULT_ADDRESS = '127.0.0.1:8000'
"""Loopback only, so a bare ``serve`` never exposes files to the network."""

READ_SIZE = 65536
"""Piece size when streaming a ``--chunked`` request body from a file or stdin."""

MAX_STDIN_BODY = MAX_IO_SIZE
"""Largest non-chunked body read from stdin (``MAX_IO_SIZE``, one ``bytes``)."""

SHOWN_CHUNK_BYTES = 32
"""How much of each chunk's data the ``request`` chunk lines quote."""

PROG = 'python3 -m degu'
"""The name in usage lines; the installed ``degu`` script says ``degu``."""


Address = Any  # tuple, str or bytes: the forms Server and Client accept
Chunk = Tuple[Optional[Tuple[str, str]], bytes]


# -- addresses ---------------------------------------------------------------

def _address_arg(text: str) -> Address:
    """argparse ``type=``: a bad address becomes a usage error (exit status 2)."""
    try:
        return parse_address(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _abs_file(text: str) -> str:
    return os.path.abspath(text)


# -- request -------------------------------------------------------------------

def _header_arg(text: str) -> Tuple[str, str]:
    """``-H 'Name: value'`` -> ``('name', 'value')`` (argparse ``type=``)."""
    (name, sep, value) = text.partition(':')
    name = name.strip()
    value = value.strip()
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError(
            'need NAME:VALUE; got {!r}'.format(text)
        )
    return (name.lower(), value)


def _read_pieces(fp: BinaryIO) -> Iterator[bytes]:
    while True:
        data = fp.read(READ_SIZE)
        if not data:
            return
        yield data


def _chunks_from(fp: BinaryIO) -> Iterator[Chunk]:
    for data in _read_pieces(fp):
        yield (None, data)
    yield (None, b'')


def _load_tls_config(text: str) -> Dict[str, Any]:
    """A JSON object given inline (``{...}``) or as the name of a file."""
    if text.lstrip().startswith('{'):
        config = json.loads(text)
    else:
        with open(text) as fp:
            config = json.load(fp)
    if type(config) is not dict:
        raise ValueError('TLS config must be a JSON object; got {!r}'.format(config))
    return cast(Dict[str, Any], config)


def _build_client(args: argparse.Namespace) -> Any:
    options = {'timeout': args.timeout}
    if args.tls_config is not None or args.tls:
        from .client import SSLClient
        config = _load_tls_config(args.tls_config) if args.tls_config else {}
        return SSLClient(config, args.address, **options)
    from .client import Client
    return Client(args.address, **options)


def _open_body(args: argparse.Namespace, stdin: BinaryIO,
               files: List[BinaryIO]) -> Any:
    """The request body for ``--data-file`` (``-`` = stdin), or None."""
    from .bodies import Body, ChunkedBodyIter
    name = args.data_file
    if name is None:
        return None
    if name == '-':
        if args.chunked:
            return ChunkedBodyIter(_chunks_from(stdin))
        data = stdin.read(MAX_STDIN_BODY + 1)
        if len(data) > MAX_STDIN_BODY:
            raise ValueError(
                'stdin body exceeds {} bytes; use --chunked'.format(MAX_STDIN_BODY)
            )
        return data
    fp = open(name, 'rb')
    files.append(fp)
    if args.chunked:
        return ChunkedBodyIter(_chunks_from(fp))
    return Body(fp, os.fstat(fp.fileno()).st_size)


def format_chunk_line(chunk: Chunk) -> str:
    """The stderr line shown for one received chunk.

    >>> format_chunk_line((('k', 'v'), b'hello'))
    "chunk 5 ;k=v: b'hello'"
    >>> format_chunk_line((None, b''))
    "chunk 0: b''"
    """
    (ext, data) = chunk
    shown = repr(data[:SHOWN_CHUNK_BYTES])
    if len(data) > SHOWN_CHUNK_BYTES:
        shown += '...'
    if ext is None:
        return 'chunk {}: {}'.format(len(data), shown)
    return 'chunk {} ;{}={}: {}'.format(len(data), ext[0], ext[1], shown)


def _show_response(response: Any, out: BinaryIO, err: TextIO) -> None:
    print('HTTP/1.1 {} {}'.format(response.status, response.reason), file=err)
    for name in sorted(response.headers):
        print('{}: {}'.format(name, response.headers[name]), file=err)
    print(file=err, flush=True)
    body = response.body
    if body is None:
        return
    if body.chunked:
        for chunk in body:
            print(format_chunk_line(chunk), file=err, flush=True)
            out.write(chunk[1])
            out.flush()
    else:
        for data in body:
            out.write(data)
        out.flush()


def cmd_request(parser: argparse.ArgumentParser, args: argparse.Namespace,
                stdin: BinaryIO, stdout: BinaryIO, stderr: TextIO) -> int:
    """Send one request, show the response; 0 if status < 400, else 1."""
    if args.chunked and args.data_file is None:
        parser.error('--chunked needs --data-file')
    if args.data_file is not None and not METHOD_BITS[args.method] & PUT_POST_MASK:
        parser.error('only PUT and POST requests can have a body')
    if args.tls and args.tls_config:
        parser.error('--tls and --tls-config exclude each other')
    headers = dict(args.headers)
    files: List[BinaryIO] = []
    conn: Any = None
    try:
        client = _build_client(args)
        body = _open_body(args, stdin, files)
        conn = client.connect()
        response = conn.request(args.method, args.uri, headers, body)
        _show_response(response, stdout, stderr)
    except (OSError, ValueError, TypeError) as e:
        print('degu request: {}: {}'.format(type(e).__name__, e),
              file=stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 130  # the shell's convention for "killed by SIGINT"
    finally:
        if conn is not None:
            conn.close()
        for fp in files:
            fp.close()
    return 0 if response.status < 400 else 1


# -- the parser ------------------------------------------------------------------

ADDRESS_HELP = (
    'HOST:PORT, [V6ADDR]:PORT, [V6ADDR%%SCOPE]:PORT, a socket file path '
    '(anything containing "/"), or @NAME for a Linux abstract socket'
)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError('need an integer; got {!r}'.format(text))
    if value <= 0:
        raise argparse.ArgumentTypeError('need an integer > 0; got {}'.format(value))
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError('need a number; got {!r}'.format(text))
    if not (value > 0):
        raise argparse.ArgumentTypeError('need a number > 0; got {!r}'.format(text))
    return value


def _workers_arg(text: str) -> Any:
    """``--workers``: a number >= 1, or ``auto`` (the CPUs we may run on)."""
    if text == 'auto':
        return text
    try:
        return _positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            'need a number > 0 or "auto"; got {!r}'.format(text)) from None


def _add_serve(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        'serve',
        help='serve a directory or an RGI app',
        description=(
            'Serve DIRECTORY (default: the current one) with '
            'degu.applib.FilesApp, or the RGI app named by --app. Prints '
            '"Serving on URL" once listening, logs each connection and each '
            'request on stderr, and on Ctrl-C or SIGTERM stops gracefully '
            '(a second signal: at once), printing "Stopped serving on URL", '
            'with exit status 0. Serves the socket systemd passes (socket '
            'activation) instead of --address when there is one.'
        ),
    )
    p.add_argument('directory', nargs='?', metavar='DIRECTORY',
                   help='directory to serve (default: the current directory)')
    p.add_argument('--app', metavar='MODULE:CALLABLE',
                   help='serve this RGI app, or the app returned by calling '
                        'this build function with no arguments')
    p.add_argument('-a', '--address', type=_address_arg, default=DEFAULT_ADDRESS,
                   metavar='ADDRESS',
                   help='where to listen (default: {}; port 0 lets the kernel '
                        'choose): {}'.format(DEFAULT_ADDRESS, ADDRESS_HELP))
    tls = p.add_argument_group('TLS')
    tls.add_argument('--tls', action='store_true',
                     help='serve over TLS with --cert, --key and --ca '
                          '(or --allow-anonymous)')
    tls.add_argument('--cert', type=_abs_file, metavar='FILE',
                     help='server certificate (PEM)')
    tls.add_argument('--key', type=_abs_file, metavar='FILE',
                     help='server private key (PEM)')
    tls.add_argument('--ca', type=_abs_file, metavar='FILE',
                     help='CA that issues client certificates (PEM); clients '
                          'without a certificate from it are refused')
    tls.add_argument('--allow-anonymous', action='store_true',
                     help='accept clients without a certificate (instead of --ca)')
    tls.add_argument('--temp-pki', action='store_true',
                     help='serve over TLS with a throw-away PKI (needs the '
                          'openssl command) and print the client config (JSON) '
                          'for "request --tls-config"')
    opts = p.add_argument_group('server options')
    opts.add_argument('--max-connections', type=_positive_int, metavar='N',
                      help='concurrent connections (default: {})'.format(
                          DEFAULT_MAX_CONNECTIONS))
    opts.add_argument('--max-requests', type=_positive_int, metavar='N',
                      help='requests per connection (default: {})'.format(
                          DEFAULT_MAX_REQUESTS))
    opts.add_argument('--timeout', type=_positive_float, metavar='SECONDS',
                      help='socket timeout (default: {})'.format(DEFAULT_TIMEOUT))
    opts.add_argument('--shutdown-timeout', type=_positive_float, metavar='SECONDS',
                      help='on SIGTERM or SIGINT, how long requests in flight '
                           'may take to finish before their connections are '
                           'cut (default: {})'.format(SHUTDOWN_TIMEOUT))
    opts.add_argument('--workers', type=_workers_arg, metavar='N',
                      help='serve from N worker processes sharing the socket, '
                           'restarted if they die; "auto": one per CPU this '
                           'process may use (default: one process, no workers)')
    opts.add_argument('--allow-any-user', action='store_true',
                      help='on a Unix socket, accept connections from any '
                           'user (default: only from this user id)')
    p.add_argument('-q', '--quiet', action='store_true',
                   help='log only warnings and errors (no access log)')
    # So that cross-option errors are reported by the sub-parser (its usage).
    p.set_defaults(command_parser=p)
    return p


def _add_request(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        'request',
        help='send one request and show the response',
        description=(
            'Send one request. The status line, the headers and one line per '
            'received chunk ("chunk SIZE [;KEY=VALUE]: DATA") go to stderr; '
            'the body data goes to stdout. Exit status 0 if the status is '
            'below 400, else 1.'
        ),
    )
    p.add_argument('method', metavar='METHOD',
                   choices=METHODS,
                   help='{} or {}'.format(', '.join(METHODS[:-1]), METHODS[-1]))
    p.add_argument('address', type=_address_arg, metavar='ADDRESS',
                   help=ADDRESS_HELP)
    p.add_argument('uri', metavar='URI', help='request URI, like /index.html')
    p.add_argument('-H', '--header', dest='headers', action='append',
                   type=_header_arg, default=[], metavar='NAME:VALUE',
                   help='add a request header (repeatable); names are '
                        'lower-cased')
    p.add_argument('-d', '--data-file', metavar='FILE',
                   help='send this file as the body ("-" reads stdin)')
    p.add_argument('--chunked', action='store_true',
                   help='send the body with chunked transfer-encoding')
    p.add_argument('--tls', action='store_true',
                   help='use TLS, verifying the server with the system CAs')
    p.add_argument('--tls-config', metavar='JSON',
                   help='use TLS with this client config: a JSON file, or '
                        'inline JSON starting with "{" (as printed by '
                        '"serve --temp-pki")')
    p.add_argument('--timeout', type=_positive_float, default=float(CLIENT_TIMEOUT),
                   metavar='SECONDS',
                   help='socket timeout (default: {})'.format(CLIENT_TIMEOUT))
    p.set_defaults(command_parser=p)
    return p


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description='Degu: an embedded HTTP/1.1 server and client library.',
        epilog='Run "{} COMMAND --help" for the options of a command.'.format(prog),
    )
    parser.add_argument('--version', action='version',
                        version='degu {}'.format(__version__))
    subparsers = parser.add_subparsers(dest='command', metavar='COMMAND')
    subparsers.required = True
    _add_serve(subparsers)
    _add_request(subparsers)
    return parser


def main(argv: Optional[List[str]] = None, stdin: Optional[BinaryIO] = None,
         stdout: Optional[BinaryIO] = None,
         stderr: Optional[TextIO] = None, prog: str = PROG) -> int:
    """Run the command line; return the exit status.

    The streams default to the process's own (binary stdin and stdout, text
    stderr); tests pass their own.  Usage errors, ``--help`` and
    ``--version`` are handled by ``argparse``, which raises ``SystemExit``.
    *prog* is the name the usage lines show.
    """
    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    out = sys.stdout.buffer if stdout is None else stdout
    err = sys.stderr if stderr is None else stderr
    if args.command == 'serve':
        return cmd_serve(args.command_parser, args, out, err)
    inp = sys.stdin.buffer if stdin is None else stdin
    return cmd_request(args.command_parser, args, inp, out, err)


def script() -> int:
    """The installed ``degu`` command (``[project.scripts]`` in pyproject.toml).

    As under ``python3 -m degu``, the current directory comes first on the
    import path, so that ``serve --app module:callable`` finds a module there.
    """
    sys.path.insert(0, os.getcwd())
    return main(prog='degu')
