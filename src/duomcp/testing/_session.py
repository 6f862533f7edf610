"""A session of the reference server and what a running request may do in it.

Nothing here knows HTTP: a session holds its negotiated version, the client's
capabilities, its SSE streams (the event store) and its requests in flight, and a
:class:`CallContext` lets a tool report progress, log, and ask the client things.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from ._streams import Event, EventStream

__all__ = [
    "CLIENT_REPLY_TIMEOUT",
    "LEVELS",
    "VERSIONS",
    "CallContext",
    "ProtocolFault",
    "Session",
    "ToolFailure",
    "encode_message",
]

VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
"""Protocol versions the server accepts in ``initialize``; the first is its newest."""
LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
CLIENT_REPLY_TIMEOUT = 30.0
"""Seconds a tool waits for the client to answer a server-to-client request."""
GET_STREAM_GRACE = 1.0
"""Seconds a JSON-mode tool waits for a GET stream to send a request on."""
MAX_STREAMS = 256
"""Reply streams kept per session for resumption; the oldest finished ones go first."""


class ProtocolFault(Exception):
    """Answer the request with a JSON-RPC error."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_error(self) -> dict[str, Any]:
        """The ``error`` member of the response."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class ToolFailure(Exception):
    """A tool failed: the call is answered with an ``isError`` result."""


class Session:
    """What the server remembers about one client between requests."""

    def __init__(self, session_id: str | None, version: str, capabilities: dict[str, Any]) -> None:
        self.id = session_id
        self.version = version
        self.capabilities = capabilities
        self.log_level: str | None = None
        self.initialized = False  # notifications/initialized arrived
        self.counter = 0  # the value of mem://counter for this session
        self.standalone = EventStream("g")
        self.streams: dict[str, EventStream] = {"g": self.standalone}
        self.running: dict[str | int, asyncio.Task[Any]] = {}
        self.pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.dropped: set[tuple[Any, ...]] = set()  # replies already cut once
        self._numbers = itertools.count(1)

    def at_least(self, version: str) -> bool:
        """Whether the negotiated version is ``version`` or newer (dates sort as text)."""
        return self.version >= version

    def new_stream(self) -> EventStream:
        """A reply stream for one POST, kept for resumption."""
        stream = EventStream(f"s{next(self._numbers)}")
        self.streams[stream.id] = stream
        excess = len(self.streams) - 1 - MAX_STREAMS
        if excess > 0:
            finished = [s for s in self.streams.values() if s.done and s is not self.standalone]
            for old in finished[:excess]:
                del self.streams[old.id]
        return stream

    def new_request_id(self) -> str:
        """An id for a server-to-client request (its own namespace, unique in the session)."""
        return f"srv-{next(self._numbers)}"

    def resolve(self, message: dict[str, Any]) -> bool:
        """Hand the client's response to the tool waiting for it; False if none waits."""
        request_id = message.get("id")
        future = self.pending.get(request_id) if isinstance(request_id, str) else None
        if future is None or future.done():
            return False
        if "error" in message:
            error = message["error"] if isinstance(message["error"], dict) else {}
            code, text = error.get("code"), error.get("message")
            future.set_exception(ToolFailure(f"the client answered with error {code}: {text}"))
        else:
            result = message.get("result")
            future.set_result(result if isinstance(result, dict) else {})
        return True

    def cancel(self, request_id: Any) -> bool:
        """Stop the request ``request_id`` if it is running; whether it was."""
        if not isinstance(request_id, (str, int)):
            return False
        task = self.running.get(request_id)
        if task is None or task.done():
            return False
        task.cancel()
        return True

    def end(self) -> list[asyncio.Task[Any]]:
        """End the session: stop its requests and end its streams; the stopped tasks."""
        tasks = [task for task in self.running.values() if not task.done()]
        for task in tasks:
            task.cancel()
        for future in self.pending.values():
            future.cancel()
        for stream in self.streams.values():
            stream.finish()
        return tasks


