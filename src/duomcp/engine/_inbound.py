"""Inbound routing: everything a server sends that is not a reply to a POST's own wait.

Owns: the dispatch of each incoming message -- responses to the correlator, server
requests to the :class:`~duomcp.engine._responder.Responder` (legacy era only; a modern
server asks by ``input_required``), notifications to their effects (progress, cache and
tool invalidation, subscription acknowledgements) and to the user's callbacks, which run
one at a time, in arrival order, from a bounded queue. Server requests in flight are
bounded too, and a repeated request id is refused instead of replacing the first.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .. import _jsonrpc as rpc
from .._timeouts import wait_for
from .._wire import from_wire
from ..connection import ConnectionState
from ..errors import InvalidResponseError, JSONRPCError, MCPError
from ..types import LoggingMessageNotificationParams
from ._correlation import Correlator
from ._responder import Responder, call

if TYPE_CHECKING:
    from ._subscriptions import Subscriptions
    from ._tasks import TaskStatusLog
    from ._tools import ToolRegistry

__all__ = ["IN_CALLBACK", "Inbound"]

log = logging.getLogger("duomcp")
server_log = logging.getLogger("duomcp.server")
"""Where servers' log messages go when the client was given no ``on_logging_message``."""

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "notice": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "alert": logging.CRITICAL,
    "emergency": logging.CRITICAL,
}
_MAX_LOGGED = 4096  # characters of a server's log message passed on

IN_CALLBACK: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "duomcp_in_callback", default=False
)
"""True while a user callback runs (and in what it calls): a call made from a callback
does not wait for the callbacks queued before its result, the callback among them."""

_NOTIFICATION_QUEUE = 1024
_MAX_SERVER_REQUESTS = 1024  # in flight (running or waiting for a handler slot) at once
_MAX_REFUSALS = 64  # refusals being sent at once; beyond, requests are dropped
_META_SUBSCRIPTION = "io.modelcontextprotocol/subscriptionId"
# A task's new state: 2025-11-25, and the tasks extension (SEP-2663).
_TASK_STATUS = frozenset({"notifications/tasks/status", "notifications/tasks"})
# A list-changed notification: the cached lists it makes stale, and the handler it calls.
_LIST_CHANGED = {
    "notifications/tools/list_changed": (("tools/list",), "on_tools_changed"),
    "notifications/prompts/list_changed": (("prompts/list",), "on_prompts_changed"),
    "notifications/resources/list_changed": (
        ("resources/list", "resources/templates/list"),
        "on_resources_changed",
    ),
}


