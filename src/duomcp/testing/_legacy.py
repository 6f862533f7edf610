"""The legacy era's POSTs (protocol versions 2024-11-05 … 2025-11-25).

:class:`LegacyEndpoint` routes a legacy request, and answers POSTs: ``initialize``, single
messages and (in 2025-03-26) batches; client responses and notifications; requests run as
cancellable tasks, answered with one JSON body or an SSE stream kept for resumption, with
the faults that kill or lose them. Sessions, GET and DELETE are :mod:`._legacy_sessions`'.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from ._fixtures import handle_request
from ._host import LegacyHost
from ._http import (
    UNLOSABLE_METHODS,
    abort,
    dumps,
    error,
    json_error,
    media_types,
    respond,
    server_capabilities,
    valid_id,
)
from ._legacy_sessions import LegacySessions
from ._session import VERSIONS, CallContext, ProtocolFault, Session
from ._streams import Event, EventStream
from ._task_methods import LEGACY_CAPABILITY, legacy_tasks_request
from ._tasks import TaskManager

__all__ = ["LegacyEndpoint"]


def _classify(message: Any) -> str | None:
    """``request``, ``notification`` or ``response``; None for an invalid JSON-RPC message."""
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return None
    if "method" in message:
        if not isinstance(message["method"], str):
            return None
        if "id" not in message:
            return "notification"
        return "request" if valid_id(message["id"]) else None
    if "id" in message and (("result" in message) != ("error" in message)):
        return "response"
    return None


class LegacyEndpoint:
    """The legacy-era request handling of a reference server."""

    def __init__(
        self,
        host: LegacyHost,
        sessions: LegacySessions,
        server_info: dict[str, Any],
        instructions: str,
        tasks: TaskManager | None = None,
    ) -> None:
        self.host = host
        self.sessions = sessions
        self.server_info = server_info
        self.instructions = instructions
        self.tasks = tasks
        """Runs the tasks of 2025-11-25 sessions; None: no tasks offered."""

    async def handle(
        self, request: web.Request, body: Any, too_large: bool, invalid: bool
    ) -> web.StreamResponse:
        """Answer one HTTP request of the legacy era (``invalid``: the body is not JSON)."""
        if request.method == "POST":
            return await self._post(request, body, too_large, invalid)
        if request.method == "GET":
            return await self.sessions.get(request)
        if request.method == "DELETE":
            return self.sessions.delete(request)
        return json_error(405, -32600, "Method Not Allowed", headers={"Allow": "GET, POST, DELETE"})

    # -- POST -------------------------------------------------------------------------------

    async def _post(
        self, request: web.Request, body: Any, too_large: bool, invalid: bool
    ) -> web.StreamResponse:
        if not {"application/json", "text/event-stream"} <= media_types(request):
            return json_error(
                406,
                -32600,
                "Not Acceptable: Accept must list application/json and text/event-stream",
            )
        if request.content_type != "application/json":
            return json_error(415, -32600, "Unsupported Media Type: send application/json")
        if too_large:
            return json_error(413, -32600, "Payload Too Large")
        if invalid or body is None:
            return json_error(400, -32700, "Parse error")
        if isinstance(body, list):
            return await self._post_batch(request, body)
        kind = _classify(body)
        if kind is None:
            return json_error(400, -32600, "Invalid Request")
        if kind == "request" and body["method"] == "initialize":
            return await self._initialize(request, body)
        session = self.sessions.lookup(request)
        if isinstance(session, web.Response):
            empty = self.host.faults.legacy_empty_400 and self.sessions.sessionless(request)
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

    async def _post_batch(self, request: web.Request, batch: list[Any]) -> web.StreamResponse:
        """A JSON-RPC batch: allowed only when 2025-03-26 was negotiated."""
        session = self.sessions.lookup(request)
        if isinstance(session, web.Response):
            return session
        if session.version != "2025-03-26":
            return json_error(
                400, -32600, f"Invalid Request: no batches in protocol version {session.version}"
            )
        if not batch:
            return json_error(400, -32600, "Invalid Request: empty batch")
        requests: list[dict[str, Any]] = []
        ready: list[dict[str, Any]] = []
        for message in batch:
            kind = _classify(message)
            if kind is None:
                ready.append(error(None, -32600, "Invalid Request"))
            elif kind == "request" and message["method"] == "initialize":
                ready.append(error(message["id"], -32600, "initialize cannot be batched"))
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
            reply = error(
                message["id"],
                -32602,
                "Invalid params: initialize needs protocolVersion, capabilities and clientInfo",
            )
            return web.json_response(reply)
        offered = params["protocolVersion"]
        version = offered if offered in VERSIONS else VERSIONS[0]
        session, session_id = self.sessions.open(version, params["capabilities"])
        headers = {"Mcp-Session-Id": session_id} if session_id is not None else {}
        capabilities = server_capabilities()
        if self.tasks is not None and session.at_least("2025-11-25"):
            capabilities["tasks"] = LEGACY_CAPABILITY
        result = {
            "protocolVersion": version,
            "capabilities": capabilities,
            "serverInfo": self.server_info,
            "instructions": self.instructions,
        }
        reply = {"jsonrpc": "2.0", "id": message["id"], "result": result}
        return await self._answer(request, session, [], [reply], headers=headers)

    def _on_notification(self, session: Session, message: dict[str, Any]) -> None:
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        if message["method"] == "notifications/initialized":
            session.initialized = True
        elif message["method"] == "notifications/cancelled":
            self.host.cancelled.append(params.get("requestId"))
            session.cancel(params.get("requestId"))

    # -- answering --------------------------------------------------------------------------

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
        faults = self.host.faults
        calls = [message for message in requests if message["method"] == "tools/call"]
        if faults.die_mid_call and calls:
            for call in calls:
                params = call.get("params")
                name = params.get("name") if isinstance(params, dict) else None
                self.host.tool_runs[str(name)] += 1
            return abort(request)
        if (
            faults.lose_replies > 0
            and not batch
            and len(requests) == 1
            and requests[0]["method"] not in UNLOSABLE_METHODS
        ):
            faults.lose_replies -= 1
            return await self._lose(request, session, requests[0])
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
            stream.append(Event("response", dumps(reply)))
        self._finish_when_done(stream, [self._start(session, m, stream) for m in requests])
        drop_after = None
        key = tuple(m["id"] for m in requests) + tuple(r.get("id") for r in ready)
        if faults.drop_reply_after is not None and key not in session.dropped:
            session.dropped.add(key)
            drop_after = faults.drop_reply_after
        return await self.sessions.send_stream(
            request,
            stream,
            -1,
            headers=headers,
            drop_after=drop_after,
            close_after_priming=faults.close_after_priming,
        )

    async def _lose(
        self, request: web.Request, session: Session, message: dict[str, Any]
    ) -> web.StreamResponse:
        """Run ``message`` to its end (no reply stream: as in JSON mode), then cut."""
        task = self._start(session, message, None)
        await asyncio.shield(asyncio.gather(task, return_exceptions=True))
        self.host.lost_replies.append(message["id"])
        return abort(request)

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
                stream.append(Event("response", dumps(task.result())))

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
        method, params = message["method"], message.get("params", {})

        async def work() -> dict[str, Any]:
            if not isinstance(params, dict):
                raise ProtocolFault(-32602, "Invalid params: params must be an object")
            if self.tasks is not None and session.at_least("2025-11-25"):
                answer = await legacy_tasks_request(
                    self.tasks, self.host.tool_runs, session, method, params, ctx
                )
                if answer is not None:
                    return answer
            return await handle_request(self.host, session, method, params, ctx)

        return await respond(message["id"], method, work())
