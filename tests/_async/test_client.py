"""The client's API against the reference server: tools, resources, prompts, completion,
logging, notifications and server-to-client requests. The twin in tests/_sync is
generated from this file."""

from __future__ import annotations

import json
from typing import Any

import pytest

from duomcp import AsyncClient, BearerToken, JSONRPCError, StructuredContentError
from duomcp.testing import ReferenceServer, ServerFaults
from duomcp.types import (
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    ElicitResult,
    LoggingMessageNotificationParams,
    PromptReference,
    Root,
    TextContent,
)


def text_of(result: Any) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


@pytest.mark.parametrize("reply_mode", ["json", "sse"])
async def test_call_tool_in_both_reply_modes(
    server: ReferenceServer, faults: ServerFaults, reply_mode: str
) -> None:
    faults.reply_mode = reply_mode  # type: ignore[assignment]
    async with AsyncClient(server.url, timeout=10) as client:
        result = await client.call_tool("echo", {"text": "héllo"})
        assert text_of(result) == "héllo"
        assert result.is_error in (None, False)
        assert client.protocol_version == "2025-11-25"
        assert client.era == "legacy"
        assert client.session_id in server.sessions


async def test_list_tools_gathers_every_page(async_client: AsyncClient) -> None:
    tools = await async_client.list_tools()
    names = [tool.name for tool in tools]
    assert len(names) == len(set(names)) > 3  # more than one page of 3
    assert {"echo", "add", "slow", "sample", "elicit"} <= set(names)
    lazily = [tool.name async for tool in async_client.iter_tools()]
    assert lazily == names


async def test_structured_content_is_validated(async_client: AsyncClient) -> None:
    result = await async_client.call_tool("add", {"a": 2, "b": 3})
    assert result.structured_content == {"result": 5}
    with pytest.raises(StructuredContentError, match="bad_structured"):
        await async_client.call_tool("bad_structured")


async def test_tool_errors_are_results_protocol_errors_raise(async_client: AsyncClient) -> None:
    failed = await async_client.call_tool("fail")
    assert failed.is_error is True
    with pytest.raises(JSONRPCError) as info:
        await async_client.call_tool("no-such-tool")
    assert info.value.code == -32602


async def test_resources(server: ReferenceServer, async_client: AsyncClient) -> None:
    uris = [resource.uri for resource in await async_client.list_resources()]
    assert "mem://greeting" in uris and "mem://blob" in uris
    templates = await async_client.list_resource_templates()
    assert [t.uri_template for t in templates] == ["mem://items/{id}"]
    greeting = await async_client.read_resource("mem://greeting")
    assert greeting.contents[0].text == "Hello, world!"  # type: ignore[union-attr]
    blob = await async_client.read_resource("mem://blob")
    assert isinstance(blob.contents[0].blob, str)  # type: ignore[union-attr]
    with pytest.raises(JSONRPCError) as info:
        await async_client.read_resource("mem://missing")
    assert info.value.code == -32002
    await async_client.subscribe_resource("mem://counter")
    assert "mem://counter" in server.subscriptions
    await async_client.unsubscribe_resource("mem://counter")
    assert "mem://counter" not in server.subscriptions


async def test_prompts_and_completion(async_client: AsyncClient) -> None:
    names = {prompt.name for prompt in await async_client.list_prompts()}
    assert {"greet", "plain"} <= names
    prompt = await async_client.get_prompt("greet", {"name": "Ada"})
    assert "Ada" in prompt.messages[0].content.text  # type: ignore[union-attr]
    with pytest.raises(JSONRPCError):
        await async_client.get_prompt("greet")  # required argument missing
    done = await async_client.complete(PromptReference(name="greet"), "name", "A")
    assert list(done.completion.values) == ["Ada", "Alan"]


async def test_logging_level_and_messages(server: ReferenceServer) -> None:
    received: list[LoggingMessageNotificationParams] = []
    async with AsyncClient(server.url, timeout=10, on_logging_message=received.append) as client:
        await client.set_logging_level("warning")
        assert server.log_level == "warning"
        await client.call_tool("log", {"message": "quiet", "level": "info"})
        await client.call_tool("log", {"message": "loud", "level": "error"})
        await client.ping()  # notifications run in order, before later calls return
    assert [entry.level for entry in received] == ["error"]
    assert "loud" in json.dumps(received[0].data)


async def test_progress_reaches_the_callback(async_client: AsyncClient) -> None:
    seen: list[tuple[float, float | None, str | None]] = []
    await async_client.call_tool(
        "progress",
        {"steps": 3, "delay": 0.01},
        on_progress=lambda progress, total, message: seen.append((progress, total, message)),
    )
    await async_client.ping()
    assert [p for p, _, _ in seen] == [1, 2, 3]


