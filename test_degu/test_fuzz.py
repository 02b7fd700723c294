# SPDX-License-Identifier: LGPL-3.0-or-later
"""Randomized mutation tests for the parsers (fast; part of the normal suite).

Start from a corpus of valid request preambles, response preambles and
chunk-size lines; mutate them (insert, delete, replace bytes, including
control bytes and bytes >= 0x80; duplicate, drop and swap lines; split
lines; cut and repeat slices) and feed the result to the parser.  The only
acceptable outcomes are a result or a ValueError/TypeError; anything else
fails the test and prints the input.  Every input is parsed twice and must
give the same outcome both times.  Accepted preambles must survive a
round trip through the renderer.  The remembered fast paths of degu.caches
(parse_request, parse_response, render_request, render_response) must give
exactly the outcome (result, or exception type and message) of the strict
functions of degu.parsing and degu.rendering on every input.

Environment variables:

* ``DEGU_FUZZ_SEED`` -- change the seed (default: a fixed seed per test),
* ``DEGU_FUZZ_COUNT`` -- inputs per test (default: a few thousand for the
  normal tests, 1_000_000 for the ``slow`` test, run with ``--run-slow``).
"""

import os
import random
import traceback
from typing import Any, Callable, List, Optional, Tuple

import pytest

from degu import caches, parsing, rendering
from degu.limits import BUF_LEN, MAX_HEADER_COUNT
from degu.parsing import (
    parse_chunk,
    parse_content_length,
    parse_content_range,
    parse_headers,
    parse_range,
    parse_uri,
)
from degu.ranges import ContentRange, Range
from degu.rendering import format_chunk

# The remembered fast path (what degu.messages uses) is what the mutation
# tests feed; the differential tests compare it with the strict grammar.
parse_request = caches.parse_request
parse_response = caches.parse_response
render_request = caches.render_request
render_response = caches.render_response

DEFAULT_SEED = 20240617
FAST_COUNT = 30000
SLOW_COUNT = 1_000_000

REQUESTS = [
    b'GET / HTTP/1.1',
    b'GET /foo/bar/?stuff=junk HTTP/1.1\r\nHost: example.com\r\nAccept: */*',
    b'PUT /foo HTTP/1.1\r\nContent-Length: 12\r\nContent-Type: text/plain',
    b'POST /a?b=c&d HTTP/1.1\r\nTransfer-Encoding: chunked',
    b'GET /x HTTP/1.1\r\nRange: bytes=16-20',
    b'DELETE /a/b/c HTTP/1.1\r\nX-Foo: "bar" (baz); <q>, [r]',
    b'HEAD /...?%25 HTTP/1.1\r\nAuthorization: Basic Zm9vOmJhcg==',
    b'POST /upload HTTP/1.1\r\nContent-Length: 0\r\nExpect: 100-continue',
    b'GET /caf%C3%A9/a%20b?q=%2F&r=/? HTTP/1.1\r\nRange: bytes=5-',
    b'GET /x HTTP/1.1\r\nRange: bytes=-500\r\nIf-None-Match: W/"a", "b"',
    b'GET /x HTTP/1.1\r\nRange: bytes=0-1,5-9\r\nX-Json: {"a": [1|2]} ~`^',
    b'POST /x HTTP/1.1\r\nTransfer-Encoding: Chunked\r\nX-' + b'n' * 62 + b': v',
]

RESPONSES = [
    b'HTTP/1.1 200 OK',
    b'HTTP/1.1 200 OK\r\nContent-Length: 3',
    b'HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\nX-Y: z',
    b'HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 16-16/23'
    b'\r\nContent-Length: 1',
    b'HTTP/1.1 100 Continue',
    b'HTTP/1.1 301 Moved Permanently\r\nLocation: /foo/bar?x=1',
    b'HTTP/1.1 200 ',
    b"HTTP/1.1 418 I'm a teapot\r\nX-A: b",
    b'HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */23',
]

CHUNK_LINES = [
    b'0',
    b'5',
    b'c',
    b'1000000;k=v',
    b'a;foo=bar',
    b'FFFF',
    b'5;k=a;b',
    b'abcde;Key-1=Value_2',
]

