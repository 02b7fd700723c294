# SPDX-License-Identifier: LGPL-3.0-or-later
"""Tests for degu.tables: the byte tables and their disjoint primitives.

Every table is spelled out here from the rule it implements (RFC 9110
tchar, RFC 3986 pchar, VCHAR and SP ...), not imported from the module, so a
typo in degu.tables shows up as a membership difference naming the stray or
missing bytes.  The primitives are checked to be pairwise disjoint, to
cover printable ASCII, and to make up every table whole.
"""

from typing import FrozenSet

import pytest

from degu import tables

# The fifteen primitive sets, spelled out here independently of the module.
DIGIT = frozenset(b'0123456789')
HEXLOWER = frozenset(b'abcdef')
LOWER = frozenset(b'ghijklmnopqrstuvwxyz')
DASH = frozenset(b'-')
HEXUPPER = frozenset(b'ABCDEF')
UPPER = frozenset(b'GHIJKLMNOPQRSTUVWXYZ')
MARK = frozenset(b"'*+._~")
SIGN = frozenset(b'!$%&')
PUNCT = frozenset(b'(),:;')
EQUALS_AT = frozenset(b'=@')
SLASH_QUESTION = frozenset(b'/?')
TOKEN_ONLY = frozenset(b'#^`|')
QUOTE_BRACKET = frozenset(b'"<>[]')
VALUE_ONLY = frozenset(b'\\{}')
SPACE = frozenset(b' ')

SPEC_PRIMITIVES = {
    '_DIGIT': DIGIT,
    '_HEXLOWER': HEXLOWER,
    '_LOWER': LOWER,
    '_DASH': DASH,
    '_HEXUPPER': HEXUPPER,
    '_UPPER': UPPER,
    '_MARK': MARK,
    '_SIGN': SIGN,
    '_PUNCT': PUNCT,
    '_EQUALS_AT': EQUALS_AT,
    '_SLASH_QUESTION': SLASH_QUESTION,
    '_TOKEN_ONLY': TOKEN_ONLY,
    '_QUOTE_BRACKET': QUOTE_BRACKET,
    '_VALUE_ONLY': VALUE_ONLY,
    '_SPACE': SPACE,
}


def union(*parts: FrozenSet[int]) -> FrozenSet[int]:
    out: FrozenSet[int] = frozenset()
    for part in parts:
        out = out | part
    return out


ALPHA = union(HEXLOWER, LOWER, HEXUPPER, UPPER)
VCHAR = frozenset(range(0x21, 0x7F))

# Table name -> membership, from the rules each table implements (RFC 9110
# tchar, RFC 3986 pchar, VCHAR ...), not from the module's recipes.
EXPECTED = {
    'DECIMAL': DIGIT,
    'HEXADECIMAL': frozenset(b'0123456789ABCDEFabcdef'),
    'KEY': frozenset(b'-0123456789abcdefghijklmnopqrstuvwxyz'),
    'NAME': union(ALPHA, DIGIT, DASH),
    'TOKEN': union(ALPHA, DIGIT, frozenset(b"!#$%&'*+-.^_`|~")),
    # unreserved, sub-delims, ':' and '@', and '%' (for escapes)
    'PATH': union(ALPHA, DIGIT, frozenset(b"-._~!$&'()*+,;=:@%")),
    'QUERY': union(ALPHA, DIGIT, frozenset(b"-._~!$&'()*+,;=:@%/?")),
    'URI': union(ALPHA, DIGIT, frozenset(b"-._~!$&'()*+,;=:@%/?")),
    'VAL': VCHAR | {0x20},
    'REASON': VCHAR | {0x20},
    'EXTKEY': union(ALPHA, DIGIT, DASH),
    # As in the first release: letters, digits and -+.:_~"'()*,;<>[]
    'EXTVAL': union(ALPHA, DIGIT, frozenset(b'-+.:_~"\'()*,;<>[]')),
}

ALL_BYTES = frozenset(range(256))


def describe(members: FrozenSet[int]) -> bytes:
    return bytes(sorted(members))


def test_primitives_cover_printable_ascii():
    assert sum(len(p) for p in SPEC_PRIMITIVES.values()) == 95
    assert union(*SPEC_PRIMITIVES.values()) == frozenset(range(0x20, 0x7F))


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
    assert len(prims) == 15
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
    ('DECIMAL', 10),
    ('HEXADECIMAL', 22),
    ('KEY', 37),
    ('NAME', 63),
    ('TOKEN', 77),
    ('PATH', 80),
    ('QUERY', 82),
    ('URI', 82),
    ('VAL', 95),
    ('REASON', 95),
    ('EXTKEY', 63),
    ('EXTVAL', 79),
])
def test_table_sizes(name, size):
    assert len(getattr(tables, name)) == size


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_table_is_a_union_of_primitives(name):
    # Every primitive lies wholly inside or wholly outside every table.
    table = getattr(tables, name)
    for (prim_name, prim) in SPEC_PRIMITIVES.items():
        assert prim <= table or not (prim & table), (name, prim_name)


def test_key_chars():
    assert type(tables.KEY_CHARS) is str
    assert frozenset(tables.KEY_CHARS.encode('ascii')) == EXPECTED['KEY']
    assert len(tables.KEY_CHARS) == 37


def test_nothing_high_or_control_in_any_table():
    high = frozenset(range(0x80, 0x100))
    control = frozenset(range(0x00, 0x20)) | {0x7F}
    for name in EXPECTED:
        table = getattr(tables, name)
        assert not (table & high), name
        assert not (table & control), name
        assert ord('\t') not in table, name


def test_val_is_vchar_and_space():
    assert tables.VAL == frozenset(range(0x20, 0x7F))
    assert tables.REASON == tables.VAL
    # What the first release refused and real software sends.
    for byte in b'!#$@\\^`{|}~':
        assert byte in tables.VAL


def test_path_is_pchar():
    # '%' is there for escapes; '/' and '?' separate, so never in a component.
    assert ord('%') in tables.PATH
    for byte in b'/?#[]\\ "<>^`{|}':
        assert byte not in tables.PATH
    assert tables.URI == tables.QUERY == tables.PATH | {ord('/'), ord('?')}


def test_key_is_lowercase_only():
    for byte in b'ABCDEFGHIJKLMNOPQRSTUVWXYZ':
        assert byte not in tables.KEY
        assert byte in tables.NAME
    assert ord('_') not in tables.NAME


def test_subset_relations():
    t = tables
    assert t.KEY < t.NAME < t.TOKEN < t.VAL
    assert t.NAME < t.PATH < t.QUERY < t.VAL
    assert t.NAME == t.EXTKEY
    assert t.EXTVAL < t.VAL
    assert t.DECIMAL < t.HEXADECIMAL < t.NAME
    assert t.DECIMAL < t.KEY
    # EXTVAL has no '=', so 'k=v' splits the same way at any '='.
    assert ord('=') not in t.EXTVAL
    assert ord(' ') not in t.EXTVAL
    # A token never holds a separator of the request line or a header line.
    for byte in b' :/?=,;"':
        assert byte not in t.TOKEN
