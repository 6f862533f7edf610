"""The reference server's tools, resources, prompts and completions, and the MCP methods
that serve them (everything after ``initialize``), on raw JSON dicts.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import attrs
import jsonschema

from ._session import LEVELS, CallContext, ProtocolFault, Session, ToolFailure

__all__ = ["PROMPTS", "RESOURCES", "TEMPLATES", "TOOLS", "Observer", "Tool", "handle_request"]

TOOLS_PAGE = 3
RESOURCES_PAGE = 2
OTHER_PAGE = 100


class Observer(Protocol):
    """Where the methods record what clients did (the reference server)."""

    tool_runs: collections.Counter[str]
    subscriptions: set[str]
    log_level: str | None


# -- tools ----------------------------------------------------------------------------------

ToolFn = Callable[[CallContext, dict[str, Any]], Awaitable[dict[str, Any]]]


@attrs.frozen
class Tool:
    """A tool: its definition for ``tools/list`` and the coroutine that runs a call."""

    name: str
    description: str
    run: ToolFn
    properties: dict[str, Any] = attrs.field(factory=dict)
    required: tuple[str, ...] = ()
    output_schema: dict[str, Any] | None = None
    annotations: dict[str, Any] | None = None
    """Behaviour hints (``readOnlyHint``, ``idempotentHint``...), from 2025-03-26 on."""

    @property
    def input_schema(self) -> dict[str, Any]:
        """The JSON Schema of the arguments."""
        schema: dict[str, Any] = {"type": "object", "properties": self.properties}
        if self.required:
            schema["required"] = list(self.required)
        return schema

    def definition(self, session: Session) -> dict[str, Any]:
        """The ``Tool`` object; annotations exist from 2025-03-26 on, output schemas from
        2025-06-18 on."""
        tool: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "inputSchema": self.input_schema,
        }
        if self.output_schema is not None and session.at_least("2025-06-18"):
            tool["outputSchema"] = self.output_schema
        if self.annotations is not None and session.at_least("2025-03-26"):
            tool["annotations"] = dict(self.annotations)
        return tool

    def check(self, arguments: dict[str, Any]) -> None:
        """Raise :class:`ToolFailure` when ``arguments`` break the input schema."""
        error = jsonschema.exceptions.best_match(
            jsonschema.Draft202012Validator(self.input_schema).iter_errors(arguments)
        )
        if error is not None:
            where = "/".join(str(part) for part in error.absolute_path) or "arguments"
            raise ToolFailure(f"invalid arguments for {self.name}: {where}: {error.message}")


def _text(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}]}


def _structured(value: dict[str, Any]) -> dict[str, Any]:
    # the JSON goes in a text block too, for clients and models that only read text
    return {**_text(json.dumps(value)), "structuredContent": value}


def _need(ctx: CallContext, capability: str) -> dict[str, Any]:
    declared = ctx.client_capabilities.get(capability)
    if not isinstance(declared, dict):
        raise ToolFailure(f"the client did not declare the {capability} capability")
    return declared


async def _echo(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    return _text(args["text"])


async def _add(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    return _structured({"result": args["a"] + args["b"]})


async def _bad_structured(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    return _structured({"result": "not a number"})


async def _fail(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    raise ToolFailure("this tool always fails")


async def _slow(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    seconds = args.get("seconds", 1)
    await asyncio.sleep(seconds)
    return _text(f"slept {seconds} s")


async def _progress(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    steps, delay = args.get("steps", 3), args.get("delay", 0.01)
    for step in range(1, steps + 1):
        await asyncio.sleep(delay)
        await ctx.progress(step, steps, f"step {step} of {steps}")
    return _text(f"{steps} steps done")


async def _log(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    await ctx.log(args.get("level", "info"), {"message": args.get("message", "")})
    return _text("logged")


async def _sample(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    _need(ctx, "sampling")
    prompt = {"role": "user", "content": {"type": "text", "text": args["prompt"]}}
    result = await ctx.request("sampling/createMessage", {"messages": [prompt], "maxTokens": 100})
    content = result.get("content")
    blocks = content if isinstance(content, list) else [content]
    texts = [b["text"] for b in blocks if isinstance(b, dict) and isinstance(b.get("text"), str)]
    if not texts:
        raise ToolFailure("the client's sampling result has no text")
    return _text("".join(texts))


ELICIT_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "title": "Name", "default": "Ada"},
        "age": {"type": "integer", "title": "Age", "minimum": 0, "default": 36},
        "subscribe": {"type": "boolean", "title": "Subscribe", "default": True},
    },
    "required": ["name"],
}


def _elicit_answer(result: dict[str, Any]) -> dict[str, Any]:
    answer = {key: result[key] for key in ("action", "content") if key in result}
    return _text(json.dumps(answer, sort_keys=True))


async def _elicit(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    if not ctx.session.at_least("2025-06-18"):
        raise ToolFailure(f"elicitation does not exist in protocol version {ctx.version}")
    modes = _need(ctx, "elicitation")
    if modes and "form" not in modes:  # {} means form only
        raise ToolFailure("the client did not declare form elicitation")
    params: dict[str, Any] = {"message": args.get("message", "Tell me about yourself")}
    if ctx.session.at_least("2025-11-25"):
        params["mode"] = "form"
    params["requestedSchema"] = ELICIT_SCHEMA
    return _elicit_answer(await ctx.request("elicitation/create", params))


async def _elicit_url(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    if not ctx.session.at_least("2025-11-25"):
        raise ToolFailure(f"URL elicitation does not exist in protocol version {ctx.version}")
    if "url" not in _need(ctx, "elicitation"):
        raise ToolFailure("the client did not declare URL elicitation")
    elicitation_id = secrets.token_hex(8)
    params = {
        "mode": "url",
        "message": "Please sign in",
        "url": "https://example.com/sign-in",
        "elicitationId": elicitation_id,
    }
    result = await ctx.request("elicitation/create", params)
    if result.get("action") == "accept":  # the out-of-band step "finishes" at once
        await ctx.notify("notifications/elicitation/complete", {"elicitationId": elicitation_id})
    return _elicit_answer(result)


async def _roots(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    _need(ctx, "roots")
    result = await ctx.request("roots/list")
    return _text(json.dumps({"roots": result.get("roots", [])}, sort_keys=True))


async def _flood(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    _need(ctx, "roots")
    count = args.get("count", 10)
    asks = [asyncio.ensure_future(ctx.request("roots/list")) for _ in range(count)]
    try:
        answers = await asyncio.gather(*asks)  # all at once, each on its own id
    finally:  # one failed or the call was cancelled: withdraw the others, then go on
        for ask in asks:
            ask.cancel()
        await asyncio.gather(*asks, return_exceptions=True)
    return _text(f"{len(answers)} answered")


async def _ping_client(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    await ctx.request("ping")
    return _text("pong")


async def _notify_changed(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    ctx.session.counter += 1
    ctx.notify_get_stream("notifications/tools/list_changed")
    ctx.notify_get_stream("notifications/resources/updated", {"uri": "mem://counter"})
    return _text("notified")


_STR = {"type": "string"}
_NUM = {"type": "number"}
FLOOD_COUNT = {"type": "integer", "minimum": 0, "maximum": 1000, "default": 10}
_RESULT_SCHEMA = {"type": "object", "properties": {"result": _NUM}, "required": ["result"]}

TOOLS: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool("echo", "Echo the text back.", _echo, {"text": _STR}, ("text",)),
        Tool(
            "add",
            "Add two numbers.",
            _add,
            {"a": _NUM, "b": _NUM},
            ("a", "b"),
            output_schema=_RESULT_SCHEMA,
            annotations={"readOnlyHint": True, "idempotentHint": True},
        ),
        Tool(
            "bad_structured",
            "Return structured content that breaks its own output schema.",
            _bad_structured,
            output_schema=_RESULT_SCHEMA,
        ),
        Tool("fail", "Always fail (an isError result).", _fail),
        Tool(
            "slow",
            "Sleep for `seconds`; cancellable.",
            _slow,
            {"seconds": {"type": "number", "minimum": 0, "maximum": 60}},
        ),
        Tool(
            "progress",
            "Report progress `steps` times, `delay` seconds apart.",
            _progress,
            {
                "steps": {"type": "integer", "minimum": 0, "maximum": 1000},
                "delay": {"type": "number", "minimum": 0, "maximum": 10},
            },
        ),
        Tool(
            "log",
            "Send a log message at a level.",
            _log,
            {"message": _STR, "level": {"type": "string", "enum": list(LEVELS)}},
        ),
        Tool("sample", "Ask the client's model.", _sample, {"prompt": _STR}, ("prompt",)),
        Tool("elicit", "Ask the user to fill in a form.", _elicit, {"message": _STR}),
        Tool("elicit_url", "Send the user to a URL.", _elicit_url),
        Tool("roots", "List the client's roots.", _roots),
        Tool(
            "flood",
            "Ask the client for its roots `count` times at once; report how many answered.",
            _flood,
            {"count": FLOOD_COUNT},
        ),
        Tool("ping_client", "Ping the client.", _ping_client),
        Tool(
            "notify_changed",
            "Announce changed tools and an updated mem://counter on the GET stream.",
            _notify_changed,
        ),
    )
}

# -- resources, prompts, completions --------------------------------------------------------

RESOURCES: dict[str, dict[str, Any]] = {
    "mem://greeting": {"name": "greeting", "description": "A greeting.", "mimeType": "text/plain"},
    "mem://blob": {
        "name": "blob",
        "description": "Sixteen bytes.",
        "mimeType": "application/octet-stream",
    },
    "mem://counter": {
        "name": "counter",
        "description": "How often notify_changed ran in this session.",
        "mimeType": "text/plain",
    },
}
TEMPLATES = [
    {
        "uriTemplate": "mem://items/{id}",
        "name": "item",
        "description": "An item by id.",
        "mimeType": "text/plain",
    }
]
BLOB = bytes(range(16))


def read_resource(session: Session, uri: str) -> dict[str, Any]:
    """The ``resources/read`` result for ``uri``; -32002 when there is no such resource."""
    item = uri[len("mem://items/") :] if uri.startswith("mem://items/") else ""
    if uri == "mem://greeting":
        content: dict[str, Any] = {"mimeType": "text/plain", "text": "Hello, world!"}
    elif uri == "mem://blob":
        content = {"mimeType": "application/octet-stream", "blob": base64.b64encode(BLOB).decode()}
    elif uri == "mem://counter":
        content = {"mimeType": "text/plain", "text": str(session.counter)}
    elif item and "/" not in item:
        content = {"mimeType": "text/plain", "text": f"item {item}"}
    else:
        raise ProtocolFault(-32002, "Resource not found", {"uri": uri})
    return {"contents": [{"uri": uri, **content}]}


PROMPTS: dict[str, dict[str, Any]] = {
    "greet": {
        "description": "Greet someone.",
        "arguments": [{"name": "name", "description": "Who to greet.", "required": True}],
    },
    "plain": {"description": "A prompt without arguments."},
}


def get_prompt(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The ``prompts/get`` result; -32602 for an unknown prompt or a missing argument."""
    if name not in PROMPTS:
        raise ProtocolFault(-32602, f"Unknown prompt: {name}")
    if name == "greet":
        if "name" not in arguments:
            raise ProtocolFault(-32602, "Missing required argument: name")
        text = f"Please greet {arguments['name']} warmly."
    else:
        text = "Say something nice."
    return {
        "description": PROMPTS[name]["description"],
        "messages": [{"role": "user", "content": {"type": "text", "text": text}}],
    }


