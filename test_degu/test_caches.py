# SPDX-License-Identifier: LGPL-3.0-or-later
"""degu.caches: the remembered fast path of the parser and the renderer.

Each function of degu.caches must give exactly what its namesake in
degu.parsing or degu.rendering gives (result, or exception type and message)
however warm its caches are; test_fuzz.py checks that on mutated input, the
tests here on chosen cases.
"""

import pytest

from degu import caches, parsing, rendering
from degu.caches import CACHE_MAX, recall, remember
from degu.errors import TYPE_ERROR, ProtocolError
from degu.ranges import ContentRange, Range


class MyStr(str):
    pass


def outcome(func, *args):
    try:
        return ('ok', func(*args))
    except (TypeError, ValueError) as e:
        return (type(e), str(e))


def same(fast, strict, *args):
    """Call both twice (cold and warm caches); return the common outcome."""
    first = outcome(strict, *args)
    for _ in range(2):
        assert outcome(fast, *args) == first, args
    return first


def test_remember_stores_and_returns():
    cache = {}
    assert remember(cache, b'k', ('v',)) == ('v',)
    assert cache == {b'k': ('v',)}


def test_recall_puts_the_last_found_in_front():
    cache = {b'a': 1, b'b': 2}
    last = [(b'\r\n\r\n', None)]
    assert recall(cache, last, b'x') is None
    assert last == [(b'\r\n\r\n', None)]  # a miss changes nothing
    assert recall(cache, last, b'a') == 1
    assert last == [(b'a', 1)]
    cache.clear()  # (emptied when full: the last entry is still good)
    assert recall(cache, last, bytes(bytearray(b'a'))) == 1
    assert recall(cache, last, b'b') is None
    assert last == [(b'a', 1)]


def test_remember_empties_a_full_cache():
    cache = {i: i for i in range(CACHE_MAX)}
    assert remember(cache, 'new', 1) == 1
    assert cache == {'new': 1}
    # Below the bound nothing is dropped.
    for i in range(CACHE_MAX - 1):
        remember(cache, i, i)
    assert len(cache) == CACHE_MAX


def test_caches_stay_bounded():
    for i in range(3 * CACHE_MAX):
        name = 'x-{}'.format(i)
        caches.parse_request('GET /{} HTTP/1.1\r\n{}: v'.format(i, name).encode())
        caches.parse_response('HTTP/1.1 200 R{}\r\n{}: v'.format(i, name).encode())
        caches.render_response(200, 'R{}'.format(i), {name: i})
        caches.render_request('GET', '/{}'.format(i), {name: i})
    for cache in (caches._requests, caches._responses, caches._request_lines,
                  caches._status_lines, caches._header_lines,
                  caches._request_lines_for, caches._status_lines_for,
                  caches._rendered_lines):
        assert 0 < len(cache) <= CACHE_MAX


def test_long_preambles_are_not_remembered_whole():
    long_value = b'v' * 300
    preamble = b'GET /long HTTP/1.1\r\nX: ' + long_value
    caches._requests.clear()
    assert caches.parse_request(preamble)[2] == {'x': long_value.decode()}
    assert preamble not in caches._requests
    assert b'X: ' + long_value in caches._header_lines


# ---------------------------------------------------------------------------
# Parsing: same results, fresh copies, same errors

@pytest.mark.parametrize('preamble', [
    b'GET / HTTP/1.1',
    b'GET /a/b?c HTTP/1.1\r\nHost: h',
    b'PUT /x HTTP/1.1\r\nContent-Length: 3\r\nX: y',
    b'GET /r HTTP/1.1\r\nRange: bytes=5-',
    b'GET /r HTTP/1.1\r\nRange: bytes=0-1,5-6\r\nX: y',
    # Errors: the strict grammar's exact message, cold and warm.
    b'GET /a HTTP/1.1\r\nA: 1\r\na: 2',
    b'GET /a HTTP/1.1\r\nA: 1\r\na: 2\r\nbad',
    b'GET /a HTTP/1.1\r\nbad\r\nA: 1\r\na: 2',
    b'GET /a HTTP/1.1\r\nRange: items=1\r\nRange: bytes=0-1',
    b'GET /a HTTP/1.1\r\nContent-Length: 0',
    b'HEAD /a HTTP/1.1\r\nTransfer-Encoding: chunked',
    b'PUT /a HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked',
    b'GET /a HTTP/1.0',
    b'OPTIONS /a HTTP/1.1',
    b'GET /a/. HTTP/1.1',
    b'GET /a HTTP/1.1\r\nX: ',
])
def test_parse_request_same_as_strict(preamble):
    same(caches.parse_request, parsing.parse_request, preamble)


