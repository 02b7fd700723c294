# SPDX-License-Identifier: LGPL-3.0-or-later
"""Tests for degu.base: the public facade (SPEC 10.2, 10.10).

Every name the spec says ``degu.base`` provides must exist and be the very
object defined in the module that implements it (re-exported, not copied).
"""

import importlib
import os
import subprocess
import sys
import textwrap
from typing import Any, Dict

import pytest

import degu.base
from degu import base
from test_degu.test_limits import SPEC_LIMITS

# (name in degu.base, defining module)
EXPORTS = [
    # Errors and message templates.
    ('EmptyPreambleError', 'degu.errors'),
    ('TYPE_ERROR', 'degu.errors'),
    ('TYPE_ERROR2', 'degu.errors'),
    # Bodies, api, value types, Response.
    ('API', 'degu.bodies'),
    ('APIType', 'degu.bodies'),
    ('api', 'degu.bodies'),
    ('Body', 'degu.bodies'),
    ('ChunkedBody', 'degu.bodies'),
    ('BodyIter', 'degu.bodies'),
    ('ChunkedBodyIter', 'degu.bodies'),
    ('Range', 'degu.ranges'),
    ('ContentRange', 'degu.ranges'),
    ('Response', 'degu.messages'),
    ('ResponseType', 'degu.messages'),
    # Limits (SPEC 2).
    ('BUF_LEN', 'degu.limits'),
    ('SCRATCH_LEN', 'degu.limits'),
    ('MAX_HEADER_NAME_LEN', 'degu.limits'),
    ('MAX_URI_LEN', 'degu.limits'),
    ('METHODS', 'degu.limits'),
    ('MAX_LINE_LEN', 'degu.limits'),
    ('MAX_CL_LEN', 'degu.limits'),
    ('MAX_LENGTH', 'degu.limits'),
    ('MAX_HEADER_COUNT', 'degu.limits'),
    ('IO_SIZE', 'degu.limits'),
    ('MAX_IO_SIZE', 'degu.limits'),
    ('BODY_READY', 'degu.limits'),
    ('BODY_STARTED', 'degu.limits'),
    ('BODY_CONSUMED', 'degu.limits'),
    ('BODY_ERROR', 'degu.limits'),
    ('GET_BIT', 'degu.limits'),
    ('PUT_BIT', 'degu.limits'),
    ('POST_BIT', 'degu.limits'),
    ('HEAD_BIT', 'degu.limits'),
    ('DELETE_BIT', 'degu.limits'),
    ('PUT_POST_MASK', 'degu.limits'),
    ('ROUTER_MAX_DEPTH', 'degu.limits'),
    # Tables (SPEC 3).
    ('NAME', 'degu.tables'),
    ('KEY', 'degu.tables'),
    ('VAL', 'degu.tables'),
    ('URI', 'degu.tables'),
    ('TOKEN', 'degu.tables'),
    ('PATH', 'degu.tables'),
    ('QUERY', 'degu.tables'),
    ('REASON', 'degu.tables'),
    ('EXTKEY', 'degu.tables'),
    ('EXTVAL', 'degu.tables'),
    ('DECIMAL', 'degu.tables'),
    ('HEXADECIMAL', 'degu.tables'),
    # Wire helpers (SPEC 10.10).
    ('parse_header_name', 'degu.parsing'),
    ('parse_content_length', 'degu.parsing'),
    ('parse_range', 'degu.parsing'),
    ('parse_content_range', 'degu.parsing'),
    ('parse_headers', 'degu.parsing'),
    ('parse_method', 'degu.parsing'),
    ('parse_uri', 'degu.parsing'),
    ('parse_request_line', 'degu.parsing'),
    ('parse_response_line', 'degu.parsing'),
    ('parse_chunk_size', 'degu.parsing'),
    ('parse_chunk_extension', 'degu.parsing'),
    ('parse_chunk', 'degu.parsing'),
    ('format_chunk', 'degu.rendering'),
    ('write_chunk', 'degu.bodies'),
    ('readchunk', 'degu.bodies'),
    ('set_default_header', 'degu.messages'),
    ('set_output_headers', 'degu.messages'),
]


@pytest.mark.parametrize('name, module', EXPORTS)
def test_export_is_the_defining_object(name: Any, module: Any) -> None:
    assert hasattr(base, name), name
    assert getattr(base, name) is getattr(importlib.import_module(module), name)


def test_all() -> None:
    names = base.__all__
    assert type(names) is tuple
    assert len(set(names)) == len(names)
    for name in names:
        assert hasattr(base, name), name
    # Everything the spec lists is public (the deprecated alias too), and
    # the three names of the original resolved on first use.
    assert set(names) == {n for (n, m) in EXPORTS} | {'bodies'} | set(LAZY)


def test_star_import() -> None:
    namespace: Dict[str, Any] = {}
    exec('from degu.base import *', namespace)
    for (name, module) in EXPORTS:
        assert namespace[name] is getattr(base, name)
    assert namespace['bodies'] is base.api
    for (name, module) in LAZY.items():
        assert namespace[name] is getattr(importlib.import_module(module), name)


# The names of the original's degu.base that live in the server and client.
LAZY = {'Request': 'degu.server', 'Session': 'degu.server',
        'Connection': 'degu.client'}
