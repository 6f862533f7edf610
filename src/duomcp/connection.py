"""The connection state: the one owner of everything that goes into request headers.

Every HTTP request the client makes to an MCP server -- the POST of a message, the GET
stream, a reconnect, a resumption with ``Last-Event-ID``, the DELETE at close -- takes its
headers from :meth:`ConnectionState.headers`. No other code builds ``Authorization``,
``Mcp-Session-Id``, ``MCP-Protocol-Version`` or ``Last-Event-ID``. Forgetting the bearer on
a reconnect, or the session id on a DELETE, is impossible by construction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import attrs

from .auth import Auth, RequestKind

__all__ = ["ConnectionState", "Era"]

Era = Literal["legacy", "modern"]

_ACCEPT = {
    "post": "application/json, text/event-stream",
    "get": "text/event-stream",
    "resume": "text/event-stream",
}
# Headers the protocol owns; a user-supplied header of the same name is refused so that
# it can never shadow the session or the credential.
_RESERVED = frozenset(
    {"accept", "content-type", "mcp-session-id", "mcp-protocol-version", "last-event-id"}
)


def _visible_ascii(value: str) -> bool:
    return bool(value) and all("\x21" <= ch <= "\x7e" for ch in value)


@attrs.define(kw_only=True)
class ConnectionState:
    """Endpoint, era, negotiated version, session, stream positions and credential."""

    endpoint: str
    auth: Auth | None = None
    extra_headers: Mapping[str, str] = attrs.field(factory=dict)
    era: Era | None = None
    protocol_version: str | None = None
    session_id: str | None = None
    server_retry_ms: int | None = None
    """The reconnection delay the server last asked for with an SSE ``retry`` field."""
    last_event_ids: dict[str, str] = attrs.field(factory=dict)
    """Last SSE event id seen per stream: ``"get"`` or ``"post:<request id>"``."""

    def __attrs_post_init__(self) -> None:
        clash = sorted(k for k in self.extra_headers if k.lower() in _RESERVED)
        if clash:
            raise ValueError(f"headers {clash} are set by the protocol and cannot be given")

    def set_session_id(self, value: str | None) -> None:
        """Adopt the session id a server issued; refuse one that is not visible ASCII."""
        if value is not None and not _visible_ascii(value):
            raise ValueError("the server issued a session id that is not visible ASCII")
        self.session_id = value

    def reset_session(self) -> None:
        """Forget the session and everything tied to it (before a new ``initialize``)."""
        self.session_id = None
        self.protocol_version = None
        self.last_event_ids.clear()

    async def headers(self, kind: RequestKind, *, stream: str | None = None) -> dict[str, str]:
        """Build the complete headers of one HTTP request of the given kind.

        Args:
            kind: what the request is (message POST, GET stream, resumption, DELETE).
            stream: for ``"resume"`` and ``"get"``, the stream whose last event id is sent
                as ``Last-Event-ID``.
        """
        headers = dict(self.extra_headers)
        accept = _ACCEPT.get(kind)
        if accept is not None:
            headers["Accept"] = accept
        if kind == "post":
            headers["Content-Type"] = "application/json"
        if self.protocol_version is not None:
            headers["MCP-Protocol-Version"] = self.protocol_version
        if self.session_id is not None:
            headers["Mcp-Session-Id"] = self.session_id
        if stream is not None:
            last_id = self.last_event_ids.get(stream)
            if last_id:
                headers["Last-Event-ID"] = last_id
        if self.auth is not None:
            headers.update(await self.auth.auth_headers())
        return headers
