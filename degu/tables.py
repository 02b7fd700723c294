# SPDX-License-Identifier: LGPL-3.0-or-later
"""The byte tables: which bytes may appear where in a message.

This module is the one source of truth for Degu's character classes, used
by the parser on input and by the renderer on output.  It starts from
fifteen primitive sets that are pairwise disjoint and together make up the
printable ASCII range (``0x20``-``0x7E``), and builds each table as a union
of them.  Keeping the primitives disjoint makes every table easy to audit: a
byte is in a table exactly when its one primitive was named in that table's
recipe.  Nothing outside the primitives (no control byte, no tab, no byte
>= 0x80) is in any table.

Which primitive goes where (``x`` = in the table; ``REASON`` has the members
of ``VAL``, ``URI`` those of ``QUERY``, ``EXTKEY`` those of ``NAME``)::

    primitive        bytes       KEY NAME TOKEN PATH QUERY EXTVAL VAL  HEX DEC
    _DIGIT           0-9          x    x    x    x     x     x     x    x   x
    _HEXLOWER        a-f          x    x    x    x     x     x     x    x
    _LOWER           g-z          x    x    x    x     x     x     x
    _DASH            -            x    x    x    x     x     x     x
    _HEXUPPER        A-F               x    x    x     x     x     x    x
    _UPPER           G-Z               x    x    x     x     x     x
    _MARK            ' * + . _ ~            x    x     x     x     x
    _SIGN            ! $ % &                x    x     x           x
    _PUNCT           ( ) , : ;                   x     x     x     x
    _EQUALS_AT       = @                         x     x           x
    _SLASH_QUESTION  / ?                               x           x
    _TOKEN_ONLY      # ^ ` |                x                      x
    _QUOTE_BRACKET   " < > [ ]                               x     x
    _VALUE_ONLY      \\ { }                                         x
    _SPACE           (SP)                                          x

The columns spell the rules of RFC 9110 and RFC 3986 within Degu's subset:
``TOKEN`` is RFC 9110's ``tchar``; ``PATH`` is RFC 3986's ``pchar``
(unreserved, sub-delims, ``:`` and ``@``, and ``%`` for ``%HH`` escapes,
whose two hex digits the parser checks); ``QUERY`` is ``pchar`` plus ``/``
and ``?``; ``VAL`` is ``VCHAR`` and ``SP``.

Each table is exported twice:

* as a ``frozenset`` of byte values (``NAME``, ``VAL``, ...), for people and
  for tests, and
* as a ``bytes`` string of the same members (``NAME_BYTES``, ...), for the
  parser and the renderer, which validate a whole field at C speed with
  ``field.translate(None, TABLE_BYTES)``: that call deletes every allowed
  byte, so the field is valid exactly when nothing is left.
"""

from typing import FrozenSet

# The primitive, pairwise-disjoint sets (see the matrix above).
_DIGIT = b'0123456789'
_HEXLOWER = b'abcdef'
_LOWER = b'ghijklmnopqrstuvwxyz'
_DASH = b'-'
_HEXUPPER = b'ABCDEF'
_UPPER = b'GHIJKLMNOPQRSTUVWXYZ'
_MARK = b"'*+._~"
_SIGN = b'!$%&'
_PUNCT = b'(),:;'
_EQUALS_AT = b'=@'
_SLASH_QUESTION = b'/?'
_TOKEN_ONLY = b'#^`|'
_QUOTE_BRACKET = b'"<>[]'
_VALUE_ONLY = b'\\{}'
_SPACE = b' '

PRIMITIVES = (
    _DIGIT, _HEXLOWER, _LOWER, _DASH, _HEXUPPER, _UPPER, _MARK, _SIGN,
    _PUNCT, _EQUALS_AT, _SLASH_QUESTION, _TOKEN_ONLY, _QUOTE_BRACKET,
    _VALUE_ONLY, _SPACE,
)


def _union(*parts: bytes) -> bytes:
    """Concatenate primitive sets, sorted, so each table reads the same way."""
    return bytes(sorted(b''.join(parts)))


