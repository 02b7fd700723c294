"""Tests for degu.tables: the byte tables of SPEC §3.

Every table is recomposed here from the primitive sets as *the spec spells
them* (not imported from the module), so a typo in degu.tables shows up as
a membership difference naming the stray or missing bytes.
"""

from typing import FrozenSet

import pytest

from degu import tables

# The seven primitive sets, copied from SPEC §3.
LOWER = frozenset(b'-0123456789abcdefghijklmnopqrstuvwxyz')
UPPER = frozenset(b'ABCDEFGHIJKLMNOPQRSTUVWXYZ')
URI = frozenset(b'/?')
PATH = frozenset(b'+.:_~')
QUERY = frozenset(b'%&=')
SPACE = frozenset(b' ')
VALUE = frozenset(b'"\'()*,;<>[]')

SPEC_PRIMITIVES = {
    '_LOWER': LOWER,
    '_UPPER': UPPER,
    '_URI': URI,
    '_PATH': PATH,
    '_QUERY': QUERY,
    '_SPACE': SPACE,
    '_VALUE': VALUE,
}


def union(*parts: FrozenSet[int]) -> FrozenSet[int]:
    out: FrozenSet[int] = frozenset()
    for part in parts:
        out = out | part
    return out


# Table name -> membership per the composition column of SPEC §3.
EXPECTED = {
    'NAME': union(LOWER, UPPER),
    'KEY': LOWER,
    'VAL': union(LOWER, UPPER, PATH, QUERY, URI, SPACE, VALUE),
    'URI': union(LOWER, UPPER, PATH, QUERY, URI),
    'PATH': union(LOWER, UPPER, PATH),
    'QUERY': union(LOWER, UPPER, PATH, QUERY),
    'REASON': union(LOWER, UPPER, SPACE),
    'EXTKEY': union(LOWER, UPPER),
    'EXTVAL': union(LOWER, UPPER, PATH, VALUE),
    'DECIMAL': frozenset(b'0123456789'),
    'HEXADECIMAL': frozenset(b'0123456789ABCDEFabcdef'),
}

ALL_BYTES = frozenset(range(256))


def describe(members: FrozenSet[int]) -> bytes:
    return bytes(sorted(members))


def test_primitive_sizes():
    assert len(LOWER) == 37
    assert len(UPPER) == 26
    assert len(URI) == 2
    assert len(PATH) == 5
    assert len(QUERY) == 3
    assert len(SPACE) == 1
    assert len(VALUE) == 11


def test_spec_primitives_are_pairwise_disjoint():
    names = sorted(SPEC_PRIMITIVES)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            common = SPEC_PRIMITIVES[a] & SPEC_PRIMITIVES[b]
            assert not common, (a, b, describe(common))


@pytest.mark.parametrize('name', sorted(SPEC_PRIMITIVES))
def test_module_primitive_matches_spec(name):
    value = getattr(tables, name)
    assert type(value) is bytes
    # No byte listed twice inside one primitive.
    assert len(value) == len(set(value)), value
    assert frozenset(value) == SPEC_PRIMITIVES[name], (
        describe(frozenset(value) ^ SPEC_PRIMITIVES[name])
    )


def test_module_primitives_tuple_pairwise_disjoint():
    prims = tables.PRIMITIVES
    assert len(prims) == 7
    seen: FrozenSet[int] = frozenset()
    for prim in prims:
        assert not (frozenset(prim) & seen), prim
        seen = seen | frozenset(prim)
    assert seen == union(*SPEC_PRIMITIVES.values())


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_table_membership(name):
    table = getattr(tables, name)
    assert type(table) is frozenset
    expected = EXPECTED[name]
    missing = expected - table
    extra = table - expected
    assert not missing, describe(missing)
    assert not extra, describe(extra)
    assert table == expected


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_bytes_string_equals_frozenset(name):
    as_bytes = getattr(tables, name + '_BYTES')
    assert type(as_bytes) is bytes
    # No duplicates, so len() matches and translate() deletes exactly these.
    assert len(as_bytes) == len(set(as_bytes))
    assert frozenset(as_bytes) == getattr(tables, name)
    assert frozenset(as_bytes) == EXPECTED[name]
    # The parser's validation idiom: translate deletes exactly the members.
    everything = bytes(range(256))
    assert frozenset(everything.translate(None, as_bytes)) == (
        ALL_BYTES - EXPECTED[name]
    )


@pytest.mark.parametrize('name, size', [
    ('NAME', 63),
    ('KEY', 37),
    ('VAL', 85),
    ('URI', 73),
    ('PATH', 68),
    ('QUERY', 71),
    ('REASON', 64),
    ('EXTKEY', 63),
    ('EXTVAL', 79),
    ('DECIMAL', 10),
    ('HEXADECIMAL', 22),
])
def test_table_sizes(name, size):
    assert len(getattr(tables, name)) == size


def test_key_chars():
    assert type(tables.KEY_CHARS) is str
    assert frozenset(tables.KEY_CHARS.encode('ascii')) == EXPECTED['KEY']
    assert len(tables.KEY_CHARS) == 37


# SPEC §3: "header values cannot hold any of !#$@\^`{|}, tab or bytes >= 0x80".
VAL_EXCLUSIONS = b'!#$@\\^`{|}\t'


@pytest.mark.parametrize('byte', list(VAL_EXCLUSIONS))
def test_val_exclusions(byte):
    assert byte not in tables.VAL
    assert byte not in tables.VAL_BYTES


def test_nothing_high_or_control_in_any_table():
    high = frozenset(range(0x80, 0x100))
    control = frozenset(range(0x00, 0x20)) | {0x7F}
    for name in EXPECTED:
        table = getattr(tables, name)
        assert not (table & high), name
        assert not (table & control), name


def test_val_is_printable_ascii_minus_exclusions():
    # Every printable ASCII byte is in VAL except the listed exclusions.
    printable = frozenset(range(0x20, 0x7F))
    assert tables.VAL == printable - frozenset(b'!#$@\\^`{|}')


@pytest.mark.parametrize('byte', list(b".'"))
def test_reason_exclusions(byte):
    assert byte not in tables.REASON


def test_path_excludes_percent_and_separators():
    for byte in b'%/?&=':
        assert byte not in tables.PATH
    assert ord('%') in tables.QUERY
    assert ord('%') in tables.URI


def test_key_is_lowercase_only():
    for byte in b'ABCDEFGHIJKLMNOPQRSTUVWXYZ':
        assert byte not in tables.KEY
        assert byte in tables.NAME


def test_subset_relations():
    t = tables
    assert t.KEY < t.NAME
    assert t.NAME == t.EXTKEY
    assert t.PATH < t.QUERY < t.URI < t.VAL
    assert t.REASON < t.VAL
    assert t.EXTVAL < t.VAL
    assert t.DECIMAL < t.HEXADECIMAL
    assert t.DECIMAL < t.KEY
    # URI has the separators that PATH and QUERY must not.
    assert ord('/') in t.URI and ord('/') not in t.QUERY
    assert ord('?') in t.URI and ord('?') not in t.QUERY
    # EXTVAL has no '=', so 'k=v' splits the same way at any '='.
    assert ord('=') not in t.EXTVAL
    assert ord(' ') not in t.EXTVAL
