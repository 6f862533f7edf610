"""The connection state: the one owner of everything that goes into request headers.

Every HTTP request the client makes to an MCP server -- the POST of a message, the GET
stream, a reconnect, a resumption with ``Last-Event-ID``, the DELETE at close -- takes its
headers from :meth:`ConnectionState.headers`. No other code builds ``Authorization``,
``Mcp-Session-Id``, ``MCP-Protocol-Version`` or ``Last-Event-ID``. Forgetting the bearer on
a reconnect, or the session id on a DELETE, is impossible by construction.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal

import attrs

from ._mcp_headers import ParamHeader, encode_header_value, param_header_values
from .auth import Auth, RequestKind

__all__ = ["PROTOCOL_VERSION_META", "ConnectionState", "Era"]

Era = Literal["legacy", "modern"]

_ACCEPT = {
    "post": "application/json, text/event-stream",
    "get": "text/event-stream",
    "resume": "text/event-stream",
}
# Headers the protocol owns; a user-supplied header of the same name is refused so that
# it can never shadow the session or the credential.
_RESERVED = frozenset(
    {
        "accept",
        "content-type",
        "mcp-session-id",
        "mcp-protocol-version",
        "last-event-id",
        "mcp-method",
        "mcp-name",
    }
)
PROTOCOL_VERSION_META = "io.modelcontextprotocol/protocolVersion"
# Requests whose target (params.name, params.uri, params.taskId) goes into Mcp-Name.
_NAME_PARAM = {
    "tools/call": "name",
    "prompts/get": "name",
    "resources/read": "uri",
    # SEP-2663: the task's id, so that intermediaries route to the server that holds it.
    "tasks/get": "taskId",
    "tasks/update": "taskId",
    "tasks/cancel": "taskId",
}


def _names_only(headers: Mapping[str, str]) -> str:
    """A repr of headers that shows their names, never their values (credentials)."""
    return "{" + ", ".join(f"{name!r}: '***'" for name in headers) + "}"


def _hidden(value: object) -> str:
    return "None" if value is None else "'***'"


def _visible_ascii(value: str) -> bool:
    return bool(value) and all("\x21" <= ch <= "\x7e" for ch in value)


@attrs.define(kw_only=True)
class ConnectionState:
    """Endpoint, era, negotiated version, session, stream positions and credential."""

    endpoint: str
    auth: Auth | None = None
    extra_headers: Mapping[str, str] = attrs.field(factory=dict, repr=_names_only)
    era: Era | None = None
    protocol_version: str | None = None
    session_id: str | None = attrs.field(default=None, repr=_hidden)
    server_retry_ms: int | None = None
    """The reconnection delay the server last asked for with an SSE ``retry`` field."""
    last_event_ids: dict[str, str] = attrs.field(factory=dict)
    """Last SSE event id seen per stream: ``"get"`` or ``"post:<request id>"``."""
    tool_headers: dict[str, tuple[ParamHeader, ...]] = attrs.field(factory=dict)
    """Modern era: the ``x-mcp-header`` parameters of each listed tool, by tool name."""
    _sign_ins: int = attrs.field(default=0, init=False, repr=False)
    _paused_since: float = attrs.field(default=0.0, init=False, repr=False)
    _paused_total: float = attrs.field(default=0.0, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        clash = sorted(
            k
            for k in self.extra_headers
            if k.lower() in _RESERVED or k.lower().startswith("mcp-param-")
        )
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
        self.tool_headers.clear()

    @contextmanager
    def signing_in(self) -> Iterator[None]:
        """Mark a sign-in (the auth path handling a 401/403) as under way: the time it takes
        is not counted against the timeouts of the calls waiting on it."""
        if self._sign_ins == 0:
            self._paused_since = time.monotonic()
        self._sign_ins += 1
        try:
            yield
        finally:
            self._sign_ins -= 1
            if self._sign_ins == 0:
                self._paused_total += time.monotonic() - self._paused_since

    @property
    def is_signing_in(self) -> bool:
        """Whether a sign-in is under way."""
        return self._sign_ins > 0

    def sign_in_seconds(self) -> float:
        """Seconds spent signing in since this state was made (a clock that only runs
        during sign-ins: the difference of two readings is the sign-in time between)."""
        if self._sign_ins:
            return self._paused_total + time.monotonic() - self._paused_since
        return self._paused_total

    async def headers(
        self,
        kind: RequestKind,
        *,
        stream: str | None = None,
        message: Mapping[str, Any] | None = None,
        url: str | None = None,
    ) -> dict[str, str]:
        """Build the complete headers of one HTTP request of the given kind.

        Args:
            kind: what the request is (message POST, GET stream, resumption, DELETE).
            stream: for ``"resume"`` and ``"get"``, the stream whose last event id is sent
                as ``Last-Event-ID``.
            message: for a modern-era POST, the JSON-RPC message it carries: its method,
                target, protocol version and annotated tool arguments are mirrored into
                ``Mcp-Method``, ``Mcp-Name``, ``MCP-Protocol-Version`` and
                ``Mcp-Param-*``.
            url: the URL the request goes to, when it is not the endpoint (the HTTP+SSE
                transport's POST URL); a credential bound to each request signs it.

        Raises:
            ValueError: a tool argument cannot be mirrored into its declared header.
        """
        headers = dict(self.extra_headers)
        accept = _ACCEPT.get(kind)
        if accept is not None:
            headers["Accept"] = accept
        if kind == "post":
            headers["Content-Type"] = "application/json"
        if self.protocol_version is not None:
            headers["MCP-Protocol-Version"] = self.protocol_version
        if message is not None and self.era == "modern":
            headers.update(self._modern_headers(message))
        if self.session_id is not None:
            headers["Mcp-Session-Id"] = self.session_id
        if stream is not None:
            last_id = self.last_event_ids.get(stream)
            if last_id:
                headers["Last-Event-ID"] = last_id
        if self.auth is not None:
            method = "DELETE" if kind == "delete" else ("POST" if kind == "post" else "GET")
            headers.update(await self.auth.request_headers(method, url or self.endpoint))
        return headers

    def _modern_headers(self, message: Mapping[str, Any]) -> dict[str, str]:
        method = message.get("method")
        if not isinstance(method, str):
            return {}
        headers = {"Mcp-Method": encode_header_value(method)}
        params = message.get("params")
        params = params if isinstance(params, Mapping) else {}
        meta = params.get("_meta")
        version = meta.get(PROTOCOL_VERSION_META) if isinstance(meta, Mapping) else None
        if isinstance(version, str):
            # The header is read from the body it travels with: they cannot disagree.
            headers["MCP-Protocol-Version"] = version
        key = _NAME_PARAM.get(method)
        target = params.get(key) if key is not None else None
        if isinstance(target, str):
            headers["Mcp-Name"] = encode_header_value(target)
        if method == "tools/call" and isinstance(target, str):
            annotated = self.tool_headers.get(target)
            arguments = params.get("arguments")
            if annotated and isinstance(arguments, Mapping):
                headers.update(param_header_values(annotated, arguments))
        return headers