@pytest.mark.parametrize('preamble', [
    b'HTTP/1.1 200 OK',
    b'HTTP/1.1 200 ',
    b'HTTP/1.1 404 Not Found\r\nContent-Length: 0',
    b'HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */10',
    b'HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-0/1\r\nContent-Length: 1',
    b'HTTP/1.1 200 OK\r\nRange: bytes=0-0',
    b'HTTP/1.1 200 OK\r\nK: V\r\nk: V',
    b'HTTP/1.0 200 OK',
    b'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip',
])
def test_parse_response_same_as_strict(preamble):
    same(caches.parse_response, parsing.parse_response, preamble)


def test_error_classes_kept():
    assert outcome(caches.parse_request, b'GET /a HTTP/1.1\r\nA: 1\r\na: 2') == (
        ProtocolError, "duplicate header: b'a: 2'"
    )


def test_parse_request_results_are_fresh():
    preamble = b'GET /a/b?c HTTP/1.1\r\nHost: h'
    first = caches.parse_request(preamble)
    first[3].append('mutated')
    first[2]['host'] = 'mutated'
    del first[3][0]
    second = caches.parse_request(preamble)
    assert second == ('GET', '/a/b?c', {'host': 'h'}, ['a', 'b'], 'c')
    assert second[2] is not first[2] and second[3] is not first[3]
    assert caches.parse_request(preamble)[2] is not second[2]


def test_parse_response_results_are_fresh():
    preamble = b'HTTP/1.1 200 OK\r\nX: y'
    first = caches.parse_response(preamble)
    first[2]['x'] = 'mutated'
    assert caches.parse_response(preamble) == (200, 'OK', {'x': 'y'})


def test_last_preamble_in_front_of_the_caches():
    # The last preamble parsed (and rendered) is compared first.  Preambles
    # that alternate, repeat as new objects, or come back after the caches
    # were emptied each get their own result.
    a = b'GET /a HTTP/1.1\r\nHost: h'
    b = b'GET /b HTTP/1.1\r\nHost: h'
    for preamble in (a, b, a, a, bytes(bytearray(a)), b, b, a):
        assert caches.parse_request(preamble) == parsing.parse_request(preamble)
    caches._requests.clear()
    assert caches.parse_request(b) == parsing.parse_request(b)
    ok = b'HTTP/1.1 200 OK\r\nX: y'
    gone = b'HTTP/1.1 404 Not Found\r\nX: y'
    for preamble in (ok, gone, ok, ok, bytes(bytearray(gone)), ok):
        assert caches.parse_response(preamble) == parsing.parse_response(preamble)
    for (status, reason) in ((200, 'OK'), (404, 'Not Found'), (200, 'OK'), (200, 'OK')):
        for length in (1, 2, 1):
            assert caches.render_response(status, reason, {'content-length': length}) == (
                rendering.render_response(status, reason, {'content-length': length}))
            assert caches.render_request('PUT', '/%d' % status, {'content-length': length}) == (
                rendering.render_request('PUT', '/%d' % status, {'content-length': length}))


def test_many_distinct_lines():
    # Far more distinct lines than a cache holds: every one is still parsed
    # right, and bad ones are still refused afterwards.
    for i in range(3 * CACHE_MAX):
        name = 'X-{}'.format(i).encode()
        preamble = b'GET /p' + str(i).encode() + b' HTTP/1.1\r\n' + name + b': v'
        assert caches.parse_request(preamble) == (
            'GET', '/p{}'.format(i), {name.decode().lower(): 'v'},
            ['p{}'.format(i)], None,
        )
    assert outcome(caches.parse_request, b'GET /p1 HTTP/1.1\r\nX_1: v') == (
        ProtocolError, "bad bytes in header name: b'X_1'"
    )


