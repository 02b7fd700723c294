# SPDX-License-Identifier: LGPL-3.0-or-later
"""Tests for degu.parsing: every rule of the grammar as tables of cases.

Each invalid case names the exact message and the exact ProtocolError class
(so the HTTP status a server answers with).  The number parsers get the
inputs Python's ``int()`` happily accepts but the grammar forbids (sign,
whitespace, underscores, non-ASCII digits, ``0x`` prefix, leading zeros, too
many digits).
"""

import os
import subprocess
import sys

import pytest

from degu import parsing
from degu.errors import (
    TYPE_ERROR,
    ContentTooLargeError,
    HeadersTooLargeError,
    ProtocolError,
    UnsupportedError,
    URITooLongError,
    VersionError,
)
from degu.limits import MAX_LENGTH, MAX_URI_LEN
from degu.parsing import (
    parse_chunk,
    parse_chunk_extension,
    parse_chunk_size,
    parse_content_length,
    parse_content_range,
    parse_header_name,
    parse_headers,
    parse_method,
    parse_range,
    parse_request,
    parse_request_line,
    parse_response,
    parse_response_line,
    parse_uri,
)
from degu.ranges import ContentRange, Range

# Digits int() accepts but HTTP does not: ARABIC-INDIC DIGIT ONE/TWO and
# FULLWIDTH DIGIT ONE, encoded as UTF-8.
ARABIC_1 = '\u0661'.encode('utf-8')          # b'\xd9\xa1'
ARABIC_12 = '\u0661\u0662'.encode('utf-8')   # b'\xd9\xa1\xd9\xa2'
FULLWIDTH_1 = '\uff11'.encode('utf-8')       # b'\xef\xbc\x91'
FULLWIDTH_A = '\uff21'.encode('utf-8')       # b'\xef\xbc\xa1'


def check_error(func, src, message, *args, cls=ProtocolError):
    """Assert ``func(src, *args)`` raises exactly *cls* with exactly *message*."""
    with pytest.raises(ValueError) as cm:
        func(src, *args)
    assert str(cm.value) == message
    assert type(cm.value) is cls


def test_int_accepts_what_we_refuse():
    # Guard for the premise of the traps below: int() alone is too lenient.
    for src in (b'+5', b' 5', b'5 ', b'1_0', ARABIC_12, FULLWIDTH_1, b'017'):
        int(src.decode('utf-8'))
    assert int(b'0x1', 16) == 1
    assert int(b'1_0', 16) == 16


# ---------------------------------------------------------------------------
# §10.10 parse_method

@pytest.mark.parametrize('src, expected', [
    (b'GET', ('GET', 1)),
    (b'PUT', ('PUT', 2)),
    (b'POST', ('POST', 4)),
    (b'HEAD', ('HEAD', 8)),
    (b'DELETE', ('DELETE', 16)),
    ('GET', ('GET', 1)),
    ('PUT', ('PUT', 2)),
    ('POST', ('POST', 4)),
    ('HEAD', ('HEAD', 8)),
    ('DELETE', ('DELETE', 16)),
])
def test_parse_method_valid(src, expected):
    got = parse_method(src)
    assert got == expected
    assert type(got[0]) is str


@pytest.mark.parametrize('src', [
    # Well-formed tokens naming another method: 501.  (Methods are
    # case-sensitive, so b'get' is another method.)
    b'get', b'Get', b'GETT', b'GE', b'OPTIONS', b'PATCH', b'TRACE', b'CONNECT',
    b'PROPFIND', b'M-SEARCH', b'X!#$%&*+.^_`|~',
])
def test_parse_method_unsupported(src):
    check_error(parse_method, src, 'bad HTTP method: {!r}'.format(src),
                cls=UnsupportedError)


@pytest.mark.parametrize('src', [
    b'', b'GET ', b' GET', b'G\xc3\x89T', b'GET\x00', b'GET/', b'G:T', b'(GET)',
    b'GET\r\n',
])
def test_parse_method_garbage(src):
    check_error(parse_method, src, 'bad HTTP method: {!r}'.format(src))


@pytest.mark.parametrize('src', ['', 'get', 'Put', 'OPTIONS', 'GET ', b'GET'.decode()[:2]])
def test_parse_method_str_is_the_callers(src):
    # A str comes from an app, not from the wire: a plain ValueError.
    check_error(parse_method, src, 'bad HTTP method: {!r}'.format(src), cls=ValueError)


@pytest.mark.parametrize('src', [None, 1, bytearray(b'GET'), ['GET']])
def test_parse_method_other_types(src):
    check_error(parse_method, src, 'bad HTTP method: {!r}'.format(src), cls=ValueError)


# ---------------------------------------------------------------------------
# parse_uri

VALID_URIS = [
    (b'/', [], None),
    (b'/?', [], ''),
    (b'/foo', ['foo'], None),
    (b'/foo?', ['foo'], ''),
    (b'/foo/', ['foo', ''], None),
    (b'/foo/bar/?stuff=junk', ['foo', 'bar', ''], 'stuff=junk'),
    (b'/hello..world', ['hello..world'], None),
    (b'/...', ['...'], None),
    (b'/a..', ['a..'], None),
    (b'/..a', ['..a'], None),
    (b'/.a/', ['.a', ''], None),
    (b'/a+b.c:d_e~f', ['a+b.c:d_e~f'], None),
    (b'/A-Z/0-9', ['A-Z', '0-9'], None),
    # Every pchar: unreserved, sub-delims, ':' and '@'.
    (b"/!$&'()*+,;=:@-._~", ["!$&'()*+,;=:@-._~"], None),
    (b'/a=b/c&d', ['a=b', 'c&d'], None),
    # Escapes: exactly two hex digits, either case, left undecoded.
    (b'/%7e', ['%7e'], None),
    (b'/%7E%7e', ['%7E%7e'], None),
    (b'/foo%20bar', ['foo%20bar'], None),
    (b'/caf%C3%A9/%41', ['caf%C3%A9', '%41'], None),
    (b'/%2e%2e%2e', ['%2e%2e%2e'], None),
    (b'/a.%2e', ['a.%2e'], None),
    (b'/%25', ['%25'], None),
    (b'/%3F%23', ['%3F%23'], None),
    # The query: pchar, '/' and '?', escapes checked but not decoded.
    (b'/?%20&=', [], '%20&='),
    (b'/foo?q=a+b', ['foo'], 'q=a+b'),
    (b'/foo?a=1&b=2', ['foo'], 'a=1&b=2'),
    (b'/foo?..', ['foo'], '..'),
    (b'/foo?a?b', ['foo'], 'a?b'),
    (b'/foo?bar/baz', ['foo'], 'bar/baz'),
    (b'/foo?a//b', ['foo'], 'a//b'),
    (b'/??', [], '?'),
    (b'/?q=%2F%2e%00', [], 'q=%2F%2e%00'),
    (b"/?!$&'()*+,;=:@", [], "!$&'()*+,;=:@"),
]


@pytest.mark.parametrize('src, path, query', VALID_URIS)
def test_parse_uri_valid(src, path, query):
    got = parse_uri(src)
    assert got == (src.decode(), [], path, query)
    assert type(got[0]) is str
    assert all(type(c) is str for c in got[2])


def test_parse_uri_new_mount_list():
    a = parse_uri(b'/foo')
    b = parse_uri(b'/foo')
    assert a[1] == [] and b[1] == []
    assert a[1] is not b[1]