# Numbers: decimal lengths and offsets, hexadecimal chunk sizes.
DECIMAL_BYTES = _union(_DIGIT)
HEXADECIMAL_BYTES = _union(_DIGIT, _HEXLOWER, _HEXUPPER)
# Outgoing header names: lowercase letters, digits and '-'.
KEY_BYTES = _union(_DIGIT, _HEXLOWER, _LOWER, _DASH)
# Incoming header names: the same in any case (lower-cased for the app).
NAME_BYTES = _union(_DIGIT, _HEXLOWER, _LOWER, _DASH, _HEXUPPER, _UPPER)
# RFC 9110 token (tchar): methods, transfer-codings, range units.
TOKEN_BYTES = _union(
    _DIGIT, _HEXLOWER, _LOWER, _DASH, _HEXUPPER, _UPPER,
    _MARK, _SIGN, _TOKEN_ONLY,
)
# One path component (RFC 3986 pchar); '%' only in a %HH escape.
PATH_BYTES = _union(
    _DIGIT, _HEXLOWER, _LOWER, _DASH, _HEXUPPER, _UPPER,
    _MARK, _SIGN, _PUNCT, _EQUALS_AT,
)
# The query string, after the first '?': pchar plus '/' and '?'.
QUERY_BYTES = _union(
    _DIGIT, _HEXLOWER, _LOWER, _DASH, _HEXUPPER, _UPPER,
    _MARK, _SIGN, _PUNCT, _EQUALS_AT, _SLASH_QUESTION,
)
# A whole request target: the path's bytes, its '/' separators, and the
# query.  (The same members as QUERY.)
URI_BYTES = _union(
    _DIGIT, _HEXLOWER, _LOWER, _DASH, _HEXUPPER, _UPPER,
    _MARK, _SIGN, _PUNCT, _EQUALS_AT, _SLASH_QUESTION,
)
# Header values: every VCHAR and SP (no tab, no control byte, no byte >=
# 0x80).  The parser also refuses an empty value and one that starts or ends
# with SP.
VAL_BYTES = _union(
    _DIGIT, _HEXLOWER, _LOWER, _DASH, _HEXUPPER, _UPPER,
    _MARK, _SIGN, _PUNCT, _EQUALS_AT, _SLASH_QUESTION, _TOKEN_ONLY,
    _QUOTE_BRACKET, _VALUE_ONLY, _SPACE,
)
# The reason phrase of a status line: VCHAR and SP, as header values.
REASON_BYTES = VAL_BYTES
# The key and the value of a chunk extension (no '=' in either, so that
# 'key=value' splits one way only; no space).
EXTKEY_BYTES = _union(_DIGIT, _HEXLOWER, _LOWER, _DASH, _HEXUPPER, _UPPER)
EXTVAL_BYTES = _union(
    _DIGIT, _HEXLOWER, _LOWER, _DASH, _HEXUPPER, _UPPER,
    _MARK, _PUNCT, _QUOTE_BRACKET,
)

DECIMAL: FrozenSet[int] = frozenset(DECIMAL_BYTES)
HEXADECIMAL: FrozenSet[int] = frozenset(HEXADECIMAL_BYTES)
KEY: FrozenSet[int] = frozenset(KEY_BYTES)
NAME: FrozenSet[int] = frozenset(NAME_BYTES)
TOKEN: FrozenSet[int] = frozenset(TOKEN_BYTES)
PATH: FrozenSet[int] = frozenset(PATH_BYTES)
QUERY: FrozenSet[int] = frozenset(QUERY_BYTES)
URI: FrozenSet[int] = frozenset(URI_BYTES)
VAL: FrozenSet[int] = frozenset(VAL_BYTES)
REASON: FrozenSet[int] = frozenset(REASON_BYTES)
EXTKEY: FrozenSet[int] = frozenset(EXTKEY_BYTES)
EXTVAL: FrozenSet[int] = frozenset(EXTVAL_BYTES)

# Outgoing keys are checked as str (they come from apps); same members.
KEY_CHARS = KEY_BYTES.decode('ascii')
