"""Engine: era detection and version negotiation, request/response correlation, timeouts,
server-to-client requests (legacy) and multi round-trip requests (modern), notifications
and subscriptions, session recovery, the result cache. Async, written once.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import random
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import attrs

from .. import _jsonrpc as rpc
from .._cache import CACHEABLE_METHODS, ResultCache, identity_of
from .._mcp_headers import param_headers
from .._wire import from_wire, to_wire
from ..auth import Auth
from ..connection import PROTOCOL_VERSION_META, ConnectionState
from ..errors import (
    AuthError,
    CapabilityNotSupportedError,
    ConnectionClosedError,
    HTTPStatusError,
    InputRequiredLimitError,
    InvalidRequestError,
    InvalidResponseError,
    JSONRPCError,
    MCPError,
    ProtocolError,
    ReplyLostError,
    RequestTimeoutError,
    SessionExpiredError,
    TransportError,
    UnsupportedProtocolVersionError,
)
from ..transports.streamable_http import HTTPOptions, StreamableHTTPTransport
from ..types import (
    CreateMessageRequestParams,
    CreateMessageResult,
    DiscoverResult,
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    ElicitResult,
    Implementation,
    InitializeResult,
    LoggingMessageNotificationParams,
    Root,
)

__all__ = [
    "LATEST_PROTOCOL_VERSION",
    "LEGACY_PROTOCOL_VERSIONS",
    "MODERN_PROTOCOL_VERSIONS",
    "SUPPORTED_PROTOCOL_VERSIONS",
    "Engine",
    "EraPreference",
    "Handlers",
    "forget_eras",
]

if TYPE_CHECKING:
    import aiohttp

    from ..transports.stdio import StdioServer, StdioTransport

log = logging.getLogger("duomcp")

MODERN_PROTOCOL_VERSIONS = ("2026-07-28",)
"""Versions of the stateless era, newest first."""
LEGACY_PROTOCOL_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
"""Versions negotiated with ``initialize``, newest first."""
SUPPORTED_PROTOCOL_VERSIONS = MODERN_PROTOCOL_VERSIONS + LEGACY_PROTOCOL_VERSIONS
"""Every version this client speaks, newest first."""
LATEST_PROTOCOL_VERSION = MODERN_PROTOCOL_VERSIONS[0]

EraPreference = Literal["auto", "legacy", "modern"]
TransportPreference = Literal["auto", "streamable-http", "sse"]

_META_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
_META_CLIENT_INFO = "io.modelcontextprotocol/clientInfo"
_META_LOG_LEVEL = "io.modelcontextprotocol/logLevel"
_META_SUBSCRIPTION = "io.modelcontextprotocol/subscriptionId"
# JSON-RPC codes only a modern server sends: such an error proves the era.
_HEADER_MISMATCH = -32020
_MISSING_CAPABILITY = -32021
_UNSUPPORTED_VERSION = -32022
_MODERN_ERROR_CODES = frozenset({_HEADER_MISMATCH, _MISSING_CAPABILITY, _UNSUPPORTED_VERSION})
_MRTR_METHODS = frozenset({"tools/call", "resources/read", "prompts/get"})
_MAX_INPUT_REQUESTS = 64
_REISSUES = 2  # times a modern request whose reply stream broke is sent again
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")

_MAX_RESTARTS = 3  # a stdio server that ended is started again this often a minute, at most
# Not sent again to a server started again after it ended mid-request: they may have acted.
_NOT_REPEATED = frozenset({"tools/call"})

# The era of each endpoint, learnt once per process: later clients skip the probe.
_ERAS: dict[str, str] = {}
_SSE_ENDPOINTS: set[str] = set()  # found to speak the HTTP+SSE transport (2024-11-05)


def forget_eras() -> None:
    """Forget which endpoints were found to be legacy or modern, or to use the HTTP+SSE
    transport (they are probed again)."""
    _ERAS.clear()
    _SSE_ENDPOINTS.clear()


ProgressCallback = Callable[[float, "float | None", "str | None"], Any]
SamplingHandler = Callable[[CreateMessageRequestParams], Awaitable[CreateMessageResult]]
ElicitationHandler = Callable[
    ["ElicitRequestFormParams | ElicitRequestURLParams"], Awaitable[ElicitResult]
]
RootsHandler = Callable[[], Awaitable[Sequence[Root]]]
BlockingSamplingHandler = Callable[[CreateMessageRequestParams], CreateMessageResult]
BlockingElicitationHandler = Callable[
    ["ElicitRequestFormParams | ElicitRequestURLParams"], ElicitResult
]
BlockingRootsHandler = Callable[[], Sequence[Root]]

_NOTIFICATION_QUEUE = 1024
_GET_STREAM_WAIT = 5.0


@attrs.frozen(kw_only=True)
class Handlers:
    """The user's answers to server requests and receivers of server notifications.

    The engine awaits what handlers return; notification callbacks may be plain functions
    or coroutine functions and run one at a time, in arrival order.
    """

    sampling: Callable[[CreateMessageRequestParams], Any] | None = None
    elicitation: Callable[[ElicitRequestFormParams | ElicitRequestURLParams], Any] | None = None
    elicitation_modes: tuple[str, ...] = ("form", "url")
    roots: Callable[[], Any] | None = None
    on_logging_message: Callable[[LoggingMessageNotificationParams], Any] | None = None
    on_tools_changed: Callable[[], Any] | None = None
    on_prompts_changed: Callable[[], Any] | None = None
    on_resources_changed: Callable[[], Any] | None = None
    on_resource_updated: Callable[[str], Any] | None = None
    on_notification: Callable[[str, Mapping[str, Any]], Any] | None = None

    def capabilities(self, era: str = "legacy") -> dict[str, Any]:
        """Client capabilities: exactly what the given handlers can do, in that era's shape."""
        caps: dict[str, Any] = {}
        if self.roots is not None:
            caps["roots"] = {"listChanged": True} if era == "legacy" else {}
        if self.sampling is not None:
            caps["sampling"] = {}
        if self.elicitation is not None:
            caps["elicitation"] = {mode: {} for mode in self.elicitation_modes}
        return caps