BAD_URIS = [
    (b'', 'uri is empty'),
    # Any byte outside URI, anywhere, names the whole URI first.
    (b'/foo bar', "bad bytes in uri: b'/foo bar'"),
    (b'/foo#frag', "bad bytes in uri: b'/foo#frag'"),
    (b'/foo\\bar', "bad bytes in uri: b'/foo\\\\bar'"),
    (b'/caf\xc3\xa9', "bad bytes in uri: b'/caf\\xc3\\xa9'"),
    (b'/foo\x00', "bad bytes in uri: b'/foo\\x00'"),
    (b'/foo\t', "bad bytes in uri: b'/foo\\t'"),
    (b'/foo\r\n', "bad bytes in uri: b'/foo\\r\\n'"),
    (b'/?q=\xff', "bad bytes in uri: b'/?q=\\xff'"),
    (b'//?q=\xff', "bad bytes in uri: b'//?q=\\xff'"),
    (b'/a/..?\x7f', "bad bytes in uri: b'/a/..?\\x7f'"),
    (b'/' + ARABIC_1, "bad bytes in uri: b'/\\xd9\\xa1'"),
    (b'/{x}', "bad bytes in uri: b'/{x}'"),
    (b'/a|b', "bad bytes in uri: b'/a|b'"),
    (b'/[::1]', "bad bytes in uri: b'/[::1]'"),
    (b'/"q"', 'bad bytes in uri: b\'/"q"\''),
    (b'/a^b', "bad bytes in uri: b'/a^b'"),
    (b'/a`b', "bad bytes in uri: b'/a`b'"),
    (b'/<a>', "bad bytes in uri: b'/<a>'"),
    # The path part must start with '/' (no '*', absolute or relative form).
    (b'foo', "path[0:1] != b'/': b'foo'"),
    (b'*', "path[0:1] != b'/': b'*'"),
    (b'http://example.com/', "path[0:1] != b'/': b'http://example.com/'"),
    (b'?foo', "path[0:1] != b'/': b''"),
    (b'foo?/', "path[0:1] != b'/': b'foo'"),
    (b'?', "path[0:1] != b'/': b''"),
    # '//' in the path part only.
    (b'//foo', "b'//' in path: b'//foo'"),
    (b'/foo//bar?q', "b'//' in path: b'/foo//bar'"),
    (b'//', "b'//' in path: b'//'"),
    (b'/foo//', "b'//' in path: b'/foo//'"),
    (b'///foo', "b'//' in path: b'///foo'"),
    (b'//..', "b'//' in path: b'//..'"),
    # '.' and '..' components, literal or escaped.
    (b'/..', "bad path component: b'..'"),
    (b'/foo/../bar', "bad path component: b'..'"),
    (b'/../foo', "bad path component: b'..'"),
    (b'/foo/..', "bad path component: b'..'"),
    (b'/foo/..?x=1', "bad path component: b'..'"),
    (b'/.../..', "bad path component: b'..'"),
    (b'/../a=b', "bad path component: b'..'"),
    (b'/.', "bad path component: b'.'"),
    (b'/./', "bad path component: b'.'"),
    (b'/a/./b', "bad path component: b'.'"),
    (b'/a/.?q', "bad path component: b'.'"),
    (b'/%2e', "bad path component: b'%2e'"),
    (b'/%2E', "bad path component: b'%2E'"),
    (b'/%2e%2E', "bad path component: b'%2e%2E'"),
    (b'/a/.%2e/b', "bad path component: b'.%2e'"),
    (b'/%2e./b', "bad path component: b'%2e.'"),
    # Escapes decoding to a separator or NUL.
    (b'/a%2fb', "bad path component: b'a%2fb'"),
    (b'/a%2F..%2Fb', "bad path component: b'a%2F..%2Fb'"),
    (b'/a%5cb', "bad path component: b'a%5cb'"),
    (b'/%5C', "bad path component: b'%5C'"),
    (b'/a%00', "bad path component: b'a%00'"),
    # Malformed escapes.
    (b'/%', "bad percent-encoding in path component: b'%'"),
    (b'/%/x?y', "bad percent-encoding in path component: b'%'"),
    (b'/a%2', "bad percent-encoding in path component: b'a%2'"),
    (b'/a%zz', "bad percent-encoding in path component: b'a%zz'"),
    (b'/a%g0', "bad percent-encoding in path component: b'a%g0'"),
    (b'/a%%41', "bad percent-encoding in path component: b'a%%41'"),
    (b'/a%+1', "bad percent-encoding in path component: b'a%+1'"),
    (b'/%4', "bad percent-encoding in path component: b'%4'"),
    (b'/ok/%%', "bad percent-encoding in path component: b'%%'"),
    (b'/foo?%', "bad percent-encoding in query: b'%'"),
    (b'/?q=100%', "bad percent-encoding in query: b'q=100%'"),
    (b'/?q=%zz', "bad percent-encoding in query: b'q=%zz'"),
    (b'/?q=%2', "bad percent-encoding in query: b'q=%2'"),
]


@pytest.mark.parametrize('src, message', BAD_URIS)
def test_parse_uri_invalid(src, message):
    check_error(parse_uri, src, message)


def test_parse_uri_length_limit():
    longest = b'/' + b'a' * (MAX_URI_LEN - 1)
    assert parse_uri(longest)[2] == ['a' * (MAX_URI_LEN - 1)]
    for src in (longest + b'a', b'/?' + b'q' * MAX_URI_LEN, b'\xff' * 9000):
        check_error(parse_uri, src,
                    'need len(uri) <= 8192; got {}'.format(len(src)),
                    cls=URITooLongError)


# ---------------------------------------------------------------------------
# parse_request_line

@pytest.mark.parametrize('line, expected', [
    (b'GET / HTTP/1.1', ('GET', '/', [], [], None)),
    (b'PUT /foo HTTP/1.1', ('PUT', '/foo', [], ['foo'], None)),
    (b'POST /foo/ HTTP/1.1', ('POST', '/foo/', [], ['foo', ''], None)),
    (b'HEAD /? HTTP/1.1', ('HEAD', '/?', [], [], '')),
    (b'DELETE /a/b?c=d HTTP/1.1',
     ('DELETE', '/a/b?c=d', [], ['a', 'b'], 'c=d')),
    (b'GET /foo/bar/?stuff=junk HTTP/1.1',
     ('GET', '/foo/bar/?stuff=junk', [], ['foo', 'bar', ''], 'stuff=junk')),
    (b'GET /%41 HTTP/1.1', ('GET', '/%41', [], ['%41'], None)),
    (b'GET /?a?b HTTP/1.1', ('GET', '/?a?b', [], [], 'a?b')),
])
def test_parse_request_line_valid(line, expected):
    assert parse_request_line(line) == expected