def encode_message(
    method: str, params: dict[str, Any] | None = None, request_id: str | None = None
) -> str:
    """A request (with ``request_id``) or a notification as compact JSON text."""
    message: dict[str, Any] = {"jsonrpc": "2.0"}
    if request_id is not None:
        message["id"] = request_id
    message["method"] = method
    if params is not None:
        message["params"] = params
    return json.dumps(message, separators=(",", ":"))


class CallContext:
    """What a running request may do: report progress, log, ask the client, notify.

    With an SSE reply, messages go on the request's own stream. With a JSON reply there
    is none, so they go on the session's GET stream if a client is reading it.
    """

    def __init__(
        self, session: Session, stream: EventStream | None, params: dict[str, Any]
    ) -> None:
        self.session = session
        self.stream = stream
        meta = params.get("_meta")
        token = meta.get("progressToken") if isinstance(meta, dict) else None
        self.progress_token = token if isinstance(token, (str, int)) else None

    @property
    def version(self) -> str:
        """The negotiated protocol version."""
        return self.session.version

    @property
    def client_capabilities(self) -> dict[str, Any]:
        """The capabilities the client declared in ``initialize``."""
        return self.session.capabilities

    async def _target(self, *, wait: bool) -> EventStream | None:
        if self.stream is not None:
            return None if self.stream.done else self.stream
        standalone = self.session.standalone
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (GET_STREAM_GRACE if wait else 0.0)
        while not standalone.has_live_reader():
            if standalone.done or loop.time() >= deadline:
                return None
            await asyncio.sleep(0.02)
        return standalone

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> bool:
        """Send a notification about this request; False when there is no stream for it."""
        target = await self._target(wait=False)
        if target is None:
            return False
        return target.append(Event("message", encode_message(method, params))) is not None

    async def progress(self, progress: float, total: float | None, message: str) -> None:
        """Report progress, if the client asked for it with a progress token."""
        if self.progress_token is None:
            return
        params: dict[str, Any] = {"progressToken": self.progress_token, "progress": progress}
        if total is not None:
            params["total"] = total
        params["message"] = message
        await self.notify("notifications/progress", params)

    async def log(self, level: str, data: Any, logger: str = "reference") -> None:
        """Send a log message, unless the session's level filters it out."""
        threshold = self.session.log_level or LEVELS[0]
        if LEVELS.index(level) >= LEVELS.index(threshold):
            await self.notify(
                "notifications/message", {"level": level, "logger": logger, "data": data}
            )

    def notify_get_stream(self, method: str, params: dict[str, Any] | None = None) -> None:
        """Queue a notification unrelated to this request on the session's GET stream."""
        self.session.standalone.append(Event("message", encode_message(method, params)))

    async def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send a request to the client and wait for its result.

        Raises :class:`ToolFailure` when there is no stream to send it on, when the client
        answers with an error, or after :data:`CLIENT_REPLY_TIMEOUT` seconds.
        """
        target = await self._target(wait=True)
        if target is None:
            raise ToolFailure(f"no open SSE stream to send {method} to the client on")
        request_id = self.session.new_request_id()
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.session.pending[request_id] = future
        try:
            target.append(Event("message", encode_message(method, params, request_id)))
            return await asyncio.wait_for(future, CLIENT_REPLY_TIMEOUT)
        except asyncio.TimeoutError:
            self._cancel_on(target, request_id, "timed out")
            raise ToolFailure(f"the client did not answer {method} in time") from None
        except asyncio.CancelledError:
            self._cancel_on(target, request_id, "the request was cancelled")
            raise
        finally:
            self.session.pending.pop(request_id, None)

    @staticmethod
    def _cancel_on(target: EventStream, request_id: str, reason: str) -> None:
        params = {"requestId": request_id, "reason": reason}
        target.append(Event("message", encode_message("notifications/cancelled", params)))
