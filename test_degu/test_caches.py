"""degu.caches: the bounded memory shared by the parser and the renderer."""

from degu import caches, parsing, rendering
from degu.caches import CACHE_MAX, remember


def test_remember_stores_and_returns():
    cache = {}
    assert remember(cache, b'k', ('v',)) == ('v',)
    assert cache == {b'k': ('v',)}


def test_remember_empties_a_full_cache():
    cache = {i: i for i in range(CACHE_MAX)}
    assert remember(cache, 'new', 1) == 1
    assert cache == {'new': 1}
    # Below the bound nothing is dropped.
    for i in range(CACHE_MAX - 1):
        remember(cache, i, i)
    assert len(cache) == CACHE_MAX


def test_parser_and_renderer_caches_stay_bounded():
    for i in range(3 * CACHE_MAX):
        name = 'x-{}'.format(i)
        parsing.parse_request(
            'GET /{} HTTP/1.1\r\n{}: v'.format(i, name).encode()
        )
        rendering.render_response(200, 'R{}'.format(i), {name: i})
    for cache in (parsing._requests, parsing._request_lines,
                  parsing._header_lines, rendering._good_keys,
                  rendering._header_lines, rendering._status_lines):
        assert 0 < len(cache) <= caches.CACHE_MAX