@pytest.mark.parametrize('line, message, cls', [
    # 1. length
    (b'', "request line too short: b''", ProtocolError),
    (b'GET / HTTP/1.', "request line too short: b'GET / HTTP/1.'", ProtocolError),
    (b'GET /HTTP/1.1', "request line too short: b'GET /HTTP/1.1'", ProtocolError),
    (b'\xff' * 13, 'request line too short: {!r}'.format(b'\xff' * 13), ProtocolError),
    # 2. protocol: another HTTP/d.d is a 505, anything else a 400
    (b'GET / HTTP/1.0', "bad protocol in request line: b' HTTP/1.0'", VersionError),
    (b'GET / HTTP/2.0', "bad protocol in request line: b' HTTP/2.0'", VersionError),
    (b'GET / HTTP/0.9', "bad protocol in request line: b' HTTP/0.9'", VersionError),
    (b'GET / HTTP/1.2', "bad protocol in request line: b' HTTP/1.2'", VersionError),
    (b'GET / http/1.1', "bad protocol in request line: b' http/1.1'", ProtocolError),
    (b'GET / HTTP/1.11', "bad protocol in request line: b'HTTP/1.11'", ProtocolError),
    (b'GET / HTTP/1.1 ', "bad protocol in request line: b'HTTP/1.1 '", ProtocolError),
    (b'GET /\tHTTP/1.1', "bad protocol in request line: b'\\tHTTP/1.1'", ProtocolError),
    (b'GET / HTTP/2.0\r', "bad protocol in request line: b'HTTP/2.0\\r'", ProtocolError),
    (b'GET / HTTP/1.1\r\n', "bad protocol in request line: b'TTP/1.1\\r\\n'",
     ProtocolError),
    (b'GET / HTTP/a.b', "bad protocol in request line: b' HTTP/a.b'", ProtocolError),
    (b'GET / HTTP/1-1', "bad protocol in request line: b' HTTP/1-1'", ProtocolError),
    (b'GET /abc HTTP/2', "bad protocol in request line: b'bc HTTP/2'", ProtocolError),
    # 3. no ' /' (so no '*', absolute or relative target)
    (b'GET foo HTTP/1.1', "bad request line: b'GET foo HTTP/1.1'", ProtocolError),
    (b'GET\t/ HTTP/1.1', "bad request line: b'GET\\t/ HTTP/1.1'", ProtocolError),
    (b'GET HTTP/1.1 HTTP/1.1', "bad request line: b'GET HTTP/1.1 HTTP/1.1'",
     ProtocolError),
    (b'OPTIONS * HTTP/1.1', "bad request line: b'OPTIONS * HTTP/1.1'", ProtocolError),
    (b'GET http://h/ HTTP/1.1', "bad request line: b'GET http://h/ HTTP/1.1'",
     ProtocolError),
    # 4. method: another token is a 501, anything else a 400
    (b'get / HTTP/1.1', "bad HTTP method: b'get'", UnsupportedError),
    (b'OPTIONS / HTTP/1.1', "bad HTTP method: b'OPTIONS'", UnsupportedError),
    (b'PATCH /x HTTP/1.1', "bad HTTP method: b'PATCH'", UnsupportedError),
    (b'GET/ /xxx HTTP/1.1', "bad HTTP method: b'GET/'", ProtocolError),
    (b' GET / HTTP/1.1', "bad HTTP method: b' GET'", ProtocolError),
    (b'GET  / HTTP/1.1', "bad HTTP method: b'GET '", ProtocolError),
    (b'  /foo HTTP/1.1', "bad HTTP method: b' '", ProtocolError),
    (b'G\xc3\x89T / HTTP/1.1', "bad HTTP method: b'G\\xc3\\x89T'", ProtocolError),
    # 5. URI
    (b'GET /foo//bar HTTP/1.1', "b'//' in path: b'/foo//bar'", ProtocolError),
    (b'GET // HTTP/1.1', "b'//' in path: b'//'", ProtocolError),
    (b'GET /foo bar HTTP/1.1', "bad bytes in uri: b'/foo bar'", ProtocolError),
    (b'GET /foo HTTP/1.1 HTTP/1.1', "bad bytes in uri: b'/foo HTTP/1.1'", ProtocolError),
    (b'GET / / HTTP/1.1', "bad bytes in uri: b'/ /'", ProtocolError),
    (b'GET /.. HTTP/1.1', "bad path component: b'..'", ProtocolError),
    (b'GET /. HTTP/1.1', "bad path component: b'.'", ProtocolError),
    (b'GET /%2e%2e/x HTTP/1.1', "bad path component: b'%2e%2e'", ProtocolError),
    (b'GET /%4 HTTP/1.1', "bad percent-encoding in path component: b'%4'",
     ProtocolError),
    (b'GET /' + b'a' * 8192 + b' HTTP/1.1', 'need len(uri) <= 8192; got 8193',
     URITooLongError),
])
def test_parse_request_line_invalid(line, message, cls):
    check_error(parse_request_line, line, message, cls=cls)


def test_version_checked_before_the_uri_length():
    line = b'GET /' + b'a' * 9000 + b' HTTP/1.0'
    check_error(parse_request_line, line,
                "bad protocol in request line: b' HTTP/1.0'", cls=VersionError)


# ---------------------------------------------------------------------------
# parse_response_line

@pytest.mark.parametrize('line, expected', [
    (b'HTTP/1.1 200 OK', (200, 'OK')),
    (b'HTTP/1.1 100 Continue', (100, 'Continue')),
    (b'HTTP/1.1 404 Not Found', (404, 'Not Found')),
    (b'HTTP/1.1 599 Ab', (599, 'Ab')),
    (b'HTTP/1.1 206 Partial-Content 2', (206, 'Partial-Content 2')),
    (b'HTTP/1.1 200  A', (200, ' A')),
    (b'HTTP/1.1 200 A ', (200, 'A ')),
    (b'HTTP/1.1 301 moved-0', (301, 'moved-0')),
    # Any VCHAR and SP, empty included (and, leniently, no space at all).
    (b'HTTP/1.1 200 O', (200, 'O')),
    (b'HTTP/1.1 200 ', (200, '')),
    (b'HTTP/1.1 200', (200, '')),
    (b'HTTP/1.1 200  ', (200, ' ')),
    (b'HTTP/1.1 200 O.K.', (200, 'O.K.')),
    (b"HTTP/1.1 418 I'm a teapot", (418, "I'm a teapot")),
    (b'HTTP/1.1 200 Not_Found', (200, 'Not_Found')),
    (b'HTTP/1.1 200 a/b', (200, 'a/b')),
    (b'HTTP/1.1 200 !"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~',
     (200, '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~')),
])
def test_parse_response_line_valid(line, expected):
    got = parse_response_line(line)
    assert got == expected
    assert type(got[0]) is int and type(got[1]) is str


@pytest.mark.parametrize('line, message, cls', [
    (b'', "response line too short: b''", ProtocolError),
    (b'HTTP/1.1 20', "response line too short: b'HTTP/1.1 20'", ProtocolError),
    (b'HTTP/1.0 200 OK', "bad response line: b'HTTP/1.0 200 OK'", VersionError),
    (b'HTTP/2.0 200 OK', "bad response line: b'HTTP/2.0 200 OK'", VersionError),
    (b'HTTP/1.0 200', "bad response line: b'HTTP/1.0 200'", VersionError),
    (b'http/1.1 200 OK', "bad response line: b'http/1.1 200 OK'", ProtocolError),
    (b'HTTP/1.1\t200 OK', "bad response line: b'HTTP/1.1\\t200 OK'", ProtocolError),
    (b' HTTP/1.1 200 OK', "bad response line: b' HTTP/1.1 200 OK'", ProtocolError),
    (b'HTTP/1.1 2000 OK', "bad response line: b'HTTP/1.1 2000 OK'", ProtocolError),
    (b'HTTP/1.1 200\tOK', "bad response line: b'HTTP/1.1 200\\tOK'", ProtocolError),
    (b'HTTP/1.1 20 OKAY', "bad response line: b'HTTP/1.1 20 OKAY'", ProtocolError),
    (b'HTTP/1.1  200 OK', "bad response line: b'HTTP/1.1  200 OK'", ProtocolError),
    (b'HTTP/1.x 200 OK', "bad response line: b'HTTP/1.x 200 OK'", ProtocolError),
    (b'HTTP/1.1 099 OK', "bad status: b'099'", ProtocolError),
    (b'HTTP/1.1 000 OK', "bad status: b'000'", ProtocolError),
    (b'HTTP/1.1 600 OK', "bad status: b'600'", ProtocolError),
    (b'HTTP/1.1 999 OK', "bad status: b'999'", ProtocolError),
    (b'HTTP/1.1 +20 OK', "bad status: b'+20'", ProtocolError),
    (b'HTTP/1.1 -20 OK', "bad status: b'-20'", ProtocolError),
    (b'HTTP/1.1  20 OK', "bad status: b' 20'", ProtocolError),
    (b'HTTP/1.1 20  OK', "bad status: b'20 '", ProtocolError),
    (b'HTTP/1.1 2_0 OK', "bad status: b'2_0'", ProtocolError),
    (b'HTTP/1.1 1e2 OK', "bad status: b'1e2'", ProtocolError),
    (b'HTTP/1.1 0x1 OK', "bad status: b'0x1'", ProtocolError),
    (b'HTTP/1.1 ' + ARABIC_1 + b'0 OK', "bad status: b'\\xd9\\xa10'", ProtocolError),
    (b'HTTP/1.1 ' + FULLWIDTH_1 + b' OK', "bad status: b'\\xef\\xbc\\x91'", ProtocolError),
    (b'HTTP/1.1 OK! 200', "bad status: b'OK!'", ProtocolError),
    (b'HTTP/1.1 200 OK\t', "bad reason: b'OK\\t'", ProtocolError),
    (b'HTTP/1.1 200 \t', "bad reason: b'\\t'", ProtocolError),
    (b'HTTP/1.1 200 OK\r', "bad reason: b'OK\\r'", ProtocolError),
    (b'HTTP/1.1 200 OK\r\n', "bad reason: b'OK\\r\\n'", ProtocolError),
    (b'HTTP/1.1 200 caf\xc3\xa9', "bad reason: b'caf\\xc3\\xa9'", ProtocolError),
    (b'HTTP/1.1 200 O\x00K', "bad reason: b'O\\x00K'", ProtocolError),
    (b'HTTP/1.1 200 O\x7fK', "bad reason: b'O\\x7fK'", ProtocolError),
])
def test_parse_response_line_invalid(line, message, cls):
    check_error(parse_response_line, line, message, cls=cls)