# ---------------------------------------------------------------------------
# Rendering: same bytes, same errors

@pytest.mark.parametrize('method, uri, headers', [
    ('GET', '/', {}),
    ('GET', '/a?b', {'range': Range(0, None), 'x': 'y'}),
    ('PUT', '/x', {'content-length': 3, 'content-type': 'text/plain'}),
    ('GET', '/x', {'content-length': 3}),
    ('GET', '/x', {'content-range': 'bytes */3'}),
    ('PUT', '/x', {'range': 'bytes=0-1', 'content-length': 1}),
    ('GET', '/./x', {}),
    ('GET', '*', {}),
    ('OPTIONS', '/', {}),
    ('GET', '/', {'X': 'y'}),
    ('GET', '/', {MyStr('x'): 'y'}),
    ('GET', '/', {'x': ' y'}),
    ('GET', '/', {'x': ''}),
    ('GET', '/', {1: 'y', 'x': 'z'}),
    (MyStr('GET'), '/', {}),
    ('GET', MyStr('/'), {}),
    ('GET', '/', {'k{}'.format(i): 'v' for i in range(21)}),
])
def test_render_request_same_as_strict(method, uri, headers):
    same(caches.render_request, rendering.render_request, method, uri, headers)


@pytest.mark.parametrize('status, reason, headers', [
    (200, 'OK', {}),
    (200, 'OK', {'content-length': 12, 'content-type': 'text/plain'}),
    (206, 'Partial Content', {'content-range': ContentRange(0, 1, 2),
                              'content-length': 1}),
    (416, 'Range Not Satisfiable', {'content-range': 'bytes */10'}),
    (200, 'OK', {'range': 'bytes=0-1'}),
    (200, 'OK', {'content-length': 1, 'transfer-encoding': 'chunked'}),
    (200, 'OK', {'transfer-encoding': 'gzip'}),
    (200, 'OK', {'content-length': -1}),
    (200, 'OK', {'content-length': True}),
    (200, '', {}),
    (200.0, 'OK', {}),
    (True, 'OK', {}),
    (200, MyStr('OK'), {}),
    (200, 'OK', {'x': 'a' * 40000}),
])
def test_render_response_same_as_strict(status, reason, headers):
    same(caches.render_response, rendering.render_response, status, reason, headers)


def test_remembered_names_do_not_skip_type_checks():
    assert caches.render_response(200, 'OK', {'x': 'v'}) == (
        b'HTTP/1.1 200 OK\r\nx: v\r\n\r\n'
    )
    # A str subclass equal to a remembered name is still refused.
    assert outcome(caches.render_response, 200, 'OK', {MyStr('x'): 'v'}) == (
        TypeError, TYPE_ERROR.format('key', str, MyStr, MyStr('x'))
    )


def test_remembered_lines_keep_value_types_apart():
    # 1 == 1.0 == True, but each renders as its own str() -- or, for a
    # bool, not at all (str(True) is never what was meant).
    for (value, text) in [(1, '1'), (True, None), (1.0, '1.0'), ('1', '1'),
                          (1, '1'), (True, None), (1.0, '1.0')]:
        if text is None:
            assert outcome(caches.render_response, 200, 'OK', {'x-n': value}) == (
                TypeError, TYPE_ERROR.format("headers['x-n']", str, bool, value)
            )
            continue
        assert caches.render_response(200, 'OK', {'x-n': value}) == (
            'HTTP/1.1 200 OK\r\nx-n: {}\r\n\r\n'.format(text).encode()
        )


def test_remembered_status_lines_keep_types_apart():
    assert caches.render_response(200, 'OK', {}) == b'HTTP/1.1 200 OK\r\n\r\n'
    assert outcome(caches.render_response, 200.0, 'OK', {}) == (
        TypeError, TYPE_ERROR.format('status', int, float, 200.0)
    )