class Inbound:
    """Routes the messages a transport delivers."""

    def __init__(
        self,
        state: ConnectionState,
        correlator: Correlator,
        responder: Responder,
        *,
        invalidate: Callable[..., None],
    ) -> None:
        self.state = state
        self._correlator = correlator
        self._responder = responder
        self._invalidate = invalidate
        self.tools: ToolRegistry | None = None
        self.subscriptions: Subscriptions | None = None
        self.tasks: TaskStatusLog | None = None
        self._server_requests: dict[Any, asyncio.Task[Any]] = {}
        # The call on whose reply stream each server request came (Streamable HTTP): it
        # ends when that call is given up on.
        self._came_with: dict[Any, Any] = {}
        self._refused = 0  # requests refused (repeated id, too many)
        self._refusing = 0  # refusals being sent
        self._notifications: asyncio.Queue[tuple[Callable[..., Any], tuple[Any, ...]]] | None = None
        self._notifier: asyncio.Task[None] | None = None
        self._queued = 0  # callbacks queued so far ...
        self._ran = 0  # ... and run
        self.dropped = 0
        """User callbacks not run because their queue was full (logged every 1,000)."""
        self._drained: list[tuple[int, asyncio.Future[None]]] = []
        correlator.barrier = self
        correlator.on_given_up = self._call_given_up

    def dispatch(self, message: dict[str, Any]) -> None:
        """Route one message from the server (the transports' ``on_message``)."""
        try:
            kind = rpc.classify(message)
        except InvalidResponseError as exc:
            log.warning("ignored a message from %s: %s", self.state.endpoint, exc)
            return
        try:
            if kind == "response" or kind == "error":
                self._correlator.resolve(message, error=kind == "error")
            elif kind == "request":
                self._request(message)
            else:
                params = message.get("params")
                self._notification(message["method"], params if isinstance(params, dict) else {})
        except Exception:  # one bad message must never end the stream it came on
            log.exception("bug: a message from %s could not be routed", self.state.endpoint)

    # -- server requests ----------------------------------------------------------------

    def _request(self, message: dict[str, Any]) -> None:
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
        if request_id in self._server_requests:
            self._refuse(request_id, "a request with this id is already in progress")
            return
        if len(self._server_requests) >= _MAX_SERVER_REQUESTS:
            self._refuse(request_id, "too many requests in progress")
            return
        task = self._correlator.spawn(self._answer(message))
        self._server_requests[request_id] = task
        call = self._correlator.reading()
        if call is not None:
            self._came_with[request_id] = call
        task.add_done_callback(lambda done: self._finished(request_id, done))

    def _finished(self, request_id: Any, task: asyncio.Task[Any]) -> None:
        if self._server_requests.get(request_id) is task:
            del self._server_requests[request_id]
            self._came_with.pop(request_id, None)

    def _call_given_up(self, call: Any) -> None:
        """Call ``call`` was given up on: the server's requests that came on its reply
        stream are moot, and their handlers are cancelled. The server cannot say so
        itself: that stream is closed."""
        if not self._came_with:
            return
        for request_id, came_with in list(self._came_with.items()):
            if came_with == call:
                task = self._server_requests.get(request_id)
                if task is not None:
                    log.debug(
                        "cancelled the answer to the server's request %r: the call it came "
                        "with was given up",
                        request_id,
                    )
                    task.cancel()

    def _refuse(self, request_id: Any, why: str) -> None:
        self._refused += 1
        if self._refusing >= _MAX_REFUSALS:  # a flood: not even a refusal each
            if self._refused % 1000 == 1:
                log.warning(
                    "%s floods the client with requests; dropping them", self.state.endpoint
                )
            return
        if self._refused % 1000 == 1:
            log.warning("refused request %r of %s: %s", request_id, self.state.endpoint, why)
        reply = rpc.error_response(request_id, rpc.INVALID_REQUEST, why)
        self._refusing += 1
        task = self._correlator.spawn(self._send(reply, "a refusal"))
        task.add_done_callback(self._refusal_sent)

    def _refusal_sent(self, _: asyncio.Task[Any]) -> None:
        self._refusing -= 1

    async def _answer(self, message: dict[str, Any]) -> None:
        request_id = message["id"]
        method = message["method"]
        try:
            result = await self._responder.serve(method, message.get("params") or {})
            reply = rpc.response(request_id, result)
        except JSONRPCError as exc:
            reply = rpc.error_response(request_id, exc.code, exc.message, exc.data)
        except asyncio.CancelledError:
            log.debug("server cancelled its request %r (%s)", request_id, method)
            raise
        await self._send(reply, f"the answer to {method}")

    async def _send(self, reply: dict[str, Any], what: str) -> None:
        try:
            await self._correlator.post(reply, what)
        except MCPError as exc:
            log.warning("could not send %s to %s: %s", what, self.state.endpoint, exc)

    def cancel_all(self) -> list[asyncio.Task[Any]]:
        """Cancel the server requests in progress and the callback runner; return them."""
        tasks = [*self._server_requests.values()]
        if self._notifier is not None:
            tasks.append(self._notifier)
        for task in tasks:
            task.cancel()
        return tasks

    # -- notifications ------------------------------------------------------------------

    def _notification(self, method: str, params: Mapping[str, Any]) -> None:
        handlers = self._responder.handlers
        meta = params.get("_meta")
        subscriptions = self.subscriptions
        if isinstance(meta, Mapping) and _META_SUBSCRIPTION in meta and subscriptions is not None:
            if meta[_META_SUBSCRIPTION] != subscriptions.listen_id:
                # A subscription already replaced or ended: on stdio its notifications share
                # stdout with the new one's, and must not be taken for them.
                log.debug("dropped %s of ended subscription %r", method, meta[_META_SUBSCRIPTION])
                return
        if method == "notifications/progress":
            callback = self._correlator.progressed(params.get("progressToken"))
            if callback is not None:
                args = (params.get("progress", 0), params.get("total"), params.get("message"))
                self.queue(callback, *args)
        elif method == "notifications/message":
            try:
                entry = from_wire(params, LoggingMessageNotificationParams)
            except InvalidResponseError as exc:
                log.warning("ignored a malformed log message: %s", exc)
            else:
                if handlers.on_logging_message is not None:
                    self.queue(handlers.on_logging_message, entry)
                else:
                    self._log_server_message(entry)
        elif method == "notifications/cancelled":
            task = self._server_requests.get(params.get("requestId"))
            if task is not None:
                task.cancel()
        elif method in _LIST_CHANGED:
            stale, handler = _LIST_CHANGED[method]
            for listed in stale:
                self._invalidate(listed)
            changed = getattr(handlers, handler)
            if method == "notifications/tools/list_changed" and self.tools is not None:
                self.tools.forget_schemas()
            if changed is not None:
                self.queue(changed)
        elif method == "notifications/resources/updated":
            uri = params.get("uri")
            if isinstance(uri, str):
                self._invalidate("resources/read", uri=uri)
                if handlers.on_resource_updated is not None:
                    self.queue(handlers.on_resource_updated, uri)
        elif method == "notifications/subscriptions/acknowledged" and subscriptions is not None:
            subscriptions.acknowledged(params)
        elif method in _TASK_STATUS and self.tasks is not None:
            self.tasks.notified(params)
        if handlers.on_notification is not None:
            self.queue(handlers.on_notification, method, params)

    def _log_server_message(self, entry: LoggingMessageNotificationParams) -> None:
        """With no callback, a server's log message goes to the ``duomcp.server`` logger at
        the matching level (``notice`` is INFO, ``alert`` and ``emergency`` CRITICAL)."""
        level = _LEVELS.get(entry.level, logging.INFO)
        if not server_log.isEnabledFor(level):
            return
        data = entry.data if isinstance(entry.data, str) else json.dumps(entry.data)
        if len(data) > _MAX_LOGGED:
            data = data[:_MAX_LOGGED] + f"... ({len(data)} characters)"
        name = f" [{entry.logger}]" if entry.logger else ""
        server_log.log(level, "%s%s: %s", self.state.endpoint, name, data)

    def queue(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run a user callback after those queued before it (bounded; dropped when full)."""
        if self._notifications is None:
            self._notifications = asyncio.Queue(_NOTIFICATION_QUEUE)
            self._notifier = asyncio.get_running_loop().create_task(self._run_notifications())
        try:
            self._notifications.put_nowait((callback, args))
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:  # not a line per drop
                log.warning(
                    "notification callbacks are %d behind; %d dropped so far",
                    _NOTIFICATION_QUEUE,
                    self.dropped,
                )
            return
        self._queued += 1

    async def _run_notifications(self) -> None:
        assert self._notifications is not None
        while True:
            callback, args = await self._notifications.get()
            token = IN_CALLBACK.set(True)
            try:
                await call(callback, *args)
            except Exception:
                log.exception("a notification callback raised")
            finally:
                IN_CALLBACK.reset(token)
                self._ran += 1
                self._wake()

    # -- ordering -----------------------------------------------------------------------

    def mark(self) -> int:
        """A mark of the callbacks queued so far (taken when a response arrives)."""
        return self._queued

    async def reached(self, mark: int, timeout: float) -> None:
        """Wait until every callback queued before ``mark`` has run, so a call returns
        after the callbacks of what arrived before its result (bounded by ``timeout``)."""
        if self._ran >= mark or IN_CALLBACK.get():
            return
        waiter = asyncio.get_running_loop().create_future()
        self._drained.append((mark, waiter))
        try:
            await wait_for(asyncio.shield(waiter), timeout)
        except asyncio.TimeoutError:
            log.warning("notification callbacks still running after %.1f s; going on", timeout)

    def _wake(self) -> None:
        if not self._drained:
            return
        keep = []
        for mark, waiter in self._drained:
            if self._ran >= mark:
                if not waiter.done():
                    waiter.set_result(None)
            else:
                keep.append((mark, waiter))
        self._drained = keep
