"""A reference MCP server (legacy Streamable HTTP, sessions) with fault switches.

Observable (every request recorded, tool runs and cancellations counted, TCP connections
counted) and fault-injectable through :class:`ServerFaults`, for tests and demos.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import logging
import secrets
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Literal

import attrs
from aiohttp import web

from . import _fixtures as fx
from ._authserver import AuthorizationServer, AuthServerSettings

__all__ = ["RecordedRequest", "ReferenceServer", "ServerFaults"]

log = logging.getLogger("duomcp.testing")

VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
CLIENT_WAIT = 30.0
TOOLS_PAGE, RESOURCES_PAGE = 3, 2


@attrs.define
class ServerFaults:
    """Switches that change how the reference server behaves; tests may flip them live."""

    reply_mode: Literal["json", "sse"] = "sse"
    get_stream: bool = True
    require_bearer: str | None = None
    forbid: bool = False
    drop_reply_after: int | None = None
    retry_ms: int | None = None
    close_after_priming: bool = False
    die_mid_call: bool = False
    delete_status: int = 200
    session_required: bool = True
    max_body_bytes: int = 4 << 20


@attrs.define
class RecordedRequest:
    """One HTTP request the server received; header names are lower-case."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any
    status: int = 0


class _Stream:
    """The events of one SSE stream, kept for replay; followers wait for new ones."""

    def __init__(self, stream_id: str) -> None:
        self.id = stream_id
        self.events: list[str] = []  # JSON text; "" is a priming event
        self.done = False
        self.open = False  # a client is reading it (the GET stream allows one at a time)
        self._changed = asyncio.Condition()

    async def append(self, data: str) -> None:
        async with self._changed:
            self.events.append(data)
            self._changed.notify_all()

    async def finish(self) -> None:
        async with self._changed:
            self.done = True
            self._changed.notify_all()

    def _ready(self, index: int) -> Callable[[], bool]:
        return lambda: len(self.events) > index or self.done

    async def follow(self, after: int) -> Any:
        index = after + 1
        while True:
            async with self._changed:
                await self._changed.wait_for(self._ready(index))
            while index < len(self.events):
                yield index, self.events[index]
                index += 1
            if self.done and index >= len(self.events):
                return


@attrs.define(eq=False)
class _Session:
    id: str
    version: str
    capabilities: dict[str, Any]
    log_level: str | None = None
    streams: dict[str, _Stream] = attrs.field(factory=dict)
    standalone: _Stream | None = None
    pending: dict[str, asyncio.Future[Any]] = attrs.field(factory=dict)
    running: dict[Any, asyncio.Task[Any]] = attrs.field(factory=dict)
    counter: Any = attrs.field(factory=itertools.count)


