"""The modern era of the reference server (protocol 2026-07-28): stateless Streamable HTTP.

POST only, no sessions: every request carries its protocol version and client
capabilities in ``params._meta`` and mirrors method, name and annotated tool arguments in
headers. Replies are JSON or an SSE stream that carries only that request's progress and
log notifications, then its response; closing the stream cancels the request.
``subscriptions/listen`` opens the stream that carries change notifications (validated
here, served by :mod:`._listen`).
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import attrs
from aiohttp import web

from ._fixtures import (
    OTHER_PAGE,
    PROMPTS,
    RESOURCES,
    RESOURCES_PAGE,
    TEMPLATES,
    TOOLS_PAGE,
    Tool,
    _object,
    _page,
    _string,
    complete,
    get_prompt,
    read_resource,
)
from ._host import ModernHost
from ._http import (
    SSE_HEADERS,
    UNLOSABLE_METHODS,
    abort,
    dumps,
    json_error,
    media_types,
    pump,
    respond,
    server_capabilities,
    valid_id,
)
from ._listen import Subscriptions, honoured
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
from ._skills import SKILLS_EXTENSION, list_skills, read_skill_file
from ._streams import Event, EventStream
from ._task_methods import (
    MODERN_TASK_METHODS,
    declares_tasks,
    listen_task_ids,
    modern_call,
    modern_requirement,
    modern_tasks_request,
)
from ._task_tools import MODERN_TASK_TOOLS
from ._tasks import TASKS_EXTENSION, TaskManager

__all__ = [
    "CACHEABLE_METHODS",
    "HEADER_MISMATCH",
    "MISSING_CAPABILITY",
    "MODERN_METHODS",
    "UNSUPPORTED_VERSION",
    "ModernEndpoint",
]

META_VERSION = "io.modelcontextprotocol/protocolVersion"
META_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
META_LOG_LEVEL = "io.modelcontextprotocol/logLevel"
META_SERVER_INFO = "io.modelcontextprotocol/serverInfo"

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
_NAME_PARAM = {
    "tools/call": "name",
    "prompts/get": "name",
    "resources/read": "uri",
    **{method: "taskId" for method in MODERN_TASK_METHODS},
}
_KIND = {"tools/call": "tool", "prompts/get": "prompt", "resources/read": "resource"}


class Reject(Exception):
    """Answer the request with an HTTP error status and a JSON-RPC error body."""

    def __init__(self, status: int, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.data = status, code, message, data


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


class ModernEndpoint:
    """The modern-era request handling of a :class:`ReferenceServer`."""

    def __init__(
        self,
        server: ModernHost,
        server_info: dict[str, Any],
        instructions: str,
        task_manager: TaskManager | None = None,
        skills: bool = False,
    ) -> None:
        self.server = server
        self.skills = skills
        """Whether the skills extension (SEP-2640) is offered."""
        self.server_info = server_info
        self.instructions = instructions
        self.task_manager = task_manager
        """Runs the tasks of the tasks extension; None: the extension is not offered."""
        self.signer = StateSigner(secrets.token_bytes(32))
        self.subscriptions = Subscriptions({META_SERVER_INFO: server_info})
        """The open ``subscriptions/listen`` streams."""
        self.tasks: set[asyncio.Task[Any]] = set()
        """The requests running now."""

    # -- entry ------------------------------------------------------------------------------

    async def handle(self, request: web.Request, body: Any, invalid: bool) -> web.StreamResponse:
        """Answer one HTTP request of the modern era (``invalid``: body too large/not JSON)."""
        if request.method != "POST":
            return web.Response(status=405, headers={"Allow": "POST"})
        if not {"application/json", "text/event-stream"} <= media_types(request):
            return json_error(406, -32600, "Not Acceptable: Accept must list both JSON and SSE")
        if request.content_type != "application/json":
            return json_error(415, -32600, "Unsupported Media Type: send application/json")
        if invalid or body is None:
            return json_error(400, -32700, "Parse error")
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
            or not valid_id(body.get("id"))
        ):
            return json_error(400, -32600, "Invalid Request: POST one JSON-RPC request")
        try:
            prepared = self._validate(request, body)
            if prepared.method == "subscriptions/listen":
                return await self._listen(request, prepared)
        except Reject as reject:
            return json_error(
                reject.status, reject.code, reject.message, request_id=body["id"], data=reject.data
            )
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
        tasks_method = method in MODERN_TASK_METHODS and self.task_manager is not None
        skills_method = method == "skills/list" and self.skills
        if method not in MODERN_METHODS and not tasks_method and not skills_method:
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
        if needed is not None and not lacks(capabilities, needed):
            needed = None
        if needed is None and self.task_manager is not None:  # lacks() was applied
            needed = modern_requirement(method, params, capabilities)
        if needed is not None:
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
        lose = server.faults.lose_replies > 0 and prepared.method not in UNLOSABLE_METHODS
        if lose:
            server.faults.lose_replies -= 1
        sse = server.faults.reply_mode == "sse" and not lose
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
            announce=self.subscriptions.announce,
        )
        authorization = request.headers.get("Authorization")
        task = asyncio.get_running_loop().create_task(self._run(prepared, ctx, authorization))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        if lose:  # run it to its end, then cut before any status line
            await asyncio.shield(asyncio.gather(task, return_exceptions=True))
            server.lost_replies.append(prepared.request_id)
            return abort(request)
        if stream is None:
            return web.json_response(await asyncio.shield(task))

        def done(task: asyncio.Task[dict[str, Any]]) -> None:
            if not task.cancelled():
                stream.append(Event("response", dumps(task.result())))
            stream.finish()

        task.add_done_callback(done)
        cut = server.faults.modern_cut_replies > 0
        if cut:
            server.faults.modern_cut_replies -= 1
        response = web.StreamResponse(headers=SSE_HEADERS)
        outcome = "closed"
        try:
            await response.prepare(request)
            outcome = await pump(
                request, response, stream, event_ids=False, cut_before_response=cut, watch=True
            )
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
        work = self._dispatch(prepared, ctx, authorization)
        return await respond(prepared.request_id, prepared.method, work)

    async def _dispatch(
        self, prepared: Prepared, ctx: ModernContext, authorization: str | None
    ) -> dict[str, Any]:
        method, params, session = prepared.method, prepared.params, ctx.session
        scope: str | None = None
        if method == "server/discover":
            result = self._discover()
        elif method == "tools/list":
            tools = [tool.definition(session) for tool in self._tools().values()]
            result = _page(params, "tools", tools, TOOLS_PAGE)
        elif method == "skills/list":
            result = list_skills(self.server.faults.tamper_skills)
        elif method in MODERN_TASK_METHODS and self.task_manager is not None:
            result = modern_tasks_request(self.task_manager, method, params)
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
            elif self.skills and uri.startswith("skill://"):
                found = read_skill_file(uri, self.server.faults.tamper_skills)
                if found is None:
                    raise not_found(uri)
                result = found
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
        capabilities = server_capabilities()
        extensions: dict[str, Any] = {}
        if self.task_manager is not None:
            extensions[TASKS_EXTENSION] = {}
        if self.skills:
            extensions[SKILLS_EXTENSION] = {}
        if extensions:
            capabilities["extensions"] = extensions
        return {
            "supportedVersions": list(self.server.modern_versions),
            "capabilities": capabilities,
            "instructions": self.instructions,
        }

    def _tools(self) -> dict[str, Tool]:
        """The tools listed: the modern ones, and the task tools when tasks are offered."""
        tools = modern_tools()
        return tools if self.task_manager is None else {**tools, **MODERN_TASK_TOOLS}

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
        if self.task_manager is not None:
            answer = await modern_call(self.task_manager, self.server.tool_runs, params, ctx)
            if answer is not None:
                return answer
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

    # -- subscriptions ----------------------------------------------------------------------

    async def _listen(self, request: web.Request, prepared: Prepared) -> web.StreamResponse:
        asked = prepared.params.get("notifications")
        if not isinstance(asked, dict):
            raise Reject(400, -32602, "Invalid params: notifications must be an object")
        granted = honoured(asked, self._readable)
        if self.task_manager is not None and "taskIds" in asked:
            if not declares_tasks(prepared.capabilities):
                raise Reject(
                    400,
                    MISSING_CAPABILITY,
                    f"Missing required client capability: extension {TASKS_EXTENSION}",
                    {"requiredCapabilities": {"extensions": {TASKS_EXTENSION: {}}}},
                )
            granted["taskIds"] = listen_task_ids(self.task_manager, asked["taskIds"])
        self.server.listen_requests.append(prepared.request_id)
        return await self.subscriptions.serve(request, prepared.request_id, granted)

    async def close(self) -> None:
        """Stop every modern request and end every listen stream."""
        self.subscriptions.close()
        tasks = [task for task in self.tasks if not task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