def complete(ref: dict[str, Any], argument: dict[str, Any]) -> dict[str, Any]:
    """The ``completion/complete`` result: prompt ``greet``'s ``name``, items' ``id``."""
    kind, name, value = ref.get("type"), argument.get("name"), argument.get("value")
    if not isinstance(name, str) or not isinstance(value, str):
        raise ProtocolFault(-32602, "Invalid params: argument needs a string name and value")
    if kind == "ref/prompt":
        if ref.get("name") not in PROMPTS:
            raise ProtocolFault(-32602, f"Unknown prompt: {ref.get('name')}")
        options = ["Ada", "Alan", "Grace"] if (ref.get("name"), name) == ("greet", "name") else []
    elif kind == "ref/resource":
        known = ref.get("uri") == TEMPLATES[0]["uriTemplate"] and name == "id"
        options = ["1", "2", "3"] if known else []
    else:
        raise ProtocolFault(-32602, f"Invalid params: unknown reference type {kind!r}")
    values = [option for option in options if option.startswith(value)]
    return {"completion": {"values": values, "total": len(values), "hasMore": False}}


# -- methods --------------------------------------------------------------------------------


def _encode_cursor(key: str, offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([key, offset]).encode()).decode()


def _page(params: dict[str, Any], key: str, items: list[Any], size: int) -> dict[str, Any]:
    """One page of ``items`` under ``key``, with an opaque ``nextCursor`` if more follow."""
    cursor, start = params.get("cursor"), 0
    if cursor is not None:
        try:
            kind, start = json.loads(base64.urlsafe_b64decode(str(cursor).encode()))
        except (ValueError, TypeError, binascii.Error):
            raise ProtocolFault(-32602, "Invalid params: invalid cursor") from None
        if kind != key or not isinstance(start, int) or not 0 < start < len(items):
            raise ProtocolFault(-32602, "Invalid params: invalid cursor")
    page: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        page["nextCursor"] = _encode_cursor(key, start + size)
    return page


