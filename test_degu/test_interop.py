# SPDX-License-Identifier: LGPL-3.0-or-later
"""Degu against the generic clients and parsers its users meet on day one.

* ``curl``: a 404 comes back at once (it is framed), ``-r 5-`` and
  ``-C -`` resume, ``--http1.0`` is answered ``505``, an upload an app
  refuses without reading it gets the app's answer.
* ``http.client`` (the standard library): ``Connection: close`` both ways.
* ``h11`` (a strict third-party HTTP/1.1 implementation, installed by the
  test runner and skipped when missing): every response Degu emits in a
  range of scenarios -- every body kind, HEAD, 204/304, ranges, error
  answers, chunk extensions, 100-continue, closing -- parses cleanly, with
  the framing Degu meant.
* ``requests`` (skipped when missing): ``requests.delete()`` (which sends
  ``Content-Length: 0``) and a keep-alive session.

Chunked streaming is checked here too: chunks produced over time arrive
over time, not in one piece at the end.
"""

import http.client
import io
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from typing import Any, Iterator, List, Optional, Tuple

import pytest

from degu.applib import AllowedMethods, FilesApp
from degu.client import Client
from test_degu.helpers import PATIENCE, Live, answer, exchange, recv_all

CURL = shutil.which('curl')
needs_curl = pytest.mark.skipif(CURL is None, reason='curl not installed')

try:
    import h11
except ImportError:  # pragma: no cover - the runner installs it when it can
    h11 = None
needs_h11 = pytest.mark.skipif(h11 is None, reason='h11 not installed')

try:
    import requests
except ImportError:  # pragma: no cover - the runner installs it when it can
    requests = None
needs_requests = pytest.mark.skipif(requests is None, reason='requests not installed')

DATA = bytes(range(256)) * 40  # 10240 bytes


@pytest.fixture
def serve() -> Iterator[Any]:
    lives: List[Live] = []

    def start(app: Any, **options: Any) -> Live:
        live = Live(('127.0.0.1', 0), app, **options)
        lives.append(live)
        return live
    yield start
    for live in lives:
        live.stop()


@pytest.fixture
def www() -> Iterator[str]:
    """A directory with one file, DATA, as /data.bin."""
    path = tempfile.mkdtemp(prefix='degu.')
    with open(os.path.join(path, 'data.bin'), 'wb') as fp:
        fp.write(DATA)
    yield path
    shutil.rmtree(path)


