"""A local server over stdio: a tiny MCP server written with the official ``mcp`` SDK,
started by duomcp as a child process and used like any other server.

This one file is both: run without arguments it is the client, which starts itself again
with ``--serve`` as the server. Needs the ``mcp`` package (``pip install mcp``).

Run: .venv/bin/python examples/stdio_server.py
"""

from __future__ import annotations

import asyncio
import sys

from duomcp import AsyncClient, StdioServer
from duomcp.types import TextContent


def serve() -> None:
    """The server: two tools, served on stdin and stdout."""
    try:
        from mcp.server.mcpserver import MCPServer as Server  # mcp 2.x
    except ImportError:
        from mcp.server.fastmcp import FastMCP as Server  # mcp 1.x

    server = Server("word-tools")

    @server.tool()
    def word_count(text: str) -> int:
        """Count the words in a text."""
        return len(text.split())

    @server.tool()
    def shout(text: str) -> str:
        """Return the text in capitals."""
        return text.upper()

    server.run("stdio")


async def main() -> None:
    server = StdioServer(
        command=sys.executable,
        args=(__file__, "--serve"),
        env={"WORD_TOOLS_MODE": "demo"},  # on top of PATH, HOME, locale: nothing else leaks
    )
    async with AsyncClient(server, timeout=30) as client:
        print(f"started {server.display!r}: {client.era} era, protocol {client.protocol_version}")
        for tool in await client.list_tools():
            print(f"  tool {tool.name}: {tool.description}")
        counted = await client.call_tool("word_count", {"text": "one two three"})
        print("word_count ->", counted.structured_content)
        shouted = (await client.call_tool("shout", {"text": "hello"})).content[0]
        assert isinstance(shouted, TextContent)
        print("shout ->", shouted.text)
    print("closed: the server process was ended")


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        serve()
    else:
        asyncio.run(main())
