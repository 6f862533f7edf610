"""The modern result cache on its own: TTL, scope isolation between credentials, keys,
invalidation and bounds. (Over real sockets in tests/_async/test_modern.py.)"""

from __future__ import annotations

import time

import pytest

from duomcp._cache import ResultCache, identity_of

URL = "http://127.0.0.1:1/mcp"
ALICE = identity_of({"Authorization": "Bearer alice"})
BOB = identity_of({"Authorization": "Bearer bob"})


def _result(ttl: object, scope: str | None = "public", **extra: object) -> dict[str, object]:
    out: dict[str, object] = {"resultType": "complete", "ttlMs": ttl, **extra}
    if scope is not None:
        out["cacheScope"] = scope
    return out


def test_identity_is_a_digest_never_the_token() -> None:
    assert ALICE != BOB and "alice" not in ALICE
    assert identity_of({}) == ""


@pytest.mark.parametrize("ttl", [0, -5, None, "100", 1.5, True])
def test_only_a_positive_integer_ttl_is_cached(ttl: object) -> None:
    cache = ResultCache()
    key = cache.key(URL, "tools/list", None)
    cache.put(key, ALICE, _result(ttl))
    assert cache.get(key, ALICE) is None and len(cache) == 0


def test_fresh_until_the_ttl_runs_out() -> None:
    cache = ResultCache()
    key = cache.key(URL, "tools/list", None)
    cache.put(key, ALICE, _result(80))
    assert cache.get(key, ALICE) == _result(80)
    time.sleep(0.12)
    assert cache.get(key, ALICE) is None


def test_private_results_never_cross_credentials_public_ones_may() -> None:
    cache = ResultCache()
    private = cache.key(URL, "resources/read", {"uri": "ref://whoami"})
    public = cache.key(URL, "resources/read", {"uri": "ref://motd"})
    cache.put(private, ALICE, _result(60_000, "private", who="alice"))
    cache.put(public, ALICE, _result(60_000, "public", text="hello"))
    assert cache.get(private, ALICE) is not None
    assert cache.get(private, BOB) is None
    assert cache.get(private, "") is None
    assert cache.get(public, BOB) is not None
    # A result without a scope is treated as private: the safe reading.
    unscoped = cache.key(URL, "prompts/list", None)
    cache.put(unscoped, ALICE, _result(60_000, None))
    assert cache.get(unscoped, BOB) is None and cache.get(unscoped, ALICE) is not None


def test_key_holds_only_result_affecting_params() -> None:
    key = ResultCache.key
    assert key(URL, "tools/list", {"_meta": {"a": 1}}) == key(URL, "tools/list", None)
    assert key(URL, "tools/list", {"cursor": ""}) != key(URL, "tools/list", None)
    assert key(URL, "tools/list", {"cursor": "2"}) != key(URL, "tools/list", {"cursor": "3"})
    assert key(URL, "tools/list", None) != key("http://127.0.0.1:2/mcp", "tools/list", None)


def test_invalidation_by_method_and_by_uri() -> None:
    cache = ResultCache()
    tools = cache.key(URL, "tools/list", None)
    page2 = cache.key(URL, "tools/list", {"cursor": "2"})
    read_a = cache.key(URL, "resources/read", {"uri": "a"})
    read_b = cache.key(URL, "resources/read", {"uri": "b"})
    other = cache.key("http://other/mcp", "tools/list", None)
    for key in (tools, page2, read_a, read_b, other):
        cache.put(key, ALICE, _result(60_000))
    cache.invalidate(URL, "resources/read", uri="a")
    assert cache.get(read_a, ALICE) is None and cache.get(read_b, ALICE) is not None
    cache.invalidate(URL, "tools/list")
    assert cache.get(tools, ALICE) is None and cache.get(page2, ALICE) is None
    assert cache.get(other, ALICE) is not None
    cache.invalidate(URL)
    assert cache.get(read_b, ALICE) is None and len(cache) == 1


def test_bounded_least_recently_used_goes_first() -> None:
    cache = ResultCache(max_entries=2)
    keys = [cache.key(URL, "resources/read", {"uri": str(i)}) for i in range(3)]
    cache.put(keys[0], ALICE, _result(60_000))
    cache.put(keys[1], ALICE, _result(60_000))
    assert cache.get(keys[0], ALICE) is not None  # now most recently used
    cache.put(keys[2], ALICE, _result(60_000))
    assert len(cache) == 2
    assert cache.get(keys[1], ALICE) is None and cache.get(keys[0], ALICE) is not None
    with pytest.raises(ValueError):
        ResultCache(max_entries=0)
