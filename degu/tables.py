"""The byte tables: which bytes may appear where in a message.

This module is the one source of truth for Degu's character classes.  It
starts from seven primitive sets that are pairwise disjoint, and builds each
table the parser uses as a union of them.  Keeping the primitives disjoint
makes every table easy to audit: a byte is in a table exactly when its one
primitive set was named in that table's recipe.

Each table is exported twice:

* as a ``frozenset`` of byte values (``NAME``, ``VAL``, ...), for people and
  for tests, and
* as a ``bytes`` string of the same members (``NAME_BYTES``, ...), for the
  parser, which validates a whole field at C speed with
  ``field.translate(None, TABLE_BYTES)``: that call deletes every allowed byte,
  so the field is valid exactly when nothing is left.
"""

from typing import FrozenSet

# The primitive, pairwise-disjoint sets:
_LOWER = b'-0123456789abcdefghijklmnopqrstuvwxyz'
_UPPER = b'ABCDEFGHIJKLMNOPQRSTUVWXYZ'
_URI = b'/?'
_PATH = b'+.:_~'
_QUERY = b'%&='
_SPACE = b' '
_VALUE = b'"\'()*,;<>[]'

PRIMITIVES = (_LOWER, _UPPER, _URI, _PATH, _QUERY, _SPACE, _VALUE)


def _union(*parts: bytes) -> bytes:
    """Concatenate primitive sets, sorted, so each table reads the same way."""
    return bytes(sorted(b''.join(parts)))


# Incoming header names (any case; lower-cased before the app sees them).
NAME_BYTES = _union(_LOWER, _UPPER)
# Outgoing header names: must already be lowercase.
KEY_BYTES = _union(_LOWER)
# Incoming header values (other than those with a dedicated parser).
VAL_BYTES = _union(_LOWER, _UPPER, _PATH, _QUERY, _URI, _SPACE, _VALUE)
# A whole request URI: path and query.
URI_BYTES = _union(_LOWER, _UPPER, _PATH, _QUERY, _URI)
# One path component: no '/', no '?', and no '%' (no percent-encoding).
PATH_BYTES = _union(_LOWER, _UPPER, _PATH)
# The query string, after the first '?'.
QUERY_BYTES = _union(_LOWER, _UPPER, _PATH, _QUERY)
# The reason phrase of an incoming status line.
REASON_BYTES = _union(_LOWER, _UPPER, _SPACE)
# The key and the value of a chunk extension.
EXTKEY_BYTES = _union(_LOWER, _UPPER)
EXTVAL_BYTES = _union(_LOWER, _UPPER, _PATH, _VALUE)
# Numbers: decimal lengths and offsets, hexadecimal chunk sizes.
DECIMAL_BYTES = b'0123456789'
HEXADECIMAL_BYTES = b'0123456789ABCDEFabcdef'

NAME: FrozenSet[int] = frozenset(NAME_BYTES)
KEY: FrozenSet[int] = frozenset(KEY_BYTES)
VAL: FrozenSet[int] = frozenset(VAL_BYTES)
URI: FrozenSet[int] = frozenset(URI_BYTES)
PATH: FrozenSet[int] = frozenset(PATH_BYTES)
QUERY: FrozenSet[int] = frozenset(QUERY_BYTES)
REASON: FrozenSet[int] = frozenset(REASON_BYTES)
EXTKEY: FrozenSet[int] = frozenset(EXTKEY_BYTES)
EXTVAL: FrozenSet[int] = frozenset(EXTVAL_BYTES)
DECIMAL: FrozenSet[int] = frozenset(DECIMAL_BYTES)
HEXADECIMAL: FrozenSet[int] = frozenset(HEXADECIMAL_BYTES)

# Outgoing keys are checked as str (they come from apps); same members.
KEY_CHARS = KEY_BYTES.decode('ascii')
