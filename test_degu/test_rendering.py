# SPDX-License-Identifier: LGPL-3.0-or-later
"""Tests for degu.rendering: render_request, render_response, format_chunk.

The renderer is the parser: output is checked with exactly the input rules,
so what Degu sends, Degu accepts.  These tests pin that down field by field
(targets through parse_uri, header lines through parse_header_line, the
header-set rules, reasons and chunk extensions through the parser's tables);
test_fuzz.py checks it on random values.  Every refusal is the app's
mistake, so a plain TypeError or ValueError, never a ProtocolError.
"""

from collections import OrderedDict

import pytest

from degu.errors import TYPE_ERROR, TYPE_ERROR2, ProtocolError
from degu.limits import BUF_LEN, MAX_IO_SIZE
from degu.parsing import parse_chunk, parse_request, parse_response
from degu.ranges import ContentRange, Range
from degu.rendering import format_chunk, render_request, render_response


class MyStr(str):
    pass


class MyInt(int):
    pass


class MyDict(dict):
    pass


class MyTuple(tuple):
    pass


class StrIs:
    """A header value whose str() is whatever we say."""

    def __init__(self, text):
        self.text = text

    def __str__(self):
        return self.text


class StrFails:
    """A header value whose str() raises; the error must propagate."""

    def __str__(self):
        raise ZeroDivisionError('str() of StrFails')


def check_error(exc, message, func, *args):
    with pytest.raises(exc) as cm:
        func(*args)
    assert type(cm.value) is exc
    assert str(cm.value) == message


# ---------------------------------------------------------------------------
# render_request

@pytest.mark.parametrize('method, uri, headers, expected', [
    ('GET', '/', {}, b'GET / HTTP/1.1\r\n\r\n'),
    ('GET', '/', {'range': 'bytes=17-19'},
     b'GET / HTTP/1.1\r\nrange: bytes=17-19\r\n\r\n'),
    ('GET', '/', {'range': Range(17, 20)},
     b'GET / HTTP/1.1\r\nrange: bytes=17-19\r\n\r\n'),
    ('PUT', '/foo', {'content-length': 3},
     b'PUT /foo HTTP/1.1\r\ncontent-length: 3\r\n\r\n'),
    ('POST', '/foo/bar?x=y', {'transfer-encoding': 'chunked'},
     b'POST /foo/bar?x=y HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n'),
    ('HEAD', '/', {}, b'HEAD / HTTP/1.1\r\n\r\n'),
    ('DELETE', '/x', {}, b'DELETE /x HTTP/1.1\r\n\r\n'),
    ('GET', '/%7e/a%20b?q=%2F&r=/?', {}, b'GET /%7e/a%20b?q=%2F&r=/? HTTP/1.1\r\n\r\n'),
    ('GET', "/!$&'()*+,;=:@", {}, b"GET /!$&'()*+,;=:@ HTTP/1.1\r\n\r\n"),
    ('GET', '/', {'range': Range(5, None)}, b'GET / HTTP/1.1\r\nrange: bytes=5-\r\n\r\n'),
    ('GET', '/', {'range': Range(-5, None)}, b'GET / HTTP/1.1\r\nrange: bytes=-5\r\n\r\n'),
    # A range the parser ignores is still a range the parser accepts.
    ('GET', '/', {'range': 'bytes=0-1,3-4'},
     b'GET / HTTP/1.1\r\nrange: bytes=0-1,3-4\r\n\r\n'),
    ('POST', '/', {'transfer-encoding': 'Chunked'},
     b'POST / HTTP/1.1\r\ntransfer-encoding: Chunked\r\n\r\n'),
])
def test_render_request_valid(method, uri, headers, expected):
    before = dict(headers)
    got = render_request(method, uri, headers)
    assert type(got) is bytes
    assert got == expected
    assert headers == before  # not mutated


@pytest.mark.parametrize('method', [b'GET', None, 1, MyStr('GET'), ['GET']])
def test_render_request_method_type(method):
    check_error(TypeError, TYPE_ERROR.format('method', str, type(method), method),
                render_request, method, '/', {})


@pytest.mark.parametrize('method', [
    '', 'get', 'Get', 'OPTIONS', 'PATCH', 'GET ', ' GET', 'G\u00c9T',
])
def test_render_request_bad_method(method):
    check_error(ValueError, 'bad method: {!r}'.format(method),
                render_request, method, '/', {})