# ---------------------------------------------------------------------------
# parse_header_name

@pytest.mark.parametrize('src, expected', [
    (b'k', 'k'),
    (b'K', 'k'),
    (b'Content-Length', 'content-length'),
    (b'X-0123456789', 'x-0123456789'),
    (b'-', '-'),
    (b'A' * 32, 'a' * 32),
    (b'Content-Security-Policy-Report-Only', 'content-security-policy-report-only'),
    (b'A' * 64, 'a' * 64),
])
def test_parse_header_name_valid(src, expected):
    assert parse_header_name(src) == expected


@pytest.mark.parametrize('src, message, cls', [
    (b'', 'header name is empty', ProtocolError),
    (b'A' * 65, 'header name too long: {!r}...'.format(b'A' * 64), HeadersTooLargeError),
    (b'\xff' * 70, 'header name too long: {!r}...'.format(b'\xff' * 64),
     HeadersTooLargeError),
    (b'Foo ', "bad bytes in header name: b'Foo '", ProtocolError),
    (b'Foo_Bar', "bad bytes in header name: b'Foo_Bar'", ProtocolError),
    (b'Foo.Bar', "bad bytes in header name: b'Foo.Bar'", ProtocolError),
    (b'Foo:', "bad bytes in header name: b'Foo:'", ProtocolError),
    (b'Foo\tBar', "bad bytes in header name: b'Foo\\tBar'", ProtocolError),
    (b'caf\xc3\xa9', "bad bytes in header name: b'caf\\xc3\\xa9'", ProtocolError),
    (b'\x00', "bad bytes in header name: b'\\x00'", ProtocolError),
    (b'X!', "bad bytes in header name: b'X!'", ProtocolError),
])
def test_parse_header_name_invalid(src, message, cls):
    check_error(parse_header_name, src, message, cls=cls)


# ---------------------------------------------------------------------------
# §4.6 parse_content_length

@pytest.mark.parametrize('src, expected', [
    (b'0', 0),
    (b'1', 1),
    (b'9', 9),
    (b'10', 10),
    (b'1234567890', 1234567890),
    (b'1234567890123456', 1234567890123456),
    (b'9999999999999999', MAX_LENGTH),
])
def test_parse_content_length_valid(src, expected):
    got = parse_content_length(src)
    assert got == expected
    assert type(got) is int


@pytest.mark.parametrize('src', [
    b'',
    b'00',
    b'01',
    b'017',
    b'0000000000000001',
    b'+1',
    b'+5',
    b'-1',
    b' 5',
    b'5 ',
    b'1_0',
    b'0x1',
    b'0X1',
    b'1.0',
    b'1e3',
    b'a',
    b'A',
    ARABIC_1,
    ARABIC_12,
    FULLWIDTH_1,
    b'1' + ARABIC_1,
    b'\x00',
    b'5\r\n',
    b'1,000',
])
def test_parse_content_length_invalid(src):
    check_error(parse_content_length, src,
                'bad content-length: {!r}'.format(src))


@pytest.mark.parametrize('src, cls', [
    # More than 16 digits: a length Degu does not accept (413).
    (b'1' * 17, ContentTooLargeError),
    (b'12345678901234567', ContentTooLargeError),
    (b'10000000000000000', ContentTooLargeError),
    (b'0' * 17, ContentTooLargeError),
    # More than 16 bytes that are not all digits: garbage (400).
    (b'+' + b'1' * 16, ProtocolError),
    (ARABIC_1 * 9, ProtocolError),
    (b'1' * 16 + b' ', ProtocolError),
])
def test_parse_content_length_too_long(src, cls):
    check_error(parse_content_length, src,
                'content-length too long: {!r}...'.format(src[:16]), cls=cls)


# ---------------------------------------------------------------------------
# parse_range

@pytest.mark.parametrize('src, expected', [
    (b'bytes=0-0', Range(0, 1)),
    (b'bytes=16-16', Range(16, 17)),
    (b'bytes=16-20', Range(16, 21)),
    (b'bytes=0-9999999999999998', Range(0, MAX_LENGTH)),
    (b'bytes=9999999999999998-9999999999999998',
     Range(MAX_LENGTH - 1, MAX_LENGTH)),
    # Open ranges (resume) and suffix ranges (the last N bytes).
    (b'bytes=0-', Range(0, None)),
    (b'bytes=500-', Range(500, None)),
    (b'bytes=9999999999999999-', Range(MAX_LENGTH, None)),
    (b'bytes=-1', Range(-1, None)),
    (b'bytes=-500', Range(-500, None)),
    (b'bytes=-9999999999999999', Range(-MAX_LENGTH, None)),
])
def test_parse_range_valid(src, expected):
    got = parse_range(src)
    assert type(got) is Range
    assert got == expected
    assert str(got) == src.decode()


@pytest.mark.parametrize('src, expected', [
    # Range units are case-insensitive (RFC 9110 section 14.1).
    (b'Bytes=1-5', Range(1, 6)),
    (b'BYTES=-5', Range(-5, None)),
    (b'bYtEs=5-', Range(5, None)),
])
def test_parse_range_unit_any_case(src, expected):
    assert parse_range(src) == expected


@pytest.mark.parametrize('src', [
    # Several ranges: ignored (the whole representation is sent).
    b'bytes=0-0,1-1',
    b'bytes=0-0, 5-9',
    b'bytes=0-,-5',
    b'bytes=,',
    b'Bytes=1-2,3-4',
    # Another unit: ignored.
    b'items=1-5',
    b'none=',
    b'x=anything at all',
    b"!#$%&'*+-.^_`|~=1",
    # Unsatisfiable: ignored.
    b'bytes=-0',
])
def test_parse_range_ignored(src):
    assert parse_range(src) is None


@pytest.mark.parametrize('src', [
    b'',
    b'bytes=',
    b'bytes=-',
    b'bytes=--5',
    b'bytes=-00',
    b'bytes=-01',
    b'bytes=5-4',
    b'bytes=17-16',
    b'bytes=0-9999999999999999',
    b'bytes=9999999999999999-9999999999999999',
    b'bytes=01-5',
    b'bytes=01-',
    b'bytes=1-05',
    b'bytes=00-5',
    b'bytes=+1-5',
    b'bytes=1-+5',
    b'bytes= 1-5',
    b'bytes=1 -5',
    b'bytes=1-5 ',
    b' bytes=1-5',
    b'bytes=1_0-20',
    b'bytes=0x1-5',
    b'bytes=1-2-3',
    b'bytes=' + ARABIC_1 + b'-5',
    b'bytes=1-' + FULLWIDTH_1,
    b'bytes 1-5',
    b'bytes:1-5',
    b'bytes=1-5/10',
    b'bytes=*-5',
    b'bytes=12345678901234567-1',
    b'bytes=1-12345678901234567',
    b'bytes=-12345678901234567',
    b'=1-5',
    b'by tes=1-5',
    b'bytes\t=1-5',
    b'items=1-5\x00',
    b'bytes=0-0,\x7f',
    b'bytes=1-5\xff',
])
def test_parse_range_invalid(src):
    check_error(parse_range, src, 'bad range: {!r}'.format(src))


@pytest.mark.parametrize('src', [
    b'bytes=' + b'1' * 17 + b'-' + b'1' * 16,
    b'bytes=9999999999999998-99999999999999999',
    b'bytes=' + b'0' * 40 + b'-',
])
def test_parse_range_too_long(src):
    assert len(src) >= 40
    check_error(parse_range, src, 'range too long: {!r}...'.format(src[:39]))


# ---------------------------------------------------------------------------
# §4.8 parse_content_range

@pytest.mark.parametrize('src, expected', [
    (b'bytes 0-0/1', ContentRange(0, 1, 1)),
    (b'bytes 16-16/23', ContentRange(16, 17, 23)),
    (b'bytes 0-9/10', ContentRange(0, 10, 10)),
    (b'bytes 0-9999999999999998/9999999999999999',
     ContentRange(0, MAX_LENGTH, MAX_LENGTH)),
    (b'bytes 9999999999999998-9999999999999998/9999999999999999',
     ContentRange(MAX_LENGTH - 1, MAX_LENGTH, MAX_LENGTH)),
])
def test_parse_content_range_valid(src, expected):
    got = parse_content_range(src)
    assert type(got) is ContentRange
    assert got == expected
    assert str(got) == src.decode()


