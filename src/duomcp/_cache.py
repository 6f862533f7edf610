"""Result cache of the modern era (2026-07-28): ``ttlMs`` and ``cacheScope`` honoured.

Only complete results of the cacheable methods are kept, for as long as the server's
``ttlMs`` says (0, negative or absent: not at all). A ``"private"`` entry is keyed by the
authorization context -- a digest of the credential the request carried -- so it is never
served to a client with another credential, even when one cache is shared by many clients;
a ``"public"`` entry may be. Notifications invalidate: a list-changed drops that list, a
resource update drops that resource's reads.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

__all__ = ["CACHEABLE_METHODS", "ResultCache"]

CACHEABLE_METHODS = frozenset(
    {
        "server/discover",
        "tools/list",
        "prompts/list",
        "resources/list",
        "resources/templates/list",
        "resources/read",
    }
)
# Parameters that change a cacheable result; everything else (``_meta``) does not.
_KEY_PARAMS = ("cursor", "uri")

_Key = tuple[str, str, str]


def identity_of(headers: Mapping[str, str]) -> str:
    """A digest of the credentials in ``headers``: the authorization context of a request.

    Every header counts (``Authorization``, and whatever the user passed: an API key, a
    cookie), names case-folded: two clients whose headers differ in any way never share
    private results. No headers: ``""``.
    """
    if not headers:
        return ""
    canonical = sorted((name.lower(), value) for name, value in headers.items())
    return hashlib.sha256(json.dumps(canonical).encode("utf-8")).hexdigest()


class ResultCache:
    """Cached results of list and read requests, shareable between clients.

    Thread-safe; bounded to ``max_entries`` (least recently used dropped first).

    Args:
        max_entries: how many results to keep at most.
    """

    def __init__(self, max_entries: int = 1024) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max = max_entries
        self._entries: OrderedDict[tuple[_Key, str | None], tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(endpoint: str, method: str, params: Mapping[str, Any] | None) -> _Key:
        """The cache key of a request: endpoint, method and result-affecting params."""
        relevant = {k: params[k] for k in _KEY_PARAMS if params and k in params}
        return (endpoint, method, json.dumps(relevant, sort_keys=True))

    def get(self, key: _Key, identity: str) -> Any | None:
        """A fresh result for ``key`` visible to ``identity``, or ``None``."""
        now = time.monotonic()
        with self._lock:
            for scope in (None, identity):
                entry = self._entries.get((key, scope))
                if entry is None:
                    continue
                expires, result = entry
                if expires <= now:
                    del self._entries[(key, scope)]
                    continue
                self._entries.move_to_end((key, scope))
                return result
        return None

    def put(self, key: _Key, identity: str, result: Mapping[str, Any]) -> None:
        """Keep ``result`` as its ``ttlMs`` and ``cacheScope`` allow."""
        ttl = result.get("ttlMs")
        if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0:
            return
        scope: str | None = None if result.get("cacheScope") == "public" else identity
        with self._lock:
            self._entries[(key, scope)] = (time.monotonic() + ttl / 1000, result)
            self._entries.move_to_end((key, scope))
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def invalidate(
        self, endpoint: str, method: str | None = None, *, uri: str | None = None
    ) -> None:
        """Drop the entries of one endpoint: all, one method's, or one resource's reads."""
        with self._lock:
            for entry_key in list(self._entries):
                (key_endpoint, key_method, key_params), _ = entry_key
                if key_endpoint != endpoint or (method is not None and key_method != method):
                    continue
                if uri is not None and json.loads(key_params).get("uri") != uri:
                    continue
                del self._entries[entry_key]

    def clear(self) -> None:
        """Drop everything."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