@pytest.mark.parametrize('uri', [b'/', None, 17, MyStr('/')])
def test_render_request_uri_type(uri):
    check_error(TypeError, TYPE_ERROR.format('uri', str, type(uri), uri),
                render_request, 'GET', uri, {})


@pytest.mark.parametrize('uri', [
    '',
    '/caf\u00e9',
    '/\u2603',
    '/foo bar',
    ' ',
    '/ HTTP/1.1\r\nx: y',
    '/foo\r\n',
    '/foo\n',
    '/foo\r',
    '\r\n',
    # Exactly what parse_uri refuses: no '*', absolute or relative target ...
    '*',
    'foo',
    'http://example.com/',
    '?q',
    # ... no '//', '.', '..', bad or dangerous escapes, no fragment.
    '/a//b',
    '/.',
    '/a/./b',
    '/a/..',
    '/%2e%2E',
    '/a%2fb',
    '/a%5Cb',
    '/a%00',
    '/%zz',
    '/a%2',
    '/?q=100%',
    '/a#frag',
    '/a\\b',
    '/{x}',
])
def test_render_request_bad_uri(uri):
    check_error(ValueError, 'bad uri: {!r}'.format(uri),
                render_request, 'GET', uri, {})


def test_render_request_uri_length():
    uri = '/' + 'a' * 8191
    assert render_request('GET', uri, {}) == ('GET ' + uri + ' HTTP/1.1\r\n\r\n').encode()
    check_error(ValueError, 'need len(uri) <= 8192; got 8193',
                render_request, 'GET', uri + 'a', {})


def test_render_request_check_order():
    # method, then uri, then headers.
    check_error(ValueError, "bad method: 'get'", render_request, 'get', 1, None)
    check_error(ValueError, "bad uri: ''", render_request, 'GET', '', None)
    check_error(TypeError, TYPE_ERROR.format('headers', dict, type(None), None),
                render_request, 'GET', '/', None)


def test_render_request_round_trip():
    headers = {'host': 'example.com', 'content-length': 12, 'x-a': 'b'}
    out = render_request('PUT', '/foo?x', headers)
    assert out.endswith(b'\r\n\r\n')
    assert parse_request(out[:-4]) == (
        'PUT', '/foo?x', {'content-length': 12, 'host': 'example.com', 'x-a': 'b'},
        ['foo'], 'x',
    )


# ---------------------------------------------------------------------------
# render_response

@pytest.mark.parametrize('status, reason, headers, expected', [
    (200, 'OK', {}, b'HTTP/1.1 200 OK\r\n\r\n'),
    (200, 'OK', {'content-length': 3},
     b'HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n'),
    (100, 'Continue', {}, b'HTTP/1.1 100 Continue\r\n\r\n'),
    (599, 'Z', {}, b'HTTP/1.1 599 Z\r\n\r\n'),
    (404, 'Not Found', {'x': 'y'}, b'HTTP/1.1 404 Not Found\r\nx: y\r\n\r\n'),
    (206, 'Partial Content', {'content-range': ContentRange(16, 17, 23)},
     b'HTTP/1.1 206 Partial Content\r\ncontent-range: bytes 16-16/23\r\n\r\n'),
    (416, 'Range Not Satisfiable', {'content-range': 'bytes */23'},
     b'HTTP/1.1 416 Range Not Satisfiable\r\ncontent-range: bytes */23\r\n\r\n'),
    # Any VCHAR and SP in the reason (the REASON table).
    (200, 'O.K.', {}, b'HTTP/1.1 200 O.K.\r\n\r\n'),
    (418, "I'm a teapot", {}, b"HTTP/1.1 418 I'm a teapot\r\n\r\n"),
    (200, "Don't Panic!", {}, b"HTTP/1.1 200 Don't Panic!\r\n\r\n"),
    (200, ' ', {}, b'HTTP/1.1 200  \r\n\r\n'),
])
def test_render_response_valid(status, reason, headers, expected):
    got = render_response(status, reason, headers)
    assert type(got) is bytes
    assert got == expected


@pytest.mark.parametrize('status', ['200', 200.0, True, False, None, MyInt(200), b'200'])
def test_render_response_status_type(status):
    check_error(TypeError, TYPE_ERROR.format('status', int, type(status), status),
                render_response, status, 'OK', {})


@pytest.mark.parametrize('status', [99, 600, 0, -1, -200, 1000, 2 ** 64])
def test_render_response_status_range(status):
    check_error(ValueError,
                'need 100 <= status <= 599; got {}'.format(status),
                render_response, status, 'OK', {})


