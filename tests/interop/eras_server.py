"""One MCP app served by the official Python SDK of either generation, for the era tests.

python tests/interop/eras_server.py --port N
python tests/interop/eras_server.py --stdio
python tests/interop/eras_server.py --port N --sse    # the HTTP+SSE transport, at /sse

Run with ``mcp`` 2.x (the test venv's 2.3.0) it is a dual-era server: 2026-07-28 clients
get multi round-trip requests and ``subscriptions/listen``, older ones sessions. Run with
``PYTHONPATH=.ci-cache/mcp-legacy`` it imports ``mcp`` 1.x, which speaks only the legacy
era (``initialize``, server-to-client requests, the GET stream). The tools do the same
thing either way: ``echo``, ``ask_name`` (form elicitation), ``ask_model`` (sampling),
``add_tool`` (registers a tool and announces that the list changed), and a resource.
"""

# No `from __future__ import annotations`: the SDKs read the tools' annotations, which
# name classes imported inside the builders below.
import argparse
import sys
import warnings
from importlib import metadata
from typing import Any

import mcp
import uvicorn
from pydantic import BaseModel

warnings.simplefilter("ignore")  # sampling and logging are deprecated in 2026-07-28

VERSION = metadata.version("mcp")


class Person(BaseModel):
    """What ``ask_name`` asks the user for."""

    name: str


def greeting() -> str:
    """A greeting."""
    return f"Hello from mcp {VERSION}"


def echo(text: str) -> str:
    """Echo the text back."""
    return text


def added() -> str:
    """A tool that exists once ``add_tool`` ran."""
    return "added"


def build_v2() -> Any:
    """mcp 2.x: resolvers ask for input, so one tool body serves both eras."""
    from typing import Annotated

    from mcp import types
    from mcp.server.mcpserver import Context, Elicit, MCPServer, Resolve, Sample

    server = MCPServer("eras-interop", version=VERSION)

    def who(ctx: Context) -> Elicit[Person]:
        return Elicit("What is your name?", Person)

    def model(prompt: str) -> Sample:
        message = types.SamplingMessage(
            role="user", content=types.TextContent(type="text", text=prompt)
        )
        return Sample([message], max_tokens=50)

    @server.tool()
    async def ask_name(person: Annotated[Person, Resolve(who)]) -> str:
        """Ask the user's name (form elicitation) and greet them."""
        return f"Hello, {person.name}"

    @server.tool()
    async def ask_model(
        prompt: str, answer: Annotated[types.CreateMessageResult, Resolve(model)]
    ) -> str:
        """Ask the client's model (sampling) and return its text."""
        content = answer.content
        return content.text if isinstance(content, types.TextContent) else repr(content)

    @server.tool()
    async def add_tool(ctx: Context) -> str:
        """Register the tool ``added`` and announce the change."""
        server.add_tool(added)
        if ctx.protocol_version is not None and ctx.protocol_version >= "2026-07-28":
            await ctx.notify_tools_changed()
        else:
            await ctx.session.send_tool_list_changed()
        return "ok"

    server.tool()(echo)
    server.resource("mem://greeting")(greeting)
    return server


def build_v1() -> Any:
    """mcp 1.x: the legacy era only; the tools ask the client mid-call."""
    from mcp import types
    from mcp.server.fastmcp import Context, FastMCP

    server = FastMCP("eras-interop")

    @server.tool()
    async def ask_name(ctx: Context) -> str:  # type: ignore[type-arg]
        """Ask the user's name (form elicitation) and greet them."""
        answer = await ctx.elicit("What is your name?", Person)
        if answer.action != "accept":
            return f"no name ({answer.action})"
        return f"Hello, {answer.data.name}"

    @server.tool()
    async def ask_model(prompt: str, ctx: Context) -> str:  # type: ignore[type-arg]
        """Ask the client's model (sampling) and return its text."""
        message = types.SamplingMessage(
            role="user", content=types.TextContent(type="text", text=prompt)
        )
        result = await ctx.session.create_message([message], max_tokens=50)
        content = result.content
        return content.text if isinstance(content, types.TextContent) else repr(content)

    @server.tool()
    async def add_tool(ctx: Context) -> str:  # type: ignore[type-arg]
        """Register the tool ``added`` and announce the change."""
        server.add_tool(added)
        await ctx.session.send_tool_list_changed()
        return "ok"

    server.tool()(echo)
    server.resource("mem://greeting")(greeting)
    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int)
    parser.add_argument("--stdio", action="store_true", help="serve on stdin and stdout")
    parser.add_argument("--sse", action="store_true", help="the HTTP+SSE transport, at /sse")
    args = parser.parse_args()
    major = int(VERSION.split(".")[0])
    print(f"mcp {VERSION} from {mcp.__file__}", file=sys.stderr, flush=True)
    server = build_v2() if major >= 2 else build_v1()
    if args.stdio:
        server.run("stdio")
    else:
        app = server.sse_app() if args.sse else server.streamable_http_app()
        uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
