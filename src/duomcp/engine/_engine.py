"""Engine: initialize and version negotiation, request/response correlation, timeouts,
server-to-client requests and notifications, session recovery. Async, written once.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import aiohttp
import attrs

from .. import _jsonrpc as rpc
from .._wire import from_wire, to_wire
from ..auth import Auth
from ..connection import ConnectionState
from ..errors import (
    ConnectionClosedError,
    InvalidResponseError,
    JSONRPCError,
    MCPError,
    RequestTimeoutError,
    SessionExpiredError,
    TransportError,
    UnsupportedProtocolVersionError,
)
from ..transports.streamable_http import HTTPOptions, StreamableHTTPTransport
from ..types import (
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    ElicitResult,
    Implementation,
    InitializeResult,
    LoggingMessageNotificationParams,
    Root,
)

__all__ = ["LATEST_PROTOCOL_VERSION", "SUPPORTED_PROTOCOL_VERSIONS", "Engine", "Handlers"]

log = logging.getLogger("duomcp")

LATEST_PROTOCOL_VERSION = "2025-11-25"
SUPPORTED_PROTOCOL_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")

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

    def capabilities(self) -> dict[str, Any]:
        """Client capabilities: exactly what the given handlers can do."""
        caps: dict[str, Any] = {}
        if self.roots is not None:
            caps["roots"] = {"listChanged": True}
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


async def _call(callback: Callable[..., Any], *args: Any) -> Any:
    result = callback(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


class Engine:
    """One connection to one MCP server: sends requests, routes everything that comes back."""

    def __init__(
        self,
        url: str,
        *,
        auth: Auth | None = None,
        headers: Mapping[str, str] | None = None,
        client_info: Implementation,
        handlers: Handlers,
        timeout: float = 60.0,
        max_timeout: float | None = 600.0,
        progress_resets_timeout: bool = True,
        protocol_version: str = LATEST_PROTOCOL_VERSION,
        http_options: HTTPOptions | None = None,
        http: aiohttp.ClientSession | None = None,
    ) -> None:
        if protocol_version not in SUPPORTED_PROTOCOL_VERSIONS:
            raise ValueError(
                f"protocol_version {protocol_version!r} is not one of {SUPPORTED_PROTOCOL_VERSIONS}"
            )
        self.state = ConnectionState(endpoint=url, auth=auth, extra_headers=dict(headers or {}))
        self._transport = StreamableHTTPTransport(
            self.state, on_message=self._dispatch, options=http_options, http=http
        )
        self._client_info = client_info
        self._handlers = handlers
        self._timeout = timeout
        self._max_timeout = max_timeout
        self._progress_resets = progress_resets_timeout
        self._offered_version = protocol_version
        self._ids = itertools.count(1)
        self._pending: dict[Any, _Pending] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._server_requests: dict[Any, asyncio.Task[Any]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._notifications: asyncio.Queue[tuple[Callable[..., Any], tuple[Any, ...]]] | None = None
        self._notifier: asyncio.Task[None] | None = None
        self._lock: asyncio.Lock | None = None
        self._generation = 0
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
        """Whether the handshake with the server is done."""
        return self.initialize_result is not None

    async def connect(self) -> None:
        """Perform the handshake if it has not happened yet; safe to call concurrently."""
        if self.initialize_result is not None:
            return
        self._check_open()
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.initialize_result is None:
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
        result = await self._roundtrip("initialize", params, None, None, initialize=True)
        version = result.get("protocolVersion") if isinstance(result, dict) else None
        if version not in SUPPORTED_PROTOCOL_VERSIONS:
            await self._transport.delete_session()
            raise UnsupportedProtocolVersionError(
                f"{self.state.endpoint} speaks MCP {version!r}; this client speaks "
                f"{', '.join(SUPPORTED_PROTOCOL_VERSIONS)}",
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
        for task in (self._listener, self._notifier):
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
    ) -> Any:
        """Send a request and return its raw ``result``; connects first if needed.

        A request whose session expired (404) is sent once more in a new session.

        Raises:
            JSONRPCError: the server answered with an error.
            RequestTimeoutError: no response in time; the request was cancelled.
            TransportError: the connection failed.
        """
        await self.connect()
        generation = self._generation
        try:
            return await self._roundtrip(method, params, timeout, on_progress)
        except SessionExpiredError:
            await self._recover_session(generation)
            return await self._roundtrip(method, params, timeout, on_progress)

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
        initialize: bool = False,
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
                initialize=initialize,
            )
        )
        self._track(post)
        post.add_done_callback(lambda task: self._post_finished(request_id, task))
        pending.timer = loop.call_at(now + pending.timeout, self._check_timeout, request_id)
        try:
            return await pending.future
        except RequestTimeoutError:
            post.cancel()
            if not initialize:
                self._spawn(self._send_cancelled(request_id, "timed out"))
            raise
        except asyncio.CancelledError:
            post.cancel()
            if not initialize and not self._closed:
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
            if handlers.on_tools_changed is not None:
                self._queue(handlers.on_tools_changed)
        elif method == "notifications/prompts/list_changed":
            if handlers.on_prompts_changed is not None:
                self._queue(handlers.on_prompts_changed)
        elif method == "notifications/resources/list_changed":
            if handlers.on_resources_changed is not None:
                self._queue(handlers.on_resources_changed)
        elif method == "notifications/resources/updated":
            uri = params.get("uri")
            if handlers.on_resource_updated is not None and isinstance(uri, str):
                self._queue(handlers.on_resource_updated, uri)
        if handlers.on_notification is not None:
            self._queue(handlers.on_notification, method, params)

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