@pytest.mark.parametrize('reason', [b'OK', None, 200, MyStr('OK')])
def test_render_response_reason_type(reason):
    check_error(TypeError, TYPE_ERROR.format('reason', str, type(reason), reason),
                render_response, 200, reason, {})


@pytest.mark.parametrize('reason', [
    '',
    'caf\u00e9',
    '\u2603',
    'OK\r\n',
    'OK\r\nx: y',
    'OK\n',
    'O\rK',
    '\r\n',
    'O\tK',
    'O\x00K',
    'O\x7fK',
    '\x1b[31m',
])
def test_render_response_bad_reason(reason):
    check_error(ValueError, 'bad reason: {!r}'.format(reason),
                render_response, 200, reason, {})


def test_render_response_check_order():
    check_error(TypeError, TYPE_ERROR.format('status', int, str, 'x'),
                render_response, 'x', None, None)
    check_error(ValueError, 'need 100 <= status <= 599; got 99',
                render_response, 99, None, None)
    check_error(ValueError, "bad reason: ''", render_response, 200, '', None)
    check_error(TypeError, TYPE_ERROR.format('headers', dict, type(None), None),
                render_response, 200, 'OK', None)


def test_render_response_round_trip():
    headers = {'content-length': 0, 'x-b': 'c', 'a': 'Z'}
    out = render_response(201, 'Created', headers)
    assert parse_response(out[:-4]) == (201, 'Created', headers)


# ---------------------------------------------------------------------------
# Headers (shared by both renderers)

def render_both(headers):
    """Render *headers* in a request and a response; return the header part."""
    req = render_request('PUT', '/', headers)
    resp = render_response(200, 'OK', headers)
    assert req.startswith(b'PUT / HTTP/1.1')
    assert resp.startswith(b'HTTP/1.1 200 OK')
    part = req[len(b'PUT / HTTP/1.1'):]
    assert resp[len(b'HTTP/1.1 200 OK'):] == part
    return part


def check_both(exc, message, headers):
    check_error(exc, message, render_request, 'PUT', '/', headers)
    check_error(exc, message, render_response, 200, 'OK', headers)


@pytest.mark.parametrize('headers', [
    None, [], [('a', 'b')], 'a: b', OrderedDict(a='b'), MyDict(a='b'),
])
def test_headers_type(headers):
    check_both(TypeError,
               TYPE_ERROR.format('headers', dict, type(headers), headers),
               headers)


def test_headers_sorted():
    headers = {'z': '1', 'a': '2', 'm': 3, 'content-length': 4, 'a-b': '5'}
    assert render_both(headers) == (
        b'\r\na: 2\r\na-b: 5\r\ncontent-length: 4\r\nm: 3\r\nz: 1\r\n\r\n'
    )


def test_headers_empty():
    assert render_both({}) == b'\r\n\r\n'


@pytest.mark.parametrize('value, text', [
    ('foo', b'foo'),
    (0, b'0'),
    (17, b'17'),
    (9999999999999999, b'9999999999999999'),
    (Range(17, 20), b'bytes=17-19'),
    (ContentRange(16, 17, 23), b'bytes 16-16/23'),
    (MyStr('sub'), b'sub'),
    (StrIs('from str()'), b'from str()'),
    # Every VCHAR, and inner spaces.
    ('!#$@\\^`{|}~', b'!#$@\\^`{|}~'),
    ('a  b', b'a  b'),
])
def test_header_values_via_str(value, text):
    assert render_both({'x': value}) == b'\r\nx: ' + text + b'\r\n\r\n'


@pytest.mark.parametrize('value', [b'bar', bytearray(b'bar'), True, False])
def test_header_values_str_would_misrender(value):
    # str(b'bar') is "b'bar'", str(True) is 'True': never what was meant.
    for key in ('x-foo', 'content-length'):
        check_both(TypeError,
                   TYPE_ERROR.format('headers[{!r}]'.format(key), str, type(value), value),
                   {key: value})


@pytest.mark.parametrize('value, shown', [
    ('', ''),
    ('caf\u00e9', 'caf\u00e9'),
    ('\u2603', '\u2603'),
    ('a\r\nb: c', 'a\r\nb: c'),
    ('a\nb', 'a\nb'),
    ('a\rb', 'a\rb'),
    ('\r\n', '\r\n'),
    # Exactly what the parser refuses: tabs, controls, DEL, edge spaces.
    ('a\tb', 'a\tb'),
    ('\x00', '\x00'),
    ('a\x0bb', 'a\x0bb'),
    ('a\x0cb', 'a\x0cb'),
    ('\x1b', '\x1b'),
    ('a\x7f', 'a\x7f'),
    (' ', ' '),
    (' a', ' a'),
    ('a ', 'a '),
    (StrIs(''), ''),
    (StrIs('x\r\ny'), 'x\r\ny'),
    (MyStr(''), ''),
])
def test_header_bad_values(value, shown):
    check_both(ValueError, 'bad val: {!r}'.format(shown), {'x': value})