@pytest.mark.parametrize('src, expected', [
    # The unsatisfied-range of a 416: kept as the str.
    (b'bytes */10', 'bytes */10'),
    (b'bytes */0', 'bytes */0'),
    (b'bytes */9999999999999999', 'bytes */9999999999999999'),
    (b'Bytes */7', 'bytes */7'),
])
def test_parse_content_range_unsatisfied(src, expected):
    got = parse_content_range(src)
    assert type(got) is str
    assert got == expected


def test_parse_content_range_unit_any_case():
    assert parse_content_range(b'BYTES 0-0/1') == ContentRange(0, 1, 1)


@pytest.mark.parametrize('src', [
    b'',
    b'bytes 0-0/',
    b'bytes 0-0',
    b'bytes 0-0/0',
    b'bytes 1-1/1',
    b'bytes 0-10/10',
    b'bytes 5-4/10',
    b'bytes 0-1/*',
    b'bytes */*',
    b'bytes */',
    b'bytes */01',
    b'bytes * /10',
    b'bytes *//10',
    b'bytes */-1',
    b'items 0-0/1',
    b'bytes',
    b' bytes 0-0/1',
    b'bytes 0-9/10000000000000000',
    b'bytes=0-0/1',
    b'bytes  0-0/1',
    b'bytes 00-0/1',
    b'bytes 0-00/1',
    b'bytes 0-0/01',
    b'bytes 0-0/+1',
    b'bytes +0-0/1',
    b'bytes 0-0/1/2',
    b'bytes 0-0-1/2',
    b'bytes 0-0/1 ',
    b'bytes 0-0 /1',
    b'bytes 0_0-1/2',
    b'bytes 0x0-1/2',
    b'bytes 0-1/' + ARABIC_1,
    b'bytes 0-1/1' + FULLWIDTH_1,
    b'bytes 0-1/-5',
])
def test_parse_content_range_invalid(src):
    check_error(parse_content_range, src,
                'bad content-range: {!r}'.format(src))


@pytest.mark.parametrize('src', [
    b'bytes 9999999999999998-9999999999999998/99999999999999999',
    b'bytes 0-0/1' + b' ' * 46,
    b'\xff' * 57,
])
def test_parse_content_range_too_long(src):
    assert len(src) >= 57
    check_error(parse_content_range, src,
                'content-range too long: {!r}...'.format(src[:56]))


# ---------------------------------------------------------------------------
# parse_headers

@pytest.mark.parametrize('src, isresponse, expected', [
    (b'', False, {}),
    (b'', True, {}),
    (b'K: V', False, {'k': 'V'}),
    (b'K: V', True, {'k': 'V'}),
    (b'Content-Length: 12\r\nX-Thing: foo', False,
     {'content-length': 12, 'x-thing': 'foo'}),
    (b'content-length: 0', False, {'content-length': 0}),
    (b'Content-Length: 0', True, {'content-length': 0}),
    (b'Transfer-Encoding: chunked', False, {'transfer-encoding': 'chunked'}),
    (b'TRANSFER-ENCODING: chunked', True, {'transfer-encoding': 'chunked'}),
    (b'Range: bytes=0-9', False, {'range': Range(0, 10)}),
    (b'Content-Range: bytes 0-0/1', True,
     {'content-range': ContentRange(0, 1, 1)}),
    (b'Content-Range: bytes 0-0/1\r\nContent-Length: 1', True,
     {'content-range': ContentRange(0, 1, 1), 'content-length': 1}),
    (b'Content-Type: text/plain', False, {'content-type': 'text/plain'}),
    # Values are kept verbatim: any VCHAR and inner spaces.
    (b'X-Foo: a: b', False, {'x-foo': 'a: b'}),
    (b'X-Foo: a  b', False, {'x-foo': 'a  b'}),
    (b'X: "\'()*,;<>[]', False, {'x': '"\'()*,;<>[]'}),
    (b'X: /?%&=+.:_~-', False, {'x': '/?%&=+.:_~-'}),
    (b'X: !#$@\\^`{|}~', False, {'x': '!#$@\\^`{|}~'}),
    (b'Cookie: a=b; c="d e"', False, {'cookie': 'a=b; c="d e"'}),
    (b'If-None-Match: W/"xyzzy", "r2d2xxxx"', False,
     {'if-none-match': 'W/"xyzzy", "r2d2xxxx"'}),
    (b'Content-Security-Policy-Report-Only: default-src \'self\'; report-uri /csp', True,
     {'content-security-policy-report-only': "default-src 'self'; report-uri /csp"}),
    (b'X-' + b'n' * 62 + b': v', False, {'x-' + 'n' * 62: 'v'}),
    # Transfer-codings are case-insensitive.
    (b'Transfer-Encoding: Chunked', False, {'transfer-encoding': 'chunked'}),
    (b'Transfer-Encoding: CHUNKED', True, {'transfer-encoding': 'chunked'}),
    # Ranges: open, suffix; unsupported ones are dropped.
    (b'Range: bytes=5-', False, {'range': Range(5, None)}),
    (b'Range: bytes=-5', False, {'range': Range(-5, None)}),
    (b'Range: bytes=0-0,2-3\r\nX: y', False, {'x': 'y'}),
    (b'Range: items=0-3', False, {}),
    (b'Range: bytes=-0', False, {}),
    (b'Content-Range: bytes */5', True, {'content-range': 'bytes */5'}),
    # The dedicated parsers apply by lower-cased name only.
    (b'Content-Lengthy: 01', False, {'content-lengthy': '01'}),
    (b'X-Range: bytes=5-1', False, {'x-range': 'bytes=5-1'}),
    (b'Host: example.com:80', False, {'host': 'example.com:80'}),
    (b'A: 1\r\nB: 2\r\nC: 3', False, {'a': '1', 'b': '2', 'c': '3'}),
])
def test_parse_headers_valid(src, isresponse, expected):
    got = parse_headers(src, isresponse)
    assert got == expected
    assert list(got) == list(expected)
    for key, value in got.items():
        assert type(key) is str
        assert type(value) is type(expected[key])


def test_parse_headers_default_is_request():
    assert parse_headers(b'Range: bytes=0-0') == {'range': Range(0, 1)}
    check_error(parse_headers, b'Content-Range: bytes 0-0/1',
                "request cannot include a 'content-range' header")


@pytest.mark.parametrize('value', [0, 1, None, 'yes', b'', 1.0])
def test_parse_headers_isresponse_type(value):
    with pytest.raises(TypeError) as cm:
        parse_headers(b'K: V', value)
    assert str(cm.value) == TYPE_ERROR.format(
        'isresponse', bool, type(value), value
    )
    # Checked before the (empty) input is looked at.
    with pytest.raises(TypeError):
        parse_headers(b'', value)


