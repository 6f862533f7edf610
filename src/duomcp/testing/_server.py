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
import weakref
from collections.abc import Mapping
from importlib import metadata
from typing import Any, Literal

import attrs
from aiohttp import web

from ._authserver import AuthorizationServer, AuthServerSettings
from ._guards import refusal
from ._host import ServerFaults
from ._http import Cut
from ._legacy import LegacyEndpoint
from ._legacy_sessions import LegacySessions
from ._modern import CACHEABLE_METHODS, ModernEndpoint
from ._session import VERSIONS, encode_message
from ._streams import Event
from ._tasks import TaskManager, TaskStatuses, TaskStore

__all__ = ["RecordedRequest", "ReferenceServer", "ServerFaults"]

INSTRUCTIONS = (
    "The duomcp reference server, for tests and demos: echo, add, slow, progress, log, "
    "sample, elicit and more tools; mem:// resources; greet and plain prompts."
)

try:
    SERVER_VERSION = metadata.version("duomcp")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    SERVER_VERSION = "0"


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

    ``tasks`` (True, or a :class:`TaskStore` to share with a later server on the same
    port, as a restart that kept its tasks) offers tasks: the 2025-11-25 ``tasks``
    capability to sessions of that version, the ``io.modelcontextprotocol/tasks``
    extension in the modern era, and the task tools ``greet``, ``slow_compute``,
    ``failing_job``, ``protocol_error_job``, ``confirm_delete``, ``multi_input`` (and,
    modern only, ``test_tool_with_task``). Tasks still running when the server closes
    fail with -32603 "the server restarted". ``task_poll_interval_ms`` is the poll
    interval the tasks suggest. ``skills`` offers, in the modern era, one skill of the
    ``io.modelcontextprotocol/skills`` extension (``faults.tamper_skills`` alters its files).

    Everything it receives is observable: :attr:`requests`, :attr:`tool_runs`,
    :attr:`cancelled`, :attr:`connections_opened`, :attr:`sessions`, :attr:`log_level`,
    :attr:`subscriptions`, :attr:`lost_replies`, :attr:`tasks`, and in the modern era
    :attr:`cancelled_calls`, :attr:`cut_replies`, :attr:`listen_requests`,
    :attr:`listeners`. Change :attr:`faults` at any time to make it misbehave.

    The work is split: :mod:`._guards` refuses requests, :mod:`._legacy` (with
    :mod:`._legacy_sessions`) answers the legacy era and :mod:`._modern` (with
    :mod:`._listen`) the modern one; this class routes, records and owns the lifecycle.
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
        tasks: bool | TaskStore = False,
        task_poll_interval_ms: int = 100,
        skills: bool = False,
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
        self.lost_replies: list[Any] = []
        """Ids of requests whose reply was lost to ``faults.lose_replies``, in order."""
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
        self._transports: weakref.WeakSet[asyncio.BaseTransport] = weakref.WeakSet()
        self._inflight: dict[int, RecordedRequest] = {}
        self._runner: web.AppRunner | None = None
        store = tasks if isinstance(tasks, TaskStore) else TaskStore() if tasks else None
        self.task_store = store
        """Where the tasks live (None: no tasks); pass it to a restarted server."""
        self._tasks = TaskManager(store, task_poll_interval_ms) if store is not None else None
        server_info = {"name": "duomcp-reference", "version": SERVER_VERSION}
        self._sessions = LegacySessions(self)
        self._legacy = LegacyEndpoint(
            self, self._sessions, server_info, INSTRUCTIONS, tasks=self._tasks
        )
        self._modern = ModernEndpoint(
            self, server_info, INSTRUCTIONS, task_manager=self._tasks, skills=skills
        )
        if self._tasks is not None:
            self._tasks.announce = self._modern.subscriptions.announce

    @property
    def listeners(self) -> int:
        """How many ``subscriptions/listen`` streams are open now."""
        return len(self._modern.subscriptions.listeners)

    def cache_hint(self, method: str) -> tuple[int, str]:
        """The ``(ttlMs, cacheScope)`` the modern era puts on ``method``'s results."""
        return self.cache_hints.get(method, DEFAULT_CACHE_HINT)

    @property
    def tasks(self) -> Mapping[str, str]:
        """The status of every task in the store, by task id (a read-only live view)."""
        return TaskStatuses(self.task_store)

    @property
    def sessions(self) -> set[str]:
        """The ids of the live sessions."""
        return set(self._sessions.table)

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
        app.on_response_prepare.append(self._on_prepare)
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
        if self._tasks is not None:
            await self._tasks.close()
        await self._modern.close()
        tasks = self._sessions.end_all()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
        await runner.cleanup()

    def forget_sessions(self) -> None:
        """Drop every session: a request with an old session id now gets 404.

        Streams already open stay open, as on a server that lost its session table.
        """
        self._sessions.forget()

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        """Send a notification on the GET stream of every live session, and on every
        modern ``subscriptions/listen`` stream that asked for it.

        It is stored in each session's event store: a client that is not reading its GET
        stream right now gets it when it opens one. Listen streams get only the list-changed
        notifications they opted in to and ``notifications/resources/updated`` for the URIs
        they subscribed to, tagged with their subscription id.
        """
        event = Event("message", encode_message(method, params))
        for session in self._sessions.live():
            session.standalone.append(event)
        self._modern.subscriptions.announce(method, params)

    async def end_subscriptions(self, graceful: bool) -> None:
        """End every open ``subscriptions/listen`` stream.

        ``graceful``: send the listen result (``resultType`` complete, ``_meta`` with the
        subscription id) and end the stream; otherwise abort the connection. Returns once
        the streams are over (at most about 2 s).
        """
        await self._modern.subscriptions.end(graceful)

    async def drop_streams(self) -> None:
        """Abort the connection of every open GET stream (clients should reconnect)."""
        await self._sessions.drop_streams()

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
        invalid = False
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                invalid = True
        headers = {name.lower(): value for name, value in request.headers.items()}
        record = RecordedRequest(request.method, request.path, headers, body)
        self.requests.append(record)
        self._inflight[id(request)] = record
        try:
            response = await self._route(request, body, too_large, invalid)
            self._mark(request, 0 if isinstance(response, Cut) else response.status)
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

    async def _on_prepare(self, request: web.BaseRequest, response: web.StreamResponse) -> None:
        """Record the status of a response a handler streams while it still runs."""
        self._mark(request, 0 if isinstance(response, Cut) else response.status)

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

    async def _route(
        self, request: web.Request, body: Any, too_large: bool, invalid: bool
    ) -> web.StreamResponse:
        refused = refusal(
            request, body, host=self.host, auth_server=self.auth_server, faults=self.faults
        )
        if refused is not None:
            return refused
        if self._is_modern(request):
            return await self._modern.handle(request, body, too_large or invalid)
        return await self._legacy.handle(request, body, too_large, invalid)

    def _is_modern(self, request: web.Request) -> bool:
        if self.era == "modern":
            return True
        if self.era == "legacy":
            return False
        version = request.headers.get("MCP-Protocol-Version")
        return version is not None and version not in HANDSHAKE_VERSIONS