async def test_sampling_round_trip(server: ReferenceServer) -> None:
    asked: list[CreateMessageRequestParams] = []

    async def sample(params: CreateMessageRequestParams) -> CreateMessageResult:
        asked.append(params)
        return CreateMessageResult(
            role="assistant", content=TextContent(text="four"), model="test-model"
        )

    async with AsyncClient(server.url, timeout=10, sampling_handler=sample) as client:
        result = await client.call_tool("sample", {"prompt": "2+2?"})
    assert "four" in text_of(result)
    assert len(asked) == 1


async def test_elicitation_form_gets_schema_defaults(server: ReferenceServer) -> None:
    async def elicit(params: ElicitRequestFormParams | ElicitRequestURLParams) -> ElicitResult:
        assert isinstance(params, ElicitRequestFormParams)
        return ElicitResult(action="accept", content={"name": "Grace"})

    async with AsyncClient(server.url, timeout=10, elicitation_handler=elicit) as client:
        result = await client.call_tool("elicit", {"message": "who?"})
    answer = json.loads(text_of(result))
    assert answer["action"] == "accept"
    assert answer["content"] == {"name": "Grace", "age": 36, "subscribe": True}


async def test_roots_and_server_ping(server: ReferenceServer) -> None:
    roots = [Root(uri="file:///tmp/project", name="project")]
    async with AsyncClient(server.url, timeout=10, roots=roots) as client:
        listed = json.loads(text_of(await client.call_tool("roots")))
        assert text_of(await client.call_tool("ping_client")) == "pong"
    assert listed == {"roots": [{"uri": "file:///tmp/project", "name": "project"}]}


async def test_unhandled_server_request_is_refused(async_client: AsyncClient) -> None:
    # no sampling handler: the client answers -32601 and the tool reports it
    result = await async_client.call_tool("sample", {"prompt": "x"})
    assert result.is_error is True


async def test_close_is_idempotent_and_ends_the_session(server: ReferenceServer) -> None:
    client = AsyncClient(server.url, timeout=10)
    await client.connect()
    session = client.session_id
    assert session in server.sessions
    await client.close()
    await client.close()
    assert client.closed
    assert session not in server.sessions
    deletes = [r for r in server.requests if r.method == "DELETE"]
    assert len(deletes) == 1 and deletes[0].headers["mcp-session-id"] == session


async def test_elicitation_url_mode(server: ReferenceServer) -> None:
    seen: list[str] = []

    async def elicit(params: ElicitRequestFormParams | ElicitRequestURLParams) -> ElicitResult:
        assert isinstance(params, ElicitRequestURLParams)
        seen.append(params.url)
        return ElicitResult(action="accept")

    async with AsyncClient(server.url, timeout=10, elicitation_handler=elicit) as client:
        answer = json.loads(text_of(await client.call_tool("elicit_url")))
    assert answer == {"action": "accept"}
    assert seen == ["https://example.com/sign-in"]


async def test_capabilities_follow_the_handlers(server: ReferenceServer) -> None:
    async def elicit(params: ElicitRequestFormParams | ElicitRequestURLParams) -> ElicitResult:
        return ElicitResult(action="decline")

    async with AsyncClient(server.url, timeout=10):
        pass
    async with AsyncClient(
        server.url, timeout=10, elicitation_handler=elicit, elicitation_modes=("form",)
    ):
        pass
    inits = [
        r.body["params"]["capabilities"]
        for r in server.requests
        if isinstance(r.body, dict) and r.body.get("method") == "initialize"
    ]
    assert inits == [{}, {"elicitation": {"form": {}}}]


async def test_unsupported_elicitation_mode_is_refused(server: ReferenceServer) -> None:
    async def elicit(params: ElicitRequestFormParams | ElicitRequestURLParams) -> ElicitResult:
        raise AssertionError("must not be called for a mode the client did not declare")

    async with AsyncClient(
        server.url, timeout=10, elicitation_handler=elicit, elicitation_modes=("form",)
    ) as client:
        result = await client.call_tool("elicit_url")
    assert result.is_error is True


async def test_handler_exception_becomes_an_error_reply(server: ReferenceServer) -> None:
    async def sample(params: CreateMessageRequestParams) -> CreateMessageResult:
        raise RuntimeError("model unavailable")

    async with AsyncClient(server.url, timeout=10, sampling_handler=sample) as client:
        failed = await client.call_tool("sample", {"prompt": "x"})
        assert failed.is_error is True
        assert text_of(await client.call_tool("echo", {"text": "alive"})) == "alive"


async def test_bearer_token_reaches_a_protected_server(
    server: ReferenceServer, faults: ServerFaults
) -> None:
    faults.require_bearer = "s3cret"
    async with AsyncClient(server.url, auth=BearerToken("s3cret"), timeout=10) as client:
        assert text_of(await client.call_tool("echo", {"text": "ok"})) == "ok"
    assert all(r.headers.get("authorization") == "Bearer s3cret" for r in server.requests)
