"""The reference MCP server: Streamable HTTP on aiohttp, legacy and/or modern era.

In the legacy era (2024-11-05 … 2025-11-25) it has sessions, answers POSTed requests with
JSON or an SSE stream, offers a GET stream and stores every SSE event so a client can
resume with ``Last-Event-ID``. In the modern era (2026-07-28, see :mod:`._modern`) it is
stateless and POST-only. It records everything it receives and misbehaves on demand
through :class:`ServerFaults`.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import secrets
import weakref
from collections.abc import Mapping
from importlib import metadata
from typing import Any, Literal
from urllib.parse import urlsplit

import attrs
from aiohttp import web

from ._authserver import AuthorizationServer, AuthServerSettings
from ._fixtures import handle_request
from ._modern import CACHEABLE_METHODS, ModernEndpoint
from ._session import VERSIONS, CallContext, ProtocolFault, Session, encode_message
from ._streams import Event, EventStream, parse_event_id

__all__ = ["RecordedRequest", "ReferenceServer", "ServerFaults"]

log = logging.getLogger("duomcp.testing")

SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
INSTRUCTIONS = (
    "The duomcp reference server, for tests and demos: echo, add, slow, progress, log, "
    "sample, elicit and more tools; mem:// resources; greet and plain prompts."
)
_INVALID_JSON = object()

try:
    SERVER_VERSION = metadata.version("duomcp")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    SERVER_VERSION = "0"


@attrs.define
class ServerFaults:
    """Switches that change how the reference server behaves; tests may flip them live."""

    reply_mode: Literal["json", "sse"] = "sse"
    """How POSTed requests are answered: one JSON body, or an SSE stream."""
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
    modern_cut_replies: int = 0
    """Modern era: cut this many of the next SSE replies (not listen streams) just before
    their response; each cut decrements it. The request ran; its id goes to
    :attr:`ReferenceServer.cut_replies`."""


@attrs.frozen
class RecordedRequest:
    """One HTTP request the server received.

    ``headers`` is a plain dict whose names are lower-cased (look up ``"mcp-session-id"``);
    ``body`` is the parsed JSON body (None when there was none or it was not JSON);
    ``status`` is the HTTP status answered: 0 until it is known, and for a connection that
    was cut without an answer. The record in :attr:`ReferenceServer.requests` is replaced
    by one with the status once that is known, so read it from the list.
    """

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any
    status: int = 0


class _Cut(web.Response):
    """What a handler returns after aborting the connection: nothing reaches the client."""


def _error(request_id: Any, code: int, message: str) -> dict[str, Any]:
    reply: dict[str, Any] = {"jsonrpc": "2.0"}
    if request_id is not None:
        reply["id"] = request_id
    reply["error"] = {"code": code, "message": message}
    return reply


def _http_error(
    status: int, code: int, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    """An HTTP error whose body is a JSON-RPC error without an id."""
    return web.json_response(_error(None, code, message), status=status, headers=headers)


def _dumps(message: Any) -> str:
    return json.dumps(message, separators=(",", ":"))


def _media_types(request: web.BaseRequest) -> set[str]:
    values = ",".join(request.headers.getall("Accept", []))
    return {part.split(";", 1)[0].strip().lower() for part in values.split(",")}


def _classify(message: Any) -> str | None:
    """``request``, ``notification`` or ``response``; None for an invalid JSON-RPC message."""
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return None
    if "method" in message:
        if not isinstance(message["method"], str):
            return None
        if "id" not in message:
            return "notification"
        request_id = message["id"]
        valid = isinstance(request_id, str) or (
            isinstance(request_id, int) and not isinstance(request_id, bool)
        )
        return "request" if valid else None
    if "id" in message and (("result" in message) != ("error" in message)):
        return "response"
    return None


Era = Literal["legacy", "modern", "dual"]
HANDSHAKE_VERSIONS = frozenset(VERSIONS)
"""Versions of the legacy (``initialize``) era; in dual mode other versions go modern."""
DEFAULT_CACHE_HINT = (0, "public")


class ReferenceServer:
    """A Streamable HTTP MCP server on aiohttp.web, for tests, docs and demos.

    ``era`` picks the protocol: ``legacy`` (sessions, ``initialize``), ``modern``
    (2026-07-28: stateless, POST only, every request modern) or ``dual`` (a request whose
    ``MCP-Protocol-Version`` header is present and not a handshake version is modern, the
    rest legacy). ``modern_versions`` are the modern versions accepted; ``cache_hints``
    maps a cacheable method to its ``(ttlMs, cacheScope)`` (default ``(0, "public")``).

    Everything it receives is observable: :attr:`requests`, :attr:`tool_runs`,
    :attr:`cancelled`, :attr:`connections_opened`, :attr:`sessions`, :attr:`log_level`,
    :attr:`subscriptions`, and in the modern era :attr:`cancelled_calls`,
    :attr:`cut_replies`, :attr:`listen_requests`, :attr:`listeners`. Change :attr:`faults`
    at any time to make it misbehave.
    """

    def __init__(
        self,
        *,
        faults: ServerFaults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "/mcp",
        oauth: AuthServerSettings | None = None,
        era: Era = "legacy",
        modern_versions: tuple[str, ...] = ("2026-07-28",),
        cache_hints: Mapping[str, tuple[int, str]] | None = None,
    ) -> None:
        if era not in ("legacy", "modern", "dual"):
            raise ValueError(f"unknown era {era!r}")
        unknown = set(cache_hints or {}) - set(CACHEABLE_METHODS)
        if unknown:
            raise ValueError(f"no cache hints for {sorted(unknown)}")
        self.era: Era = era
        """Which protocol era(s) the server speaks."""
        self.modern_versions = tuple(modern_versions)
        """The modern protocol versions accepted (and listed by ``server/discover``)."""
        self.cache_hints: dict[str, tuple[int, str]] = dict(cache_hints or {})
        """``(ttlMs, cacheScope)`` by method; may be changed while the server runs."""
        self.cancelled_calls: list[Any] = []
        """Ids of modern requests cancelled because the client closed their reply stream."""
        self.cut_replies: list[Any] = []
        """Ids of modern requests whose reply was cut by ``faults.modern_cut_replies``."""
        self.listen_requests: list[Any] = []
        """The id of every ``subscriptions/listen`` request accepted, in arrival order."""
        self.faults = faults or ServerFaults()
        """The switches in effect; may be changed while the server runs."""
        self.auth_server = AuthorizationServer(oauth) if oauth is not None else None
        """The built-in OAuth authorization server, when ``oauth`` settings were given."""
        self.host, self.port, self.path = host, port, path
        self.url = ""
        """The MCP endpoint, e.g. ``http://127.0.0.1:PORT/mcp``, once started."""
        self.requests: list[RecordedRequest] = []
        """Every HTTP request to the MCP endpoint, in arrival order."""
        self.tool_runs: collections.Counter[str] = collections.Counter()
        """How often each tool started running."""
        self.cancelled: list[Any] = []
        """The ``requestId`` of every ``notifications/cancelled`` received."""
        self.connections_opened = 0
        """How many distinct TCP connections sent requests."""
        self.subscriptions: set[str] = set()
        """The resource URIs subscribed to (and not unsubscribed from)."""
        self.log_level: str | None = None
        """The level last set with ``logging/setLevel``."""
        self._sessions: dict[str, Session] = {}
        self._anonymous: Session | None = None  # the session when ids are not issued
        self._retired: list[Session] = []  # forgotten; their tasks still end at close()
        self._transports: weakref.WeakSet[asyncio.BaseTransport] = weakref.WeakSet()
        self._inflight: dict[int, RecordedRequest] = {}
        self._runner: web.AppRunner | None = None
        server_info = {"name": "duomcp-reference", "version": SERVER_VERSION}
        self._modern = ModernEndpoint(self, server_info, INSTRUCTIONS)

    @property
    def listeners(self) -> int:
        """How many ``subscriptions/listen`` streams are open now."""
        return len(self._modern.listeners)

    def cache_hint(self, method: str) -> tuple[int, str]:
        """The ``(ttlMs, cacheScope)`` the modern era puts on ``method``'s results."""
        return self.cache_hints.get(method, DEFAULT_CACHE_HINT)

    @property
    def sessions(self) -> set[str]:
        """The ids of the live sessions."""
        return set(self._sessions)

    async def __aenter__(self) -> ReferenceServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> str:
        """Start serving; return the endpoint URL."""
        if self._runner is not None:
            raise RuntimeError("the reference server is already running")
        app = web.Application()
        app.router.add_route("*", self.path, self._handle)
        if self.auth_server is not None:
            self.auth_server.install(app, self.path)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        port = runner.addresses[0][1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{host}:{port}{self.path}"
        if self.auth_server is not None:
            self.auth_server.bind(f"http://{host}:{port}", self.url)
        return self.url

    async def close(self) -> None:
        """Stop serving: end every session, its requests and its streams. Idempotent."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        sessions = [*self._sessions.values(), *self._retired]
        if self._anonymous is not None:
            sessions.append(self._anonymous)
        self._sessions.clear()
        self._retired.clear()
        self._anonymous = None
        await self._modern.close()
        tasks = [task for session in sessions for task in session.end()]
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
        await runner.cleanup()

    def forget_sessions(self) -> None:
        """Drop every session: a request with an old session id now gets 404.

        Streams already open stay open, as on a server that lost its session table.
        """
        self._retired.extend(self._sessions.values())
        self._sessions.clear()

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        """Send a notification on the GET stream of every live session, and on every
        modern ``subscriptions/listen`` stream that asked for it.

        It is stored in each session's event store: a client that is not reading its GET
        stream right now gets it when it opens one. Listen streams get only the list-changed
        notifications they opted in to and ``notifications/resources/updated`` for the URIs
        they subscribed to, tagged with their subscription id.
        """
        event = Event("message", encode_message(method, params))
        for session in self._live_sessions():
            session.standalone.append(event)
        self._modern.announce(method, params)

    async def end_subscriptions(self, graceful: bool) -> None:
        """End every open ``subscriptions/listen`` stream.

        ``graceful``: send the listen result (``resultType`` complete, ``_meta`` with the
        subscription id) and end the stream; otherwise abort the connection. Returns once
        the streams are over (at most about 2 s).
        """
        await self._modern.end_subscriptions(graceful)

    async def drop_streams(self) -> None:
        """Abort the connection of every open GET stream (clients should reconnect)."""
        for session in self._live_sessions():
            reader = session.standalone.reader
            if reader is not None and not reader.done():
                reader.cancel()

    def _live_sessions(self) -> list[Session]:
        live = list(self._sessions.values())
        if self._anonymous is not None:
            live.append(self._anonymous)
        return live

    # -- HTTP -------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        transport = request.transport
        if transport is not None and transport not in self._transports:
            self._transports.add(transport)
            self.connections_opened += 1
        raw, too_large = b"", False
        if request.method == "POST":
            raw, too_large = await self._read_body(request)
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = _INVALID_JSON
        headers = {name.lower(): value for name, value in request.headers.items()}
        record = RecordedRequest(
            request.method, request.path, headers, None if body is _INVALID_JSON else body
        )
        self.requests.append(record)
        self._inflight[id(request)] = record
        try:
            response = await self._route(request, body, too_large)
            self._mark(request, 0 if isinstance(response, _Cut) else response.status)
            return response
        finally:
            self._inflight.pop(id(request), None)

    def _mark(self, request: web.BaseRequest, status: int) -> None:
        """Replace the request's record by one with the status answered."""
        old = self._inflight.get(id(request))
        if old is None or old.status == status:
            return
        new = attrs.evolve(old, status=status)
        self._inflight[id(request)] = new
        for index in range(len(self.requests) - 1, -1, -1):
            if self.requests[index] is old:
                self.requests[index] = new
                break

    async def _read_body(self, request: web.Request) -> tuple[bytes, bool]:
        """The body, or ``(b"", True)`` when it is larger than ``max_body_bytes``."""
        limit = self.faults.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            return b"", True
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.content.iter_chunked(1 << 16):
            size += len(chunk)
            if size > limit:
                return b"", True
            chunks.append(chunk)
        return b"".join(chunks), False

    async def _route(self, request: web.Request, body: Any, too_large: bool) -> web.StreamResponse:
        refusal = (
            self._origin_refusal(request)
            or self._oauth_refusal(request, body)
            or self._bearer_refusal(request)
        )
        if refusal is not None:
            return refusal
        if self._is_modern(request):
            return await self._modern.handle(request, body, too_large or body is _INVALID_JSON)
        if request.method == "POST":
            return await self._post(request, body, too_large)
        if request.method == "GET":
            return await self._get(request)
        if request.method == "DELETE":
            return self._delete(request)
        return _http_error(405, -32600, "Method Not Allowed", {"Allow": "GET, POST, DELETE"})

    def _is_modern(self, request: web.Request) -> bool:
        if self.era == "modern":
            return True
        if self.era == "legacy":
            return False
        version = request.headers.get("MCP-Protocol-Version")
        return version is not None and version not in HANDSHAKE_VERSIONS

    def _origin_refusal(self, request: web.Request) -> web.Response | None:
        """403 for a browser page from another origin (DNS rebinding protection)."""
        origin = request.headers.get("Origin")
        if origin is None:
            return None
        try:
            host = urlsplit(origin).hostname
        except ValueError:
            host = None
        if host is not None and (host in LOCAL_HOSTS or host == self.host.strip("[]")):
            return None
        return _http_error(403, -32600, f"Forbidden: origin {origin} is not allowed")

    def _oauth_refusal(self, request: web.Request, body: Any) -> web.Response | None:
        server = self.auth_server
        if server is None:
            return None
        header = request.headers.get("Authorization", "")
        scopes = server.scopes_of(header[7:]) if header.startswith("Bearer ") else None
        if scopes is None:
            challenge = f'Bearer error="invalid_token", resource_metadata="{server.prm_url}"'
            return web.json_response(
                {"error": "invalid_token"}, status=401, headers={"WWW-Authenticate": challenge}
            )
        if isinstance(body, dict) and body.get("method") == "tools/call":
            params = body.get("params")
            name = params.get("name") if isinstance(params, dict) else None
            needed = server.settings.tool_scopes.get(str(name))
            if needed and needed not in scopes:
                challenge = f'Bearer error="insufficient_scope", scope="{needed}"'
                return web.json_response(
                    {"error": "insufficient_scope"},
                    status=403,
                    headers={"WWW-Authenticate": challenge},
                )
        return None

    def _bearer_refusal(self, request: web.Request) -> web.Response | None:
        faults = self.faults
        if faults.require_bearer is not None:
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or token.strip() != faults.require_bearer:
                challenge = 'Bearer error="invalid_token", error_description="token required"'
                return web.json_response(
                    {"error": "invalid_token"},
                    status=401,
                    headers={"WWW-Authenticate": challenge},
                )
        if faults.forbid:
            return web.json_response(
                {"error": "insufficient_scope"},
                status=403,
                headers={"WWW-Authenticate": 'Bearer error="insufficient_scope", scope="admin"'},
            )
        return None

    def _session_of(self, request: web.Request) -> Session | web.Response:
        """The request's session, or the error response (400, 404) to answer instead."""
        if self.faults.session_required:
            session_id = request.headers.get("Mcp-Session-Id")
            if not session_id:
                return _http_error(400, -32600, "Bad Request: Mcp-Session-Id header is required")
            found = self._sessions.get(session_id)
            if found is None:
                return _http_error(404, -32001, "Session not found")
            session = found
        elif self._anonymous is None:
            return _http_error(400, -32600, "Bad Request: not initialized")
        else:
            session = self._anonymous
        version = request.headers.get("MCP-Protocol-Version")
        # A MUST once the client knows the version, i.e. after notifications/initialized
        # (while it resumes the initialize reply it cannot know it yet).
        if version is None and session.initialized and session.at_least("2025-06-18"):
            return _http_error(
                400, -32600, f"Bad Request: MCP-Protocol-Version {session.version} is required"
            )
        if version is not None and version != session.version:
            return _http_error(
                400,
                -32600,
                f"Bad Request: unsupported MCP-Protocol-Version {version!r}"
                f" (negotiated {session.version})",
            )
        return session

    # -- POST -------------------------------------------------------------------------------

    async def _post(self, request: web.Request, body: Any, too_large: bool) -> web.StreamResponse:
        if not {"application/json", "text/event-stream"} <= _media_types(request):
            return _http_error(
                406,
                -32600,
                "Not Acceptable: Accept must list application/json and text/event-stream",
            )
        if request.content_type != "application/json":
            return _http_error(415, -32600, "Unsupported Media Type: send application/json")
        if too_large:
            return _http_error(413, -32600, "Payload Too Large")
        if body is _INVALID_JSON or body is None:
            return _http_error(400, -32700, "Parse error")
        if isinstance(body, list):
            return await self._post_batch(request, body)
        kind = _classify(body)
        if kind is None:
            return _http_error(400, -32600, "Invalid Request")
        if kind == "request" and body["method"] == "initialize":
            return await self._initialize(request, body)
        session = self._session_of(request)
        if isinstance(session, web.Response):
            empty = self.faults.legacy_empty_400 and self._sessionless(request)
            if empty and session.status == 400:
                return web.Response(status=400)
            return session
        if kind == "response":
            session.resolve(body)
            return web.Response(status=202)
        if kind == "notification":
            self._on_notification(session, body)
            return web.Response(status=202)
        return await self._answer(request, session, [body], [])

    def _sessionless(self, request: web.Request) -> bool:
        if self.faults.session_required:
            return not request.headers.get("Mcp-Session-Id")
        return self._anonymous is None

    async def _post_batch(self, request: web.Request, batch: list[Any]) -> web.StreamResponse:
        """A JSON-RPC batch: allowed only when 2025-03-26 was negotiated."""
        session = self._session_of(request)
        if isinstance(session, web.Response):
            return session
        if session.version != "2025-03-26":
            return _http_error(
                400, -32600, f"Invalid Request: no batches in protocol version {session.version}"
            )
        if not batch:
            return _http_error(400, -32600, "Invalid Request: empty batch")
        requests: list[dict[str, Any]] = []
        ready: list[dict[str, Any]] = []
        for message in batch:
            kind = _classify(message)
            if kind is None:
                ready.append(_error(None, -32600, "Invalid Request"))
            elif kind == "request" and message["method"] == "initialize":
                ready.append(_error(message["id"], -32600, "initialize cannot be batched"))
            elif kind == "request":
                requests.append(message)
            elif kind == "notification":
                self._on_notification(session, message)
            else:
                session.resolve(message)
        if not requests and not ready:
            return web.Response(status=202)
        return await self._answer(request, session, requests, ready, batch=True)

    async def _initialize(
        self, request: web.Request, message: dict[str, Any]
    ) -> web.StreamResponse:
        params = message.get("params")
        if (
            not isinstance(params, dict)
            or not isinstance(params.get("protocolVersion"), str)
            or not isinstance(params.get("capabilities"), dict)
            or not isinstance(params.get("clientInfo"), dict)
        ):
            reply = _error(
                message["id"],
                -32602,
                "Invalid params: initialize needs protocolVersion, capabilities and clientInfo",
            )
            return web.json_response(reply)
        offered = params["protocolVersion"]
        version = offered if offered in VERSIONS else VERSIONS[0]
        headers: dict[str, str] = {}
        if self.faults.session_required:
            session_id = secrets.token_urlsafe(24)
            session = Session(session_id, version, params["capabilities"])
            self._sessions[session_id] = session
            headers["Mcp-Session-Id"] = session_id
        else:
            session = Session(None, version, params["capabilities"])
            if self._anonymous is not None:
                self._retired.append(self._anonymous)
            self._anonymous = session
        result = {
            "protocolVersion": version,
            "capabilities": {
                "tools": {"listChanged": True},
                "resources": {"subscribe": True, "listChanged": True},
                "prompts": {"listChanged": True},
                "logging": {},
                "completions": {},
            },
            "serverInfo": {"name": "duomcp-reference", "version": SERVER_VERSION},
            "instructions": INSTRUCTIONS,
        }
        reply = {"jsonrpc": "2.0", "id": message["id"], "result": result}
        return await self._answer(request, session, [], [reply], headers=headers)

    def _on_notification(self, session: Session, message: dict[str, Any]) -> None:
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        if message["method"] == "notifications/initialized":
            session.initialized = True
        elif message["method"] == "notifications/cancelled":
            self.cancelled.append(params.get("requestId"))
            session.cancel(params.get("requestId"))

    async def _answer(
        self,
        request: web.Request,
        session: Session,
        requests: list[dict[str, Any]],
        ready: list[dict[str, Any]],
        *,
        batch: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> web.StreamResponse:
        """Answer ``requests`` (run now) and ``ready`` replies, as JSON or an SSE stream."""
        faults = self.faults
        calls = [message for message in requests if message["method"] == "tools/call"]
        if faults.die_mid_call and calls:
            for call in calls:
                params = call.get("params")
                self.tool_runs[str(params.get("name") if isinstance(params, dict) else None)] += 1
            if request.transport is not None:
                request.transport.abort()
            return _Cut(status=500)
        if faults.reply_mode == "json":
            tasks = [self._start(session, message, None) for message in requests]
            results = await asyncio.shield(asyncio.gather(*tasks, return_exceptions=True))
            replies = ready + [result for result in results if isinstance(result, dict)]
            if not replies:  # every request was cancelled: there is nothing to answer
                return web.Response(status=202, headers=headers)
            return web.json_response(replies if batch else replies[0], headers=headers)
        stream = session.new_stream()
        if faults.retry_ms is not None or faults.close_after_priming:
            stream.append(Event("priming", retry_ms=faults.retry_ms))
        for reply in ready:
            stream.append(Event("response", _dumps(reply)))
        self._finish_when_done(stream, [self._start(session, m, stream) for m in requests])
        drop_after = None
        key = tuple(m["id"] for m in requests) + tuple(r.get("id") for r in ready)
        if faults.drop_reply_after is not None and key not in session.dropped:
            session.dropped.add(key)
            drop_after = faults.drop_reply_after
        return await self._send_stream(
            request,
            stream,
            -1,
            headers=headers,
            drop_after=drop_after,
            close_after_priming=faults.close_after_priming,
        )

    def _start(
        self, session: Session, message: dict[str, Any], stream: EventStream | None
    ) -> asyncio.Task[dict[str, Any]]:
        """Run one request as a task that a ``notifications/cancelled`` can stop."""
        params = message.get("params")
        ctx = CallContext(session, stream, params if isinstance(params, dict) else {})
        task = asyncio.get_running_loop().create_task(self._run(session, message, ctx))
        request_id = message["id"]
        session.running[request_id] = task

        def done(task: asyncio.Task[dict[str, Any]]) -> None:
            if session.running.get(request_id) is task:
                del session.running[request_id]
            if stream is not None and not task.cancelled():
                stream.append(Event("response", _dumps(task.result())))

        task.add_done_callback(done)
        return task

    @staticmethod
    def _finish_when_done(stream: EventStream, tasks: list[asyncio.Task[Any]]) -> None:
        """End ``stream`` once every task has put its response on it (or was cancelled)."""
        remaining = len(tasks)

        def one_done(_: asyncio.Task[Any]) -> None:
            nonlocal remaining
            remaining -= 1
            if remaining == 0:
                stream.finish()

        if not tasks:
            stream.finish()
        for task in tasks:
            task.add_done_callback(one_done)

    async def _run(
        self, session: Session, message: dict[str, Any], ctx: CallContext
    ) -> dict[str, Any]:
        """The response to one request (a cancelled request has none: it raises)."""
        request_id = message["id"]
        params = message.get("params", {})
        try:
            if not isinstance(params, dict):
                raise ProtocolFault(-32602, "Invalid params: params must be an object")
            result = await handle_request(self, session, message["method"], params, ctx)
        except ProtocolFault as fault:
            return {"jsonrpc": "2.0", "id": request_id, "error": fault.to_error()}
        except Exception as exc:  # a bug in a fixture: say so instead of hanging
            log.exception("the reference server failed on %s", message["method"])
            return _error(request_id, -32603, f"Internal error: {exc!r}")
        return {"jsonrpc": "2.0", "id": request_id, "result": result}

    # -- SSE --------------------------------------------------------------------------------

    async def _send_stream(
        self,
        request: web.Request,
        stream: EventStream,
        after: int,
        *,
        headers: Mapping[str, str] | None = None,
        drop_after: int | None = None,
        close_after_priming: bool = False,
    ) -> web.StreamResponse:
        """Send ``stream``'s events after sequence number ``after`` until it is done."""
        response = web.StreamResponse(headers={**SSE_HEADERS, **(headers or {})})
        await response.prepare(request)
        self._mark(request, response.status)
        try:
            await self._pump(request, response, stream, after, drop_after, close_after_priming)
        except ConnectionError:  # the client went away; the events stay stored
            pass
        return response

    async def _pump(
        self,
        request: web.Request,
        response: web.StreamResponse,
        stream: EventStream,
        after: int,
        drop_after: int | None = None,
        close_after_priming: bool = False,
    ) -> None:
        seq, sent = after + 1, 0
        while True:
            if drop_after is not None and sent >= drop_after:
                self._cut(request)
                return
            item = await stream.next_event(seq)
            if item is None:
                break
            seq, event = item
            if drop_after is not None and event.kind == "response":
                self._cut(request)
                return
            await response.write(event.frame(stream.event_id(seq)))
            sent += 1
            stream.cursor = max(stream.cursor, seq)
            seq += 1
            if close_after_priming and event.kind == "priming":
                break
        await response.write_eof()

    @staticmethod
    def _cut(request: web.BaseRequest) -> None:
        """Close the connection mid-response: what was written is flushed, then FIN."""
        if request.transport is not None:
            request.transport.close()

    # -- GET and DELETE ---------------------------------------------------------------------

    async def _get(self, request: web.Request) -> web.StreamResponse:
        if "text/event-stream" not in _media_types(request):
            return _http_error(406, -32600, "Not Acceptable: Accept must list text/event-stream")
        session = self._session_of(request)
        if isinstance(session, web.Response):
            return session
        last_event_id = request.headers.get("Last-Event-ID")
        if last_event_id is not None:
            parsed = parse_event_id(last_event_id)
            stream = session.streams.get(parsed[0]) if parsed is not None else None
            if parsed is None or stream is None:
                return _http_error(400, -32600, f"Bad Request: unknown event id {last_event_id}")
            if stream is session.standalone:
                return await self._serve_get_stream(request, session, parsed[1])
            return await self._send_stream(request, stream, parsed[1])
        if not self.faults.get_stream:
            return _http_error(405, -32600, "Method Not Allowed", {"Allow": "POST, DELETE"})
        return await self._serve_get_stream(request, session, None)

    async def _serve_get_stream(
        self, request: web.Request, session: Session, after: int | None
    ) -> web.StreamResponse:
        """The session's GET stream, from ``after`` or (None) where the last reader stopped."""
        stream = session.standalone
        if stream.has_live_reader():
            return _http_error(409, -32600, "Conflict: the session's GET stream is already open")
        if stream.reader is not None and not stream.reader.done():
            stream.reader.cancel()  # a reader whose connection is gone
        task = asyncio.current_task()
        stream.reader, stream.reader_transport = task, request.transport
        if after is None:
            after = stream.cursor
            if self.faults.retry_ms is not None:
                stream.insert_after_cursor(Event("priming", retry_ms=self.faults.retry_ms))
        response = web.StreamResponse(headers=SSE_HEADERS)
        try:
            await response.prepare(request)
            self._mark(request, response.status)
            await self._pump(request, response, stream, after)
        except ConnectionError:
            pass
        except asyncio.CancelledError:  # drop_streams(), a newer reader, or shutdown
            if request.transport is not None:
                request.transport.abort()
        finally:
            if stream.reader is task:
                stream.reader = stream.reader_transport = None
        return response

    def _delete(self, request: web.Request) -> web.StreamResponse:
        session = self._session_of(request)
        if isinstance(session, web.Response):
            return session
        status = self.faults.delete_status
        if 200 <= status < 300:
            if session.id is not None:
                self._sessions.pop(session.id, None)
            elif session is self._anonymous:
                self._anonymous = None
            session.end()
        headers = {"Allow": "GET, POST"} if status == 405 else None
        return web.Response(status=status, headers=headers)
