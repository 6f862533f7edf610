"""The modern era of the reference server (protocol 2026-07-28): stateless Streamable HTTP.

POST only, no sessions: every request carries its protocol version and client
capabilities in ``params._meta`` and mirrors method, name and annotated tool arguments in
headers. Replies are JSON or an SSE stream that carries only that request's progress and
log notifications, then its response; closing the stream cancels the request.
``subscriptions/listen`` opens the stream that carries change notifications.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
from aiohttp import web

from ._fixtures import (
    OTHER_PAGE,
    PROMPTS,
    RESOURCES,
    RESOURCES_PAGE,
    TEMPLATES,
    TOOLS_PAGE,
    _object,
    _page,
    _string,
    complete,
    get_prompt,
    read_resource,
)
from ._modern_fixtures import (
    MODERN_PROMPTS,
    MODERN_RESOURCES,
    REQUIRED_CAPABILITIES,
    ModernContext,
    StateSigner,
    decode_header_value,
    get_mrtr_prompt,
    header_params,
    invalid_x_mcp_header,
    lacks,
    modern_tools,
    not_found,
    read_mrtr_resource,
    render_header_value,
    whoami,
)
from ._session import LEVELS, ProtocolFault, Session
from ._streams import Event, EventStream

if TYPE_CHECKING:
    from ._server import ReferenceServer

__all__ = [
    "CACHEABLE_METHODS",
    "HEADER_MISMATCH",
    "MISSING_CAPABILITY",
    "MODERN_METHODS",
    "UNSUPPORTED_VERSION",
    "ModernEndpoint",
]

log = logging.getLogger("duomcp.testing")

META_VERSION = "io.modelcontextprotocol/protocolVersion"
META_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
META_LOG_LEVEL = "io.modelcontextprotocol/logLevel"
META_SERVER_INFO = "io.modelcontextprotocol/serverInfo"
META_SUBSCRIPTION = "io.modelcontextprotocol/subscriptionId"

HEADER_MISMATCH = -32020
MISSING_CAPABILITY = -32021
UNSUPPORTED_VERSION = -32022

CACHEABLE_METHODS = (
    "server/discover",
    "tools/list",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "resources/read",
)
"""Methods whose complete results carry ``ttlMs`` and ``cacheScope``."""
MODERN_METHODS = frozenset(
    (*CACHEABLE_METHODS, "tools/call", "prompts/get", "completion/complete", "subscriptions/listen")
)
"""Every method the modern era answers; others get HTTP 404 with -32601."""
_NAME_PARAM = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
_KIND = {"tools/call": "tool", "prompts/get": "prompt", "resources/read": "resource"}
_FLAGS = {
    "notifications/tools/list_changed": "toolsListChanged",
    "notifications/prompts/list_changed": "promptsListChanged",
    "notifications/resources/list_changed": "resourcesListChanged",
}
SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
POLL_SECONDS = 0.05
"""How often an idle SSE reply checks whether the client closed it."""


class Reject(Exception):
    """Answer the request with an HTTP error status and a JSON-RPC error body."""

    def __init__(self, status: int, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.data = status, code, message, data


def _dumps(message: Any) -> str:
    return json.dumps(message, separators=(",", ":"))


def _error(request_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    reply: dict[str, Any] = {"jsonrpc": "2.0"}
    if request_id is not None:
        reply["id"] = request_id
    reply["error"] = {"code": code, "message": message}
    if data is not None:
        reply["error"]["data"] = data
    return reply


def _refusal(
    request_id: Any, status: int, code: int, message: str, data: Any = None
) -> web.Response:
    return web.json_response(_error(request_id, code, message, data), status=status)


def _media_types(request: web.BaseRequest) -> set[str]:
    values = ",".join(request.headers.getall("Accept", []))
    return {part.split(";", 1)[0].strip().lower() for part in values.split(",")}


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


@attrs.frozen
class Prepared:
    """A modern request that passed validation."""

    request_id: Any
    method: str
    params: dict[str, Any]
    version: str
    capabilities: dict[str, Any]
    log_level: str | None
    state: dict[str, Any] | None
    binding: tuple[str, str]


@attrs.define(eq=False)
class Listener:
    """One open ``subscriptions/listen`` stream."""

    request_id: Any
    honoured: dict[str, Any]
    stream: EventStream
    transport: asyncio.Transport | None
    ended: asyncio.Event = attrs.field(factory=asyncio.Event)

    def wants(self, method: str, params: Mapping[str, Any]) -> bool:
        """Whether the listener asked for this notification."""
        flag = _FLAGS.get(method)
        if flag is not None:
            return self.honoured.get(flag) is True
        if method == "notifications/resources/updated":
            return params.get("uri") in self.honoured.get("resourceSubscriptions", ())
        return False


class ModernEndpoint:
    """The modern-era request handling of a :class:`ReferenceServer`."""

    def __init__(
        self, server: ReferenceServer, server_info: dict[str, Any], instructions: str
    ) -> None:
        self.server = server
        self.server_info = server_info
        self.instructions = instructions
        self.signer = StateSigner(secrets.token_bytes(32))
        self.listeners: list[Listener] = []
        self.tasks: set[asyncio.Task[Any]] = set()

    # -- entry ------------------------------------------------------------------------------

    async def handle(self, request: web.Request, body: Any, invalid: bool) -> web.StreamResponse:
        """Answer one HTTP request of the modern era (``invalid``: body too large/not JSON)."""
        if request.method != "POST":
            return web.Response(status=405, headers={"Allow": "POST"})
        if not {"application/json", "text/event-stream"} <= _media_types(request):
            return _refusal(None, 406, -32600, "Not Acceptable: Accept must list both JSON and SSE")
        if request.content_type != "application/json":
            return _refusal(None, 415, -32600, "Unsupported Media Type: send application/json")
        if invalid or body is None:
            return _refusal(None, 400, -32700, "Parse error")
        if (
            isinstance(body, dict)
            and body.get("jsonrpc") == "2.0"
            and isinstance(body.get("method"), str)
            and "id" not in body
        ):
            return web.Response(status=202)  # no client notifications in this era: dropped
        if (
            not isinstance(body, dict)
            or body.get("jsonrpc") != "2.0"
            or not isinstance(body.get("method"), str)
            or not _valid_id(body.get("id"))
        ):
            return _refusal(None, 400, -32600, "Invalid Request: POST one JSON-RPC request")
        try:
            prepared = self._validate(request, body)
            if prepared.method == "subscriptions/listen":
                return await self._listen(request, prepared)
        except Reject as reject:
            return _refusal(body["id"], reject.status, reject.code, reject.message, reject.data)
        return await self._answer(request, prepared)

    # -- validation -------------------------------------------------------------------------

    def _validate(self, request: web.Request, body: dict[str, Any]) -> Prepared:
        method: str = body["method"]
        params = body.get("params")
        meta = params.get("_meta") if isinstance(params, dict) else None
        if not isinstance(params, dict) or not isinstance(meta, dict):
            if method == "initialize":
                offered = params.get("protocolVersion") if isinstance(params, dict) else None
                raise Reject(
                    400,
                    UNSUPPORTED_VERSION,
                    "Unsupported protocol version: this server has no initialize handshake",
                    {"supported": list(self.server.modern_versions), "requested": str(offered)},
                )
            raise Reject(400, -32602, f"Invalid params: params._meta needs {META_VERSION}")
        missing = [key for key in (META_VERSION, META_CAPABILITIES) if key not in meta]
        if missing:
            raise Reject(400, -32602, f"Invalid params: params._meta lacks {', '.join(missing)}")
        version, capabilities = meta[META_VERSION], meta[META_CAPABILITIES]
        if not isinstance(capabilities, dict):
            raise Reject(400, -32602, f"Invalid params: {META_CAPABILITIES} must be an object")
        headers = request.headers
        if headers.get("MCP-Protocol-Version") != version:
            raise Reject(400, HEADER_MISMATCH, "MCP-Protocol-Version header does not match _meta")
        if headers.get("Mcp-Method") != method:
            raise Reject(400, HEADER_MISMATCH, "Mcp-Method header does not match the method")
        name_key = _NAME_PARAM.get(method)
        name = params.get(name_key) if name_key is not None else None
        if name is not None and decode_header_value(headers.get("Mcp-Name")) != name:
            raise Reject(400, HEADER_MISMATCH, f"Mcp-Name header does not match {name_key}")
        if not isinstance(version, str):
            raise Reject(400, -32602, f"Invalid params: {META_VERSION} must be a string")
        if version not in self.server.modern_versions:
            raise Reject(
                400,
                UNSUPPORTED_VERSION,
                f"Unsupported protocol version: {version}",
                {"supported": list(self.server.modern_versions), "requested": version},
            )
        if method not in MODERN_METHODS:
            raise Reject(404, -32601, f"Method not found: {method}")
        log_level = meta.get(META_LOG_LEVEL)
        if log_level is not None and log_level not in LEVELS:
            raise Reject(400, -32602, f"Invalid params: unknown log level {log_level!r}")
        if method == "tools/call":
            self._check_param_headers(request, params)
        binding = (_KIND.get(method, ""), str(name) if name is not None else "")
        state = None
        if params.get("requestState") is not None:
            state = self.signer.verify(params["requestState"])
            if state is None or (state.get("kind"), state.get("name")) != binding:
                raise Reject(400, -32602, "Invalid params: requestState is not valid here")
        needed = REQUIRED_CAPABILITIES.get(binding)
        if needed is not None and lacks(capabilities, needed):
            raise Reject(
                400,
                MISSING_CAPABILITY,
                f"Missing required client capability: {', '.join(needed)}",
                {"requiredCapabilities": needed},
            )
        return Prepared(
            body["id"], method, params, version, capabilities, log_level, state, binding
        )

    @staticmethod
    def _check_param_headers(request: web.Request, params: dict[str, Any]) -> None:
        """-32020 unless every annotated argument is mirrored in its ``Mcp-Param-*`` header."""
        tool = modern_tools().get(str(params.get("name")))
        if tool is None or invalid_x_mcp_header(tool.input_schema) is not None:
            return
        arguments = params.get("arguments")
        for path, header in header_params(tool.input_schema):
            value: Any = arguments
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            sent = request.headers.get(f"Mcp-Param-{header}")
            if value is None:
                if sent is not None:
                    raise Reject(400, HEADER_MISMATCH, f"Mcp-Param-{header} sent without value")
                continue
            rendered = render_header_value(value)
            if rendered is not None and decode_header_value(sent) != rendered:
                raise Reject(
                    400, HEADER_MISMATCH, f"Mcp-Param-{header} header does not match the argument"
                )

    # -- requests ---------------------------------------------------------------------------

    async def _answer(self, request: web.Request, prepared: Prepared) -> web.StreamResponse:
        server = self.server
        sse = server.faults.reply_mode == "sse"
        stream = EventStream("m") if sse else None
        session = Session(None, prepared.version, prepared.capabilities)
        ctx = ModernContext(
            session,
            stream,
            prepared.params,
            log_level=prepared.log_level,
            state=prepared.state,
            signer=self.signer,
            binding=prepared.binding,
            announce=self.announce,
        )
        authorization = request.headers.get("Authorization")
        task = asyncio.get_running_loop().create_task(self._run(prepared, ctx, authorization))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        if stream is None:
            return web.json_response(await asyncio.shield(task))

        def done(task: asyncio.Task[dict[str, Any]]) -> None:
            if not task.cancelled():
                stream.append(Event("response", _dumps(task.result())))
            stream.finish()

        task.add_done_callback(done)
        cut = server.faults.modern_cut_replies > 0
        if cut:
            server.faults.modern_cut_replies -= 1
        response = web.StreamResponse(headers=SSE_HEADERS)
        outcome = "closed"
        try:
            await response.prepare(request)
            server._mark(request, response.status)
            outcome = await self._pump(request, response, stream, cut=cut)
        finally:
            if outcome == "closed" and not task.done():
                task.cancel()
                server.cancelled_calls.append(prepared.request_id)
            elif outcome == "cut":
                server.cut_replies.append(prepared.request_id)
        return response

    async def _run(
        self, prepared: Prepared, ctx: ModernContext, authorization: str | None
    ) -> dict[str, Any]:
        request_id = prepared.request_id
        try:
            result = await self._dispatch(prepared, ctx, authorization)
        except ProtocolFault as fault:
            return {"jsonrpc": "2.0", "id": request_id, "error": fault.to_error()}
        except Exception as exc:  # a bug in a fixture: say so instead of hanging
            log.exception("the reference server failed on %s", prepared.method)
            return _error(request_id, -32603, f"Internal error: {exc!r}")
        return {"jsonrpc": "2.0", "id": request_id, "result": result}

    async def _dispatch(
        self, prepared: Prepared, ctx: ModernContext, authorization: str | None
    ) -> dict[str, Any]:
        method, params, session = prepared.method, prepared.params, ctx.session
        scope: str | None = None
        if method == "server/discover":
            result = self._discover()
        elif method == "tools/list":
            tools = [tool.definition(session) for tool in modern_tools().values()]
            result = _page(params, "tools", tools, TOOLS_PAGE)
        elif method == "tools/call":
            result = await self._call_tool(params, ctx)
        elif method == "resources/list":
            items = {**RESOURCES, **MODERN_RESOURCES}
            resources = [{"uri": uri, **resource} for uri, resource in items.items()]
            result = _page(params, "resources", resources, RESOURCES_PAGE)
        elif method == "resources/templates/list":
            result = _page(params, "resourceTemplates", TEMPLATES, OTHER_PAGE)
        elif method == "resources/read":
            uri = _string(params, "uri")
            if uri == "ref://whoami":
                result, scope = whoami(authorization), "private"
            elif uri == "ref://mrtr":
                result = read_mrtr_resource(ctx)
            else:
                result = self._read(session, uri)
        elif method == "prompts/list":
            prompts = [{"name": n, **p} for n, p in {**PROMPTS, **MODERN_PROMPTS}.items()]
            result = _page(params, "prompts", prompts, OTHER_PAGE)
        elif method == "prompts/get":
            arguments = _object(params, "arguments")
            if not all(isinstance(value, str) for value in arguments.values()):
                raise ProtocolFault(-32602, "Invalid params: prompt arguments must be strings")
            name = _string(params, "name")
            result = get_mrtr_prompt(ctx) if name == "mrtr_prompt" else get_prompt(name, arguments)
        else:  # completion/complete: the methods were checked before
            result = complete(_object(params, "ref"), _object(params, "argument"))
        result.setdefault("resultType", "complete")
        own_meta = result.get("_meta")
        result["_meta"] = {
            **(own_meta if isinstance(own_meta, dict) else {}),
            META_SERVER_INFO: self.server_info,
        }
        if method in CACHEABLE_METHODS and result["resultType"] == "complete":
            ttl_ms, default_scope = self.server.cache_hint(method)
            result.setdefault("ttlMs", ttl_ms)
            result.setdefault("cacheScope", scope or default_scope)
        return result

    def _discover(self) -> dict[str, Any]:
        return {
            "supportedVersions": list(self.server.modern_versions),
            "capabilities": {
                "tools": {"listChanged": True},
                "resources": {"subscribe": True, "listChanged": True},
                "prompts": {"listChanged": True},
                "logging": {},
                "completions": {},
            },
            "instructions": self.instructions,
        }

    @staticmethod
    def _read(session: Session, uri: str) -> dict[str, Any]:
        try:
            return read_resource(session, uri)
        except ProtocolFault as fault:
            if fault.code == -32002:
                raise not_found(uri) from None
            raise

    def _readable(self, uri: str) -> bool:
        if uri in MODERN_RESOURCES:
            return True
        try:
            read_resource(Session(None, "", {}), uri)
        except ProtocolFault:
            return False
        return True

    async def _call_tool(self, params: dict[str, Any], ctx: ModernContext) -> dict[str, Any]:
        name = _string(params, "name")
        tool = modern_tools().get(name)
        if tool is None:
            raise ProtocolFault(-32602, f"Unknown tool: {name}")
        arguments = _object(params, "arguments")
        try:
            tool.check(arguments)
            self.server.tool_runs[name] += 1
            return await tool.run(ctx, arguments)
        except Exception as exc:  # a failing tool is a result, not a protocol error
            return {"content": [{"type": "text", "text": str(exc)}], "isError": True}

    # -- SSE --------------------------------------------------------------------------------

    async def _pump(
        self,
        request: web.Request,
        response: web.StreamResponse,
        stream: EventStream,
        *,
        cut: bool = False,
    ) -> str:
        """Send ``stream``: ``done``, ``closed`` (the client went away) or ``cut`` (fault)."""
        seq = 0
        while True:
            transport = request.transport
            if transport is None or transport.is_closing():
                return "closed"
            try:
                item = await asyncio.wait_for(stream.next_event(seq), POLL_SECONDS)
            except asyncio.TimeoutError:
                continue
            if item is None:
                break
            seq, event = item
            if cut and event.kind == "response":
                transport.close()
                return "cut"
            try:
                await response.write(event.frame(None))
            except ConnectionError:
                return "closed"
            seq += 1
        try:
            await response.write_eof()
        except ConnectionError:
            return "closed"
        return "done"

    # -- subscriptions ----------------------------------------------------------------------

    async def _listen(self, request: web.Request, prepared: Prepared) -> web.StreamResponse:
        asked = prepared.params.get("notifications")
        if not isinstance(asked, dict):
            raise Reject(400, -32602, "Invalid params: notifications must be an object")
        honoured: dict[str, Any] = {}
        for flag in _FLAGS.values():
            if asked.get(flag) is True:
                honoured[flag] = True
        uris = asked.get("resourceSubscriptions")
        if isinstance(uris, list):
            honoured["resourceSubscriptions"] = [
                uri for uri in uris if isinstance(uri, str) and self._readable(uri)
            ]
        request_id = prepared.request_id
        self.server.listen_requests.append(request_id)
        stream = EventStream("l")
        ack = {
            "jsonrpc": "2.0",
            "method": "notifications/subscriptions/acknowledged",
            "params": {"_meta": {META_SUBSCRIPTION: request_id}, "notifications": honoured},
        }
        stream.append(Event("message", _dumps(ack)))
        listener = Listener(request_id, honoured, stream, request.transport)
        self.listeners.append(listener)
        response = web.StreamResponse(headers=SSE_HEADERS)
        try:
            await response.prepare(request)
            self.server._mark(request, response.status)
            await self._pump(request, response, stream)
        finally:
            if listener in self.listeners:
                self.listeners.remove(listener)
            listener.ended.set()
        return response

    def announce(self, method: str, params: dict[str, Any] | None = None) -> None:
        """Send a change notification to every listener that asked for it."""
        params = params or {}
        for listener in list(self.listeners):
            if not listener.wants(method, params):
                continue
            meta = params.get("_meta")
            tagged = {
                **params,
                "_meta": {
                    **(meta if isinstance(meta, dict) else {}),
                    META_SUBSCRIPTION: listener.request_id,
                },
            }
            message = {"jsonrpc": "2.0", "method": method, "params": tagged}
            listener.stream.append(Event("message", _dumps(message)))

    async def end_subscriptions(self, graceful: bool) -> None:
        """End every listen stream: with its result (graceful) or by cutting the connection."""
        listeners = list(self.listeners)
        for listener in listeners:
            if graceful:
                result = {
                    "resultType": "complete",
                    "_meta": {
                        META_SUBSCRIPTION: listener.request_id,
                        META_SERVER_INFO: self.server_info,
                    },
                }
                reply = {"jsonrpc": "2.0", "id": listener.request_id, "result": result}
                listener.stream.append(Event("response", _dumps(reply)))
                listener.stream.finish()
            elif listener.transport is not None:
                listener.transport.abort()
        if listeners:
            waiters = [asyncio.ensure_future(listener.ended.wait()) for listener in listeners]
            await asyncio.wait(waiters, timeout=2.0)
            for waiter in waiters:
                waiter.cancel()

    async def close(self) -> None:
        """Stop every modern request and end every listen stream."""
        for listener in list(self.listeners):
            listener.stream.finish()
        tasks = [task for task in self.tasks if not task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