def test_header_value_str_error_propagates():
    with pytest.raises(ZeroDivisionError) as cm:
        render_request('GET', '/', {'x': StrFails()})
    assert str(cm.value) == 'str() of StrFails'
    with pytest.raises(ZeroDivisionError):
        render_response(200, 'OK', {'x': StrFails()})


@pytest.mark.parametrize('key', [b'x', 1, None, MyStr('x'), ('x',)])
def test_header_key_type(key):
    check_both(TypeError, TYPE_ERROR.format('key', str, type(key), key),
               {key: 'v'})


@pytest.mark.parametrize('key', [
    'a' * 65,
    'A' * 65,
    '\u00e9' * 65,
    'a' * 100,
])
def test_header_key_too_long(key):
    check_both(ValueError, 'key is too long: {!r}'.format(key), {key: 'v'})


def test_header_key_max_length():
    key = 'k' * 64
    assert render_both({key: 'v'}) == b'\r\n' + key.encode() + b': v\r\n\r\n'


@pytest.mark.parametrize('key', [
    '',
    'Content-Length',
    'X',
    'x_y',
    'x y',
    'x:',
    'x\r\n',
    ':',
    'caf\u00e9',
    '\u2603',
    'a.b',
    'a\tb',
])
def test_header_bad_key(key):
    check_both(ValueError, 'bad key: {!r}'.format(key), {key: 'v'})


def test_header_count():
    twenty = {'k{}'.format(i): 'v' for i in range(20)}
    out = render_both(twenty)
    assert out.count(b'\r\n') == 22
    check_both(ValueError, 'need len(headers) <= 20; got 21',
               dict(twenty, k20='v'))
    check_both(ValueError, 'need len(headers) <= 20; got 30',
               {'k{}'.format(i): 'v' for i in range(30)})


def test_header_count_checked_before_keys():
    # 21 headers, every key and value bad: the count is reported.
    headers = {i: '' for i in range(21)}
    check_both(ValueError, 'need len(headers) <= 20; got 21', headers)


def test_all_keys_checked_before_any_value():
    # 'a' sorts first and has a bad value, but the bad key wins.
    check_both(ValueError, "bad key: 'B'", {'a': '', 'B': 'x'})
    check_both(TypeError, TYPE_ERROR.format('key', str, bytes, b'z'),
               {'a': '\r\n', b'z': 'x'})
    # A failing str() is not even called when a key is bad.
    check_both(ValueError, "bad key: 'Z'", {'a': StrFails(), 'Z': 'x'})


def test_values_checked_in_sorted_order():
    check_both(ValueError, "bad val: ''", {'b': '\r', 'a': ''})
    check_both(ValueError, "bad val: '\\r'", {'b': '', 'a': '\r'})


# ---------------------------------------------------------------------------
# BUF_LEN

def test_response_buf_len():
    # b'HTTP/1.1 200 OK' + b'\r\nx: ' + value + b'\r\n\r\n' == 24 + len(value)
    fits = render_response(200, 'OK', {'x': 'a' * (BUF_LEN - 24)})
    assert len(fits) == BUF_LEN
    check_error(ValueError, 'output size exceeds 32768',
                render_response, 200, 'OK', {'x': 'a' * (BUF_LEN - 23)})


def test_request_buf_len():
    # b'GET / HTTP/1.1' + b'\r\nx: ' + value + b'\r\n\r\n' == 23 + len(value)
    fits = render_request('GET', '/', {'x': 'a' * (BUF_LEN - 23)})
    assert len(fits) == BUF_LEN
    check_error(ValueError, 'output size exceeds 32768',
                render_request, 'GET', '/', {'x': 'a' * (BUF_LEN - 22)})


def test_buf_len_with_many_headers():
    value = 'v' * 1700
    headers = {'k{:02d}'.format(i): value for i in range(20)}
    check_error(ValueError, 'output size exceeds 32768',
                render_response, 200, 'OK', headers)
    headers = {'k{:02d}'.format(i): 'v' * 1600 for i in range(20)}
    assert len(render_response(200, 'OK', headers)) < BUF_LEN


