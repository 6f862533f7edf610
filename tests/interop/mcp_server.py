"""An MCP server built with the official Python SDK (``mcp`` 2.3.0), for interop tests.

python tests/interop/mcp_server.py --port N --mode stateful|stateless-json

stateful: sessions (``Mcp-Session-Id``) and SSE replies, so request-scoped notifications
and server-to-client requests ride the POST's event stream.
stateless-json: ``stateless_http=True, json_response=True``; each POST gets one JSON body
holding only the response, so the official SDK drops request-scoped notifications
(progress, log) and refuses server-to-client requests (sampling, elicitation) with
JSON-RPC error -32600 ("no back-channel for server-initiated requests").
"""

from __future__ import annotations

import argparse
import json
import warnings
import weakref
from typing import Any

import uvicorn
from mcp import types
from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel

warnings.simplefilter("ignore")  # the SDK marks sampling and logging deprecated (2026-07-28)

server = MCPServer("official-interop", version="1.0.0")

_LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]
# logging/setLevel, remembered per connection; MCPServer registers no handler for it in
# 2.3.0 (and so declares no logging capability), so we add one on the low-level server.
_session_levels: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def _connection(session: Any) -> Any:
    # a ServerSession is made per message; the Connection behind it lives as long as the
    # MCP session (stateful) or the single POST (stateless)
    return session._connection


async def _set_level(ctx: Any, params: types.SetLevelRequestParams) -> types.EmptyResult:
    _session_levels[_connection(ctx.session)] = params.level
    return types.EmptyResult()


server._lowlevel_server.add_request_handler(
    "logging/setLevel", types.SetLevelRequestParams, _set_level
)


class Sum(BaseModel):
    result: int


class Person(BaseModel):
    name: str
    age: int = 30


@server.tool()
def echo(text: str) -> str:
    """Echo the text."""
    return text


@server.tool()
def add(a: int, b: int) -> Sum:
    """Add two integers, with structured output."""
    return Sum(result=a + b)


@server.tool()
async def progress(steps: int, ctx: Context) -> str:
    """Report progress steps."""
    for step in range(1, steps + 1):
        await ctx.report_progress(step, steps, f"step {step}")
    return f"{steps} steps"


@server.tool()
async def log(message: str, ctx: Context) -> str:
    """Send an info and a warning log message (filtered by the session's level)."""
    threshold = _LEVELS.index(_session_levels.get(_connection(ctx.session), "debug"))
    sent = []
    for level, data in (("info", message), ("warning", f"careful: {message}")):
        if _LEVELS.index(level) >= threshold:
            await ctx.log(level, data, logger_name="interop")
            sent.append(level)
    return "logged " + ",".join(sent)


@server.tool()
async def sample(prompt: str, ctx: Context) -> str:
    """Ask the client's model (sampling/createMessage) and return what it said."""
    result = await ctx.session.create_message(
        [types.SamplingMessage(role="user", content=types.TextContent(type="text", text=prompt))],
        max_tokens=50,
        system_prompt="be loud",
        related_request_id=ctx.request_id,
    )
    content = result.content
    text = content.text if isinstance(content, types.TextContent) else repr(content)
    return f"{result.model}/{result.role} said: {text}"


@server.tool()
async def elicit(ctx: Context) -> str:
    """Ask the user for a person (form elicitation) and return the answer."""
    answer = await ctx.elicit("Who are you?", Person)
    if answer.action == "accept":
        return json.dumps({"action": "accept", "data": answer.data.model_dump()})
    return json.dumps({"action": answer.action})


@server.resource("mem://greeting")
def greeting() -> str:
    """A greeting."""
    return "Hello from the official SDK"


@server.prompt()
def greet(name: str) -> str:
    """Greet someone."""
    return f"Please greet {name}."


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=["stateful", "stateless-json"], default="stateful")
    args = parser.parse_args()
    stateless = args.mode == "stateless-json"
    app = server.streamable_http_app(stateless_http=stateless, json_response=stateless)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
