"""Engine: the façade over the parts that make one connection to one MCP server.

It builds and wires the parts, each owning one job: the transport
(:mod:`duomcp.transports`), :class:`~._correlation.Correlator` (ids, pending calls,
timeouts), :class:`~._negotiation.Negotiator` (era and version),
:class:`~._legacy.LegacySession` and :class:`~._modern.ModernPath` (one request path per
era), :class:`~._subscriptions.Subscriptions`, :class:`~._inbound.Inbound` with its
:class:`~._responder.Responder`, and :class:`~._tools.ToolRegistry`. Every era decision a
client method needs is made here, so the clients hold none. Async, written once.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncGenerator, Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from .._cache import ResultCache
from .._wire import from_wire, to_wire
from ..auth import Auth
from ..connection import ConnectionState
from ..errors import CapabilityNotSupportedError, OutcomeUnknownError, TransportError
from ..transports._base import Transport, make_transport
from ..transports._http import HTTPOptions
from ..types import DiscoverResult, Implementation, InitializeResult, ServerCapabilities
from ._calls import ToolCalls
from ._correlation import Correlator, ProgressCallback
from ._inbound import Inbound
from ._legacy import LegacySession
from ._modern import ModernPath
from ._negotiation import Negotiated, Negotiator
from ._responder import Handlers, Responder
from ._subscriptions import Subscriptions
from ._tasks import TASKS_EXTENSION, TaskDriver, TaskStatusLog
from ._tools import ToolRegistry, lost_reply, paginate
from ._trace import trace_fields
from ._versions import (
    DEFAULT_ERA_MEMORY,
    EraMemory,
    EraPreference,
    TransportPreference,
    check_preferences,
)

__all__ = ["Engine"]

if TYPE_CHECKING:
    import aiohttp

    from ..transports.stdio import StdioServer

log = logging.getLogger("duomcp")


class Engine:
    """One connection to one MCP server: sends requests, routes everything that comes back."""

    def __init__(
        self,
        url: str | StdioServer,
        *,
        auth: Auth | None = None,
        headers: Mapping[str, str] | None = None,
        client_info: Implementation,
        handlers: Handlers,
        timeout: float = 60.0,
        max_timeout: float | None = 600.0,
        progress_resets_timeout: bool = True,
        protocol_version: str | None = None,
        era: EraPreference = "auto",
        max_input_rounds: int = 8,
        max_pages: int = 1000,
        max_concurrent_handlers: int = 16,
        cache: ResultCache | None = None,
        trace_context: Callable[[], Mapping[str, str]] | None = None,
        http_options: HTTPOptions | None = None,
        http: aiohttp.ClientSession | None = None,
        transport: TransportPreference = "auto",
        era_memory: EraMemory | None = None,
    ) -> None:
        era = check_preferences(era, protocol_version, transport)
        if max_input_rounds < 1:
            raise ValueError("max_input_rounds must be at least 1")
        memory = DEFAULT_ERA_MEMORY if era_memory is None else era_memory
        if isinstance(url, str):
            state = ConnectionState(endpoint=url, auth=auth, extra_headers=dict(headers or {}))
            sse = transport == "sse" or (
                transport == "auto" and era != "modern" and memory.speaks_sse(url)
            )
            if sse and era == "modern":
                raise ValueError("the HTTP+SSE transport is of the legacy era only")
            era = "legacy" if sse else era
        else:
            if auth is not None or headers:
                raise ValueError(
                    "auth and headers are for HTTP servers; a stdio server takes its "
                    "credentials from its environment (StdioServer(env=...))"
                )
            state = ConnectionState(endpoint=f"stdio: {getattr(url, 'display', url)}")
            sse = False
        self.state = state
        responder = Responder(handlers, max_concurrent=max_concurrent_handlers)
        self._cache = cache
        self.tools = ToolRegistry(state)
        link = make_transport(
            url, state, on_message=self._dispatch, sse=sse, options=http_options, http=http
        )
        self._correlator = c = Correlator(
            state,
            link,
            timeout=timeout,
            max_timeout=max_timeout,
            progress_resets_timeout=progress_resets_timeout,
        )
        self._inbound = Inbound(state, c, responder, invalidate=self._invalidate)
        trace = None if trace_context is None else (lambda: trace_fields(trace_context()))
        self._negotiator = Negotiator(
            c,
            handlers=handlers,
            client_info=client_info,
            era=era,
            protocol_version=protocol_version,
            transport_pinned=transport != "auto",
            memory=memory,
            modern_params=lambda: self.modern.params(None),
        )
        on_task_status = handlers.on_task_status
        statuses = TaskStatusLog(
            state.endpoint,
            lambda task: (
                None if on_task_status is None else self._inbound.queue(on_task_status, task)
            ),
        )
        self._inbound.tasks = statuses
        tasks = TaskDriver(
            state,
            c,
            send=lambda method, params, timeout: self.request(method, params, timeout=timeout),
            serve=responder.serve,
            statuses=statuses,
            default_timeout=lambda: c.timeout,
            max_timeout=max_timeout,
            restart_on_activity=progress_resets_timeout,
        )
        self.calls = ToolCalls(
            state,
            self.tools,
            tasks,
            connect=self.connect,
            connected=lambda: self.connected,
            request=self.request,
            pages=self.pages,
            capabilities=lambda: self.server_capabilities,
            invalidate=self._invalidate,
            default_timeout=lambda: c.timeout,
        )
        """``tools/call``, its tasks, and the tool listing a call needs."""
        modern_capabilities = handlers.capabilities("modern")
        # call_tool drives tasks the server chooses to start (SEP-2663).
        modern_capabilities["extensions"] = {TASKS_EXTENSION: {}}
        self.modern = ModernPath(
            c,
            self._negotiator,
            responder,
            self.tools,
            capabilities=modern_capabilities,
            client_info=to_wire(client_info),
            trace_fields=trace,
            cache=cache,
            max_input_rounds=max_input_rounds,
            relist_tools=self.calls.relist,
        )
        self.legacy = LegacySession(c, self.tools, trace_fields=trace, reinitialize=self._reinit)
        self.subscriptions = Subscriptions(c, handlers, modern_params=self.modern.params)
        self._inbound.tools = self.tools
        self._inbound.subscriptions = self.subscriptions
        self._max_pages = max_pages
        self.negotiated: Negotiated | None = None
        """What the connection agreed on with the server, once connected."""
        self._lock: asyncio.Lock | None = None
        self._closing: asyncio.Future[None] | None = None

    # -- parts and state ----------------------------------------------------------------

    def _dispatch(self, message: dict[str, Any]) -> None:
        # The transport is made before the router (which needs the correlator, which
        # needs the transport); no message arrives before both exist.
        self._inbound.dispatch(message)

    def _invalidate(self, method: str, *, uri: str | None = None) -> None:
        if self._cache is not None:
            self._cache.invalidate(self.state.endpoint, method, uri=uri)

    @property
    def transport(self) -> Transport:
        """The transport in use."""
        return self._correlator.transport

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closing is not None or self._correlator.closed

    @property
    def connected(self) -> bool:
        """Whether the era is known and the handshake (legacy) or discovery (modern) done."""
        return self.negotiated is not None

    @property
    def initialize_result(self) -> InitializeResult | None:
        """A legacy server's answer to ``initialize``."""
        return None if self.negotiated is None else self.negotiated.initialize_result

    @property
    def discover_result(self) -> DiscoverResult | None:
        """What a modern server said about itself."""
        return None if self.negotiated is None else self.negotiated.discover_result

    @property
    def server_capabilities(self) -> ServerCapabilities | None:
        """The server's capabilities (either era), once connected."""
        found = self.initialize_result or self.discover_result
        return None if found is None else found.capabilities

    @property
    def rejected_tools(self) -> dict[str, str]:
        """Tools dropped from listings for invalid definitions, and why."""
        return self.tools.rejected

    @property
    def tool_output_schemas(self) -> dict[str, Any]:
        """Output schemas of the tools last listed, by name; cleared on list_changed."""
        return self.tools.output_schemas

    @property
    def listen_acknowledged(self) -> dict[str, Any] | None:
        """Modern era: what the server agreed to send on the subscription stream."""
        return self.subscriptions.acknowledged_filter

    # -- lifecycle ----------------------------------------------------------------------

    async def connect(self) -> None:
        """Find the server's era and connect, if not done yet; safe to call concurrently.

        With ``era="auto"``, a modern ``server/discover`` goes first: a result, or an error
        only a modern server sends, means modern; anything else falls back to the legacy
        ``initialize``. The era found is remembered per endpoint in the era memory.
        """
        if self.negotiated is not None:
            return
        self._correlator.check_open()
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.negotiated is None:
                self._adopt(await self._negotiator.negotiate())
                if self.state.era == "legacy":
                    await self.legacy.established()
        if self.state.era == "modern":
            self.subscriptions.ensure()

    def _adopt(self, negotiated: Negotiated) -> None:
        self.negotiated = negotiated
        self.subscriptions.discover_result = negotiated.discover_result

    async def _reinit(self) -> Negotiated:
        self.negotiated = None
        negotiated = await self._negotiator.initialize()
        self._adopt(negotiated)
        await self.legacy.established()
        return negotiated

    async def close(self) -> None:
        """Fail pending calls, stop streams, end the session (DELETE), free connections.

        Idempotent, and safe from a callback or a handler of this client: the closing runs
        once, in a task of its own that cancelling the caller does not interrupt.
        """
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close())
        await asyncio.shield(self._closing)

    async def _close(self) -> None:
        # The cancels of abandoned tasks go out first (bounded).
        await self.calls.tasks.settle()
        others = [self.legacy.stop(), self.subscriptions.task, *self._inbound.cancel_all()]
        if self.calls.listing is not None:
            others.append(self.calls.listing)  # type: ignore[arg-type]
        await self._correlator.close(*others)
        try:
            await self.transport.delete_session()
        finally:
            await self.transport.close()
            if self.state.auth is not None:
                await self.state.auth.aclose()  # its own HTTP session (opened again if shared)

    # -- requests -----------------------------------------------------------------------

    async def request(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        use_cache: bool = True,
    ) -> Any:
        """Send a request and return its raw ``result``; connects first if needed.

        The timeout covers the request, not the first connection's negotiation nor a
        sign-in. A request whose reply was lost is sent again only if it is a read or a
        call of a tool declared ``idempotentHint``; a local server that ended is started
        again (within its transport's restart policy) under the same rule.

        Raises:
            JSONRPCError: the server answered with an error.
            RequestTimeoutError: no response in time; the request was cancelled.
            OutcomeUnknownError: the reply was lost; the request may or may not have run.
            TransportError: the connection failed.
        """
        generation = self._correlator.transport.generation
        try:
            return await self._request(method, params, timeout, on_progress, use_cache)
        except TransportError as exc:
            if isinstance(exc, OutcomeUnknownError) or self.closed:
                raise
            if not await self.transport.revive(generation):
                raise
            self.negotiated = None
            await self.connect()
            if not self.tools.may_resend(method, params):
                raise lost_reply(method, params, exc) from exc
            log.warning("sent %s again to the new %s", method, self.state.endpoint)
            return await self._request(method, params, timeout, on_progress, use_cache)

    def _request(
        self,
        method: str,
        params: dict[str, Any] | None,
        timeout: float | None,
        on_progress: ProgressCallback | None,
        use_cache: bool,
    ) -> Coroutine[Any, Any, Any]:
        """The coroutine that sends the request: once connected, the era's own, with no
        coroutine of the engine's between (one frame less in every step of every call)."""
        if self.negotiated is None:
            args = (method, params, timeout, on_progress, use_cache)
            return self._connected_first(functools.partial(self._request, *args))
        if self.state.era != "modern":
            return self.legacy.request(method, params, timeout, on_progress)
        self.subscriptions.revive()
        sent = self.modern.request(method, params, timeout, on_progress, use_cache)
        return self._adopting(sent) if method == "server/discover" else sent

    async def _connected_first(self, send: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
        await self.connect()
        return await send()

    async def _adopting(self, discover: Coroutine[Any, Any, Any]) -> Any:
        """``server/discover``: its answer is what the connection knows of the server."""
        result = await discover
        if self.negotiated is not None:
            found = from_wire(result, DiscoverResult)
            self._adopt(attrs.evolve(self.negotiated, discover_result=found))
        return result

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        """Send a notification to the server (connects first if needed)."""
        await self.connect()
        await self._correlator.notify(method, params)

    async def pages(self, method: str, timeout: float | None = None) -> AsyncGenerator[Any, None]:
        """Yield the raw pages of a list method (at most ``max_pages``); ``tools/list``
        pages feed the tool registry and leave out tools that break the rules."""

        async def fetch(name: str, params: dict[str, Any] | None) -> Any:
            return await self.request(name, params, timeout=timeout)

        accept = self.tools.accept_page if method == "tools/list" else None
        async for page in paginate(
            fetch, method, max_pages=self._max_pages, endpoint=self.state.endpoint, on_page=accept
        ):
            yield page

    # -- what differs between eras ------------------------------------------------------

    async def ping(self, timeout: float | None = None) -> None:
        """``ping``; ``server/discover`` (uncached) in the modern era, which has no ping."""
        await self.connect()
        if self.state.era == "modern":
            await self.request("server/discover", None, timeout=timeout, use_cache=False)
        else:
            await self.request("ping", None, timeout=timeout)

    async def discover(self, timeout: float | None = None) -> Any:
        """Ask a modern server for ``server/discover`` again; the raw result.

        Raises:
            CapabilityNotSupportedError: the server is of the legacy era.
        """
        await self.connect()
        if self.state.era != "modern":
            raise CapabilityNotSupportedError(
                f"{self.state.endpoint} is a legacy server without server/discover; "
                "its initialize_result says what discover would"
            )
        return await self.request("server/discover", None, timeout=timeout)

    async def set_logging_level(self, level: str, timeout: float | None = None) -> None:
        """Legacy: ``logging/setLevel``; modern: the level goes in every request's ``_meta``.

        Raises:
            CapabilityNotSupportedError: the server declared no ``logging`` capability.
        """
        await self.connect()
        caps = self.server_capabilities
        if caps is None or caps.logging is None:
            raise CapabilityNotSupportedError(
                f"{self.state.endpoint} does not declare the logging capability; "
                "it cannot set a level"
            )
        if self.state.era == "modern":
            self.modern.log_level = level
        else:
            await self.request("logging/setLevel", {"level": level}, timeout=timeout)

    async def roots_changed(self) -> None:
        """Legacy: ``notifications/roots/list_changed``; modern servers ask within calls."""
        await self.connect()
        if self.state.era != "modern":
            await self.notify("notifications/roots/list_changed")

    async def subscribe(self, uri: str, subscribed: bool, timeout: float | None = None) -> None:
        """Legacy: ``resources/(un)subscribe``; modern: the URI joins or leaves the
        subscription stream, acknowledged (bounded wait)."""
        await self.connect()
        if self.state.era == "modern":
            await self.subscriptions.set_resource(uri, subscribed, timeout)
        else:
            method = "resources/subscribe" if subscribed else "resources/unsubscribe"
            await self.request(method, {"uri": uri}, timeout=timeout)

    def clear_cache(self) -> None:
        """Forget the cached results of this endpoint."""
        if self._cache is not None:
            self._cache.invalidate(self.state.endpoint)