BAD_HEADERS = [
    (b'K:V', "header line too short: b'K:V'"),
    (b'K: V\r\n', "header line too short: b''"),
    (b'K: V\r\n\r\nX: Y', "header line too short: b''"),
    (b'\r\nK: V', "header line too short: b''"),
    (b'Foo:bar', "bad header line: b'Foo:bar'"),
    (b'Foo bar', "bad header line: b'Foo bar'"),
    (b'Foo :bar', "bad header line: b'Foo :bar'"),
    (b'Foo:\tbar', "bad header line: b'Foo:\\tbar'"),
    (b'Foo\nBar: x', "bad bytes in header name: b'Foo\\nBar'"),
    (b'K: V\nX: Y', "bad bytes in header value: b'V\\nX: Y'"),
    (b': bar', 'header name is empty'),
    (b'Foo_Bar: x', "bad bytes in header name: b'Foo_Bar'"),
    (b'Foo : x', "bad bytes in header name: b'Foo '"),
    (b' Foo: x', "bad bytes in header name: b' Foo'"),
    (b'Xy: ', 'header value is empty'),
    (b'X:  a', "header value starts or ends with a space: b' a'"),
    (b'X: a ', "header value starts or ends with a space: b'a '"),
    (b'X:  ', "header value starts or ends with a space: b' '"),
    (b'X: a\tb', "bad bytes in header value: b'a\\tb'"),
    (b'X: \ta', "bad bytes in header value: b'\\ta'"),
    (b'X: caf\xc3\xa9', "bad bytes in header value: b'caf\\xc3\\xa9'"),
    (b'X: a\rb', "bad bytes in header value: b'a\\rb'"),
    (b'X: \x00', "bad bytes in header value: b'\\x00'"),
    (b'X: \x7f', "bad bytes in header value: b'\\x7f'"),
    (b'Transfer-Encoding:  chunked', "bad transfer-encoding: b' chunked'"),
    (b'Transfer-Encoding: chunked ', "bad transfer-encoding: b'chunked '"),
    (b'Transfer-Encoding: chunked\x00', "bad transfer-encoding: b'chunked\\x00'"),
    (b'Transfer-Encoding: ', "bad transfer-encoding: b''"),
    (b'Content-Length: +5', "bad content-length: b'+5'"),
    (b'Content-Length:  5', "bad content-length: b' 5'"),
    (b'Content-Length: 1_0', "bad content-length: b'1_0'"),
    (b'Content-Length: ', "bad content-length: b''"),
    (b'Content-Length: 017', "bad content-length: b'017'"),
    (b'Content-Length: ' + ARABIC_12, 'bad content-length: {!r}'.format(ARABIC_12)),
    (b'Range: bytes=5-4', "bad range: b'bytes=5-4'"),
    (b'Range: bytes=0-0, ', "bad range: b'bytes=0-0, '"),
    (b'Content-Range: bytes 0-0/0', "bad content-range: b'bytes 0-0/0'"),
    # Duplicates (any case), reported with the second line.
    (b'K: V\r\nk: W', "duplicate header: b'k: W'"),
    (b'K: V\r\nK: V', "duplicate header: b'K: V'"),
    (b'Content-Length: 1\r\ncontent-length: 1',
     "duplicate header: b'content-length: 1'"),
    (b'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked',
     "duplicate header: b'Transfer-Encoding: chunked'"),
    (b'A: 1\r\nB: 2\r\nA: 3', "duplicate header: b'A: 3'"),
    (b'Range: items=1\r\nRange: bytes=0-1', "duplicate header: b'Range: bytes=0-1'"),
    # Combinations, checked after all lines, in the order of §4.5.
    (b'Content-Length: 1\r\nTransfer-Encoding: chunked',
     'cannot have both content-length and transfer-encoding headers'),
    (b'Transfer-Encoding: chunked\r\nContent-Length: 1',
     'cannot have both content-length and transfer-encoding headers'),
    (b'Range: bytes=0-0\r\nContent-Length: 1\r\nTransfer-Encoding: chunked',
     'cannot have both content-length and transfer-encoding headers'),
    (b'Range: bytes=0-0\r\nContent-Length: 0',
     'cannot include range header and content-length/transfer-encoding'),
    (b'Transfer-Encoding: chunked\r\nRange: bytes=0-0',
     'cannot include range header and content-length/transfer-encoding'),
    (b'Content-Range: bytes 0-0/1',
     "request cannot include a 'content-range' header"),
    (b'Content-Range: bytes 0-0/1\r\nRange: bytes=0-0',
     "request cannot include a 'content-range' header"),
    # An ignored range still counts in the combinations.
    (b'Range: items=1\r\nContent-Length: 0',
     'cannot include range header and content-length/transfer-encoding'),
]


@pytest.mark.parametrize('src, message, cls', [
    (b'Transfer-Encoding: gzip', "bad transfer-encoding: b'gzip'", UnsupportedError),
    (b'Transfer-Encoding: chunked, gzip', "bad transfer-encoding: b'chunked, gzip'",
     UnsupportedError),
    (b'Transfer-Encoding: gzip, chunked', "bad transfer-encoding: b'gzip, chunked'",
     UnsupportedError),
    (b'Transfer-Encoding: identity', "bad transfer-encoding: b'identity'",
     UnsupportedError),
    (b'Content-Length: 12345678901234567',
     "content-length too long: b'1234567890123456'...", ContentTooLargeError),
    (b'X-' + b'n' * 63 + b': v', 'header name too long: {!r}...'.format(b'X-' + b'n' * 62),
     HeadersTooLargeError),
])
@pytest.mark.parametrize('isresponse', [False, True])
def test_parse_headers_error_classes(src, message, cls, isresponse):
    check_error(parse_headers, src, message, isresponse, cls=cls)


@pytest.mark.parametrize('src, message', BAD_HEADERS)
def test_parse_headers_invalid_request(src, message):
    check_error(parse_headers, src, message)
    check_error(parse_headers, src, message, False)


BAD_RESPONSE_HEADERS = [
    (b'Range: bytes=0-0', "response cannot include a 'range' header"),
    (b'Range: items=0-0', "response cannot include a 'range' header"),
    (b'Content-Range: bytes 0-0/1\r\nRange: bytes=0-0',
     "response cannot include a 'range' header"),
    (b'Range: bytes=0-0\r\nContent-Length: 0',
     'cannot include range header and content-length/transfer-encoding'),
    (b'Content-Length: 1\r\nTransfer-Encoding: chunked',
     'cannot have both content-length and transfer-encoding headers'),
    (b'K: V\r\nk: W', "duplicate header: b'k: W'"),
    (b'Xy: ', 'header value is empty'),
]


@pytest.mark.parametrize('src, message', BAD_RESPONSE_HEADERS)
def test_parse_headers_invalid_response(src, message):
    check_error(parse_headers, src, message, True)


def test_parse_headers_every_vchar_and_space():
    for byte in range(0x21, 0x7F):
        src = b'X: a' + bytes([byte]) + b' ' + bytes([byte])
        assert parse_headers(src) == {'x': src[3:].decode()}


def test_parse_headers_refuses_tab_ctl_and_high_bytes():
    for byte in list(range(0x00, 0x20)) + [0x7F] + list(range(0x80, 0x100)):
        if byte in (0x0D, 0x0A):
            continue  # those split lines before the value is looked at
        src = b'X: a' + bytes([byte]) + b'b'
        check_error(parse_headers, src,
                    'bad bytes in header value: {!r}'.format(src[3:]))


# ---------------------------------------------------------------------------
# Whole preambles: parse_request (with the §4.9 framing check) and
# parse_response

@pytest.mark.parametrize('preamble, expected', [
    (b'GET / HTTP/1.1', ('GET', '/', {}, [], None)),
    (b'HEAD /foo HTTP/1.1', ('HEAD', '/foo', {}, ['foo'], None)),
    (b'DELETE /a/b? HTTP/1.1', ('DELETE', '/a/b?', {}, ['a', 'b'], '')),
    (b'GET /foo/bar/?stuff=junk HTTP/1.1\r\nHost: example.com',
     ('GET', '/foo/bar/?stuff=junk', {'host': 'example.com'},
      ['foo', 'bar', ''], 'stuff=junk')),
    (b'GET / HTTP/1.1\r\nRange: bytes=17-19',
     ('GET', '/', {'range': Range(17, 20)}, [], None)),
    (b'PUT /foo HTTP/1.1\r\nContent-Length: 3',
     ('PUT', '/foo', {'content-length': 3}, ['foo'], None)),
    (b'PUT / HTTP/1.1\r\nContent-Length: 0',
     ('PUT', '/', {'content-length': 0}, [], None)),
    (b'POST /?x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nX-Y: z',
     ('POST', '/?x', {'transfer-encoding': 'chunked', 'x-y': 'z'}, [], 'x')),
])
def test_parse_request_valid(preamble, expected):
    assert parse_request(preamble) == expected


@pytest.mark.parametrize('method', ['GET', 'HEAD', 'DELETE'])
def test_parse_request_content_length_zero_on_bodyless_method(method):
    # "No body", said explicitly: tolerated (degu.messages then drops it).
    preamble = method.encode() + b' / HTTP/1.1\r\nX: y\r\nContent-Length: 0'
    assert parse_request(preamble)[2] == {'x': 'y', 'content-length': 0}