@attrs.define(eq=False)
class _Pending:
    future: asyncio.Future[Any]
    method: str
    timeout: float
    started: float
    last_activity: float
    on_progress: ProgressCallback | None = None
    timer: asyncio.TimerHandle | None = None


def _apply_elicitation_defaults(
    params: ElicitRequestFormParams, result: ElicitResult
) -> ElicitResult:
    """Fill in schema defaults for fields an accepted form left out."""
    if result.action != "accept":
        return result
    properties = params.requested_schema.get("properties") or {}
    content = dict(result.content or {})
    for name, schema in properties.items():
        if name not in content and isinstance(schema, Mapping) and "default" in schema:
            content[name] = schema["default"]
    return attrs.evolve(result, content=content)


def _supported_versions(data: Any) -> tuple[str, ...]:
    supported = data.get("supported") if isinstance(data, dict) else None
    if not isinstance(supported, list):
        return ()
    return tuple(v for v in supported if isinstance(v, str))


def _trace_fields(fields: Mapping[str, str]) -> dict[str, str]:
    """The W3C trace context entries for ``_meta``, checked so a bad hook cannot send junk."""
    out: dict[str, str] = {}
    traceparent = fields.get("traceparent")
    if traceparent is not None:
        if not isinstance(traceparent, str) or not _TRACEPARENT.match(traceparent):
            raise ValueError(f"trace_context returned an invalid traceparent {traceparent!r}")
        out["traceparent"] = traceparent
    for key in ("tracestate", "baggage"):
        value = fields.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > 8192 or not value.isascii():
            raise ValueError(f"trace_context returned an invalid {key}")
        out[key] = value
    return out