def curl(live: Live, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    assert CURL is not None
    url = 'http://127.0.0.1:{}'.format(live.address[1])
    cmd = [CURL, '-sS', '--max-time', str(PATIENCE), '--noproxy', '*']
    cmd += [a.replace('URL', url) for a in args]
    return subprocess.run(cmd, check=check, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=2 * PATIENCE)


# ---------------------------------------------------------------------------
# curl

@needs_curl
def test_curl_404_returns_at_once(serve: Any) -> None:
    # A response without a framing header would be read "until close":
    # curl would wait for the server's timeout (30 s).  --max-time bounds it.
    live = serve(lambda s, r, api: (404, 'Not Found', {}, None), timeout=30)
    started = time.monotonic()
    result = curl(live, '-i', 'URL/nope', 'URL/again')
    assert time.monotonic() - started < PATIENCE
    assert result.stdout.count(b'HTTP/1.1 404 Not Found\r\n') == 2
    assert b'content-length: 0\r\n' in result.stdout


@needs_curl
def test_curl_ranges(serve: Any, www: str) -> None:
    live = serve(FilesApp(www))
    assert curl(live, '-r', '5-', 'URL/data.bin').stdout == DATA[5:]
    assert curl(live, '-r', '-100', 'URL/data.bin').stdout == DATA[-100:]
    assert curl(live, '-r', '10-19', 'URL/data.bin').stdout == DATA[10:20]
    # Several ranges: ignored, the whole file (RFC 9110 section 14.2).
    assert curl(live, '-r', '0-1,5-6', 'URL/data.bin').stdout == DATA


@needs_curl
def test_curl_resume(serve: Any, www: str) -> None:
    live = serve(FilesApp(www))
    tmp = tempfile.mkdtemp(prefix='degu.')
    try:
        target = os.path.join(tmp, 'data.bin')
        with open(target, 'wb') as fp:
            fp.write(DATA[:3000])  # an interrupted download
        curl(live, '-C', '-', '-o', target, 'URL/data.bin')
        with open(target, 'rb') as fp:
            assert fp.read() == DATA
    finally:
        shutil.rmtree(tmp)


@needs_curl
def test_curl_http_1_0_gets_505(serve: Any) -> None:
    live = serve(lambda s, r, api: (200, 'OK', {}, b'hi'))
    result = curl(live, '-i', '--http1.0', 'URL/')
    assert result.stdout == answer(505)


@needs_curl
def test_curl_upload_refused_without_reading(serve: Any) -> None:
    # A PUT to an app that answers 405 without reading the body: curl gets
    # the 405 (not a reset, not "Empty reply from server").
    def app(session: Any, request: Any, api: Any) -> Any:
        return (200, 'OK', {}, b'read only')
    live = serve(AllowedMethods('GET', 'HEAD')(app))
    tmp = tempfile.mkdtemp(prefix='degu.')
    try:
        name = os.path.join(tmp, 'upload')
        with open(name, 'wb') as fp:
            fp.write(os.urandom(2 * 1024 * 1024))
        for extra in ([], ['-H', 'Expect:']):  # with and without 100-continue
            result = curl(live, '-i', '-T', name, *extra, 'URL/file')
            assert result.stdout.startswith(b'HTTP/1.1 405 Method Not Allowed\r\n')
            assert b'connection: close\r\n' in result.stdout
    finally:
        shutil.rmtree(tmp)


# ---------------------------------------------------------------------------
# http.client

def test_http_client_asks_to_close(serve: Any) -> None:
    live = serve(lambda s, r, api: (200, 'OK', {}, b'hello'))
    conn = http.client.HTTPConnection('127.0.0.1', live.address[1], timeout=PATIENCE)
    conn.request('GET', '/', headers={'Connection': 'close'})
    response = conn.getresponse()
    assert response.read() == b'hello'
    assert response.getheader('connection') == 'close'
    assert response.will_close is True
    conn.close()


def test_http_client_told_to_close(serve: Any) -> None:
    # The server closes after a 400 and says so; http.client then opens a
    # new connection for the next request instead of failing on the old one.
    def app(session: Any, request: Any, api: Any) -> Any:
        if request.path == ['bad']:
            return (400, 'Bad Request', {}, b'no')
        return (200, 'OK', {}, b'fine')
    live = serve(app)
    conn = http.client.HTTPConnection('127.0.0.1', live.address[1], timeout=PATIENCE)
    conn.request('GET', '/bad')
    response = conn.getresponse()
    assert (response.status, response.read()) == (400, b'no')
    assert response.will_close is True
    conn.request('GET', '/ok')
    assert conn.getresponse().read() == b'fine'
    conn.close()


def test_degu_client_against_a_closing_server() -> None:
    # A server that says connection: close (as gunicorn sync, waitress and
    # http.server's error pages do): the Degu client closes once the body
    # is read, and the next request says why.
    listener = socket.create_server(('127.0.0.1', 0))
    received: List[bytes] = []

    def server() -> None:
        (sock, _) = listener.accept()
        received.append(sock.recv(65536))
        sock.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok')
        sock.close()

    thread = threading.Thread(target=server, daemon=True)
    thread.start()
    try:
        conn = Client(listener.getsockname(), timeout=PATIENCE).connect()
        response = conn.get('/', {})
        assert response.headers == {'content-length': 2}
        assert response.body.read() == b'ok'
        assert conn.closed is True
        with pytest.raises(ConnectionError) as cm:
            conn.get('/', {})
        assert str(cm.value) == "Connection is closed: the server sent 'connection: close'"
        thread.join(PATIENCE)
    finally:
        listener.close()


# ---------------------------------------------------------------------------
# requests

@needs_requests
def test_requests(serve: Any) -> None:
    seen: List[Tuple[str, Any]] = []

    def app(session: Any, request: Any, api: Any) -> Any:
        data = request.body.read() if request.body is not None else None
        seen.append((request.method, data))
        return (200, 'OK', {'content-type': 'text/plain'}, b'done')
    live = serve(app)
    url = 'http://127.0.0.1:{}/x'.format(live.address[1])
    with requests.Session() as session:
        session.trust_env = False  # no proxy from the environment
        assert session.delete(url, timeout=PATIENCE).text == 'done'
        assert session.get(url, timeout=PATIENCE).text == 'done'
        assert session.put(url, data=b'hello', timeout=PATIENCE).text == 'done'
        assert session.post(url, json={'a': 1}, timeout=PATIENCE).status_code == 200
    assert seen == [('DELETE', None), ('GET', None), ('PUT', b'hello'),
                    ('POST', b'{"a": 1}')]


# ---------------------------------------------------------------------------
# h11: every response Degu emits parses strictly

def h11_read(data: bytes, methods: List[str]) -> List[Tuple[Any, bytes]]:
    """Feed a server's whole output to an h11 client: ``(response, body)`` each.

    *methods* are the methods of the requests, in order (h11 needs them to
    know that a HEAD response has no body).  Interim responses are skipped.
    """
    conn = h11.Connection(h11.CLIENT)
    out: List[Tuple[Any, bytes]] = []
    conn.receive_data(data)
    conn.receive_data(b'')
    for method in methods:
        conn.send(h11.Request(method=method, target='/', headers=[('Host', 'x')]))
        conn.send(h11.EndOfMessage())
        response = None
        body = b''
        while True:
            event = conn.next_event()
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
            else:
                raise AssertionError('unexpected {!r}'.format(event))
        out.append((response, body))
        if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
            break
        conn.start_next_cycle()
    return out


def scenario_app(session: Any, request: Any, api: Any) -> Any:
    name = request.path[0] if request.path else ''
    if request.body is not None:
        request.body.read()
    if request.method == 'HEAD':
        return (200, 'OK', {'content-length': 12}, None)
    if name == 'bytes':
        return (200, 'OK', {'x-kind': 'bytes'}, b'hello, world')
    if name == 'none':
        return (404, 'Not Found', {}, None)
    if name == 'body':
        return (200, 'OK', {}, api.Body(io.BytesIO(DATA), len(DATA)))
    if name == 'iter':
        return (200, 'OK', {}, api.BodyIter([DATA[:10], DATA[10:]], len(DATA)))
    if name == 'chunked':
        return (200, 'OK', {}, api.ChunkedBodyIter(
            [(('k', 'v'), b'hello'), (None, b', world'), (('end', 'x'), b'')]))
    if name == '204':
        return (204, 'No Content', {}, None)
    if name == '304':
        return (304, 'Not Modified', {'content-length': 99}, None)
    if name == 'range':
        return (206, 'Partial Content',
                {'content-range': api.ContentRange(5, 10, len(DATA))}, DATA[5:10])
    if name == 'close':
        return (200, 'OK', {'connection': 'close'}, b'bye')
    if name == 'forbidden':
        return (403, 'Forbidden', {}, None)
    if name == 'raise':
        raise RuntimeError('oops')
    return (200, 'OK', {}, b'root')


SCENARIOS = [
    # (request bytes, their methods, body of each response as h11 reads it)
    (b'GET /bytes HTTP/1.1\r\n\r\nGET /none HTTP/1.1\r\n\r\nGET /body HTTP/1.1\r\n\r\n'
     b'GET /iter HTTP/1.1\r\n\r\nGET /chunked HTTP/1.1\r\n\r\n',
     ['GET'] * 5, [b'hello, world', b'', DATA, DATA, b'hello, world']),
    (b'HEAD /bytes HTTP/1.1\r\n\r\nHEAD /body HTTP/1.1\r\n\r\nGET /204 HTTP/1.1\r\n\r\n'
     b'GET /304 HTTP/1.1\r\n\r\nGET /range HTTP/1.1\r\n\r\n',
     ['HEAD', 'HEAD', 'GET', 'GET', 'GET'], [b'', b'', b'', b'', DATA[5:10]]),
    (b'PUT /bytes HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc'
     b'POST /none HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b\r\nabc\r\n0\r\n\r\n'
     b'DELETE /bytes HTTP/1.1\r\nContent-Length: 0\r\n\r\n',
     ['PUT', 'POST', 'DELETE'], [b'hello, world', b'', b'hello, world']),
    (b'GET /close HTTP/1.1\r\n\r\nGET /bytes HTTP/1.1\r\n\r\n', ['GET'], [b'bye']),
    (b'GET /forbidden HTTP/1.1\r\n\r\nGET /bytes HTTP/1.1\r\n\r\n', ['GET'], [b'']),
    (b'GET /raise HTTP/1.1\r\n\r\n', ['GET'], [b'']),
    (b'GET / HTTP/1.1\r\nConnection: close\r\n\r\n', ['GET'], [b'root']),
    # Error answers to bad requests (h11 reads them as responses to GETs).
    (b'GET / HTTP/1.0\r\n\r\n', ['GET'], [b'']),
    (b'PATCH / HTTP/1.1\r\n\r\n', ['GET'], [b'']),
    (b'GET /%zz HTTP/1.1\r\n\r\n', ['GET'], [b'']),
    (b'GET / HTTP/1.1\r\nX: ' + b'x' * 40000 + b'\r\n\r\n', ['GET'], [b'']),
    (b'PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', ['GET'], [b'']),
]


@needs_h11
@pytest.mark.parametrize('data, methods, bodies', SCENARIOS)
def test_h11_parses_every_response(serve: Any, data: bytes, methods: List[str],
                                   bodies: List[bytes]) -> None:
    live = serve(scenario_app, max_requests=5)
    received = exchange(live.address, data)
    responses = h11_read(received, methods)
    assert [body for (_response, body) in responses] == bodies
    for (response, _body) in responses:
        assert isinstance(response, h11.Response)
        assert response.http_version == b'1.1'


@needs_h11
def test_h11_as_the_client(serve: Any) -> None:
    # h11 writes the requests too (as a strict client would).
    live = serve(scenario_app)
    conn = h11.Connection(h11.CLIENT)
    sock = live.raw()
    try:
        for (method, target, body) in [('GET', '/bytes', b''), ('PUT', '/none', b'abc'),
                                       ('GET', '/chunked', b'')]:
            headers = [('Host', 'x')]
            if body:
                headers.append(('Content-Length', str(len(body))))
            sock.sendall(conn.send(h11.Request(method=method, target=target,
                                               headers=headers)))
            if body:
                sock.sendall(conn.send(h11.Data(data=body)))
            sock.sendall(conn.send(h11.EndOfMessage()))
            events: List[Any] = []
            while not events or not isinstance(events[-1], h11.EndOfMessage):
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(sock.recv(65536))
                    continue
                events.append(event)
            assert isinstance(events[0], h11.Response)
            conn.start_next_cycle()
    finally:
        sock.close()


# ---------------------------------------------------------------------------
# Chunked streaming: chunks produced over time arrive over time

def test_chunks_stream_as_produced(serve: Any) -> None:
    release = threading.Event()

    def app(session: Any, request: Any, api: Any) -> Any:
        def chunks() -> Iterator[Any]:
            yield (None, b'first')
            assert release.wait(PATIENCE)
            yield (None, b'second')
            yield (None, b'')
        return (200, 'OK', {}, api.ChunkedBodyIter(chunks()))

    live = serve(app)
    conn = live.connect()
    try:
        response = conn.get('/', {})
        # The preamble and the first chunk came before the second exists.
        assert response.body.readchunk() == (None, b'first')
        release.set()
        assert response.body.readchunk() == (None, b'second')
        assert response.body.readchunk() == (None, b'')
    finally:
        release.set()
        conn.close()


def test_relayed_chunks_stream_as_produced(serve: Any) -> None:
    # Through a proxy: each chunk the upstream sends is forwarded at once.
    from degu.applib import ProxyApp
    release = threading.Event()

    def upstream_app(session: Any, request: Any, api: Any) -> Any:
        def chunks() -> Iterator[Any]:
            yield (('n', '1'), b'first')
            assert release.wait(PATIENCE)
            yield (('n', '2'), b'second')
            yield (None, b'')
        return (200, 'OK', {}, api.ChunkedBodyIter(chunks()))

    upstream = serve(upstream_app)
    front = serve(ProxyApp(upstream.client()))
    conn = front.connect()
    try:
        body = conn.get('/', {}).body
        assert body.readchunk() == (('n', '1'), b'first')
        release.set()
        assert body.readchunk() == (('n', '2'), b'second')
        assert body.readchunk() == (None, b'')
    finally:
        release.set()
        conn.close()


@needs_h11
def test_h11_parses_every_contract_response(serve: Any) -> None:
    # Every response of the RGI contract table (and the 500 for every
    # refused one), as Degu puts it on the wire, through h11.
    from test_degu.contract_cases import ACCEPTED, REFUSED, contract_app
    live = serve(contract_app)
    for case in ACCEPTED + REFUSED:
        data = '{} /{} HTTP/1.1\r\n'.format(case.method, case.name).encode()
        if case.method == 'PUT':
            data += b'Content-Length: 5\r\n\r\nhello'
        else:
            data += b'\r\n'
        (response, _body) = h11_read(exchange(live.address, data), [case.method])[0]
        assert isinstance(response, h11.Response), case.name