# ---------------------------------------------------------------------------
# format_chunk

@pytest.mark.parametrize('chunk, expected', [
    ((None, b''), b'0\r\n'),
    ((('k', 'v'), b'hello, world'), b'c;k=v\r\n'),
    ((None, b'a'), b'1\r\n'),
    ((None, b'a' * 10), b'a\r\n'),
    ((None, b'a' * 255), b'ff\r\n'),
    ((None, b'a' * 256), b'100\r\n'),
    ((None, b'a' * 0xabcde), b'abcde\r\n'),
    ((('foo', 'bar'), b''), b'0;foo=bar\r\n'),
    ((('Key-0', '+.:_~"\'()*,;<>[]'), b'xy'), b'2;Key-0=+.:_~"\'()*,;<>[]\r\n'),
])
def test_format_chunk_valid(chunk, expected):
    got = format_chunk(chunk)
    assert type(got) is bytes
    assert got == expected
    # What we render, we parse back.
    assert parse_chunk(got[:-2]) == (len(chunk[1]), chunk[0])


def test_format_chunk_max_size():
    data = b'x' * MAX_IO_SIZE
    assert format_chunk((None, data)) == b'1000000\r\n'
    assert format_chunk((('k', 'v'), data)) == b'1000000;k=v\r\n'
    data += b'x'
    check_error(ValueError, 'need len(chunk[1]) <= 16777216; got 16777217',
                format_chunk, (None, data))


@pytest.mark.parametrize('chunk', [
    [None, b''], None, b'', 'x', MyTuple((None, b'')), {None: b''},
])
def test_format_chunk_type(chunk):
    check_error(TypeError, TYPE_ERROR2.format('chunk', tuple, type(chunk)),
                format_chunk, chunk)


@pytest.mark.parametrize('chunk', [
    (), (None,), (b'',), (None, b'', b''), (None, b'', None, b''),
])
def test_format_chunk_arity(chunk):
    check_error(ValueError,
                'chunk: need a 2-tuple; got a {}-tuple'.format(len(chunk)),
                format_chunk, chunk)


@pytest.mark.parametrize('ext', [
    ['k', 'v'], 'k=v', b'k=v', 0, MyTuple(('k', 'v')), {'k': 'v'},
])
def test_format_chunk_extension_type(ext):
    check_error(TypeError, TYPE_ERROR2.format('chunk[0]', tuple, type(ext)),
                format_chunk, (ext, b''))


@pytest.mark.parametrize('ext', [(), ('k',), ('k', 'v', 'w')])
def test_format_chunk_extension_arity(ext):
    check_error(ValueError,
                'chunk[0]: need a 2-tuple; got a {}-tuple'.format(len(ext)),
                format_chunk, (ext, b''))


@pytest.mark.parametrize('key', [
    '', 'k k', 'k=', 'k;', 'k_', 'k.', 'caf\u00e9', '\r\n', b'k', 1, None,
    MyStr('k'),
])
def test_format_chunk_bad_extension_key(key):
    check_error(ValueError, 'bad chunk extension key: {!r}'.format(key),
                format_chunk, ((key, 'v'), b''))


@pytest.mark.parametrize('value', [
    '', 'v w', 'v=w', 'a/b', '%', 'a?b', 'a&b', '\r\n', 'v\n', 'caf\u00e9',
    b'v', 1, None, MyStr('v'),
])
def test_format_chunk_bad_extension_value(value):
    check_error(ValueError, 'bad chunk extension value: {!r}'.format(value),
                format_chunk, (('k', value), b''))


def test_format_chunk_extension_key_before_value():
    check_error(ValueError, "bad chunk extension key: ''",
                format_chunk, (('', ''), b''))


@pytest.mark.parametrize('data', [
    bytearray(b'x'), 'x', None, memoryview(b'x'), 0, [],
])
def test_format_chunk_data_type(data):
    check_error(TypeError, TYPE_ERROR2.format('chunk[1]', bytes, type(data)),
                format_chunk, (None, data))


def test_format_chunk_check_order():
    # Extension before data.
    check_error(TypeError, TYPE_ERROR2.format('chunk[0]', tuple, list),
                format_chunk, (['k', 'v'], 'not bytes'))
    check_error(ValueError, "bad chunk extension value: ''",
                format_chunk, (('k', ''), None))


# ---------------------------------------------------------------------------
# Every call is checked in full (the remembered fast path is degu.caches).