def _string(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str):
        raise ProtocolFault(-32602, f"Invalid params: '{name}' must be a string")
    return value


def _object(params: dict[str, Any], name: str) -> dict[str, Any]:
    value = params.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProtocolFault(-32602, f"Invalid params: '{name}' must be an object")
    return value


async def _call_tool(
    observer: Observer, session: Session, params: dict[str, Any], ctx: CallContext
) -> dict[str, Any]:
    name = _string(params, "name")
    tool = TOOLS.get(name)
    if tool is None:
        raise ProtocolFault(-32602, f"Unknown tool: {name}")
    arguments = _object(params, "arguments")
    try:
        tool.check(arguments)
        observer.tool_runs[name] += 1
        result = await tool.run(ctx, arguments)
    except Exception as exc:  # a failing tool is a result, not a protocol error
        result = {"content": [{"type": "text", "text": str(exc)}], "isError": True}
    if not session.at_least("2025-06-18"):
        result.pop("structuredContent", None)
    return result


async def handle_request(
    observer: Observer,
    session: Session,
    method: str,
    params: dict[str, Any],
    ctx: CallContext,
) -> dict[str, Any]:
    """Answer one request after ``initialize``; raises :class:`ProtocolFault` for errors."""
    if method == "ping":
        return {}
    if method == "tools/list":
        tools = [tool.definition(session) for tool in TOOLS.values()]
        return _page(params, "tools", tools, TOOLS_PAGE)
    if method == "tools/call":
        return await _call_tool(observer, session, params, ctx)
    if method == "resources/list":
        resources = [{"uri": uri, **resource} for uri, resource in RESOURCES.items()]
        return _page(params, "resources", resources, RESOURCES_PAGE)
    if method == "resources/templates/list":
        return _page(params, "resourceTemplates", TEMPLATES, OTHER_PAGE)
    if method == "resources/read":
        return read_resource(session, _string(params, "uri"))
    if method == "resources/subscribe":
        observer.subscriptions.add(_string(params, "uri"))
        return {}
    if method == "resources/unsubscribe":
        observer.subscriptions.discard(_string(params, "uri"))
        return {}
    if method == "prompts/list":
        prompts = [{"name": name, **prompt} for name, prompt in PROMPTS.items()]
        return _page(params, "prompts", prompts, OTHER_PAGE)
    if method == "prompts/get":
        arguments = _object(params, "arguments")
        if not all(isinstance(value, str) for value in arguments.values()):
            raise ProtocolFault(-32602, "Invalid params: prompt arguments must be strings")
        return get_prompt(_string(params, "name"), arguments)
    if method == "completion/complete":
        return complete(_object(params, "ref"), _object(params, "argument"))
    if method == "logging/setLevel":
        level = params.get("level")
        if level not in LEVELS:
            raise ProtocolFault(-32602, f"Invalid params: unknown log level {level!r}")
        session.log_level = observer.log_level = str(level)
        return {}
    raise ProtocolFault(-32601, f"Method not found: {method}")
