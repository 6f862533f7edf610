"""The reference server as its parts see it: the switches and what the era endpoints use.

:class:`ServerFaults` are the switches tests flip to make the server misbehave.
:class:`LegacyHost` and :class:`ModernHost` name the settings and records each era's
endpoint reads and writes on the :class:`~._server.ReferenceServer`, so that the endpoints
need not import the server (which builds them).
"""

from __future__ import annotations

import collections
from typing import Any, Literal, Protocol

import attrs

from ._fixtures import Observer

__all__ = ["LegacyHost", "ModernHost", "ServerFaults"]


@attrs.define
class ServerFaults:
    """Switches that change how the reference server behaves; tests may flip them live."""

    reply_mode: Literal["json", "sse"] = "sse"
    """How POSTed requests are answered: one JSON body, or an SSE stream."""
    tamper_skills: Literal["digest", "size", "frontmatter"] | None = None
    """Serve skill files that do not match their listing (with ``skills=True``)."""
    get_stream: bool = True
    """False: a GET without ``Last-Event-ID`` is answered 405 (no GET stream offered)."""
    require_bearer: str | None = None
    """Every request without ``Authorization: Bearer <this>`` gets 401 ``invalid_token``."""
    forbid: bool = False
    """Authenticated requests get 403 ``insufficient_scope`` with ``scope="admin"``."""
    drop_reply_after: int | None = None
    """Cut an SSE reply after this many events (priming counts), always before the response.

    The response is still stored and sent when the client resumes with GET and
    ``Last-Event-ID``. Each request id is cut once; the resumption gets everything. Applies
    to every SSE reply, ``initialize`` included.
    """
    retry_ms: int | None = None
    """SSE replies and the GET stream start with a priming event with this ``retry``."""
    close_after_priming: bool = False
    """End an SSE reply cleanly after its priming event (SEP-1699 polling): the client must
    come back with GET and ``Last-Event-ID`` for the rest."""
    die_mid_call: bool = False
    """A ``tools/call`` POST has its connection aborted: no reply, nothing stored (the call
    still counts in :attr:`ReferenceServer.tool_runs`, as received)."""
    delete_status: int = 200
    """The status DELETE answers (405: ending sessions is not supported, the session stays)."""
    session_required: bool = True
    """Issue ``Mcp-Session-Id`` on initialize and require it (400 missing, 404 unknown)."""
    max_body_bytes: int = 4 << 20
    """Larger POST bodies get 413."""
    legacy_empty_400: bool = False
    """Legacy era: a non-initialize POST without a session (no ``Mcp-Session-Id``, or not
    initialized) gets 400 with an EMPTY body instead of a JSON-RPC error."""
    lose_replies: int = 0
    """Either era, either reply mode: the next this-many POSTed JSON-RPC requests other than
    ``initialize``, ``server/discover`` and ``subscriptions/listen`` run to completion (their
    effects happen, ``tool_runs`` counts them), then the connection is aborted before any
    status line is sent, and nothing is stored for resumption. Each one decrements it; their
    ids go to :attr:`ReferenceServer.lost_replies`."""
    modern_cut_replies: int = 0
    """Modern era: cut this many of the next SSE replies (not listen streams) just before
    their response; each cut decrements it. The request ran; its id goes to
    :attr:`ReferenceServer.cut_replies`."""


class LegacyHost(Observer, Protocol):
    """What the legacy endpoint uses of the server (beyond what the fixtures record)."""

    faults: ServerFaults
    cancelled: list[Any]
    lost_replies: list[Any]


class ModernHost(Protocol):
    """What the modern endpoint uses of the server."""

    faults: ServerFaults
    modern_versions: tuple[str, ...]
    tool_runs: collections.Counter[str]
    cancelled_calls: list[Any]
    cut_replies: list[Any]
    lost_replies: list[Any]
    listen_requests: list[Any]

    def cache_hint(self, method: str) -> tuple[int, str]:
        """The ``(ttlMs, cacheScope)`` to put on ``method``'s complete results."""
        ...