async def _call(callback: Callable[..., Any], *args: Any) -> Any:
    result = callback(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


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
        cache: ResultCache | None = None,
        trace_context: Callable[[], Mapping[str, str]] | None = None,
        http_options: HTTPOptions | None = None,
        http: aiohttp.ClientSession | None = None,
        transport: TransportPreference = "auto",
    ) -> None:
        if transport not in ("auto", "streamable-http", "sse"):
            raise ValueError(
                f"transport must be 'auto', 'streamable-http' or 'sse', not {transport!r}"
            )
        if era not in ("auto", "legacy", "modern"):
            raise ValueError(f"era must be 'auto', 'legacy' or 'modern', not {era!r}")
        if protocol_version is not None:
            if protocol_version not in SUPPORTED_PROTOCOL_VERSIONS:
                raise ValueError(
                    f"protocol_version {protocol_version!r} is not one of "
                    f"{SUPPORTED_PROTOCOL_VERSIONS}"
                )
            implied: EraPreference = (
                "modern" if protocol_version in MODERN_PROTOCOL_VERSIONS else "legacy"
            )
            if era not in ("auto", implied):
                raise ValueError(f"protocol_version {protocol_version!r} is not of the {era} era")
            era = implied
        if max_input_rounds < 1:
            raise ValueError("max_input_rounds must be at least 1")
        self._transport: StreamableHTTPTransport | StdioTransport
        self._stdio: StdioTransport | None = None
        if not isinstance(url, str):
            from ..transports.stdio import StdioServer, StdioTransport  # imported on first use

            if not isinstance(url, StdioServer):
                raise TypeError(f"url must be an http(s) URL or a StdioServer, not {url!r}")
            if auth is not None or headers:
                raise ValueError(
                    "auth and headers are for HTTP servers; a stdio server takes its "
                    "credentials from its environment (StdioServer(env=...))"
                )
            self.state = ConnectionState(endpoint=f"stdio: {url.display}")
            self._transport = self._stdio = StdioTransport(
                self.state, on_message=self._dispatch, server=url
            )
        else:
            self.state = ConnectionState(endpoint=url, auth=auth, extra_headers=dict(headers or {}))
            remembered = transport == "auto" and era != "modern" and url in _SSE_ENDPOINTS
            if transport == "sse" or remembered:
                if era == "modern":
                    raise ValueError("the HTTP+SSE transport is of the legacy era only")
                era = "legacy"
                from ..transports.legacy_sse import LegacySSETransport

                self._transport = LegacySSETransport(
                    self.state, on_message=self._dispatch, options=http_options, http=http
                )
            else:
                self._transport = StreamableHTTPTransport(
                    self.state, on_message=self._dispatch, options=http_options, http=http
                )
        self._client_info = client_info
        self._handlers = handlers
        self._timeout = timeout
        self._max_timeout = max_timeout
        self._progress_resets = progress_resets_timeout
        self._era_preference: EraPreference = era
        self._pinned_version = protocol_version
        self._offered_version = (
            protocol_version
            if protocol_version in LEGACY_PROTOCOL_VERSIONS
            else LEGACY_PROTOCOL_VERSIONS[0]
        )
        self._max_input_rounds = max_input_rounds
        self._cache = cache
        self._trace_context = trace_context
        self._client_info_wire = to_wire(client_info)
        self._modern_capabilities = handlers.capabilities("modern")
        self.log_level: str | None = None
        """Modern era: the log level asked for on every request (``None``: no logs)."""
        self.discover_result: DiscoverResult | None = None
        self.rejected_tools: dict[str, str] = {}
        """Tools dropped from listings because their definition breaks the spec, and why."""
        self._ready = False
        self._subscribed_uris: set[str] = set()
        self._listen_filter: dict[str, Any] = {}
        self._listen_task: asyncio.Task[None] | None = None
        self._listen_acked: asyncio.Event | None = None
        self._listen_refused: dict[str, Any] | None = None
        self._listen_id: Any = None  # the request id of the subscription stream now open
        self.listen_acknowledged: dict[str, Any] | None = None
        """Modern era: what the server agreed to send on the subscription stream."""
        self._ids = itertools.count(1)
        self._pending: dict[Any, _Pending] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._server_requests: dict[Any, asyncio.Task[Any]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._notifications: asyncio.Queue[tuple[Callable[..., Any], tuple[Any, ...]]] | None = None
        self._notifier: asyncio.Task[None] | None = None
        self._lock: asyncio.Lock | None = None
        self._generation = 0
        self._transport_preference: TransportPreference = transport
        self._restarts: list[float] = []
        self._closed = False
        self.initialize_result: InitializeResult | None = None
        self.tool_output_schemas: dict[str, Any] = {}
        """Output schemas of the tools last listed, by name; cleared on list_changed."""

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def connected(self) -> bool:
        """Whether the era is known and the handshake (legacy) or discovery (modern) done."""
        return self._ready

    async def connect(self) -> None:
        """Find the server's era and connect, if not done yet; safe to call concurrently.

        With ``era="auto"``, a modern ``server/discover`` goes first: a result, or an error
        only a modern server sends, means modern; anything else falls back to the legacy
        ``initialize``. The era found is remembered per endpoint for this process.
        """
        if self._ready:
            return
        self._check_open()
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if not self._ready:
                await self._connect()
        if self.state.era == "modern":
            self._ensure_listening()

    async def _connect(self) -> None:
        try:
            await self._connect_era()
        except HTTPStatusError as exc:
            if not self._may_be_sse(exc):
                raise
            await self._switch_to_sse(exc)

    def _may_be_sse(self, exc: HTTPStatusError) -> bool:
        """A POST refused with 400, 404 or 405 may mean an HTTP+SSE server (2024-11-05)."""
        return (
            self._transport_preference == "auto"
            and self._era_preference != "modern"
            and type(self._transport) is StreamableHTTPTransport
            and exc.status in (400, 404, 405)
        )

    async def _switch_to_sse(self, refused: HTTPStatusError) -> None:
        """Try the deprecated HTTP+SSE transport: a GET stream that names a POST URL."""
        endpoint = self.state.endpoint
        log.debug("%s refused a POST (%s); trying the HTTP+SSE transport", endpoint, refused)
        from ..transports.legacy_sse import LegacySSETransport

        previous = self._transport
        assert isinstance(previous, StreamableHTTPTransport)
        sse = previous.sibling(LegacySSETransport)
        self._transport = sse
        self.state.reset_session()
        self.state.era = None
        try:
            await self._initialize()
        except BaseException as exc:
            self._transport = previous  # it keeps (and closes) its connection pool
            await sse.close()
            if isinstance(exc, TransportError):
                raise refused from exc  # not an SSE server either: the first answer says more
            raise
        previous.give_pool(sse)
        self._ready = True
        _SSE_ENDPOINTS.add(endpoint)

    async def _connect_era(self) -> None:
        endpoint = self.state.endpoint
        era = self._era_preference
        remember = era == "auto" and self._stdio is None
        known = _ERAS.get(endpoint) if remember else None
        if era == "legacy" or known == "legacy":
            try:
                await self._initialize()
            except (HTTPStatusError, JSONRPCError) as exc:
                status = exc.status if isinstance(exc, HTTPStatusError) else exc.http_status
                if known is None or status not in (400, 404, 405):
                    raise
                log.info("%s no longer takes initialize (%s); probing its era again", endpoint, exc)
                _ERAS.pop(endpoint, None)
                await self._probe()
        else:
            await self._probe()
        self._ready = True
        if remember and self.state.era is not None:
            _ERAS[endpoint] = self.state.era

    async def _probe(self) -> None:
        """Modern ``server/discover`` first; fall back to ``initialize`` when allowed."""
        fallback = self._era_preference == "auto"
        versions = (
            (self._pinned_version,)
            if self._pinned_version is not None
            else MODERN_PROTOCOL_VERSIONS
        )
        version = versions[0]
        tried: list[str] = []
        # A legacy stdio server may ignore an unknown request: wait for it only so long.
        stdio = self._stdio
        probe_timeout = None if stdio is None else min(self._timeout, stdio.server.probe_timeout)
        while True:
            tried.append(version)
            self.state.reset_session()
            self.state.era = "modern"
            self.state.protocol_version = version
            try:
                raw = await self._roundtrip(
                    "server/discover",
                    self._modern_params(None),
                    probe_timeout,
                    None,
                    handshake=True,
                )
            except JSONRPCError as exc:
                if exc.code == _UNSUPPORTED_VERSION:
                    supported = _supported_versions(exc.data)
                    mutual = [v for v in versions if v in supported]
                    # Prefer a version not tried yet; a server that refuses a version it
                    # names as supported (a fleet mid-upgrade) gets one more try.
                    mutual = [v for v in mutual if v not in tried] + [
                        v for v in mutual if tried.count(v) == 1
                    ]
                    if mutual:
                        log.info(
                            "%s does not speak %s; retrying with %s",
                            self.state.endpoint,
                            version,
                            mutual[0],
                        )
                        version = mutual[0]
                        continue
                    if fallback and any(v in LEGACY_PROTOCOL_VERSIONS for v in supported):
                        await self._fall_back(exc)
                        return
                    raise self._version_error(version, supported) from exc
                if exc.code in _MODERN_ERROR_CODES:
                    raise  # a modern server refusing us: falling back would be wrong
                if not fallback:
                    raise self._not_modern(exc) from exc
                await self._fall_back(exc)
                return
            except HTTPStatusError as exc:
                if exc.status not in (400, 404, 405):
                    raise
                if not fallback:
                    raise self._not_modern(exc) from exc
                await self._fall_back(exc)
                return
            except (InvalidResponseError, RequestTimeoutError, ReplyLostError) as exc:
                if not fallback:
                    raise self._not_modern(exc) from exc
                await self._fall_back(exc)
                return
            break
        try:
            result = from_wire(raw, DiscoverResult)
        except InvalidResponseError as exc:
            # Some legacy servers answer any method with a result: not a modern one.
            if not fallback:
                raise self._not_modern(exc) from exc
            await self._fall_back(exc)
            return
        if version not in result.supported_versions:
            mutual = [v for v in versions if v in result.supported_versions]
            if not mutual:
                if fallback and any(
                    v in LEGACY_PROTOCOL_VERSIONS for v in result.supported_versions
                ):
                    await self._fall_back(None)
                    return
                raise self._version_error(version, tuple(result.supported_versions))
            self.state.protocol_version = mutual[0]
        self.discover_result = result

    def _not_modern(self, exc: Exception) -> ProtocolError:
        return ProtocolError(
            f"{self.state.endpoint} did not answer server/discover as a modern (2026-07-28) "
            f"server ({exc}); it may be a legacy server: use era='auto' or 'legacy'"
        )

    def _version_error(
        self, requested: str, supported: Sequence[str]
    ) -> UnsupportedProtocolVersionError:
        ours = (self._pinned_version,) if self._pinned_version else SUPPORTED_PROTOCOL_VERSIONS
        return UnsupportedProtocolVersionError(
            f"{self.state.endpoint} speaks MCP {', '.join(supported) or 'nothing it named'}; "
            f"this client speaks {', '.join(ours)}",
            requested=requested,
            supported=tuple(supported),
        )

    async def _fall_back(self, reason: BaseException | None) -> None:
        log.debug("%s is not a modern server (%s); sending initialize", self.state.endpoint, reason)
        self.state.reset_session()
        self.state.era = None
        await self._initialize()

    async def _initialize(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            self._listener = None
        self.state.reset_session()
        self.tool_output_schemas.clear()
        params = {
            "protocolVersion": self._offered_version,
            "capabilities": self._handlers.capabilities(),
            "clientInfo": to_wire(self._client_info),
        }
        try:
            result = await self._roundtrip("initialize", params, None, None, handshake=True)
        except JSONRPCError as exc:
            if exc.code != _UNSUPPORTED_VERSION:
                raise
            # A modern-only server names its versions in its answer to initialize.
            supported = _supported_versions(exc.data)
            raise UnsupportedProtocolVersionError(
                f"{self.state.endpoint} speaks only MCP {', '.join(supported) or '?'}, "
                f"without initialize; this client was pinned to the legacy era "
                f"({self._offered_version}): use era='auto'",
                requested=self._offered_version,
                supported=supported,
            ) from exc
        version = result.get("protocolVersion") if isinstance(result, dict) else None
        if version not in LEGACY_PROTOCOL_VERSIONS or (
            self._pinned_version is not None and version != self._pinned_version
        ):
            await self._transport.delete_session()
            ours = (self._pinned_version,) if self._pinned_version else LEGACY_PROTOCOL_VERSIONS
            raise UnsupportedProtocolVersionError(
                f"{self.state.endpoint} speaks MCP {version!r}; this client speaks "
                f"{', '.join(ours)} through initialize",
                requested=self._offered_version,
                supported=(str(version),),
            )
        init = from_wire(result, InitializeResult)
        self.state.protocol_version = version
        self.state.era = "legacy"
        await self._post_notification("notifications/initialized", None)
        self.initialize_result = init
        self._generation += 1
        # Wait (briefly) until the GET stream is open: a server may send requests on it
        # as soon as the first call arrives.
        opened = asyncio.Event()
        self._listener = asyncio.get_running_loop().create_task(self._transport.listen(opened.set))
        try:
            await asyncio.wait_for(opened.wait(), min(self._timeout, _GET_STREAM_WAIT))
        except asyncio.TimeoutError:
            log.debug("the GET stream of %s is not open yet; going on", self.state.endpoint)

    async def _recover_session(self, generation: int) -> None:
        assert self._lock is not None
        async with self._lock:
            if self._generation == generation:
                log.info("session with %s expired; initializing a new one", self.state.endpoint)
                self.initialize_result = None
                await self._initialize()

    async def close(self) -> None:
        """Fail pending calls, stop streams, end the session (DELETE), free connections.

        Idempotent.
        """
        if self._closed:
            return
        self._closed = True
        closed = ConnectionClosedError("the client was closed")
        for pending in list(self._pending.values()):
            if not pending.future.done():
                pending.future.set_exception(closed)
        tasks = [*self._tasks, *self._server_requests.values()]
        for task in (self._listener, self._notifier, self._listen_task):
            if task is not None:
                tasks.append(task)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        try:
            await self._transport.delete_session()
        finally:
            await self._transport.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ConnectionClosedError("the client is closed")

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

        A request whose session expired (404) is sent once more in a new session. In the
        modern era, input requests are answered and the request retried, a request whose
        reply broke is sent again, and cacheable results come from the cache while fresh
        (unless ``use_cache`` is false).

        Raises:
            JSONRPCError: the server answered with an error.
            RequestTimeoutError: no response in time; the request was cancelled.
            TransportError: the connection failed.
        """
        stdio = self._stdio
        generation = 0 if stdio is None else stdio.generation
        try:
            return await self._request(method, params, timeout, on_progress, use_cache)
        except TransportError as exc:
            if not await self._restart_server(generation, exc):
                raise
            if method in _NOT_REPEATED:
                raise TransportError(
                    f"{exc} during {method}; the server was started again, but {method} was "
                    "not sent again (it may have had effects): call it again if it is safe"
                ) from exc
            log.warning("sent %s again to the new %s", method, self.state.endpoint)
            return await self._request(method, params, timeout, on_progress, use_cache)

    async def _restart_server(self, generation: int, exc: TransportError) -> bool:
        """stdio: start a server that ended unexpectedly again, at most
        :data:`_MAX_RESTARTS` times a minute; ``True`` when it was (by this call or another)."""
        transport = self._stdio
        if transport is None or self._closed:
            return False
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if transport.generation != generation:
                return True  # another call started it again already
            if not transport.ended:
                return False
            now = asyncio.get_running_loop().time()
            self._restarts = [t for t in self._restarts if now - t < 60.0]
            if len(self._restarts) >= _MAX_RESTARTS:
                log.warning(
                    "%s ended %d times within a minute; not starting it again",
                    self.state.endpoint,
                    _MAX_RESTARTS + 1,
                )
                return False
            self._restarts.append(now)
            log.warning("%s; starting it again", exc)
            await transport.restart()
            self._ready = False
            self.initialize_result = None
            self.discover_result = None
        await self.connect()
        return True

    async def _request(
        self,
        method: str,
        params: dict[str, Any] | None,
        timeout: float | None,
        on_progress: ProgressCallback | None,
        use_cache: bool,
    ) -> Any:
        await self.connect()
        if self.state.era == "modern":
            if self._listen_filter and (self._listen_task is None or self._listen_task.done()):
                self._ensure_listening()  # the server ended it; open it again
            return await self._modern_request(method, params, timeout, on_progress, use_cache)
        if self._trace_context is not None:
            params = dict(params or {})
            params["_meta"] = {
                **(params.get("_meta") or {}),
                **_trace_fields(self._trace_context()),
            }
        generation = self._generation
        try:
            return await self._roundtrip(method, params, timeout, on_progress)
        except SessionExpiredError:
            await self._recover_session(generation)
            return await self._roundtrip(method, params, timeout, on_progress)

    # -- modern era ---------------------------------------------------------------------

    def _modern_params(
        self,
        params: Mapping[str, Any] | None,
        input_responses: Mapping[str, Any] | None = None,
        request_state: str | None = None,
    ) -> dict[str, Any]:
        """``params`` with the per-request ``_meta`` of the modern era."""
        out = dict(params or {})
        meta = dict(out.get("_meta") or {})
        if self._trace_context is not None:
            meta.update(_trace_fields(self._trace_context()))
        meta[PROTOCOL_VERSION_META] = self.state.protocol_version
        meta[_META_CAPABILITIES] = self._modern_capabilities
        meta[_META_CLIENT_INFO] = self._client_info_wire
        if self.log_level is not None:
            meta[_META_LOG_LEVEL] = self.log_level
        out["_meta"] = meta
        if input_responses is not None:
            out["inputResponses"] = dict(input_responses)
        if request_state is not None:
            out["requestState"] = request_state
        return out

    async def _identity(self) -> str:
        auth = self.state.auth
        return identity_of(await auth.auth_headers()) if auth is not None else ""

    async def _modern_request(
        self,
        method: str,
        params: dict[str, Any] | None,
        timeout: float | None,
        on_progress: ProgressCallback | None,
        use_cache: bool = True,
    ) -> Any:
        cache = self._cache if method in CACHEABLE_METHODS and use_cache else None
        key = None
        if cache is not None:
            key = cache.key(self.state.endpoint, method, params)
            hit = cache.get(key, await self._identity())
            if hit is not None:
                return hit
        input_responses: dict[str, Any] | None = None
        request_state: str | None = None
        rounds = reissues = 0
        version_retried = headers_retried = False
        while True:
            full = self._modern_params(params, input_responses, request_state)
            try:
                result = await self._roundtrip(method, full, timeout, on_progress)
            except ReplyLostError:
                if reissues >= _REISSUES:
                    raise
                reissues += 1
                log.info("reply of %s broke; sending it again with a new id", method)
                continue
            except JSONRPCError as exc:
                if exc.code == _UNSUPPORTED_VERSION and not version_retried:
                    version_retried = True
                    self._renegotiate(exc)
                    continue
                if exc.code == _HEADER_MISMATCH and method == "tools/call" and not headers_retried:
                    headers_retried = True
                    log.info(
                        "%s refused the headers of tools/call; listing tools again",
                        self.state.endpoint,
                    )
                    await self._relist_tools(timeout)
                    continue
                if exc.code == _MISSING_CAPABILITY:
                    raise self._capability_error(method, exc) from exc
                if cache is not None and params and "cursor" in params:
                    cache.invalidate(self.state.endpoint, method)
                raise
            kind = result.get("resultType", "complete") if isinstance(result, dict) else None
            if kind == "complete":
                if cache is not None and key is not None and rounds == 0:
                    cache.put(key, await self._identity(), result)
                if method == "server/discover":
                    self.discover_result = from_wire(result, DiscoverResult)
                return result
            if kind != "input_required" or method not in _MRTR_METHODS:
                raise InvalidResponseError(
                    f"{method} on {self.state.endpoint} returned resultType {kind!r}"
                )
            if rounds >= self._max_input_rounds:
                raise InputRequiredLimitError(
                    f"{method} on {self.state.endpoint} still asked for input after "
                    f"{rounds} rounds (max_input_rounds={self._max_input_rounds})"
                )
            rounds += 1
            state = result.get("requestState")
            if state is not None and not isinstance(state, str):
                raise InvalidResponseError(f"{method}: requestState is not a string")
            request_state = state
            requests = result.get("inputRequests")
            # Without input requests (load shedding) the request is simply sent again.
            input_responses = None if requests is None else await self._fulfil(method, requests)

    def set_log_level(self, level: str | None) -> None:
        """Modern era: the log level asked for in the ``_meta`` of every later request."""
        self.log_level = level

    def clear_cache(self) -> None:
        """Forget the cached results of this endpoint."""
        if self._cache is not None:
            self._cache.invalidate(self.state.endpoint)

    def _renegotiate(self, exc: JSONRPCError) -> None:
        supported = _supported_versions(exc.data)
        current = self.state.protocol_version or ""
        ours = (self._pinned_version,) if self._pinned_version else MODERN_PROTOCOL_VERSIONS
        mutual = [v for v in ours if v in supported]
        mutual.sort(key=lambda v: v == current)  # another version first, else this one again
        if not mutual:
            raise self._version_error(current, supported) from exc
        log.info("%s no longer speaks %s; switching to %s", self.state.endpoint, current, mutual[0])
        self.state.protocol_version = mutual[0]

    def _capability_error(self, method: str, exc: JSONRPCError) -> CapabilityNotSupportedError:
        required = exc.data.get("requiredCapabilities") if isinstance(exc.data, dict) else None
        names = ", ".join(sorted(required)) if isinstance(required, dict) else "?"
        return CapabilityNotSupportedError(
            f"{method} on {self.state.endpoint} needs client capabilities {names}; give the "
            "client the matching handler (sampling_handler, elicitation_handler, roots)"
        )

    async def _fulfil(self, method: str, requests: Any) -> dict[str, Any]:
        """Answer a server's input requests with the same handlers as legacy requests."""
        if requests is None:
            return {}
        if not isinstance(requests, dict) or len(requests) > _MAX_INPUT_REQUESTS:
            raise InvalidResponseError(
                f"{method}: inputRequests must be an object of at most {_MAX_INPUT_REQUESTS}"
            )

        async def answer(key: str, request: Any) -> tuple[str, Any]:
            if not isinstance(request, dict) or not isinstance(request.get("method"), str):
                raise InvalidResponseError(f"{method}: input request {key!r} is malformed")
            kind = request["method"]
            if kind not in ("sampling/createMessage", "elicitation/create", "roots/list"):
                raise InvalidResponseError(f"{method}: unknown input request kind {kind!r}")
            try:
                return key, await self._serve(kind, request.get("params") or {})
            except JSONRPCError as exc:
                if exc.code == rpc.METHOD_NOT_FOUND:
                    raise CapabilityNotSupportedError(
                        f"{method} on {self.state.endpoint} asks for {kind}, which this "
                        "client has no handler for"
                    ) from exc
                raise

        answers = await asyncio.gather(*(answer(k, r) for k, r in requests.items()))
        return dict(answers)

    def accept_tools(self, tools: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """Record the output schemas and header annotations of listed tools; in the modern
        era drop (with a warning) those whose ``x-mcp-header`` annotations break the rules."""
        kept = []
        for tool in tools:
            name = tool.get("name")
            if not isinstance(name, str):
                kept.append(tool)
                continue
            schema = tool.get("inputSchema")
            if self.state.era == "modern" and isinstance(schema, Mapping):
                try:
                    headers = param_headers(schema)
                except ValueError as exc:
                    log.warning("dropped tool %r of %s: %s", name, self.state.endpoint, exc)
                    self.rejected_tools[name] = str(exc)
                    self.state.tool_headers.pop(name, None)
                    continue
                self.state.tool_headers[name] = headers
            self.rejected_tools.pop(name, None)
            self.tool_output_schemas[name] = tool.get("outputSchema")
            kept.append(tool)
        return kept

    async def _relist_tools(self, timeout: float | None) -> None:
        cursor: str | None = None
        if self._cache is not None:
            self._cache.invalidate(self.state.endpoint, "tools/list")
        for _ in range(1000):
            page = await self.request(
                "tools/list", None if cursor is None else {"cursor": cursor}, timeout=timeout
            )
            self.accept_tools(page.get("tools") or [])
            cursor = page.get("nextCursor")
            if not isinstance(cursor, str):
                return

    def tool_call_prepared(self, name: str) -> bool:
        """Whether a call of ``name`` may go at once (connected; its headers known)."""
        if not self._ready:
            return False
        return self.state.era != "modern" or name in self.state.tool_headers

    async def prepare_tool_call(self, name: str, timeout: float | None) -> None:
        """Before a modern ``tools/call``: know the tool's header annotations.

        Raises:
            InvalidRequestError: the tool was dropped because its definition is invalid.
        """
        if self.tool_call_prepared(name):
            return
        await self.connect()
        if self.state.era != "modern":
            return
        if name not in self.state.tool_headers and name not in self.rejected_tools:
            await self._relist_tools(timeout)
        if name in self.rejected_tools:
            raise InvalidRequestError(
                f"tool {name!r} of {self.state.endpoint} has an invalid definition and is "
                f"not offered: {self.rejected_tools[name]}"
            )

    # -- modern subscriptions -----------------------------------------------------------

    def _wanted_filter(self) -> dict[str, Any]:
        handlers = self._handlers
        caps = self.discover_result.capabilities if self.discover_result is not None else None
        wanted: dict[str, Any] = {}
        if caps is None:
            return wanted
        every = handlers.on_notification is not None
        if caps.tools is not None and caps.tools.list_changed:
            if handlers.on_tools_changed is not None or every:
                wanted["toolsListChanged"] = True
        if caps.prompts is not None and caps.prompts.list_changed:
            if handlers.on_prompts_changed is not None or every:
                wanted["promptsListChanged"] = True
        if caps.resources is not None:
            if caps.resources.list_changed and (handlers.on_resources_changed is not None or every):
                wanted["resourcesListChanged"] = True
            if caps.resources.subscribe and self._subscribed_uris:
                wanted["resourceSubscriptions"] = sorted(self._subscribed_uris)
        return wanted

    def _ensure_listening(self) -> asyncio.Event | None:
        """Open, re-open or close the ``subscriptions/listen`` stream to match what is
        wanted; returns the event set when the server acknowledges a new stream."""
        if self._closed or self.state.era != "modern":
            return None
        wanted = self._wanted_filter()
        running = self._listen_task is not None and not self._listen_task.done()
        if (running and wanted == self._listen_filter) or wanted == self._listen_refused:
            return None
        previous = self._listen_task
        if previous is not None:
            previous.cancel()
            self._listen_task = None
        self._listen_filter = wanted
        if not wanted:
            return None
        acked = asyncio.Event()
        self._listen_acked = acked
        self._listen_task = asyncio.get_running_loop().create_task(
            self._listen(wanted, acked, previous)
        )
        return acked

    async def set_resource_subscription(
        self, uri: str, subscribed: bool, timeout: float | None
    ) -> None:
        """Modern era: add or remove a URI of the subscription stream and wait (bounded)
        until the server acknowledged the new stream."""
        if subscribed:
            self._subscribed_uris.add(uri)
        else:
            self._subscribed_uris.discard(uri)
        acked = self._ensure_listening()
        if acked is None:
            return
        wait = min(self._timeout if timeout is None else timeout, _GET_STREAM_WAIT)
        try:
            await asyncio.wait_for(acked.wait(), wait)
        except asyncio.TimeoutError:
            log.warning(
                "%s did not acknowledge the subscription stream within %.1f s",
                self.state.endpoint,
                wait,
            )

    async def _listen(
        self,
        wanted: dict[str, Any],
        acked: asyncio.Event,
        previous: asyncio.Task[None] | None = None,
    ) -> None:
        if previous is not None:  # its stream is closed before the new one opens
            await asyncio.gather(previous, return_exceptions=True)
        options = self._transport.options
        failures = 0
        while not self._closed:
            request_id = next(self._ids)
            message = rpc.request(
                request_id, "subscriptions/listen", self._modern_params({"notifications": wanted})
            )
            acked_before = acked.is_set()
            self._listen_id = request_id
            try:
                await self._transport.post(message, request_id=request_id)
            except (JSONRPCError, AuthError) as exc:
                log.warning("%s refused the subscription stream: %s", self.state.endpoint, exc)
                self._listen_refused = wanted
                acked.set()
                return
            except MCPError as exc:
                log.debug("subscription stream of %s broke: %s", self.state.endpoint, exc)
                failures = 0 if acked.is_set() and not acked_before else failures + 1
                if failures > options.max_reconnect_attempts:
                    log.warning(
                        "subscription stream of %s given up after %d attempts",
                        self.state.endpoint,
                        failures,
                    )
                    acked.set()
                    return
                base = options.reconnect_delay * (2 ** max(failures - 1, 0))
                await asyncio.sleep(min(options.max_reconnect_delay, base) * random.uniform(0.5, 1))
                continue
            # The server ended the subscription with its result (e.g. shutting down): it is
            # opened again on the next request.
            log.info("%s ended the subscription stream", self.state.endpoint)
            acked.set()
            return

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        """Send a notification to the server (connects first if needed)."""
        await self.connect()
        await self._post_notification(method, params)

    async def _post_notification(self, method: str, params: dict[str, Any] | None) -> None:
        self._check_open()
        try:
            await asyncio.wait_for(
                self._transport.post(rpc.notification(method, params)), self._timeout
            )
        except asyncio.TimeoutError as exc:
            raise RequestTimeoutError(
                f"{method} to {self.state.endpoint} was not accepted within {self._timeout} s"
            ) from exc

    async def _roundtrip(
        self,
        method: str,
        params: dict[str, Any] | None,
        timeout: float | None,
        on_progress: ProgressCallback | None,
        *,
        handshake: bool = False,
    ) -> Any:
        self._check_open()
        loop = asyncio.get_running_loop()
        request_id = next(self._ids)
        if on_progress is not None:
            params = dict(params or {})
            params["_meta"] = {**(params.get("_meta") or {}), "progressToken": request_id}
        now = loop.time()
        pending = _Pending(
            future=loop.create_future(),
            method=method,
            timeout=self._timeout if timeout is None else timeout,
            started=now,
            last_activity=now,
            on_progress=on_progress,
        )
        self._pending[request_id] = pending
        post = loop.create_task(
            self._transport.post(
                rpc.request(request_id, method, params),
                request_id=request_id,
                initialize=handshake,
            )
        )
        self._track(post)
        post.add_done_callback(lambda task: self._post_finished(request_id, task))
        pending.timer = loop.call_at(now + pending.timeout, self._check_timeout, request_id)
        try:
            return await pending.future
        except RequestTimeoutError:
            post.cancel()  # HTTP: closes the reply stream; stdio: notifications/cancelled
            if not handshake and not self._transport.cancels_requests(self.state.era):
                self._spawn(self._send_cancelled(request_id, "timed out"))
            raise
        except asyncio.CancelledError:
            post.cancel()
            cancels = self._transport.cancels_requests(self.state.era)
            if not handshake and not self._closed and not cancels:
                self._spawn(self._send_cancelled(request_id, "cancelled by the caller"))
            raise
        finally:
            pending.timer.cancel()
            del self._pending[request_id]

    def _check_timeout(self, request_id: Any) -> None:
        pending = self._pending.get(request_id)
        if pending is None or pending.future.done():
            return
        loop = asyncio.get_running_loop()
        deadline = pending.last_activity + pending.timeout
        if self._max_timeout is not None:
            deadline = min(deadline, pending.started + self._max_timeout)
        if deadline > loop.time():
            pending.timer = loop.call_at(deadline, self._check_timeout, request_id)
            return
        pending.future.set_exception(
            RequestTimeoutError(
                f"{pending.method} to {self.state.endpoint} got no response within "
                f"{pending.timeout} s; it was cancelled"
            )
        )

    def _post_finished(self, request_id: Any, task: asyncio.Task[None]) -> None:
        pending = self._pending.get(request_id)
        if pending is None or pending.future.done() or task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            exc = TransportError(
                f"the reply of {pending.method} from {self.state.endpoint} ended without a response"
            )
        elif not isinstance(exc, MCPError):
            log.error("bug: unexpected error sending %s", pending.method, exc_info=exc)
            exc = TransportError(f"sending {pending.method} failed: {exc!r}")
        pending.future.set_exception(exc)

    async def _send_cancelled(self, request_id: Any, reason: str) -> None:
        try:
            await asyncio.wait_for(
                self._transport.post(
                    rpc.notification(
                        "notifications/cancelled", {"requestId": request_id, "reason": reason}
                    )
                ),
                5.0,
            )
        except (MCPError, asyncio.TimeoutError) as exc:
            log.debug("could not cancel request %s: %s", request_id, exc)

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._track(task)
        return task

    # -- incoming -----------------------------------------------------------------------

    def _dispatch(self, message: dict[str, Any]) -> None:
        try:
            kind = rpc.classify(message)
        except InvalidResponseError as exc:
            log.warning("ignored a message from %s: %s", self.state.endpoint, exc)
            return
        if kind == "response" or kind == "error":
            self._resolve(kind, message)
        elif kind == "request":
            if self.state.era == "modern":
                # The modern era has no server requests (input comes by MRTR), and a client
                # never sends responses: drop it.
                log.warning(
                    "ignored a %r request from modern server %s",
                    message.get("method"),
                    self.state.endpoint,
                )
                return
            request_id = message["id"]
            task = self._spawn(self._answer(message))
            self._server_requests[request_id] = task
            task.add_done_callback(lambda _: self._server_requests.pop(request_id, None))
        else:
            self._handle_notification(message["method"], message.get("params") or {})

    def _resolve(self, kind: str, message: dict[str, Any]) -> None:
        pending = self._pending.get(message.get("id"))
        if pending is None or pending.future.done():
            log.debug("ignored a response to unknown or finished request %r", message.get("id"))
            return
        if kind == "response":
            pending.future.set_result(message["result"])
            return
        error = message["error"]
        code = error.get("code")
        pending.future.set_exception(
            JSONRPCError(
                code if isinstance(code, int) else rpc.INTERNAL_ERROR,
                str(error.get("message", "")),
                error.get("data"),
            )
        )

    def _handle_notification(self, method: str, params: Mapping[str, Any]) -> None:
        handlers = self._handlers
        meta = params.get("_meta")
        if isinstance(meta, Mapping) and _META_SUBSCRIPTION in meta:
            if meta[_META_SUBSCRIPTION] != self._listen_id:
                # A subscription already replaced or ended: on stdio its notifications share
                # stdout with the new one's, and must not be taken for them.
                log.debug("dropped %s of ended subscription %r", method, meta[_META_SUBSCRIPTION])
                return
        if method == "notifications/progress":
            pending = self._pending.get(params.get("progressToken"))
            if pending is None:
                return
            if self._progress_resets:
                pending.last_activity = asyncio.get_running_loop().time()
            if pending.on_progress is not None:
                self._queue(
                    pending.on_progress,
                    params.get("progress", 0),
                    params.get("total"),
                    params.get("message"),
                )
        elif method == "notifications/message" and handlers.on_logging_message is not None:
            try:
                entry = from_wire(params, LoggingMessageNotificationParams)
            except InvalidResponseError as exc:
                log.warning("ignored a malformed log message: %s", exc)
            else:
                self._queue(handlers.on_logging_message, entry)
        elif method == "notifications/cancelled":
            task = self._server_requests.get(params.get("requestId"))
            if task is not None:
                task.cancel()
        elif method == "notifications/tools/list_changed":
            self.tool_output_schemas.clear()
            self._invalidate("tools/list")
            if handlers.on_tools_changed is not None:
                self._queue(handlers.on_tools_changed)
        elif method == "notifications/prompts/list_changed":
            self._invalidate("prompts/list")
            if handlers.on_prompts_changed is not None:
                self._queue(handlers.on_prompts_changed)
        elif method == "notifications/resources/list_changed":
            self._invalidate("resources/list")
            self._invalidate("resources/templates/list")
            if handlers.on_resources_changed is not None:
                self._queue(handlers.on_resources_changed)
        elif method == "notifications/resources/updated":
            uri = params.get("uri")
            if isinstance(uri, str):
                self._invalidate("resources/read", uri=uri)
            if handlers.on_resource_updated is not None and isinstance(uri, str):
                self._queue(handlers.on_resource_updated, uri)
        elif method == "notifications/subscriptions/acknowledged":
            honoured = params.get("notifications")
            self.listen_acknowledged = dict(honoured) if isinstance(honoured, dict) else {}
            if self.listen_acknowledged != self._listen_filter:
                log.info(
                    "%s honours only %s of the subscriptions %s",
                    self.state.endpoint,
                    self.listen_acknowledged,
                    self._listen_filter,
                )
            if self._listen_acked is not None:
                self._listen_acked.set()
        if handlers.on_notification is not None:
            self._queue(handlers.on_notification, method, params)

    def _invalidate(self, method: str, *, uri: str | None = None) -> None:
        if self._cache is not None:
            self._cache.invalidate(self.state.endpoint, method, uri=uri)

    def _queue(self, callback: Callable[..., Any], *args: Any) -> None:
        if self._notifications is None:
            self._notifications = asyncio.Queue(_NOTIFICATION_QUEUE)
            self._notifier = asyncio.get_running_loop().create_task(self._run_notifications())
        try:
            self._notifications.put_nowait((callback, args))
        except asyncio.QueueFull:
            log.warning("notification callbacks are %d behind; dropped one", _NOTIFICATION_QUEUE)

    async def _run_notifications(self) -> None:
        assert self._notifications is not None
        while True:
            callback, args = await self._notifications.get()
            try:
                await _call(callback, *args)
            except Exception:
                log.exception("a notification callback raised")

    async def _answer(self, message: dict[str, Any]) -> None:
        request_id = message["id"]
        method = message["method"]
        try:
            result = await self._serve(method, message.get("params") or {})
            reply = rpc.response(request_id, result)
        except JSONRPCError as exc:
            reply = rpc.error_response(request_id, exc.code, exc.message, exc.data)
        except InvalidResponseError as exc:
            reply = rpc.error_response(request_id, rpc.INVALID_PARAMS, str(exc))
        except asyncio.CancelledError:
            log.debug("server cancelled its request %r (%s)", request_id, method)
            raise
        except Exception as exc:
            log.exception("the handler for %s raised", method)
            reply = rpc.error_response(
                request_id, rpc.INTERNAL_ERROR, f"client handler failed: {exc}"
            )
        try:
            await asyncio.wait_for(self._transport.post(reply), self._timeout)
        except (MCPError, asyncio.TimeoutError) as exc:
            log.warning("could not answer the server's %s: %s", method, exc)

    async def _serve(self, method: str, params: Mapping[str, Any]) -> Any:
        handlers = self._handlers
        if method == "ping":
            return {}
        if method == "roots/list" and handlers.roots is not None:
            roots = await _call(handlers.roots)
            return {"roots": [to_wire(root) for root in roots]}
        if method == "sampling/createMessage" and handlers.sampling is not None:
            request = from_wire(params, CreateMessageRequestParams)
            return to_wire(await _call(handlers.sampling, request))
        if method == "elicitation/create" and handlers.elicitation is not None:
            mode = params.get("mode", "form")
            if mode not in handlers.elicitation_modes:
                raise JSONRPCError(rpc.INVALID_PARAMS, f"elicitation mode {mode!r} not supported")
            if mode == "url":
                url_params = from_wire(params, ElicitRequestURLParams)
                return to_wire(await _call(handlers.elicitation, url_params))
            form = from_wire(params, ElicitRequestFormParams)
            answer = await _call(handlers.elicitation, form)
            return to_wire(_apply_elicitation_defaults(form, answer))
        raise JSONRPCError(rpc.METHOD_NOT_FOUND, f"the client does not handle {method!r}")
