"""Several servers as one, and their tools handed to an LLM API.

Starts two reference servers (one legacy, one modern) and names a third that is down;
the group connects to all at once, reports the one that failed, lists every tool under
`<server>__<name>`, and runs tool calls shaped as an OpenAI model would send them.

Run: .venv/bin/python examples/many_servers.py
"""

from __future__ import annotations

import asyncio
import json
import logging

from duomcp.group import AsyncClientGroup
from duomcp.llm import LLMTools
from duomcp.testing import ReferenceServer


async def main() -> None:
    logging.getLogger("duomcp").setLevel(logging.ERROR)  # the down server's warning
    async with ReferenceServer() as legacy, ReferenceServer(era="modern") as modern:
        servers = {"old": legacy.url, "new": modern.url, "gone": "http://127.0.0.1:9/mcp"}
        async with AsyncClientGroup(servers, timeout=10) as group:
            print(f"not connected: {sorted(group.failures)}")
            tools = await group.list_tools()
            print(f"{len(tools)} tools, e.g. {sorted(t.name for t in tools)[:2]}")
            llm = LLMTools(tools)
            definitions = llm.openai()
            print(f"OpenAI tool definitions: {len(definitions)}")
            # What a model would answer: two tool calls, one on each server.
            tool_calls = [
                {"id": "a", "function": {"name": "old__add", "arguments": '{"a": 2, "b": 3}'}},
                {
                    "id": "b",
                    "function": {"name": "new__echo", "arguments": json.dumps({"text": "hi"})},
                },
            ]
            for message in await llm.run_openai(group, tool_calls):
                print(f"tool message for {message['tool_call_id']}: {message['content']}")


if __name__ == "__main__":
    asyncio.run(main())
