"""Start the reference server, connect with AsyncClient, list and call tools.

Run: .venv/bin/python examples/quickstart.py
"""

from __future__ import annotations

import asyncio

from duomcp import AsyncClient
from duomcp.testing import ReferenceServer
from duomcp.types import TextContent


async def main() -> None:
    async with ReferenceServer() as server, AsyncClient(server.url) as client:
        print(f"connected to {server.url} (protocol {client.protocol_version})")
        for tool in await client.list_tools():
            print(f"  tool {tool.name}: {tool.description}")
        result = await client.call_tool("add", {"a": 2, "b": 3})
        text = result.content[0]
        assert isinstance(text, TextContent)
        print(f"add(2, 3) -> {text.text}  structured: {result.structured_content}")


if __name__ == "__main__":
    asyncio.run(main())
