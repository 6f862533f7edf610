"""An MCP server built with the official Python SDK (``mcp`` on PyPI), for interop tests.

python tests/interop/mcp_server.py --port N --mode stateful|stateless-json
"""

from __future__ import annotations

import argparse
import warnings

import uvicorn
from mcp import types
from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel

warnings.simplefilter("ignore")  # the SDK marks sampling and logging deprecated (2026-07-28)

server = MCPServer("official-interop", version="1.0.0")


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
    """Send log messages."""
    await ctx.log("info", message)
    await ctx.log("warning", f"careful: {message}")
    return "logged"


@server.tool()
async def sample(prompt: str, ctx: Context) -> str:
    """Ask the client's model."""
    result = await ctx.request_context.session.create_message(
        [types.SamplingMessage(role="user", content=types.TextContent(type="text", text=prompt))],
        max_tokens=50,
        related_request_id=ctx.request_id,
    )
    content = result.content
    return f"model said: {getattr(content, 'text', content)}"


@server.tool()
async def ask(ctx: Context) -> str:
    """Ask the user for a person."""
    answer = await ctx.elicit("Who are you?", Person)
    if answer.action == "accept":
        return f"hello {answer.data.name}, {answer.data.age}"
    return answer.action


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