def test_key_checks_not_skipped_after_a_good_render():
    assert render_response(200, 'OK', {'x': 'v'}) == b'HTTP/1.1 200 OK\r\nx: v\r\n\r\n'
    # A str subclass equal to a key seen before is still refused.
    check_both(TypeError, TYPE_ERROR.format('key', str, MyStr, MyStr('x')),
               {MyStr('x'): 'v'})
    # And the value of a known key is still checked.
    check_both(ValueError, "bad val: 'a\\r\\nb'", {'x': 'a\r\nb'})


def test_many_distinct_keys():
    for i in range(0, 1500, 20):
        headers = {'k{}'.format(j): 'v' for j in range(i, i + 20)}
        out = render_response(200, 'OK', headers)
        assert out.count(b': v\r\n') == 20
    check_both(ValueError, "bad key: 'K1'", {'K1': 'v'})
    check_both(ValueError, 'key is too long: {!r}'.format('k' * 65), {'k' * 65: 'v'})


# ---------------------------------------------------------------------------
# Structured values and the header set: the parser's rules on output

@pytest.mark.parametrize('key, value', [
    ('content-length', 'abc'),
    ('content-length', -1),
    ('content-length', '012'),
    ('content-length', 1.0),
    ('content-length', 10 ** 16),
    ('transfer-encoding', 'gzip'),
    ('transfer-encoding', 'chunked, gzip'),
    ('range', 'bytes=5-4'),
    ('range', 'bytes=01-'),
    ('content-range', 'bytes 5-4/10'),
    ('content-range', 'bytes */x'),
])
def test_structured_values_must_parse(key, value):
    text = str(value)
    headers = {key: value}
    check_error(ValueError, 'bad val: {!r}'.format(text),
                render_response, 200, 'OK', headers)
    with pytest.raises(ValueError) as cm:
        render_request('POST', '/', {key: value})
    assert str(cm.value) == 'bad val: {!r}'.format(text)
    # The parser's own message is kept as the cause (a mypyc build does not
    # record causes).
    assert type(cm.value) is ValueError
    if cm.value.__cause__ is not None:
        assert isinstance(cm.value.__cause__, ProtocolError)


@pytest.mark.parametrize('method, headers, message', [
    ('GET', {'content-length': 3},
     "'GET' request with a 'content-length' header"),
    ('HEAD', {'transfer-encoding': 'chunked'},
     "'HEAD' request with a 'transfer-encoding' header"),
    ('DELETE', {'content-length': 7},
     "'DELETE' request with a 'content-length' header"),
    ('GET', {'content-range': 'bytes */3'},
     "request cannot include a 'content-range' header"),
    ('PUT', {'range': 'bytes=0-1', 'content-length': 1},
     'cannot include range header and content-length/transfer-encoding'),
    ('PUT', {'content-length': 1, 'transfer-encoding': 'chunked'},
     'cannot have both content-length and transfer-encoding headers'),
])
def test_request_header_set_rules(method, headers, message):
    check_error(ValueError, message, render_request, method, '/', headers)


def test_request_content_length_zero_on_bodyless_method():
    # What the parser tolerates, the renderer renders.
    assert render_request('DELETE', '/', {'content-length': 0}) == (
        b'DELETE / HTTP/1.1\r\ncontent-length: 0\r\n\r\n'
    )


@pytest.mark.parametrize('headers, message', [
    ({'range': 'bytes=0-1'}, "response cannot include a 'range' header"),
    ({'content-length': 1, 'transfer-encoding': 'chunked'},
     'cannot have both content-length and transfer-encoding headers'),
])
def test_response_header_set_rules(headers, message):
    check_error(ValueError, message, render_response, 200, 'OK', headers)


def test_rendered_output_parses():
    # A few whole messages, each parsed back to what was rendered.
    out = render_response(206, 'Partial Content', {
        'content-range': ContentRange(0, 5, 10), 'content-length': 5,
        'content-security-policy-report-only': "default-src 'self'",
        'x-' + 'n' * 62: '{"a": [1, 2]} | ~`^',
    })
    assert parse_response(out[:-4])[2]['x-' + 'n' * 62] == '{"a": [1, 2]} | ~`^'
    out = render_request('GET', '/a%20b/c?d=%2F', {'range': Range(-10, None)})
    assert parse_request(out[:-4]) == (
        'GET', '/a%20b/c?d=%2F', {'range': Range(-10, None)}, ['a%20b', 'c'], 'd=%2F'
    )