@pytest.mark.parametrize('method', ['GET', 'HEAD', 'DELETE'])
@pytest.mark.parametrize('line, name', [
    (b'Content-Length: 17', 'content-length'),
    (b'Transfer-Encoding: chunked', 'transfer-encoding'),
])
def test_parse_request_framing_on_bodyless_method(method, line, name):
    preamble = method.encode() + b' / HTTP/1.1\r\nX: y\r\n' + line
    check_error(parse_request, preamble,
                '{!r} request with a {!r} header'.format(method, name))


def test_parse_request_framing_example():
    check_error(parse_request, b'GET / HTTP/1.1\r\nContent-Length: 1',
                "'GET' request with a 'content-length' header")


@pytest.mark.parametrize('preamble, message', [
    (b'', "request line too short: b''"),
    (b'\r\n', "request line too short: b''"),
    (b'GET / HTTP/1.1\r\n', "header line too short: b''"),
    (b'GET / HTTP/1.1\r\n\r\n', "header line too short: b''"),
    (b'GET / HTTP/1.1 \r\nK: V', "bad protocol in request line: b'HTTP/1.1 '"),
    (b'gEt/ / HTTP/1.1', "bad HTTP method: b'gEt/'"),
    (b'GET / HTTP/1.1\r\nK:V', "header line too short: b'K:V'"),
    (b'GET / HTTP/1.1\r\nContent-Range: bytes 0-0/1',
     "request cannot include a 'content-range' header"),
    (b'PUT / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked',
     'cannot have both content-length and transfer-encoding headers'),
    (b'GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked',
     'cannot have both content-length and transfer-encoding headers'),
    (b'PUT / HTTP/1.1\r\nRange: bytes=0-0\r\nContent-Length: 1',
     'cannot include range header and content-length/transfer-encoding'),
    (b'GET / HTTP/1.1\r\nK: V\r\nK: V', "duplicate header: b'K: V'"),
    (b'GET / HTTP/1.1\nK: V', "bad protocol in request line: b'/1.1\\nK: V'"),
])
def test_parse_request_invalid(preamble, message):
    check_error(parse_request, preamble, message)


@pytest.mark.parametrize('preamble, message, cls', [
    (b'GET / HTTP/1.0\r\nK: V', "bad protocol in request line: b' HTTP/1.0'",
     VersionError),
    (b'get / HTTP/1.1', "bad HTTP method: b'get'", UnsupportedError),
    (b'PATCH / HTTP/1.1\r\nContent-Length: 1', "bad HTTP method: b'PATCH'",
     UnsupportedError),
    (b'POST / HTTP/1.1\r\nTransfer-Encoding: gzip', "bad transfer-encoding: b'gzip'",
     UnsupportedError),
    (b'POST / HTTP/1.1\r\nContent-Length: 99999999999999999',
     "content-length too long: b'9999999999999999'...", ContentTooLargeError),
    (b'GET /' + b'x' * 8192 + b' HTTP/1.1', 'need len(uri) <= 8192; got 8193',
     URITooLongError),
    (b'GET / HTTP/1.1\r\n' + b'X' * 65 + b': v',
     'header name too long: {!r}...'.format(b'X' * 64), HeadersTooLargeError),
])
def test_parse_request_error_classes(preamble, message, cls):
    check_error(parse_request, preamble, message, cls=cls)


@pytest.mark.parametrize('preamble, expected', [
    (b'GET /a HTTP/1.1\r\nRange: bytes=0-1,5-6', ('GET', '/a', {}, ['a'], None)),
    (b'GET /a HTTP/1.1\r\nRange: lines=1-2\r\nX: y',
     ('GET', '/a', {'x': 'y'}, ['a'], None)),
    (b'HEAD /a HTTP/1.1\r\nRange: bytes=-0', ('HEAD', '/a', {}, ['a'], None)),
    (b'GET /a HTTP/1.1\r\nRange: bytes=10-', ('GET', '/a', {'range': Range(10, None)},
                                               ['a'], None)),
])
def test_parse_request_range_forms(preamble, expected):
    assert parse_request(preamble) == expected


@pytest.mark.parametrize('preamble, expected', [
    (b'HTTP/1.1 200 OK', (200, 'OK', {})),
    (b'HTTP/1.1 200 OK\r\nContent-Length: 3', (200, 'OK', {'content-length': 3})),
    (b'HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked',
     (404, 'Not Found', {'transfer-encoding': 'chunked'})),
    (b'HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 16-16/23'
     b'\r\nContent-Length: 1',
     (206, 'Partial Content',
      {'content-range': ContentRange(16, 17, 23), 'content-length': 1})),
    (b'HTTP/1.1 204 No Content\r\nX-Foo: Bar', (204, 'No Content', {'x-foo': 'Bar'})),
])
def test_parse_response_valid(preamble, expected):
    assert parse_response(preamble) == expected


@pytest.mark.parametrize('preamble, message', [
    (b'', "response line too short: b''"),
    (b'HTTP/1.1 200 OK\r\n', "header line too short: b''"),
    (b'HTTP/1.1 200 OK\x7f', "bad reason: b'OK\\x7f'"),
    (b'HTTP/1.1 200 OK\r\nRange: bytes=0-0',
     "response cannot include a 'range' header"),
    (b'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked',
     'cannot have both content-length and transfer-encoding headers'),
    (b'HTTP/1.1 200 OK\r\nK: V\r\nk: V', "duplicate header: b'k: V'"),
    (b'HTTP/1.1 600 OK\r\nK: V', "bad status: b'600'"),
])
def test_parse_response_invalid(preamble, message):
    check_error(parse_response, preamble, message)


# ---------------------------------------------------------------------------
# §4.10 chunks

@pytest.mark.parametrize('src, expected', [
    (b'0', 0),
    (b'1', 1),
    (b'9', 9),
    (b'a', 10),
    (b'A', 10),
    (b'f', 15),
    (b'F', 15),
    (b'10', 16),
    (b'ff', 255),
    (b'FF', 255),
    (b'fF', 255),
    (b'abcdef', 0xABCDEF),
    (b'ABCDEF', 0xABCDEF),
    (b'ffffff', 16777215),
    (b'1000000', 16777216),
])
def test_parse_chunk_size_valid(src, expected):
    got = parse_chunk_size(src)
    assert got == expected
    assert type(got) is int


@pytest.mark.parametrize('src', [
    b'',
    b'00',
    b'01',
    b'0a',
    b'000000',
    b'0000001',
    b'g',
    b'G',
    b'+1',
    b'-1',
    b' 1',
    b'1 ',
    b'1_0',
    b'0x1',
    b'0X1',
    b'x1',
    b'1h',
    ARABIC_1,
    FULLWIDTH_1,
    FULLWIDTH_A,
    b'1\r',
    b'1\r\n',
    b'1;',
    b'\x00',
])
def test_parse_chunk_size_invalid(src):
    check_error(parse_chunk_size, src, 'bad chunk_size: {!r}'.format(src))


@pytest.mark.parametrize('src', [
    b'10000000',
    b'00000001',
    b'fffffffff',
    b'1000000\r\n',
    ARABIC_1 * 4,
])
def test_parse_chunk_size_too_long(src):
    cls = ProtocolError if src.endswith(b'\r\n') or src == ARABIC_1 * 4 else ContentTooLargeError
    check_error(parse_chunk_size, src,
                'chunk_size is too long: {!r}...'.format(src[:7]), cls=cls)


@pytest.mark.parametrize('src, size', [
    (b'1000001', 16777217),
    (b'1000100', 0x1000100),
    (b'fffffff', 268435455),
    (b'FFFFFFF', 268435455),
    (b'2000000', 33554432),
])
def test_parse_chunk_size_too_big(src, size):
    check_error(parse_chunk_size, src,
                'need chunk_size <= 16777216; got {}'.format(size),
                cls=ContentTooLargeError)


@pytest.mark.parametrize('src, expected', [
    (b'k=v', ('k', 'v')),
    (b'key=value', ('key', 'value')),
    (b'Key-0=Value-1', ('Key-0', 'Value-1')),
    (b'k=a;b', ('k', 'a;b')),
    (b'k=+.:_~"\'()*,;<>[]', ('k', '+.:_~"\'()*,;<>[]')),
    (b'foo=bar', ('foo', 'bar')),
])
def test_parse_chunk_extension_valid(src, expected):
    got = parse_chunk_extension(src)
    assert got == expected
    assert type(got[0]) is str and type(got[1]) is str