# Bytes likely to sit on a parser's decision boundary.
INTERESTING = (
    b'\x00\x01\t\n\r \x7f\x80\xc3\xd9\xff'
    b':;=/?%.-_+*,"\'#!'
    b'0123456789aAfFgGxXbB'
)


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value is None else int(value)


def make_rng(test_name: str) -> Tuple[random.Random, int]:
    seed = env_int('DEGU_FUZZ_SEED', DEFAULT_SEED)
    # Each test gets its own stream so they explore different inputs.
    return random.Random('{}:{}'.format(test_name, seed)), seed


def random_byte(rng: random.Random) -> int:
    if rng.random() < 0.5:
        return INTERESTING[rng.randrange(len(INTERESTING))]
    return rng.randrange(256)


def mutate_once(rng: random.Random, data: bytes) -> bytes:
    op = rng.randrange(11)
    size = len(data)
    pos = rng.randrange(size + 1)
    if op == 0:  # insert a byte
        return data[:pos] + bytes([random_byte(rng)]) + data[pos:]
    if op == 1 and size:  # delete a byte
        pos = rng.randrange(size)
        return data[:pos] + data[pos + 1:]
    if op == 2 and size:  # replace a byte
        pos = rng.randrange(size)
        return data[:pos] + bytes([random_byte(rng)]) + data[pos + 1:]
    if op == 3 and size:  # flip one bit (changes case, digit, high bit ...)
        pos = rng.randrange(size)
        return data[:pos] + bytes([data[pos] ^ (1 << rng.randrange(8))]) + data[pos + 1:]
    if op == 4:  # insert CRLF (split a line), or a lone CR or LF
        return data[:pos] + rng.choice([b'\r\n', b'\r', b'\n', b'\r\n\r\n']) + data[pos:]
    lines = data.split(b'\r\n')
    if op == 5:  # duplicate a line
        i = rng.randrange(len(lines))
        lines.insert(rng.randrange(len(lines) + 1), lines[i])
        return b'\r\n'.join(lines)
    if op == 6 and len(lines) > 1:  # drop a line
        del lines[rng.randrange(len(lines))]
        return b'\r\n'.join(lines)
    if op == 7 and len(lines) > 1:  # swap two lines
        i = rng.randrange(len(lines))
        j = rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
        return b'\r\n'.join(lines)
    if op == 8 and size:  # delete a slice
        end = rng.randrange(pos, size + 1)
        return data[:pos] + data[end:]
    if op == 9 and size:  # repeat a slice
        end = rng.randrange(pos, size + 1)
        return data[:end] + data[pos:end] * rng.randrange(1, 4) + data[end:]
    # op 10 (or a no-op above on empty input): insert a run of random bytes
    run = bytes(random_byte(rng) for _ in range(rng.randrange(1, 6)))
    return data[:pos] + run + data[pos:]


def mutate(rng: random.Random, data: bytes) -> bytes:
    for _ in range(rng.randrange(1, 5)):
        data = mutate_once(rng, data)
    return data


Outcome = Tuple[str, str]


def outcome(func: Callable[[bytes], Any], data: bytes) -> Outcome:
    """Return ('ok', repr(result)) or ('error', 'Type: message').

    Any exception other than ValueError/TypeError fails the test, printing
    the input that caused it.
    """
    try:
        result = func(data)
    except (ValueError, TypeError) as e:
        return ('error', '{}: {}'.format(type(e).__name__, e))
    except Exception:
        pytest.fail(
            '{}({!r}) raised an unexpected exception:\n{}'.format(
                func.__name__, data, traceback.format_exc()
            ),
            pytrace=False,
        )
    return ('ok', repr(result))


def run(
    test_name: str,
    func: Callable[[bytes], Any],
    corpus: List[bytes],
    count: int,
    check: Optional[Callable[[bytes, Any], None]] = None,
) -> Tuple[int, int]:
    """Feed *count* mutated inputs to *func*; return (accepted, refused)."""
    rng, seed = make_rng(test_name)
    accepted = refused = 0
    for i in range(count):
        data = mutate(rng, corpus[i % len(corpus)])
        first = outcome(func, data)
        second = outcome(func, data)
        if first != second:
            pytest.fail(
                'nondeterministic {}({!r}) (seed {}, input {}):\n{}\n{}'.format(
                    func.__name__, data, seed, i, first, second
                ),
                pytrace=False,
            )
        if first[0] == 'ok':
            accepted += 1
            if check is not None:
                check(data, func(data))
        else:
            refused += 1
    return accepted, refused


