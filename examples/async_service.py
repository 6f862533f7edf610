"""An async service: one AsyncClient shared by many concurrent calls, with timeouts,
progress and typed errors.

The reference server speaks the modern era (2026-07-28) here; the same code works against
a legacy server (``era="legacy"``).

Run: .venv/bin/python examples/async_service.py
"""

from __future__ import annotations

import asyncio
import logging
import time

from duomcp import AsyncClient, JSONRPCError, MCPError, RequestTimeoutError
from duomcp.testing import ReferenceServer
from duomcp.types import TextContent


async def add(client: AsyncClient, a: int, b: int) -> float:
    result = await client.call_tool("add", {"a": a, "b": b})
    assert result.structured_content is not None
    return result.structured_content["result"]


async def main() -> None:
    # The reference server offers a few tools that break the spec on purpose (for tests);
    # duomcp leaves them out of list_tools() with a warning each. Keep this run quiet.
    logging.getLogger("duomcp").setLevel(logging.ERROR)
    async with ReferenceServer(era="modern") as server:
        # One client for the whole service: it pools connections and is safe to share
        # between tasks. `timeout` is the default for each call.
        async with AsyncClient(server.url, timeout=10) as client:
            print(f"connected: {client.era} era, protocol {client.protocol_version}")
            tools = await client.list_tools()  # also learns the tools' output schemas
            print(f"{len(tools)} tools")

            # Many calls at once, on one client.
            started = time.monotonic()
            sums = await asyncio.gather(*(add(client, n, n) for n in range(50)))
            elapsed = time.monotonic() - started
            print(f"50 concurrent calls in {elapsed:.2f} s, sum of sums {sum(sums):g}")

            # A call's own timeout; progress notifications restart its clock.
            def report(done: float, total: float | None, message: str | None) -> None:
                print(f"  progress {done:g}/{total:g}: {message}")

            result = await client.call_tool(
                "progress", {"steps": 3, "delay": 0.05}, timeout=2, on_progress=report
            )
            text = result.content[0]
            assert isinstance(text, TextContent)
            print("progress ->", text.text)

            # A call that takes too long: RequestTimeoutError (also a TimeoutError); the
            # client cancels it on the server.
            try:
                await client.call_tool("slow", {"seconds": 30}, timeout=0.5)
            except RequestTimeoutError:
                print("slow -> RequestTimeoutError after 0.5 s")

            # asyncio's own timeout works too: cancelling the task cancels the call.
            try:
                await asyncio.wait_for(client.call_tool("slow", {"seconds": 30}), 0.5)
            except asyncio.TimeoutError:
                print("slow under asyncio.wait_for -> cancelled")

            # The server refusing a request: JSONRPCError with code and message.
            try:
                await client.call_tool("no_such_tool")
            except JSONRPCError as error:
                print(f"no_such_tool -> JSONRPCError {error.code}: {error.message}")

            # A tool that failed is a result with is_error set, not an exception.
            failed = await client.call_tool("fail")
            print("fail -> is_error:", failed.is_error)

            # Every duomcp error is an MCPError: one except clause for "MCP went wrong".
            try:
                await client.read_resource("mem://missing")
            except MCPError as error:
                print(f"mem://missing -> {type(error).__name__}")


if __name__ == "__main__":
    asyncio.run(main())