@pytest.mark.parametrize('src, message', [
    (b'', "bad chunk extension: b''"),
    (b'k', "bad chunk extension: b'k'"),
    (b'k=', "bad chunk extension: b'k='"),
    (b'=v', "bad chunk extension: b'=v'"),
    (b'=', "bad chunk extension: b'='"),
    (b'==', "bad chunk extension: b'=='"),
    (b'k v', "bad chunk extension: b'k v'"),
    (b'k k=v', "bad chunk extension key: b'k k'"),
    (b'k_=v', "bad chunk extension key: b'k_'"),
    (b'k.=v', "bad chunk extension key: b'k.'"),
    (b'k;=v', "bad chunk extension key: b'k;'"),
    (b'\xff=v', "bad chunk extension key: b'\\xff'"),
    (b'k=v=w', "bad chunk extension value: b'v=w'"),
    (b'k==', "bad chunk extension value: b'='"),
    (b'k=v w', "bad chunk extension value: b'v w'"),
    (b'k=%20', "bad chunk extension value: b'%20'"),
    (b'k=a/b', "bad chunk extension value: b'a/b'"),
    (b'k=a?b', "bad chunk extension value: b'a?b'"),
    (b'k=a&b', "bad chunk extension value: b'a&b'"),
    (b'k=\x00', "bad chunk extension value: b'\\x00'"),
    (b'k=v\r\n', "bad chunk extension value: b'v\\r\\n'"),
    (b'k=caf\xc3\xa9', "bad chunk extension value: b'caf\\xc3\\xa9'"),
])
def test_parse_chunk_extension_invalid(src, message):
    check_error(parse_chunk_extension, src, message)


@pytest.mark.parametrize('src, expected', [
    (b'0', (0, None)),
    (b'5', (5, None)),
    (b'c', (12, None)),
    (b'1000000;k=v', (16777216, ('k', 'v'))),
    (b'a;foo=bar', (10, ('foo', 'bar'))),
    (b'5;k=a;b', (5, ('k', 'a;b'))),
    (b'0;Done=Yes', (0, ('Done', 'Yes'))),
])
def test_parse_chunk_valid(src, expected):
    assert parse_chunk(src) == expected


@pytest.mark.parametrize('src, message', [
    (b'', "bad chunk_size: b''"),
    (b';k=v', "bad chunk_size: b''"),
    (b'5 ;k=v', "bad chunk_size: b'5 '"),
    (b'+5', "bad chunk_size: b'+5'"),
    (b'0x5;k=v', "bad chunk_size: b'0x5'"),
    (b'05', "bad chunk_size: b'05'"),
    (b'5;', "bad chunk extension: b''"),
    (b'5;k', "bad chunk extension: b'k'"),
    (b'5;k=', "bad chunk extension: b'k='"),
    (b'5;=v', "bad chunk extension: b'=v'"),
    (b'5; k=v', "bad chunk extension key: b' k'"),
    (b'5;k=v w', "bad chunk extension value: b'v w'"),
    (b'5;k=v=w', "bad chunk extension value: b'v=w'"),
])
def test_parse_chunk_invalid(src, message):
    check_error(parse_chunk, src, message)


@pytest.mark.parametrize('src, message', [
    (b'10000000;k=v', "chunk_size is too long: b'1000000'..."),
    (b'1000001;k=v', 'need chunk_size <= 16777216; got 16777217'),
    (b'1000001;', 'need chunk_size <= 16777216; got 16777217'),
])
def test_parse_chunk_too_large(src, message):
    check_error(parse_chunk, src, message, cls=ContentTooLargeError)


# ---------------------------------------------------------------------------
# Leaving the module's public surface as documented.

def test_public_functions_exist():
    for name in (
        'parse_method', 'parse_uri', 'parse_request_line',
        'parse_response_line', 'parse_header_name', 'parse_content_length',
        'parse_range', 'parse_content_range', 'parse_headers',
        'parse_chunk_size', 'parse_chunk_extension', 'parse_chunk',
        'parse_request', 'parse_response',
    ):
        assert callable(getattr(parsing, name)), name


# ---------------------------------------------------------------------------
# Results are fresh objects, whatever the parser caches internally.

def test_parse_request_results_are_independent():
    preamble = b'GET /a/b?c HTTP/1.1\r\nHost: h'
    first = parse_request(preamble)
    first[3].append('mutated')
    first[2]['host'] = 'mutated'
    del first[3][0]
    second = parse_request(preamble)
    assert second == ('GET', '/a/b?c', {'host': 'h'}, ['a', 'b'], 'c')
    assert second[3] is not first[3]
    assert second[2] is not first[2]


def test_parse_response_results_are_independent():
    preamble = b'HTTP/1.1 200 OK\r\nX: y'
    first = parse_response(preamble)
    first[2]['x'] = 'mutated'
    assert parse_response(preamble) == (200, 'OK', {'x': 'y'})


def test_parse_uri_results_are_independent():
    first = parse_uri(b'/a/b')
    first[2].append('c')
    assert parse_uri(b'/a/b') == ('/a/b', [], ['a', 'b'], None)


def test_many_distinct_names_and_uris():
    # Far more distinct names and URIs than any internal cache holds: every
    # one is still parsed right, and bad ones are still refused afterwards.
    for i in range(1500):
        name = 'X-{}'.format(i).encode()
        preamble = b'GET /p' + str(i).encode() + b' HTTP/1.1\r\n' + name + b': v'
        assert parse_request(preamble) == (
            'GET', '/p{}'.format(i), {name.decode().lower(): 'v'},
            ['p{}'.format(i)], None,
        )
        assert parse_response(b'HTTP/1.1 200 OK\r\n' + name + b': v') == (
            200, 'OK', {name.decode().lower(): 'v'}
        )
    check_error(parse_request, b'GET /p1 HTTP/1.1\r\nX_1: v',
                "bad bytes in header name: b'X_1'")
    check_error(parse_request, b'GET /p1/.. HTTP/1.1',
                "bad path component: b'..'")
    check_error(parse_response, b'HTTP/1.1 200 OK\r\nX-1: v\r\nx-1: v',
                "duplicate header: b'x-1: v'")


@pytest.mark.parametrize('preamble, message', [
    # The same input twice: a cache filled by the first call must not
    # change the second outcome.
    (b'GET /foo HTTP/1.1\r\nFoob', "bad header line: b'Foob'"),
    (b'GET /foo HTTP/1.1\r\nFoo: ', 'header value is empty'),
    (b'GET /foo HTTP/1.1\r\nA: 1\r\na: 2', "duplicate header: b'a: 2'"),
    (b'HEAD /foo HTTP/1.1\r\nContent-Length: 1',
     "'HEAD' request with a 'content-length' header"),
    (b'GET /foo?x HTTP/1.1\r\nContent-Length: 01', "bad content-length: b'01'"),
])
def test_parse_request_errors_repeat(preamble, message):
    for _ in range(3):
        check_error(parse_request, preamble, message)
    # And the valid prefix still parses.
    assert parse_request(preamble.split(b'\r\n')[0])[0] in ('GET', 'HEAD')


# ---------------------------------------------------------------------------
# Under ``python -bb`` comparing bytes with str raises BytesWarning.  The
# parser must never do that comparison (e.g. by keeping b'GET' and 'GET',
# which hash alike, in one dict), or an embedding application running with
# -bb gets a BytesWarning instead of a result or a ValueError.

BB_SCRIPT = '''
from degu.parsing import parse_method, parse_request, parse_response
assert parse_method(b'PUT') == ('PUT', 2)
assert parse_method('PUT') == ('PUT', 2)
for src in (b'put', 'put', b'OPTIONS'):
    try:
        parse_method(src)
    except ValueError:
        pass
    else:
        raise AssertionError(src)
assert parse_request(b'POST /x HTTP/1.1\\r\\nContent-Length: 1')[0] == 'POST'
assert parse_response(b'HTTP/1.1 200 OK')[0] == 200
print('ok')
'''


def test_no_bytes_str_comparison_under_bb():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run(
        [sys.executable, '-bb', '-c', BB_SCRIPT],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, timeout=60,
    )
    assert proc.stderr == ''
    assert proc.stdout == 'ok\n'
    assert proc.returncode == 0
