# SPDX-License-Identifier: LGPL-3.0-or-later
"""degu.limits: every value of SPEC §2, and the relations between them."""

import pytest

from degu import base, limits

# (name, value) straight from SPEC §2.
SPEC_LIMITS = [
    ('BUF_LEN', 32768),
    ('SCRATCH_LEN', 64),
    ('MAX_LINE_LEN', 4096),
    ('MAX_CL_LEN', 16),
    ('MAX_LENGTH', 9999999999999999),
    ('MAX_HEADER_COUNT', 20),
    ('IO_SIZE', 1048576),
    ('MAX_IO_SIZE', 16777216),
    ('BODY_READY', 0),
    ('BODY_STARTED', 1),
    ('BODY_CONSUMED', 2),
    ('BODY_ERROR', 3),
    ('GET_BIT', 1),
    ('PUT_BIT', 2),
    ('POST_BIT', 4),
    ('HEAD_BIT', 8),
    ('DELETE_BIT', 16),
    ('PUT_POST_MASK', 6),
    ('ROUTER_MAX_DEPTH', 10),
]


@pytest.mark.parametrize('name, value', SPEC_LIMITS)
def test_spec_value(name, value):
    assert getattr(limits, name) == value
    assert type(getattr(limits, name)) is int
    # degu.base re-exports the very same constants.
    assert getattr(base, name) == value


@pytest.mark.parametrize('name, value', [
    ('MIN_REQUEST_LINE_LEN', len(b'GET / HTTP/1.1')),
    ('MIN_STATUS_LINE_LEN', len(b'HTTP/1.1 200')),
    ('MIN_HEADER_LINE_LEN', len(b'K: V')),
    ('MAX_RANGE_LEN', len(b'bytes=') + 16 + 1 + 16),
    ('MAX_CONTENT_RANGE_LEN', len(b'bytes ') + 16 + 1 + 16 + 1 + 16),
    ('MAX_CHUNK_SIZE_LEN', 7),
])
def test_derived_lengths(name, value):
    # Each is the length of the shortest/longest valid field, as its comment says.
    assert getattr(limits, name) == value


def test_relations():
    # MAX_LENGTH is the largest number MAX_CL_LEN digits can spell.
    assert limits.MAX_LENGTH == int('9' * limits.MAX_CL_LEN)
    # The largest chunk fits in MAX_CHUNK_SIZE_LEN hex digits.
    assert len('{:x}'.format(limits.MAX_IO_SIZE)) <= limits.MAX_CHUNK_SIZE_LEN
    # Body pieces divide the largest single read evenly.
    assert limits.MAX_IO_SIZE % limits.IO_SIZE == 0
    # The method bits are distinct powers of two.
    bits = [limits.GET_BIT, limits.PUT_BIT, limits.POST_BIT, limits.HEAD_BIT,
            limits.DELETE_BIT]
    assert sorted(bits) == [1 << i for i in range(5)]
    assert limits.PUT_POST_MASK == limits.PUT_BIT | limits.POST_BIT
    # Session limits (SPEC §2 and §10.3).
    assert limits.DEFAULT_SESSION_REQUESTS == 500
    assert limits.MAX_SESSION_REQUESTS == 75000


@pytest.mark.parametrize('name, value', [
    ('MAX_URI_LEN', 8192),
    ('MAX_HEADER_NAME_LEN', 64),
    ('CACHE_MAX', 512),
    ('PREAMBLE_CACHE_LEN', 256),
])
def test_grammar_limits(name, value):
    assert getattr(limits, name) == value


def test_scratch_len_is_the_header_name_limit():
    # The first release's name stays, as an alias (degu.base exports both).
    assert limits.SCRATCH_LEN == limits.MAX_HEADER_NAME_LEN
    assert base.SCRATCH_LEN == base.MAX_HEADER_NAME_LEN == 64


def test_methods_written_once():
    assert limits.METHODS == ('GET', 'PUT', 'POST', 'HEAD', 'DELETE')
    assert limits.METHOD_BITS == {
        'GET': limits.GET_BIT, 'PUT': limits.PUT_BIT, 'POST': limits.POST_BIT,
        'HEAD': limits.HEAD_BIT, 'DELETE': limits.DELETE_BIT,
    }
    assert tuple(limits.METHOD_BITS) == limits.METHODS
    # The body-carrying methods, by their bits.
    assert [m for m in limits.METHODS
            if limits.METHOD_BITS[m] & limits.PUT_POST_MASK] == ['PUT', 'POST']


def test_uri_limit_fits_a_preamble():
    # The longest request line (DELETE, the longest method) fits in BUF_LEN.
    longest = len(b'DELETE ') + limits.MAX_URI_LEN + len(b' HTTP/1.1\r\n\r\n')
    assert longest < limits.BUF_LEN
    # RFC 9112 section 3 recommends request lines of at least 8000 bytes.
    assert limits.MAX_URI_LEN >= 8000


def test_resource_limits():
    # The body deadline: Apache mod_reqtimeout's default MinRate.
    assert limits.MIN_BODY_RATE == 500
    # The pieces of a big read: bigger than the read buffer (a smaller read
    # uses that), doubling up to IO_SIZE exactly.
    assert limits.FIRST_PIECE == 65536
    assert limits.BUF_LEN < limits.FIRST_PIECE <= limits.IO_SIZE
    assert limits.IO_SIZE % limits.FIRST_PIECE == 0
    # A whole 16 MiB body at the minimum rate takes hours, not forever.
    assert limits.MAX_IO_SIZE / limits.MIN_BODY_RATE < 10 * 3600
