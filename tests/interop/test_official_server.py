"""duomcp's AsyncClient against the official Python SDK's server (mcp 2.3.0), legacy era
(pinned with ``era="legacy"``: the server speaks 2026-07-28 too).

Both server modes run every test that makes sense there:

* stateful: session id, SSE replies; request-scoped notifications (progress, log) and
  server-to-client requests (sampling, elicitation) ride the tool call's event stream.
* stateless-json: no session, one JSON body per POST holding only the response. The
  official SDK drops request-scoped notifications there, and refuses server-to-client
  requests with JSON-RPC error -32600 (its transport context has no back-channel), so
  sampling and elicitation round trips are tested in stateful mode only; in stateless
  mode we test that the refusal reaches the caller and the handler is never called.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from duomcp import AsyncClient, JSONRPCError
from duomcp.types import (
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    ElicitResult,
    LoggingMessageNotificationParams,
    TextContent,
)

Server = tuple[str, str]

stateful_only = pytest.mark.parametrize("official_server", ["stateful"], indirect=True)
stateless_only = pytest.mark.parametrize("official_server", ["stateless-json"], indirect=True)


def text_of(result: Any) -> str:
    assert not getattr(result, "is_error", False), result
    assert len(result.content) == 1, result.content
    block = result.content[0]
    assert isinstance(block, TextContent), block
    return block.text


async def test_handshake(official_server: Server) -> None:
    url, mode = official_server
    async with AsyncClient(url, era="legacy", timeout=15) as client:
        assert client.era == "legacy"
        assert client.protocol_version == "2025-11-25"
        init = client.initialize_result
        assert init is not None
        assert (init.server_info.name, init.server_info.version) == ("official-interop", "1.0.0")
        caps = client.server_capabilities
        assert caps is not None
        assert caps.tools is not None and caps.prompts is not None
        assert caps.resources is not None and caps.logging is not None
        if mode == "stateful":
            assert client.session_id
        else:
            assert client.session_id is None
        await client.ping()


async def test_list_and_call_tools(official_server: Server) -> None:
    url, _ = official_server
    async with AsyncClient(url, era="legacy", timeout=15) as client:
        tools = {tool.name: tool for tool in await client.list_tools()}
        assert set(tools) == {"echo", "add", "progress", "log", "sample", "elicit"}
        assert tools["echo"].description == "Echo the text."
        assert tools["echo"].input_schema["required"] == ["text"]
        echoed = await client.call_tool("echo", {"text": "héllo ✓"})
        assert text_of(echoed) == "héllo ✓"
        assert echoed.structured_content == {"result": "héllo ✓"}


async def test_structured_output(official_server: Server) -> None:
    url, _ = official_server
    async with AsyncClient(url, era="legacy", timeout=15) as client:
        tools = {tool.name: tool for tool in await client.list_tools()}
        schema = tools["add"].output_schema
        assert schema is not None
        assert schema["properties"]["result"]["type"] == "integer"
        assert schema["required"] == ["result"]
        added = await client.call_tool("add", {"a": 2, "b": 40})
        assert added.is_error is not True
        assert added.structured_content == {"result": 42}
        assert json.loads(text_of(added)) == {"result": 42}


async def test_read_resource(official_server: Server) -> None:
    url, _ = official_server
    async with AsyncClient(url, era="legacy", timeout=15) as client:
        resources = await client.list_resources()
        assert [str(resource.uri) for resource in resources] == ["mem://greeting"]
        read = await client.read_resource("mem://greeting")
        assert len(read.contents) == 1
        contents = read.contents[0]
        assert contents.uri == "mem://greeting"
        assert contents.text == "Hello from the official SDK"  # type: ignore[union-attr]


async def test_get_prompt(official_server: Server) -> None:
    url, _ = official_server
    async with AsyncClient(url, era="legacy", timeout=15) as client:
        prompts = {prompt.name: prompt for prompt in await client.list_prompts()}
        assert set(prompts) == {"greet"}
        arguments = prompts["greet"].arguments or ()
        assert [(arg.name, arg.required) for arg in arguments] == [("name", True)]
        prompt = await client.get_prompt("greet", {"name": "Ada"})
        assert len(prompt.messages) == 1
        message = prompt.messages[0]
        assert message.role == "user"
        assert isinstance(message.content, TextContent)
        assert message.content.text == "Please greet Ada."


async def test_progress_notifications(official_server: Server) -> None:
    url, mode = official_server
    seen: list[tuple[float, float | None, str | None]] = []
    async with AsyncClient(url, era="legacy", timeout=15) as client:
        result = await client.call_tool(
            "progress",
            {"steps": 3},
            on_progress=lambda progress, total, message: seen.append((progress, total, message)),
        )
        await client.ping()
    assert text_of(result) == "3 steps"
    if mode == "stateful":
        assert seen == [(1, 3, "step 1"), (2, 3, "step 2"), (3, 3, "step 3")]
    else:  # a JSON reply carries only the response: the SDK drops the notifications
        assert seen == []


async def test_log_notifications(official_server: Server) -> None:
    url, mode = official_server
    logs: list[LoggingMessageNotificationParams] = []
    async with AsyncClient(url, era="legacy", timeout=15, on_logging_message=logs.append) as client:
        assert text_of(await client.call_tool("log", {"message": "hi"})) == "logged info,warning"
        await client.set_logging_level("warning")
        after = text_of(await client.call_tool("log", {"message": "again"}))
        await client.ping()
    got = [(entry.level, entry.data, entry.logger) for entry in logs]
    if mode == "stateful":
        assert after == "logged warning"  # the level stuck to the session
        assert got == [
            ("info", "hi", "interop"),
            ("warning", "careful: hi", "interop"),
            ("warning", "careful: again", "interop"),
        ]
    else:  # every POST is a fresh connection: no level kept, no notifications delivered
        assert after == "logged info,warning"
        assert got == []


@stateful_only
async def test_sampling_round_trip(official_server: Server) -> None:
    url, _ = official_server
    asked: list[CreateMessageRequestParams] = []

    async def sample(params: CreateMessageRequestParams) -> CreateMessageResult:
        asked.append(params)
        prompt = params.messages[0].content
        text = prompt.text if isinstance(prompt, TextContent) else "?"
        return CreateMessageResult(
            role="assistant", content=TextContent(text=text.upper()), model="shouty-1"
        )

    async with AsyncClient(url, era="legacy", timeout=15, sampling_handler=sample) as client:
        result = await client.call_tool("sample", {"prompt": "hi there"})
    assert text_of(result) == "shouty-1/assistant said: HI THERE"
    assert len(asked) == 1
    params = asked[0]
    assert params.max_tokens == 50
    assert params.system_prompt == "be loud"
    assert len(params.messages) == 1
    assert params.messages[0].role == "user"
    assert isinstance(params.messages[0].content, TextContent)
    assert params.messages[0].content.text == "hi there"


@stateful_only
async def test_elicitation_round_trip(official_server: Server) -> None:
    url, _ = official_server
    asked: list[ElicitRequestFormParams | ElicitRequestURLParams] = []

    async def elicit(params: ElicitRequestFormParams | ElicitRequestURLParams) -> ElicitResult:
        asked.append(params)
        return ElicitResult(action="accept", content={"name": "Grace", "age": 36})

    async with AsyncClient(url, era="legacy", timeout=15, elicitation_handler=elicit) as client:
        result = await client.call_tool("elicit")
    assert json.loads(text_of(result)) == {
        "action": "accept",
        "data": {"name": "Grace", "age": 36},
    }
    assert len(asked) == 1
    params = asked[0]
    assert isinstance(params, ElicitRequestFormParams)
    assert params.message == "Who are you?"
    schema = params.requested_schema
    assert schema["type"] == "object"
    assert set(schema["properties"]) == {"name", "age"}
    assert schema["properties"]["age"]["default"] == 30
    assert schema["required"] == ["name"]


@stateful_only
async def test_elicitation_decline(official_server: Server) -> None:
    url, _ = official_server

    async def elicit(params: ElicitRequestFormParams | ElicitRequestURLParams) -> ElicitResult:
        return ElicitResult(action="decline")

    async with AsyncClient(url, era="legacy", timeout=15, elicitation_handler=elicit) as client:
        result = await client.call_tool("elicit")
    assert json.loads(text_of(result)) == {"action": "decline"}


@stateless_only
async def test_stateless_server_refuses_server_requests(official_server: Server) -> None:
    url, _ = official_server
    called: list[str] = []

    async def sample(params: CreateMessageRequestParams) -> CreateMessageResult:
        called.append("sampling")
        return CreateMessageResult(role="assistant", content=TextContent(text="x"), model="m")

    async def elicit(params: ElicitRequestFormParams | ElicitRequestURLParams) -> ElicitResult:
        called.append("elicitation")
        return ElicitResult(action="decline")

    async with AsyncClient(
        url, era="legacy", timeout=15, sampling_handler=sample, elicitation_handler=elicit
    ) as client:
        with pytest.raises(JSONRPCError) as sampling_error:
            await client.call_tool("sample", {"prompt": "hi"})
        with pytest.raises(JSONRPCError) as elicitation_error:
            await client.call_tool("elicit")
        await client.ping()  # the client is still usable
    assert sampling_error.value.code == -32600
    assert "sampling/createMessage" in sampling_error.value.message
    assert elicitation_error.value.code == -32600
    assert "elicitation/create" in elicitation_error.value.message
    assert called == []
