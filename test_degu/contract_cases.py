# SPDX-License-Identifier: LGPL-3.0-or-later
"""The RGI response contract, case by case: one table, two judges.

Each case is a request (its method, and what the app does with its body)
and the response an app returns for it.  ``ACCEPTED`` cases are within the
contract; ``REFUSED`` ones break it.  Both the server (test_e2e.py: it must
send the response, or answer ``500``) and ``rgi.Validator`` (test_rgi.py: it
must return the response, or raise ``TypeError``/``ValueError``) are tested
against every case, so they cannot disagree on any of them.

The responses are built by functions of the ``api`` namedtuple, so that each
test gets fresh body objects.
"""

import collections
import io
from typing import Any, Callable, List, NamedTuple

# Same fields as degu's Response, but not it.
OtherResponse = collections.namedtuple('OtherResponse', 'status reason headers body')


def _used_body(api: Any) -> Any:
    body = api.BodyIter([b'x'], 1)
    body.write_to(io.BytesIO())
    return body


class Case(NamedTuple):
    name: str
    method: str
    respond: Callable[[Any], Any]  # api -> response
    read: str = 'all'              # what the app reads of a PUT body: all, none, some


def _cases(method: str, table: Any) -> List[Case]:
    return [Case(name, method, respond) for (name, respond) in table]


ACCEPTED: List[Case] = _cases('GET', [
    ('bytes', lambda a: (200, 'OK', {}, b'hello')),
    ('bytearray', lambda a: (200, 'OK', {}, bytearray(b'hello'))),
    ('empty-bytes', lambda a: (200, 'OK', {}, b'')),
    ('no-body', lambda a: (200, 'OK', {}, None)),
    ('no-body-length-0', lambda a: (200, 'OK', {'content-length': 0}, None)),
    ('body', lambda a: (200, 'OK', {}, a.Body(io.BytesIO(b'hello'), 5))),
    ('body-with-length', lambda a: (
        200, 'OK', {'content-length': 5}, a.Body(io.BytesIO(b'hello'), 5))),
    ('bodyiter', lambda a: (200, 'OK', {}, a.BodyIter([b'he', b'llo'], 5))),
    ('chunkedbody', lambda a: (
        200, 'OK', {}, a.ChunkedBody(io.BytesIO(b'5\r\nhello\r\n0\r\n\r\n')))),
    ('chunkedbodyiter', lambda a: (
        200, 'OK', {'transfer-encoding': 'chunked'},
        a.ChunkedBodyIter([(None, b'hi'), (('k', 'v'), b'')]))),
    ('status-200', lambda a: (200, 'OK', {}, None)),
    ('status-599', lambda a: (599, 'Whatever', {}, None)),
    ('204', lambda a: (204, 'No Content', {}, None)),
    ('304', lambda a: (304, 'Not Modified', {}, None)),
    ('304-with-length', lambda a: (304, 'Not Modified', {'content-length': 12}, None)),
    ('404', lambda a: (404, 'Not Found', {}, None)),
    ('reason-punctuation', lambda a: (418, "I'm a teapot (RFC 2324)", {}, None)),
    ('header-values', lambda a: (
        200, 'OK', {'x-a': 'b c', 'x-b': '!#$%&*+-.^_`|~@{}', 'x-int': 17}, b'x')),
    ('header-range-objects', lambda a: (
        206, 'Partial Content', {'content-range': a.ContentRange(0, 1, 5)}, b'h')),
    ('header-content-range-str', lambda a: (
        206, 'Partial Content', {'content-range': 'bytes 0-0/5'}, b'h')),
    ('header-unsatisfied-range-str', lambda a: (
        416, 'Range Not Satisfiable', {'content-range': 'bytes */5'}, None)),
    ('header-name-64', lambda a: (200, 'OK', {'x' * 64: 'v'}, None)),
    ('20-headers-with-framing', lambda a: (
        200, 'OK', dict({'x-{}'.format(i): 'v' for i in range(19)}), b'x')),
    ('connection-close', lambda a: (200, 'OK', {'connection': 'close'}, b'bye')),
    ('degu-response', lambda a: _degu_response(200, 'OK', {}, b'x')),
]) + _cases('HEAD', [
    ('head-no-body', lambda a: (200, 'OK', {}, None)),
    ('head-with-length', lambda a: (200, 'OK', {'content-length': 1000}, None)),
    ('head-with-chunked', lambda a: (200, 'OK', {'transfer-encoding': 'chunked'}, None)),
]) + [
    # An app may answer without reading the body (a 405, a 401, a 413): the
    # server then closes the connection after the response.
    Case('unread-body', 'PUT', lambda a: (405, 'Method Not Allowed', {}, None), 'none'),
    Case('partly-read-body', 'PUT', lambda a: (413, 'Content Too Large', {}, None), 'some'),
    Case('read-body', 'PUT', lambda a: (201, 'Created', {}, None)),
]

