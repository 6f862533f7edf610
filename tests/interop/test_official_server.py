"""duomcp against the official Python SDK's server (mcp 2.3.0), stateful and stateless."""

from __future__ import annotations

from typing import Any

import pytest

from duomcp import AsyncClient, CapabilityNotSupportedError
from duomcp.types import (
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    ElicitResult,
    LoggingMessageNotificationParams,
    TextContent,
)


def text_of(result: Any) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


async def test_tools(official_server: tuple[str, str]) -> None:
    url, _ = official_server
    async with AsyncClient(url, timeout=15) as client:
        assert client.initialize_result is not None
        assert client.initialize_result.server_info.name == "official-interop"
        names = {tool.name for tool in await client.list_tools()}
        assert {"echo", "add", "progress", "log", "sample", "ask"} <= names
        assert text_of(await client.call_tool("echo", {"text": "héllo"})) == "héllo"
        added = await client.call_tool("add", {"a": 2, "b": 40})
        assert added.structured_content == {"result": 42}


async def test_resource_and_prompt(official_server: tuple[str, str]) -> None:
    url, _ = official_server
    async with AsyncClient(url, timeout=15) as client:
        read = await client.read_resource("mem://greeting")
        assert read.contents[0].text == "Hello from the official SDK"  # type: ignore[union-attr]
        prompt = await client.get_prompt("greet", {"name": "Ada"})
        assert prompt.messages[0].content.text == "Please greet Ada."  # type: ignore[union-attr]


async def test_progress_notifications(official_server: tuple[str, str]) -> None:
    url, mode = official_server
    seen: list[float] = []
    async with AsyncClient(url, timeout=15) as client:
        result = await client.call_tool(
            "progress", {"steps": 3}, on_progress=lambda p, total, msg: seen.append(p)
        )
        await client.ping()
    assert text_of(result) == "3 steps"
    if mode == "stateful":  # JSON replies carry no notifications
        assert seen == [1, 2, 3]


async def test_log_notifications(official_server: tuple[str, str]) -> None:
    url, mode = official_server
    logs: list[LoggingMessageNotificationParams] = []
    async with AsyncClient(url, timeout=15, on_logging_message=logs.append) as client:
        if client.server_capabilities and client.server_capabilities.logging is not None:
            await client.set_logging_level("info")
        else:
            with pytest.raises(CapabilityNotSupportedError):
                await client.set_logging_level("info")
        assert text_of(await client.call_tool("log", {"message": "hi"})) == "logged"
        await client.ping()
    if mode == "stateful":
        assert [(entry.level, entry.data) for entry in logs] == [
            ("info", "hi"),
            ("warning", "careful: hi"),
        ]


# Server-to-client requests need a session: only the stateful server can send them.
stateful_only = pytest.mark.parametrize("official_server", ["stateful"], indirect=True)


@stateful_only
async def test_sampling_round_trip(official_server: tuple[str, str]) -> None:
    url, _ = official_server

    async def sample(params: CreateMessageRequestParams) -> CreateMessageResult:
        prompt = params.messages[0].content
        assert isinstance(prompt, TextContent)
        return CreateMessageResult(
            role="assistant", content=TextContent(text=prompt.text.upper()), model="m"
        )

    async with AsyncClient(url, timeout=15, sampling_handler=sample) as client:
        assert text_of(await client.call_tool("sample", {"prompt": "hi"})) == "model said: HI"


@stateful_only
async def test_elicitation_round_trip(official_server: tuple[str, str]) -> None:
    url, _ = official_server

    async def elicit(params: ElicitRequestFormParams | ElicitRequestURLParams) -> ElicitResult:
        assert isinstance(params, ElicitRequestFormParams)
        assert "name" in params.requested_schema["properties"]
        return ElicitResult(action="accept", content={"name": "Grace"})

    async with AsyncClient(url, timeout=15, elicitation_handler=elicit) as client:
        # age is left out: duomcp fills the schema default (30) in
        assert text_of(await client.call_tool("ask")) == "hello Grace, 30"