class CallContext:
    """What a tool may do while it runs: report progress, log, ask the client."""

    def __init__(
        self,
        server: ReferenceServer,
        session: _Session,
        stream: _Stream | None,
        params: dict[str, Any],
    ) -> None:
        self.server = server
        self.session = session
        self.stream = stream
        self.progress_token = (params.get("_meta") or {}).get("progressToken")

    async def send(self, message: dict[str, Any]) -> bool:
        """Send on the request's stream, else on the GET stream; False if neither exists."""
        target = self.stream or self.session.standalone
        if target is None or target.done:
            return False
        await target.append(json.dumps(message))
        return True

    async def notify(self, method: str, params: dict[str, Any] | None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        await self.send(message)

    async def progress(self, progress: float, total: float, message: str) -> None:
        if self.progress_token is not None:
            await self.notify(
                "notifications/progress",
                {
                    "progressToken": self.progress_token,
                    "progress": progress,
                    "total": total,
                    "message": message,
                },
            )

    async def log(self, level: str, data: Any) -> None:
        threshold = self.session.log_level or "debug"
        if fx.LEVELS.index(level) >= fx.LEVELS.index(threshold):
            await self.notify(
                "notifications/message", {"level": level, "logger": "reference", "data": data}
            )

    async def broadcast(self, method: str, params: dict[str, Any] | None) -> None:
        await self.server.notify(method, params)

    async def request(self, method: str, params: dict[str, Any] | None) -> Any:
        request_id = f"srv-{next(self.session.counter)}"
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.session.pending[request_id] = future
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        try:
            if not await self.send(message):
                raise fx.ToolFailure(f"no stream to send {method} on")
            return await asyncio.wait_for(future, CLIENT_WAIT)
        finally:
            self.session.pending.pop(request_id, None)


def _error(request_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


class ReferenceServer:
    """A legacy-era Streamable HTTP MCP server on aiohttp.web, for tests and demos."""

    def __init__(
        self,
        *,
        faults: ServerFaults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "/mcp",
        oauth: AuthServerSettings | None = None,
    ) -> None:
        self.faults = faults or ServerFaults()
        self.auth_server = AuthorizationServer(oauth) if oauth is not None else None
        """The built-in authorization server, when the server requires OAuth."""
        self.host, self.port, self.path = host, port, path
        self.url = ""
        self.requests: list[RecordedRequest] = []
        self.tool_runs: collections.Counter[str] = collections.Counter()
        self.cancelled: list[Any] = []
        self.connections_opened = 0
        self.subscriptions: set[str] = set()
        self.log_level: str | None = None
        self._sessions: dict[str, _Session] = {}
        self._anonymous: _Session | None = None
        self._transports: weakref.WeakSet[Any] = weakref.WeakSet()
        self._get_responses: set[web.StreamResponse] = set()
        self._dropped: set[Any] = set()
        self._runner: web.AppRunner | None = None

    @property
    def sessions(self) -> set[str]:
        """Ids of the live sessions."""
        return set(self._sessions)

    async def __aenter__(self) -> ReferenceServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> str:
        """Start serving; return the endpoint URL."""
        app = web.Application(client_max_size=self.faults.max_body_bytes)
        app.router.add_route("*", self.path, self._handle)
        if self.auth_server is not None:
            self.auth_server.install(app, self.path)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://{self.host}:{port}{self.path}"
        if self.auth_server is not None:
            self.auth_server.bind(f"http://{self.host}:{port}", self.url)
        return self.url

    async def close(self) -> None:
        """Stop serving; open streams end."""
        for session in list(self._sessions.values()):
            await self._end_session(session)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def forget_sessions(self) -> None:
        """Drop every session: requests with an old session id now get 404."""
        self._sessions.clear()

    async def drop_streams(self) -> None:
        """Abruptly close every open GET stream (clients should reconnect)."""
        for resp in list(self._get_responses):
            task = getattr(resp, "_duomcp_task", None)
            if task is not None:
                task.cancel()

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        """Send a notification on every open GET stream."""
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        for session in list(self._sessions.values()):
            if session.standalone is not None and not session.standalone.done:
                await session.standalone.append(json.dumps(message))

    async def _end_session(self, session: _Session) -> None:
        for task in list(session.running.values()):
            task.cancel()
        for stream in [*session.streams.values(), session.standalone]:
            if stream is not None:
                await stream.finish()
        self._sessions.pop(session.id, None)

    # -- HTTP ---------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        transport = request.transport
        if transport is not None and transport not in self._transports:
            self._transports.add(transport)
            self.connections_opened += 1
        body: Any = None
        raw = await request.read() if request.method == "POST" else b""
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        record = RecordedRequest(
            request.method, request.path, {k.lower(): v for k, v in request.headers.items()}, body
        )
        self.requests.append(record)
        resp = await self._route(request, raw, body)
        record.status = resp.status
        return resp

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
            needed = server.settings.tool_scopes.get(str((body.get("params") or {}).get("name")))
            if needed and needed not in scopes:
                challenge = f'Bearer error="insufficient_scope", scope="{needed}"'
                return web.json_response(
                    {"error": "insufficient_scope"},
                    status=403,
                    headers={"WWW-Authenticate": challenge},
                )
        return None

    async def _route(self, request: web.Request, raw: bytes, body: Any) -> web.StreamResponse:
        faults = self.faults
        refusal = self._oauth_refusal(request, body)
        if refusal is not None:
            return refusal
        if faults.require_bearer is not None:
            if request.headers.get("Authorization") != f"Bearer {faults.require_bearer}":
                return web.json_response(
                    {"error": "invalid_token"},
                    status=401,
                    headers={
                        "WWW-Authenticate": 'Bearer error="invalid_token", '
                        'error_description="token required"'
                    },
                )
            if faults.forbid:
                return web.json_response(
                    {"error": "insufficient_scope"},
                    status=403,
                    headers={
                        "WWW-Authenticate": 'Bearer error="insufficient_scope", scope="admin"'
                    },
                )
        if request.method == "POST":
            return await self._post(request, raw, body)
        if request.method == "GET":
            return await self._get(request)
        if request.method == "DELETE":
            return await self._delete(request)
        return web.Response(status=405)

    def _session_for(self, request: web.Request) -> tuple[_Session | None, web.Response | None]:
        session_id = request.headers.get("Mcp-Session-Id")
        if not self.faults.session_required:
            return self._anonymous, None
        if session_id is None:
            return None, web.json_response(
                _error(None, -32600, "missing Mcp-Session-Id"), status=400
            )
        session = self._sessions.get(session_id)
        if session is None:
            return None, web.json_response(_error(None, -32600, "unknown session"), status=404)
        version = request.headers.get("MCP-Protocol-Version")
        if version is not None and version != session.version:
            return None, web.json_response(
                _error(None, -32600, f"MCP-Protocol-Version {version} != {session.version}"),
                status=400,
            )
        return session, None

    async def _post(self, request: web.Request, raw: bytes, body: Any) -> web.StreamResponse:
        accept = request.headers.get("Accept", "")
        if "application/json" not in accept or "text/event-stream" not in accept:
            return web.Response(
                status=406, text="Accept must list application/json and text/event-stream"
            )
        if request.content_type != "application/json":
            return web.Response(status=415)
        if not isinstance(body, dict):
            return web.json_response(_error(None, -32700, "parse error"), status=400)
        if body.get("method") == "initialize":
            return await self._initialize(body)
        session, refusal = self._session_for(request)
        if refusal is not None:
            return refusal
        if session is None:
            return web.json_response(_error(None, -32600, "not initialized"), status=400)
        if "method" not in body:  # the client's answer to one of our requests
            future = session.pending.get(str(body.get("id")))
            if future is not None and not future.done():
                if "error" in body:
                    future.set_exception(fx.ToolFailure(f"client error: {body['error']}"))
                else:
                    future.set_result(body.get("result"))
            return web.Response(status=202)
        if "id" not in body:
            await self._notification(session, body)
            return web.Response(status=202)
        return await self._request(request, session, body)

    async def _initialize(self, body: dict[str, Any]) -> web.StreamResponse:
        params = body.get("params") or {}
        offered = params.get("protocolVersion")
        version = offered if offered in VERSIONS else VERSIONS[0]
        session = _Session(
            id=secrets.token_urlsafe(16),
            version=version,
            capabilities=params.get("capabilities") or {},
        )
        headers = {}
        if self.faults.session_required:
            self._sessions[session.id] = session
            headers["Mcp-Session-Id"] = session.id
        else:
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
            "serverInfo": {"name": "duomcp-reference", "version": "0.1.0"},
            "instructions": "A reference server for tests and demos.",
        }
        return web.json_response(
            {"jsonrpc": "2.0", "id": body.get("id"), "result": result}, headers=headers
        )

    async def _notification(self, session: _Session, body: dict[str, Any]) -> None:
        if body.get("method") == "notifications/cancelled":
            request_id = (body.get("params") or {}).get("requestId")
            self.cancelled.append(request_id)
            task = session.running.get(request_id)
            if task is not None:
                task.cancel()

    async def _request(
        self, request: web.Request, session: _Session, body: dict[str, Any]
    ) -> web.StreamResponse:
        faults = self.faults
        request_id = body["id"]
        if faults.die_mid_call and body.get("method") == "tools/call":
            self.tool_runs[str((body.get("params") or {}).get("name"))] += 1
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)
        if faults.reply_mode == "json":
            ctx = CallContext(self, session, None, body.get("params") or {})
            reply = await self._run(session, body, ctx)
            if reply is None:
                return web.Response(status=202)
            return web.json_response(reply)
        stream = _Stream(f"s{next(session.counter)}")
        session.streams[stream.id] = stream
        if faults.retry_ms is not None:
            stream.events.append("")  # priming event
        ctx = CallContext(self, session, stream, body.get("params") or {})

        async def work() -> None:
            try:
                reply = await self._run(session, body, ctx)
                if reply is not None:
                    await stream.append(json.dumps(reply))
            finally:
                await stream.finish()

        task = asyncio.ensure_future(work())
        session.running[request_id] = task
        task.add_done_callback(lambda _: session.running.pop(request_id, None))
        drop_after = None
        if faults.drop_reply_after is not None and request_id not in self._dropped:
            drop_after = faults.drop_reply_after
            self._dropped.add(request_id)
        return await self._write_stream(
            request,
            stream,
            -1,
            drop_after=drop_after,
            close_after_priming=faults.close_after_priming,
        )

    async def _write_stream(
        self,
        request: web.Request,
        stream: _Stream,
        after: int,
        *,
        drop_after: int | None = None,
        close_after_priming: bool = False,
    ) -> web.StreamResponse:
        resp = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await resp.prepare(request)
        try:
            return await self._pump(request, resp, stream, after, drop_after, close_after_priming)
        except ConnectionResetError:  # the client went away; the events stay stored
            return resp

    async def _pump(
        self,
        request: web.Request,
        resp: web.StreamResponse,
        stream: _Stream,
        after: int,
        drop_after: int | None,
        close_after_priming: bool,
    ) -> web.StreamResponse:
        sent = 0
        async for index, data in stream.follow(after):
            await resp.write(self._frame(stream, index, data))
            sent += 1
            if drop_after is not None and sent >= drop_after:
                if request.transport is not None:
                    request.transport.abort()
                return resp
            if close_after_priming and data == "":
                break
        await resp.write_eof()
        return resp

    def _frame(self, stream: _Stream, index: int, data: str) -> bytes:
        """One SSE event; a priming event (empty data) carries ``retry`` when set."""
        frame = f"id: {stream.id}:{index}\n"
        if data == "" and self.faults.retry_ms is not None:
            frame += f"retry: {self.faults.retry_ms}\n"
        return (frame + f"data: {data}\n\n").encode()

    async def _get(self, request: web.Request) -> web.StreamResponse:
        if "text/event-stream" not in request.headers.get("Accept", ""):
            return web.Response(status=406)
        session, refusal = self._session_for(request)
        if refusal is not None:
            return refusal
        if session is None:
            return web.Response(status=405)
        last_id = request.headers.get("Last-Event-ID")
        if last_id:
            stream_id, _, seq = last_id.rpartition(":")
            if stream_id == "g" and session.standalone is not None:
                stream, after = session.standalone, int(seq)
            elif stream_id in session.streams and seq.isdigit():
                stream, after = session.streams[stream_id], int(seq)
            else:
                return web.json_response(
                    _error(None, -32600, f"unknown event id {last_id}"), status=400
                )
            if stream is session.standalone:
                return await self._serve_standalone(request, stream, after)
            return await self._write_stream(request, stream, after)
        if not self.faults.get_stream:
            return web.Response(status=405)
        if session.standalone is not None and session.standalone.open:
            return web.Response(status=409, text="a GET stream is already open")
        if session.standalone is None:
            session.standalone = _Stream("g")
            if self.faults.retry_ms is not None:
                session.standalone.events.append("")
        return await self._serve_standalone(request, session.standalone, -1)

    async def _serve_standalone(
        self, request: web.Request, stream: _Stream, after: int
    ) -> web.StreamResponse:
        stream.open = True
        resp = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        resp._duomcp_task = asyncio.current_task()  # type: ignore[attr-defined]
        self._get_responses.add(resp)
        try:
            return await self._write_stream_to(request, resp, stream, after)
        except ConnectionResetError:
            return resp
        except asyncio.CancelledError:
            if request.transport is not None:
                request.transport.abort()
            return resp
        finally:
            stream.open = False
            self._get_responses.discard(resp)

    async def _write_stream_to(
        self, request: web.Request, resp: web.StreamResponse, stream: _Stream, after: int
    ) -> web.StreamResponse:
        await resp.prepare(request)
        async for index, data in stream.follow(after):
            await resp.write(self._frame(stream, index, data))
        await resp.write_eof()
        return resp

    async def _delete(self, request: web.Request) -> web.StreamResponse:
        session, refusal = self._session_for(request)
        if refusal is not None:
            return refusal
        status = self.faults.delete_status
        if status < 300 and session is not None:
            for task in list(session.running.values()):
                task.cancel()
            await self._end_session(session)
        return web.Response(status=status)

    # -- methods ------------------------------------------------------------------------

    async def _run(
        self, session: _Session, body: dict[str, Any], ctx: CallContext
    ) -> dict[str, Any] | None:
        request_id = body["id"]
        try:
            result = await self._dispatch(
                session, str(body.get("method")), body.get("params") or {}, ctx
            )
        except fx.ProtocolFault as exc:
            return _error(request_id, exc.code, exc.message)
        except asyncio.CancelledError:
            return None  # cancelled requests get no response
        except Exception as exc:  # a bug in a fixture: tell the client
            log.exception("reference server failed on %s", body.get("method"))
            return _error(request_id, -32603, f"internal error: {exc}")
        return {"jsonrpc": "2.0", "id": request_id, "result": result}

    async def _dispatch(
        self, session: _Session, method: str, params: dict[str, Any], ctx: CallContext
    ) -> dict[str, Any]:
        if method == "ping":
            return {}
        if method == "tools/list":
            tools = [{"name": name, **spec} for name, (spec, _) in fx.TOOLS.items()]
            return self._page(params, "tools", tools, TOOLS_PAGE)
        if method == "tools/call":
            name = str(params.get("name"))
            if name not in fx.TOOLS:
                raise fx.ProtocolFault(-32602, f"unknown tool: {name}")
            self.tool_runs[name] += 1
            try:
                return await fx.TOOLS[name][1](ctx, dict(params.get("arguments") or {}))
            except (fx.ToolFailure, KeyError, TypeError, ValueError) as exc:
                return {
                    "content": [{"type": "text", "text": f"tool failed: {exc}"}],
                    "isError": True,
                }
        if method == "resources/list":
            resources = [
                {"uri": uri, "name": r["name"], "mimeType": r["mimeType"]}
                for uri, r in fx.RESOURCES.items()
            ]
            return self._page(params, "resources", resources, RESOURCES_PAGE)
        if method == "resources/templates/list":
            return {"resourceTemplates": fx.TEMPLATES}
        if method == "resources/read":
            return fx.read_resource(str(params.get("uri")))
        if method == "resources/subscribe":
            self.subscriptions.add(str(params.get("uri")))
            return {}
        if method == "resources/unsubscribe":
            self.subscriptions.discard(str(params.get("uri")))
            return {}
        if method == "prompts/list":
            return {"prompts": [{"name": name, **spec} for name, spec in fx.PROMPTS.items()]}
        if method == "prompts/get":
            return fx.get_prompt(str(params.get("name")), dict(params.get("arguments") or {}))
        if method == "completion/complete":
            return fx.complete(dict(params.get("ref") or {}), dict(params.get("argument") or {}))
        if method == "logging/setLevel":
            level = params.get("level")
            if level not in fx.LEVELS:
                raise fx.ProtocolFault(-32602, f"unknown level: {level}")
            session.log_level = self.log_level = str(level)
            return {}
        raise fx.ProtocolFault(-32601, f"method not found: {method}")

    @staticmethod
    def _page(
        params: dict[str, Any], key: str, items: list[dict[str, Any]], size: int
    ) -> dict[str, Any]:
        cursor = params.get("cursor")
        start = 0
        if cursor is not None:
            if not (
                isinstance(cursor, str) and cursor.startswith("page-") and cursor[5:].isdigit()
            ):
                raise fx.ProtocolFault(-32602, "invalid cursor")
            start = int(cursor[5:])
        result: dict[str, Any] = {key: items[start : start + size]}
        if start + size < len(items):
            result["nextCursor"] = f"page-{start + size}"
        return result