REFUSED: List[Case] = _cases('GET', [
    ('list', lambda a: [200, 'OK', {}, None]),
    ('none', lambda a: None),
    ('other-namedtuple', lambda a: OtherResponse(200, 'OK', {}, None)),
    ('3-tuple', lambda a: (200, 'OK', {})),
    ('5-tuple', lambda a: (200, 'OK', {}, None, None)),
    ('status-str', lambda a: ('200', 'OK', {}, None)),
    ('status-bool', lambda a: (True, 'OK', {}, None)),
    ('status-99', lambda a: (99, 'OK', {}, None)),
    ('status-100', lambda a: (100, 'Continue', {}, None)),
    ('status-101', lambda a: (101, 'Switching Protocols', {}, None)),
    ('status-199', lambda a: (199, 'Whatever', {}, None)),
    ('status-600', lambda a: (600, 'OK', {}, None)),
    ('reason-empty', lambda a: (200, '', {}, None)),
    ('reason-bytes', lambda a: (200, b'OK', {}, None)),
    ('reason-crlf', lambda a: (200, 'OK\r\nx-evil: 1', {}, None)),
    ('reason-tab', lambda a: (200, 'O\tK', {}, None)),
    ('reason-non-ascii', lambda a: (200, 'Ök', {}, None)),
    ('headers-list', lambda a: (200, 'OK', [('x', 'y')], None)),
    ('header-upper', lambda a: (200, 'OK', {'X-Foo': 'bar'}, None)),
    ('header-underscore', lambda a: (200, 'OK', {'x_foo': 'bar'}, None)),
    ('header-name-65', lambda a: (200, 'OK', {'x' * 65: 'v'}, None)),
    ('header-bytes-key', lambda a: (200, 'OK', {b'x': 'y'}, None)),
    ('header-empty-value', lambda a: (200, 'OK', {'x-foo': ''}, None)),
    ('header-value-space-edge', lambda a: (200, 'OK', {'x-foo': ' bar'}, None)),
    ('header-value-crlf', lambda a: (
        200, 'OK', {'x-foo': 'a\r\n\r\nHTTP/1.1 200 OK'}, None)),
    ('header-value-nul', lambda a: (200, 'OK', {'x-foo': 'a\x00b'}, None)),
    ('header-value-del', lambda a: (200, 'OK', {'x-foo': 'a\x7fb'}, None)),
    ('header-value-non-ascii', lambda a: (200, 'OK', {'x-foo': 'café'}, None)),
    ('header-value-bytes', lambda a: (200, 'OK', {'x-foo': b'bar'}, None)),
    ('header-bad-content-range', lambda a: (
        206, 'Partial Content', {'content-range': 'bytes 5-1/9'}, b'x')),
    ('21-headers', lambda a: (
        200, 'OK', {'x-{}'.format(i): 'v' for i in range(21)}, None)),
    ('20-headers-and-framing', lambda a: (
        200, 'OK', {'x-{}'.format(i): 'v' for i in range(20)}, b'x')),
    ('body-str', lambda a: (200, 'OK', {}, 'hello')),
    ('body-int', lambda a: (200, 'OK', {}, 17)),
    ('body-file', lambda a: (200, 'OK', {}, io.BytesIO(b'hello'))),
    ('body-list', lambda a: (200, 'OK', {}, [b'hello'])),
    ('body-used', lambda a: (200, 'OK', {}, _used_body(a))),
    ('length-mismatch', lambda a: (200, 'OK', {'content-length': 5}, b'hello, world')),
    ('length-mismatch-iter', lambda a: (
        200, 'OK', {'content-length': 5}, a.BodyIter([b'hello!'], 6))),
    ('length-str', lambda a: (200, 'OK', {'content-length': '5'}, b'hello')),
    ('chunked-and-length', lambda a: (
        200, 'OK', {'content-length': 5}, a.ChunkedBodyIter([(None, b'')]))),
    ('bytes-and-chunked', lambda a: (
        200, 'OK', {'transfer-encoding': 'chunked'}, b'hello')),
    ('both-framing-headers', lambda a: (
        200, 'OK', {'content-length': 5, 'transfer-encoding': 'chunked'}, None)),
    ('transfer-encoding-gzip', lambda a: (
        200, 'OK', {'transfer-encoding': 'gzip'}, a.ChunkedBodyIter([(None, b'')]))),
    ('length-without-body', lambda a: (200, 'OK', {'content-length': 5}, None)),
    ('chunked-without-body', lambda a: (
        200, 'OK', {'transfer-encoding': 'chunked'}, None)),
    ('204-with-body', lambda a: (204, 'No Content', {}, b'smuggled')),
    ('204-with-empty-body', lambda a: (204, 'No Content', {}, b'')),
    ('204-with-length', lambda a: (204, 'No Content', {'content-length': 0}, None)),
    ('304-with-body', lambda a: (304, 'Not Modified', {}, b'smuggled')),
    ('304-with-chunked', lambda a: (
        304, 'Not Modified', {}, a.ChunkedBodyIter([(None, b'')]))),
    ('connection-keep-alive', lambda a: (
        200, 'OK', {'connection': 'keep-alive'}, b'x')),
    ('range-in-response', lambda a: (200, 'OK', {'range': a.Range(0, 1)}, b'x')),
]) + _cases('HEAD', [
    ('head-with-bytes', lambda a: (200, 'OK', {}, b'hello')),
    ('head-with-empty-bytes', lambda a: (200, 'OK', {}, b'')),
    ('head-with-chunked-body', lambda a: (
        200, 'OK', {}, a.ChunkedBodyIter([(None, b'')]))),
])


def _degu_response(*items: Any) -> Any:
    """The ``Response`` a Degu client returns (a proxy may hand it back)."""
    from degu.client import Response
    return Response(*items)


def by_name(cases: List[Case]) -> List[Any]:
    """The cases as pytest parameters, each with its name as id."""
    import pytest
    return [pytest.param(case, id=case.name) for case in cases]


CASES = {case.name: case for case in ACCEPTED + REFUSED}


def contract_app(session: Any, request: Any, api: Any) -> Any:
    """An app answering ``/<name>`` as the case of that name says."""
    case = CASES[request.path[0]]
    body = request.body
    if body is not None:
        if case.read == 'all':
            body.read()
        elif case.read == 'some':
            body.read(2)
    return case.respond(api)
