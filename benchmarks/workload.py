# SPDX-License-Identifier: LGPL-3.0-or-later
"""What goes over the wire: the payloads, and the RGI apps that answer them."""

from typing import Any, Dict, List, Tuple

PING_SIZE = 100
PING_BODY = bytes(range(PING_SIZE))
PING_URI = '/ping'

LARGE_SIZE = 16 * 1024 * 1024
LARGE_CHUNK = 1024 * 1024

# The server closes a connection after this many requests (degu's maximum);
# a timed slice stops a little before it, and each slice gets a new
# connection, opened before the clock starts.
SERVER_MAX_REQUESTS = 75000
SLICE_MAX_REQUESTS = 70000

# Round trips between two looks at the clock.
BATCH = 20

App = Any
Response = Tuple[int, str, Dict[str, Any], Any]


def echo_app(session: Any, request: Any, api: Any) -> Response:
    """The RGI app of the ping-pong cases: echo the request body back."""
    body = request.body
    if body is None:
        return (200, 'OK', {}, None)
    return (200, 'OK', {}, body.read())


_LARGE: Dict[str, Any] = {}


def large_data() -> Tuple[bytes, List[Tuple[None, bytes]]]:
    """The 16 MiB payload and its 1 MiB chunks (+ the empty last one), built once.

    Built lazily, so importing this module costs no memory, and before the
    large-body servers are forked, so they share it.
    """
    if not _LARGE:
        body = bytes(range(256)) * (LARGE_SIZE // 256)
        view = memoryview(body)
        chunks: List[Tuple[None, bytes]] = [
            (None, view[i:i + LARGE_CHUNK].tobytes())
            for i in range(0, LARGE_SIZE, LARGE_CHUNK)
        ]
        chunks.append((None, b''))
        _LARGE['body'] = body
        _LARGE['chunks'] = chunks
    return (_LARGE['body'], _LARGE['chunks'])


def large_app(session: Any, request: Any, api: Any) -> Response:
    """Consume a 16 MiB upload, answer with 16 MiB of the same kind.

    ``/read``: whole-body ``Body.read()``, echoed back as ``bytes``.
    ``/iter``: stream the upload (``Body`` in 1 MiB pieces, or chunk by chunk)
    and answer with the payload as ``bytes`` or as 1 MiB chunks.
    """
    (payload, chunks) = large_data()
    body = request.body
    if request.path == ['read']:
        return (200, 'OK', {}, body.read())
    total = 0
    if body.chunked:
        for (_, data) in body:
            total += len(data)
    else:
        for data in body:
            total += len(data)
    if total != LARGE_SIZE:
        raise ValueError('large upload: got {} bytes'.format(total))
    if body.chunked:
        return (200, 'OK', {}, api.ChunkedBodyIter(iter(chunks)))
    return (200, 'OK', {}, payload)
