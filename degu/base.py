# SPDX-License-Identifier: LGPL-3.0-or-later
"""The public face of Degu's wire layer: bodies, values, limits, helpers.

Everything here is defined in a smaller module and re-exported, so that
applications have one stable import path:

* ``degu.limits``    -- the size limits and constants (``BUF_LEN``, ...);
  ``SCRATCH_LEN`` is the first release's name of ``MAX_HEADER_NAME_LEN``
* ``degu.errors``    -- ``EmptyPreambleError``, ``TYPE_ERROR``, ``TYPE_ERROR2``
* ``degu.tables``    -- the byte tables (``NAME``, ``VAL``, ``URI``, ...)
* ``degu.ranges``    -- ``Range`` and ``ContentRange``
* ``degu.parsing``   -- the grammar: pure parse functions (bytes in, values out)
* ``degu.rendering`` -- pure rendering functions (values in, bytes out)
* ``degu.caches``    -- the remembered fast path of both (internal)
* ``degu.bodies``    -- the four body classes and ``api``
* ``degu.sockio``    -- the connection reader and writer (internal)
* ``degu.messages``  -- whole messages and ``Response``

Three more names, ``Request`` and ``Session`` (from ``degu.server``) and
``Connection`` (from ``degu.client``), are here for code written against the
original Degu, whose ``degu.base`` defined them.  They are looked up on first
use (a module ``__getattr__``), so that ``import degu.base`` does not load the
server and the client: a program that only builds bodies or parses
preambles should not pay for sockets, threads and TLS.
"""

from typing import Any, List

from .bodies import (
    API,
    APIType,
    Body,
    BodyIter,
    ChunkedBody,
    ChunkedBodyIter,
    api,
    readchunk,
    write_chunk,
)
from .errors import TYPE_ERROR, TYPE_ERROR2, EmptyPreambleError
from .limits import (
    BODY_CONSUMED,
    BODY_ERROR,
    BODY_READY,
    BODY_STARTED,
    BUF_LEN,
    DELETE_BIT,
    GET_BIT,
    HEAD_BIT,
    IO_SIZE,
    MAX_CL_LEN,
    MAX_HEADER_COUNT,
    MAX_HEADER_NAME_LEN,
    MAX_IO_SIZE,
    MAX_LENGTH,
    MAX_LINE_LEN,
    MAX_URI_LEN,
    METHODS,
    POST_BIT,
    PUT_BIT,
    PUT_POST_MASK,
    ROUTER_MAX_DEPTH,
    SCRATCH_LEN,
)
from .messages import (
    Response,
    ResponseType,
    set_default_header,
    set_output_headers,
)
from .parsing import (
    parse_chunk,
    parse_chunk_extension,
    parse_chunk_size,
    parse_content_length,
    parse_content_range,
    parse_header_name,
    parse_headers,
    parse_method,
    parse_range,
    parse_request_line,
    parse_response_line,
    parse_uri,
)
from .ranges import ContentRange, Range
from .rendering import format_chunk
from .tables import (
    DECIMAL,
    EXTKEY,
    EXTVAL,
    HEXADECIMAL,
    KEY,
    NAME,
    PATH,
    QUERY,
    REASON,
    TOKEN,
    URI,
    VAL,
)

# Deprecated alias of ``api``, kept for older applications.
bodies = api

# The names resolved on first use, and the module that defines each.
_LAZY = {
    'Request': 'degu.server',
    'Session': 'degu.server',
    'Connection': 'degu.client',
}


def __getattr__(name: str) -> Any:
    """``Request``, ``Session`` and ``Connection``, imported when first asked for."""
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(
            'module {!r} has no attribute {!r}'.format(__name__, name)
        )
    import importlib
    value = getattr(importlib.import_module(module_name), name)
    # Cache it: later lookups are ordinary global lookups.
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_LAZY))

__all__ = (
    'API', 'APIType', 'api', 'bodies',
    'Body', 'ChunkedBody', 'BodyIter', 'ChunkedBodyIter',
    'Range', 'ContentRange', 'Response', 'ResponseType', 'EmptyPreambleError',
    'TYPE_ERROR', 'TYPE_ERROR2',
    'BUF_LEN', 'MAX_HEADER_NAME_LEN', 'SCRATCH_LEN', 'MAX_URI_LEN',
    'MAX_LINE_LEN', 'MAX_CL_LEN', 'MAX_LENGTH',
    'MAX_HEADER_COUNT', 'IO_SIZE', 'MAX_IO_SIZE', 'METHODS',
    'BODY_READY', 'BODY_STARTED', 'BODY_CONSUMED', 'BODY_ERROR',
    'GET_BIT', 'PUT_BIT', 'POST_BIT', 'HEAD_BIT', 'DELETE_BIT', 'PUT_POST_MASK',
    'ROUTER_MAX_DEPTH',
    'NAME', 'KEY', 'TOKEN', 'VAL', 'URI', 'PATH', 'QUERY', 'REASON', 'EXTKEY',
    'EXTVAL',
    'DECIMAL', 'HEXADECIMAL',
    'parse_header_name', 'parse_content_length', 'parse_range',
    'parse_content_range', 'parse_headers', 'parse_method', 'parse_uri',
    'parse_request_line', 'parse_response_line', 'parse_chunk_size',
    'parse_chunk_extension', 'parse_chunk', 'format_chunk', 'write_chunk',
    'readchunk', 'set_default_header', 'set_output_headers',
    # Resolved on first use (see the module docstring): a star import
    # therefore loads degu.server and degu.client, as it asks for everything.
    'Request', 'Session', 'Connection',
)