TREE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_fresh(code: str) -> str:
    """Run *code* in a fresh interpreter (this tree first on the path)."""
    env = dict(os.environ)
    env['PYTHONPATH'] = TREE
    proc = subprocess.run(
        [sys.executable, '-c', textwrap.dedent(code)], cwd=TREE, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode()


def test_lazy_names_not_loaded_by_import() -> None:
    out = run_fresh('''
        import sys
        import degu.base
        print(sorted(m for m in ('degu.server', 'degu.client') if m in sys.modules))
        print(sorted(n for n in ('Request', 'Session', 'Connection')
                     if n in vars(degu.base)))
        print(all(n in dir(degu.base) for n in ('Request', 'Session', 'Connection')))
        print(all(n in degu.base.__all__ for n in ('Request', 'Session', 'Connection')))
        # dir() and __all__ did not load anything either
        print(sorted(m for m in ('degu.server', 'degu.client') if m in sys.modules))
        from degu.base import Request
        print(sorted(m for m in ('degu.server', 'degu.client') if m in sys.modules))
        from degu.base import Connection, Session
        import degu.server, degu.client
        print(Request is degu.server.Request, Session is degu.server.Session,
              Connection is degu.client.Connection)
        # resolved once, then an ordinary module global
        print(sorted(n for n in ('Request', 'Session', 'Connection')
                     if n in vars(degu.base)))
    ''').splitlines()
    assert out == [
        '[]',
        '[]',
        'True',
        'True',
        '[]',
        "['degu.server']",
        'True True True',
        "['Connection', 'Request', 'Session']",
    ]


@pytest.mark.parametrize('name, module', sorted(LAZY.items()))
def test_lazy_names(name: str, module: str) -> None:
    assert getattr(base, name) is getattr(importlib.import_module(module), name)
    namespace: Dict[str, Any] = {}
    exec('from degu.base import {}'.format(name), namespace)
    assert namespace[name] is getattr(importlib.import_module(module), name)
    assert name in dir(base)


def test_unknown_attribute() -> None:
    with pytest.raises(AttributeError) as cm:
        base.Nope
    assert str(cm.value) == "module 'degu.base' has no attribute 'Nope'"
    with pytest.raises(ImportError):
        exec('from degu.base import Nope', {})
    assert hasattr(base, 'Nope') is False
    assert 'Nope' not in dir(base)


def test_dir_is_sorted_and_complete() -> None:
    names = dir(base)
    assert names == sorted(names)
    for name in base.__all__:
        assert name in names


def test_same_module_object() -> None:
    assert degu.base is importlib.import_module('degu.base')


@pytest.mark.parametrize('name, value', SPEC_LIMITS + [
    ('MAX_HEADER_NAME_LEN', 64),
    ('MAX_URI_LEN', 8192),
])
def test_limits(name: Any, value: Any) -> None:
    got = getattr(base, name)
    assert type(got) is int
    assert got == value


def test_methods() -> None:
    assert base.METHODS == ('GET', 'PUT', 'POST', 'HEAD', 'DELETE')


def test_type_error_templates() -> None:
    assert base.TYPE_ERROR == '{}: need a {!r}; got a {!r}: {!r}'
    assert base.TYPE_ERROR2 == '{}: need a {!r}; got a {!r}'


def test_empty_preamble_error() -> None:
    assert issubclass(base.EmptyPreambleError, ConnectionError)


@pytest.mark.parametrize('name, size', [
    ('NAME', 63), ('KEY', 37), ('DECIMAL', 10), ('HEXADECIMAL', 22),
    ('EXTKEY', 63),
])
def test_tables(name: Any, size: Any) -> None:
    table = getattr(base, name)
    assert type(table) is frozenset
    assert len(table) == size


def test_tables_are_frozensets() -> None:
    for name in ('NAME', 'KEY', 'TOKEN', 'VAL', 'URI', 'PATH', 'QUERY', 'REASON',
                 'EXTKEY', 'EXTVAL', 'DECIMAL', 'HEXADECIMAL'):
        assert type(getattr(base, name)) is frozenset, name


def test_api_and_aliases() -> None:
    assert base.APIType is base.API
    assert base.bodies is base.api
    assert type(base.api) is base.API
    assert base.API._fields == (
        'Body', 'ChunkedBody', 'BodyIter', 'ChunkedBodyIter', 'Range', 'ContentRange'
    )
    assert base.api == (base.Body, base.ChunkedBody, base.BodyIter,
                        base.ChunkedBodyIter, base.Range, base.ContentRange)
    for field in base.API._fields:
        assert getattr(base.api, field) is getattr(base, field)


def test_response_and_alias() -> None:
    assert base.ResponseType is base.Response
    assert base.Response._fields == ('status', 'reason', 'headers', 'body')
    assert issubclass(base.Response, tuple)
    r = base.Response(200, 'OK', {}, None)
    assert (r.status, r.reason, r.headers, r.body) == (200, 'OK', {}, None)


def test_response_is_the_clients() -> None:
    client = importlib.import_module('degu.client')
    assert client.Response is base.Response


def test_helpers_work_through_facade() -> None:
    assert base.parse_method(b'PUT') == ('PUT', 2)
    assert base.parse_chunk(b'1000000;k=v') == (16777216, ('k', 'v'))
    assert base.format_chunk((('k', 'v'), b'hello, world')) == b'c;k=v\r\n'
    assert base.parse_headers(b'K: V') == {'k': 'V'}
    headers: Dict[str, Any] = {}
    base.set_output_headers(headers, b'abc')
    assert headers == {'content-length': 3}
