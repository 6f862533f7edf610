"""The reference server's tools, resources, prompts and completions."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._server import CallContext

__all__ = [
    "PROMPTS",
    "RESOURCES",
    "TEMPLATES",
    "TOOLS",
    "ToolFailure",
    "complete",
    "get_prompt",
    "read_resource",
]

LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


class ToolFailure(Exception):
    """Raised by a tool to report a failed call as an ``isError`` result."""


class ProtocolFault(Exception):
    """Raised to answer a request with a JSON-RPC error."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _text(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}]}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required or []}


_STR = {"type": "string"}
_NUM = {"type": "number"}


async def _echo(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    return _text(str(args.get("text", "")))


async def _add(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    total = args["a"] + args["b"]
    return {**_text(str(total)), "structuredContent": {"result": total}}


async def _bad_structured(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    return {**_text("oops"), "structuredContent": {"result": "not a number"}}


async def _fail(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    raise ToolFailure("this tool always fails")


async def _slow(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    await asyncio.sleep(float(args.get("seconds", 1)))
    return _text("finally")


async def _progress(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    steps = int(args.get("steps", 3))
    for step in range(1, steps + 1):
        await asyncio.sleep(float(args.get("delay", 0.01)))
        await ctx.progress(step, steps, f"step {step}")
    return _text(f"{steps} steps")


async def _log(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    level = str(args.get("level", "info"))
    await ctx.log(level, {"message": args.get("message", "")})
    return _text("logged")


async def _sample(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    result = await ctx.request(
        "sampling/createMessage",
        {
            "messages": [
                {"role": "user", "content": {"type": "text", "text": str(args.get("prompt", ""))}}
            ],
            "maxTokens": 100,
        },
    )
    content = result.get("content") or {}
    return _text(f"sampled: {content.get('text', '')}")


_ELICIT_SCHEMA = _obj(
    {
        "name": {"type": "string", "default": "Ada"},
        "age": {"type": "integer", "default": 36},
        "subscribe": {"type": "boolean", "default": True},
    }
)


async def _elicit(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    result = await ctx.request(
        "elicitation/create",
        {
            "mode": "form",
            "message": str(args.get("message", "")),
            "requestedSchema": _ELICIT_SCHEMA,
        },
    )
    return _text(json.dumps(result, sort_keys=True))


async def _elicit_url(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    result = await ctx.request(
        "elicitation/create",
        {
            "mode": "url",
            "message": "Please sign in",
            "url": "https://example.com/sign-in",
            "elicitationId": "e-1",
        },
    )
    return _text(json.dumps(result, sort_keys=True))


async def _roots(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    return _text(json.dumps(await ctx.request("roots/list", None), sort_keys=True))


async def _ping_client(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    await ctx.request("ping", None)
    return _text("pong")


async def _notify_changed(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    await ctx.broadcast("notifications/tools/list_changed", None)
    await ctx.broadcast("notifications/resources/updated", {"uri": "mem://counter"})
    return _text("notified")


ToolFn = Callable[["CallContext", dict[str, Any]], Awaitable[dict[str, Any]]]

TOOLS: dict[str, tuple[dict[str, Any], ToolFn]] = {
    "echo": (
        {"description": "Echo the text back.", "inputSchema": _obj({"text": _STR}, ["text"])},
        _echo,
    ),
    "add": (
        {
            "description": "Add two numbers.",
            "inputSchema": _obj({"a": _NUM, "b": _NUM}, ["a", "b"]),
            "outputSchema": _obj({"result": _NUM}, ["result"]),
        },
        _add,
    ),
    "bad_structured": (
        {
            "description": "Returns structured content that breaks its output schema.",
            "inputSchema": _obj({}),
            "outputSchema": _obj({"result": _NUM}, ["result"]),
        },
        _bad_structured,
    ),
    "fail": ({"description": "Always fails.", "inputSchema": _obj({})}, _fail),
    "slow": ({"description": "Sleeps.", "inputSchema": _obj({"seconds": _NUM})}, _slow),
    "progress": (
        {"description": "Reports progress.", "inputSchema": _obj({"steps": _NUM, "delay": _NUM})},
        _progress,
    ),
    "log": (
        {
            "description": "Sends a log message.",
            "inputSchema": _obj({"message": _STR, "level": _STR}),
        },
        _log,
    ),
    "sample": (
        {"description": "Asks the client's model.", "inputSchema": _obj({"prompt": _STR})},
        _sample,
    ),
    "elicit": (
        {"description": "Asks the user (form).", "inputSchema": _obj({"message": _STR})},
        _elicit,
    ),
    "elicit_url": ({"description": "Asks the user (URL).", "inputSchema": _obj({})}, _elicit_url),
    "roots": ({"description": "Lists the client's roots.", "inputSchema": _obj({})}, _roots),
    "ping_client": ({"description": "Pings the client.", "inputSchema": _obj({})}, _ping_client),
    "notify_changed": (
        {"description": "Sends change notifications on the GET stream.", "inputSchema": _obj({})},
        _notify_changed,
    ),
}

RESOURCES: dict[str, dict[str, Any]] = {
    "mem://greeting": {"name": "greeting", "mimeType": "text/plain", "text": "Hello, world!"},
    "mem://blob": {
        "name": "blob",
        "mimeType": "application/octet-stream",
        "blob": base64.b64encode(bytes(range(16))).decode(),
    },
    "mem://counter": {"name": "counter", "mimeType": "text/plain", "text": "0"},
}
TEMPLATES = [{"uriTemplate": "mem://items/{id}", "name": "item", "mimeType": "text/plain"}]


def read_resource(uri: str) -> dict[str, Any]:
    """Return the ``resources/read`` result for ``uri``."""
    if uri.startswith("mem://items/"):
        return {"contents": [{"uri": uri, "mimeType": "text/plain", "text": f"item {uri[12:]}"}]}
    entry = RESOURCES.get(uri)
    if entry is None:
        raise ProtocolFault(-32002, f"resource not found: {uri}")
    body = {k: v for k, v in entry.items() if k in ("mimeType", "text", "blob")}
    return {"contents": [{"uri": uri, **body}]}


PROMPTS: dict[str, dict[str, Any]] = {
    "greet": {
        "description": "Greets someone.",
        "arguments": [{"name": "name", "description": "who", "required": True}],
    },
    "plain": {"description": "A prompt without arguments."},
}


def get_prompt(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Return the ``prompts/get`` result."""
    if name not in PROMPTS:
        raise ProtocolFault(-32602, f"unknown prompt: {name}")
    if name == "greet":
        if "name" not in arguments:
            raise ProtocolFault(-32602, "missing required argument: name")
        text = f"Please greet {arguments['name']} warmly."
    else:
        text = "Say something nice."
    return {"messages": [{"role": "user", "content": {"type": "text", "text": text}}]}


def complete(ref: dict[str, Any], argument: dict[str, Any]) -> dict[str, Any]:
    """Return the ``completion/complete`` result."""
    values: list[str] = []
    if (
        ref.get("type") == "ref/prompt"
        and ref.get("name") == "greet"
        and argument.get("name") == "name"
    ):
        prefix = str(argument.get("value", ""))
        values = [v for v in ("Ada", "Alan", "Grace") if v.startswith(prefix)]
    return {"completion": {"values": values, "total": len(values), "hasMore": False}}