def canonical(headers: dict) -> str:
    return repr(sorted(headers.items(), key=lambda item: item[0]))


def check_request(data: bytes, result: Any) -> None:
    """An accepted request renders and parses back to the same thing."""
    (method, uri, headers, path, query) = result
    assert method in ('GET', 'PUT', 'POST', 'HEAD', 'DELETE'), data
    assert all(k == k.lower() for k in headers), data
    try:
        out = render_request(method, uri, headers)
    except ValueError as e:
        # Input has no header-count limit, output does.
        assert len(headers) > MAX_HEADER_COUNT or 'output size' in str(e), (
            data, str(e)
        )
        return
    assert len(out) <= BUF_LEN
    again = parse_request(out[:-4])
    assert again[:2] == (method, uri), data
    assert again[3:] == (path, query), data
    assert canonical(again[2]) == canonical(headers), data


def check_response(data: bytes, result: Any) -> None:
    """An accepted response renders and parses back to the same thing."""
    (status, reason, headers) = result
    assert 100 <= status <= 599, data
    try:
        out = render_response(status, reason, headers)
    except ValueError as e:
        # Output needs a reason; input may have an empty one.
        assert (len(headers) > MAX_HEADER_COUNT or 'output size' in str(e)
                or (reason == '' and str(e) == "bad reason: ''")), (data, str(e))
        return
    again = parse_response(out[:-4])
    assert again[:2] == (status, reason), data
    assert canonical(again[2]) == canonical(headers), data


def check_chunk(data: bytes, result: Any) -> None:
    """An accepted size line renders back (in lowercase hex) and re-parses."""
    (size, ext) = result
    if size > 65536:
        return  # don't allocate big chunks just for this check
    line = format_chunk((ext, bytes(size)))
    assert parse_chunk(line[:-2]) == (size, ext), data
    size_part = data.partition(b';')[0]
    assert line.partition(b';')[0].rstrip(b'\r\n') == size_part.lower(), data


def test_corpus_is_valid():
    # The mutations start from inputs the parsers accept.
    for data in REQUESTS:
        check_request(data, parse_request(data))
    for data in RESPONSES:
        check_response(data, parse_response(data))
    for data in CHUNK_LINES:
        check_chunk(data, parse_chunk(data))


def test_mutate_is_deterministic_and_mutates():
    a = random.Random(1)
    b = random.Random(1)
    outs_a = [mutate(a, REQUESTS[1]) for _ in range(200)]
    outs_b = [mutate(b, REQUESTS[1]) for _ in range(200)]
    assert outs_a == outs_b
    assert sum(out != REQUESTS[1] for out in outs_a) > 150
    assert any(any(byte >= 0x80 for byte in out) for out in outs_a)
    assert any(any(byte < 0x20 and byte not in b'\r\n' for byte in out)
               for out in outs_a)


def fast_count() -> int:
    return env_int('DEGU_FUZZ_COUNT', FAST_COUNT)


def check_mix(accepted: int, refused: int, count: int) -> None:
    # The mutations must exercise both outcomes, or the test proves little.
    assert accepted + refused == count
    if count >= 1000:
        assert accepted > count // 100, (accepted, refused)
        assert refused > count // 10, (accepted, refused)


def test_fuzz_parse_request():
    count = fast_count()
    check_mix(*run('request', parse_request, REQUESTS, count, check_request), count)


def test_fuzz_parse_response():
    count = fast_count()
    check_mix(*run('response', parse_response, RESPONSES, count, check_response), count)


def test_fuzz_parse_chunk():
    count = fast_count()
    check_mix(*run('chunk', parse_chunk, CHUNK_LINES, count, check_chunk), count)


