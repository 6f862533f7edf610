"""The same client code, with no configuration, against the official Python SDK of both
generations: mcp 2.3.0 (answers in the modern era, 2026-07-28) and mcp 1.30.0 (legacy
only), both running tests/interop/eras_server.py, over Streamable HTTP (the ``peer``
fixture in conftest.py) and over stdio (``stdio_peer``)."""

from __future__ import annotations

import asyncio
from typing import Any

from duomcp import AsyncClient, StdioServer
from duomcp.types import (
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequestFormParams,
    ElicitResult,
    TextContent,
)


def text_of(result: Any) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


async def test_same_code_reaches_both_eras(peer: tuple[str, str, str]) -> None:
    await exercise(*peer)


async def test_same_code_over_stdio(stdio_peer: tuple[StdioServer, str, str]) -> None:
    await exercise(*stdio_peer)


async def test_same_code_over_http_sse(sse_peer: tuple[str, str, str]) -> None:
    # Found with no configuration: POSTs to /sse are refused, a GET opens the stream.
    await exercise(*sse_peer)


async def exercise(url: str | StdioServer, sdk: str, era: str) -> None:
    """List, call, read, elicitation, sampling and a list change, with no configuration."""
    asked: list[ElicitRequestFormParams] = []
    sampled: list[CreateMessageRequestParams] = []
    changed = asyncio.Event()

    async def elicit(params: Any) -> ElicitResult:
        assert isinstance(params, ElicitRequestFormParams)
        asked.append(params)
        return ElicitResult(action="accept", content={"name": "Ada"})

    async def sample(params: CreateMessageRequestParams) -> CreateMessageResult:
        sampled.append(params)
        reply = TextContent(type="text", text="forty-two")
        return CreateMessageResult(role="assistant", content=reply, model="test-model")

    async with AsyncClient(
        url,
        elicitation_handler=elicit,
        sampling_handler=sample,
        on_tools_changed=changed.set,
        timeout=15,
    ) as client:
        assert client.era == era
        assert client.protocol_version == ("2026-07-28" if era == "modern" else "2025-11-25")
        names = {tool.name for tool in await client.list_tools()}
        assert names == {"echo", "ask_name", "ask_model", "add_tool"}

        assert text_of(await client.call_tool("echo", {"text": "héllo"})) == "héllo"
        contents = (await client.read_resource("mem://greeting")).contents
        assert getattr(contents[0], "text", None) == f"Hello from mcp {sdk[4:]}"

        assert text_of(await client.call_tool("ask_name")) == "Hello, Ada"
        assert [p.message for p in asked] == ["What is your name?"]
        assert "name" in asked[0].requested_schema["properties"]

        assert text_of(await client.call_tool("ask_model", {"prompt": "6 x 7?"})) == "forty-two"
        assert len(sampled) == 1 and sampled[0].max_tokens == 50
        first = sampled[0].messages[0].content
        assert isinstance(first, TextContent) and first.text == "6 x 7?"

        assert text_of(await client.call_tool("add_tool")) == "ok"
        await asyncio.wait_for(changed.wait(), 10)
        assert "added" in {tool.name for tool in await client.list_tools()}
        assert text_of(await client.call_tool("added")) == "added"