def differential(
    name: str,
    fast: Callable[[bytes], Any],
    strict: Callable[[bytes], Any],
    corpus: List[bytes],
    count: int,
) -> int:
    """The cached fast path and the strict parser agree on every input.

    Return how many inputs both accepted.
    """
    rng, seed = make_rng(name)
    accepted = 0
    for i in range(count):
        data = mutate(rng, corpus[i % len(corpus)])
        expected = outcome(strict, data)
        got = outcome(fast, data)
        if got != expected:
            pytest.fail(
                '{}({!r}) differs from {} (seed {}, input {}):\n{}\n{}'.format(
                    fast.__name__, data, strict.__name__, seed, i, got, expected
                ),
                pytrace=False,
            )
        if got[0] == 'ok':
            accepted += 1
            # And the outcome does not change once the caches are warm.
            assert outcome(fast, data) == expected, data
    return accepted


def test_differential_request():
    count = fast_count()
    accepted = differential('diff-request', parse_request,
                            parsing.parse_request, REQUESTS, count)
    assert accepted > count // 100


def test_differential_response():
    count = fast_count()
    accepted = differential('diff-response', parse_response,
                            parsing.parse_response, RESPONSES, count)
    assert accepted > count // 100


@pytest.mark.parametrize('func', [
    parse_request,
    parse_response,
    parse_chunk,
    parse_headers,
    parse_uri,
    parse_content_length,
    parse_range,
    parse_content_range,
])
def test_fuzz_cross_feed(func):
    # Every parser gets every kind of mutated input, including the others'.
    corpus = REQUESTS + RESPONSES + CHUNK_LINES + [
        b'', b'K: V', b'/foo?bar', b'123', b'bytes=0-9', b'bytes 0-9/10',
    ]
    run('cross:' + func.__name__, func, corpus, fast_count() // 4)


@pytest.mark.slow
@pytest.mark.parametrize('name, fast, strict, corpus', [
    ('slow-diff-request', parse_request, parsing.parse_request, REQUESTS),
    ('slow-diff-response', parse_response, parsing.parse_response,
     RESPONSES),
])
def test_differential_long(name, fast, strict, corpus):
    differential(name, fast, strict, corpus,
                 env_int('DEGU_FUZZ_COUNT', SLOW_COUNT))


@pytest.mark.slow
@pytest.mark.parametrize('name, func, corpus, check', [
    ('slow-request', parse_request, REQUESTS, check_request),
    ('slow-response', parse_response, RESPONSES, check_response),
    ('slow-chunk', parse_chunk, CHUNK_LINES, check_chunk),
])
def test_fuzz_long(name, func, corpus, check):
    count = env_int('DEGU_FUZZ_COUNT', SLOW_COUNT)
    accepted, refused = run(name, func, corpus, count, check)
    check_mix(accepted, refused, count)


# ---------------------------------------------------------------------------
# The renderer is the parser: random field values either render and parse
# back to themselves, or are refused by both.

FIELD_PIECES = (
    [chr(i) for i in range(0x80)] * 1
    + list('abcXYZ019-_.~%/?=&;,: ') * 4
    + ['\u00e9', '\u2603', '\x80', '\xff', '\r\n', ' HTTP/1.1', '%2e', '%2F',
       '%5c', '%00', '%zz', '..', '.', '//', 'bytes=', 'bytes ', '*/', '-0',
       '0', '5', '16', '9' * 17, 'chunked', 'Chunked', 'gzip', ', ', '*']
)


def random_text(rng: random.Random) -> str:
    return ''.join(rng.choice(FIELD_PIECES) for _ in range(rng.randrange(8)))


def parse_outcome(func: Callable[..., Any], *args: Any) -> Any:
    try:
        return ('ok', func(*args))
    except ValueError as e:
        return ('refused', type(e).__name__)


def test_renderer_is_parser_for_uris():
    rng, _seed = make_rng('render-uri')
    agree = 0
    for _ in range(fast_count() // 3):
        uri = '/' * rng.randrange(2) + random_text(rng)
        rendered = parse_outcome(rendering.request_line, 'GET', uri)
        parsed = parse_outcome(parse_uri, uri.encode('utf-8'))
        assert rendered[0] == parsed[0], (uri, rendered, parsed)
        if rendered[0] == 'ok':
            agree += 1
            assert parsed[1][0] == uri
            assert rendered[1] == 'GET ' + uri + ' HTTP/1.1'
    assert agree > 100


def test_renderer_is_parser_for_reasons():
    rng, _seed = make_rng('render-reason')
    for _ in range(fast_count() // 3):
        reason = random_text(rng)
        rendered = parse_outcome(rendering.status_line, 200, reason)
        parsed = parse_outcome(parsing.parse_response_line,
                               b'HTTP/1.1 200 ' + reason.encode('utf-8'))
        if rendered[0] == 'ok':
            assert parsed == ('ok', (200, reason)), reason
        else:
            # Refused by both, or the empty reason (accepted in, not out).
            assert parsed[0] == 'refused' or reason == '', (reason, parsed)


NAMES = ['x', 'content-length', 'transfer-encoding', 'range', 'content-range']


def test_renderer_is_parser_for_header_lines():
    rng, _seed = make_rng('render-value')
    accepted = 0
    for i in range(fast_count() // 3):
        name = NAMES[i % len(NAMES)]
        value = random_text(rng)
        rendered = parse_outcome(rendering.header_line, name, value)
        parsed = parse_outcome(parsing.parse_header_line,
                               (name + ': ' + value).encode('utf-8'))
        assert rendered[0] == parsed[0], (name, value, rendered, parsed)
        if rendered[0] == 'ok':
            accepted += 1
            assert rendered[1] == '\r\n' + name + ': ' + value
    assert accepted > 100


def test_renderer_is_parser_for_keys():
    rng, _seed = make_rng('render-key')
    for _ in range(fast_count() // 3):
        key = random_text(rng)
        rendered = parse_outcome(rendering.check_key, key)
        parsed = parse_outcome(parsing.parse_header_name, key.encode('utf-8'))
        if rendered[0] == 'ok':
            assert parsed == ('ok', key), key
        else:
            # Refused by both, or an upper-case name (any case in, lower out).
            assert parsed[0] == 'refused' or key != key.lower(), (key, parsed)


def test_renderer_is_parser_for_chunk_extensions():
    rng, _seed = make_rng('render-ext')
    for _ in range(fast_count() // 3):
        ext = (random_text(rng), random_text(rng))
        rendered = parse_outcome(format_chunk, (ext, b''))
        parsed = parse_outcome(parse_chunk,
                               ('0;' + ext[0] + '=' + ext[1]).encode('utf-8'))
        if rendered[0] == 'ok':
            assert parsed == ('ok', (0, ext)), ext
        else:
            assert parsed[0] == 'refused' or '=' in ext[1], (ext, parsed)


# ---------------------------------------------------------------------------
# The remembered renderer gives exactly what the strict one gives.

class FuzzStr(str):
    pass


VALUES = ['v', 'a b', ' v', '', 'chunked', 'gzip', 'bytes=0-1', 'bytes */5',
          'bytes 0-0/1', '\r\n', 'caf\u00e9', 0, 12, -1, True, 1.0, None]
KEYS = ['a', 'x-y', 'content-length', 'transfer-encoding', 'range',
        'content-range', 'X', 'a_b', '', 'k' * 65, 1, FuzzStr('a')]


def random_headers(rng: random.Random) -> dict:
    headers = {}
    for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 5, 21])):
        key = rng.choice(KEYS) if rng.random() < 0.7 else 'k{}'.format(rng.randrange(40))
        value: Any = rng.choice(VALUES)
        if value is None:
            value = rng.choice([Range(0, None), Range(-3, None), Range(1, 5),
                                ContentRange(0, 1, 2)])
        headers[key] = value
    return headers


def test_differential_render():
    rng, _seed = make_rng('diff-render')
    for _ in range(fast_count() // 3):
        headers = random_headers(rng)
        method = rng.choice(['GET', 'PUT', 'POST', 'HEAD', 'DELETE', 'get', FuzzStr('GET')])
        uri = rng.choice(['/', '/a', '/a/b?c', '/.', '*', '/%7e', FuzzStr('/')])
        status = rng.choice([200, 206, 404, 416, 99, 200.0, True])
        reason = rng.choice(['OK', 'Not Found', '', 'O\tK', FuzzStr('OK')])
        for _ in range(2):  # cold, then warm
            assert (outcome(lambda _: caches.render_request(method, uri, headers), b'')
                    == outcome(lambda _: rendering.render_request(method, uri, headers), b'')), (
                method, uri, headers)
            assert (outcome(lambda _: caches.render_response(status, reason, headers), b'')
                    == outcome(lambda _: rendering.render_response(status, reason, headers), b'')), (
                status, reason, headers)
