"""The modern era (2026-07-28) and era detection, against the reference server's modern,
dual and legacy modes over real sockets. The twin in tests/_sync is generated from this
file, so the blocking client passes the same tests."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest

from duomcp import (
    AsyncClient,
    BearerToken,
    CapabilityNotSupportedError,
    InputRequiredLimitError,
    InvalidRequestError,
    OutcomeUnknownError,
    ProtocolError,
    ReplyLostError,
    RequestTimeoutError,
    ResultCache,
    UnsupportedProtocolVersionError,
)
from duomcp.engine import _versions
from duomcp.testing import ReferenceServer, ServerFaults
from duomcp.types import (
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequestFormParams,
    ElicitResult,
    LoggingMessageNotificationParams,
    Root,
    TextContent,
)

from .._waits import async_wait_until
from ..conftest import ServerThread

META_VERSION = "io.modelcontextprotocol/protocolVersion"


def text_of(result: Any) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


def posts(server: ReferenceServer, method: str | None = None) -> list[Any]:
    """The JSON-RPC bodies the server received by POST, optionally of one method."""
    bodies = [r.body for r in server.requests if r.method == "POST" and isinstance(r.body, dict)]
    return [b for b in bodies if method is None or b.get("method") == method]


def decode(value: str) -> str:
    if value.startswith("=?base64?") and value.endswith("?="):
        return base64.b64decode(value[9:-2]).decode("utf-8")
    return value


# -- era detection --------------------------------------------------------------------------


async def test_modern_server_is_found_without_initialize(modern_server: ReferenceServer) -> None:
    async with AsyncClient(modern_server.url, timeout=10) as client:
        assert client.era == "modern"
        assert client.protocol_version == "2026-07-28"
        assert client.initialize_result is None and client.session_id is None
        assert client.discover_result is not None
        assert client.discover_result.supported_versions == ("2026-07-28",)
        caps = client.server_capabilities
        assert caps is not None and caps.tools is not None
        assert text_of(await client.call_tool("echo", {"text": "hé"})) == "hé"
    methods = [b["method"] for b in posts(modern_server)]
    assert methods[0] == "server/discover" and "initialize" not in methods
    assert all(r.method == "POST" for r in modern_server.requests)  # no GET, no DELETE


async def test_legacy_server_falls_back_to_initialize(server: ReferenceServer) -> None:
    async with AsyncClient(server.url, timeout=10) as client:
        assert client.era == "legacy"
        assert client.protocol_version == "2025-11-25"
        assert client.session_id in server.sessions
        assert text_of(await client.call_tool("echo", {"text": "x"})) == "x"
    methods = [b["method"] for b in posts(server)]
    assert methods[:2] == ["server/discover", "initialize"]


async def test_empty_400_means_legacy(server: ReferenceServer, faults: ServerFaults) -> None:
    faults.legacy_empty_400 = True
    async with AsyncClient(server.url, timeout=10) as client:
        assert client.era == "legacy"
    probe = next(r for r in server.requests if isinstance(r.body, dict) and r.body.get("method"))
    assert probe.body["method"] == "server/discover" and probe.status == 400


async def test_dual_server_is_spoken_to_in_the_modern_era(dual_server: ReferenceServer) -> None:
    async with AsyncClient(dual_server.url, timeout=10) as client:
        assert client.era == "modern"
        await client.list_tools()
    async with AsyncClient(dual_server.url, era="legacy", timeout=10) as client:
        assert client.era == "legacy" and client.session_id is not None
        assert text_of(await client.call_tool("echo", {"text": "old"})) == "old"


async def test_era_is_remembered_per_endpoint(server: ReferenceServer) -> None:
    async with AsyncClient(server.url, timeout=10):
        pass
    seen = len(posts(server, "server/discover"))
    async with AsyncClient(server.url, timeout=10) as client:
        assert client.era == "legacy"
    assert len(posts(server, "server/discover")) == seen == 1  # no second probe


async def test_unsupported_version_retries_with_a_mutual_one(
    modern_server: ReferenceServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The client also speaks a (pretend) newer version and offers it first.
    monkeypatch.setattr(_versions, "MODERN_PROTOCOL_VERSIONS", ("2099-01-01", "2026-07-28"))
    async with AsyncClient(modern_server.url, timeout=10) as client:
        assert client.era == "modern" and client.protocol_version == "2026-07-28"
        await client.list_tools()
    offered = [b["params"]["_meta"][META_VERSION] for b in posts(modern_server)]
    assert offered[:2] == ["2099-01-01", "2026-07-28"]
    assert set(offered[2:]) == {"2026-07-28"}


async def test_no_mutual_version_is_a_clear_error(modern_server: ReferenceServer) -> None:
    modern_server.modern_versions = ("2099-01-01",)
    client = AsyncClient(modern_server.url, timeout=10)
    with pytest.raises(UnsupportedProtocolVersionError) as caught:
        await client.connect()
    await client.close()
    assert "2099-01-01" in str(caught.value) and "2026-07-28" in str(caught.value)
    assert caught.value.supported == ("2099-01-01",)
    assert not posts(modern_server, "initialize")  # a modern answer: no fallback


async def test_version_dropped_mid_way_is_renegotiated(
    modern_server: ReferenceServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_versions, "MODERN_PROTOCOL_VERSIONS", ("2099-01-01", "2026-07-28"))
    modern_server.modern_versions = ("2099-01-01", "2026-07-28")
    async with AsyncClient(modern_server.url, timeout=10) as client:
        assert client.protocol_version == "2099-01-01"
        modern_server.modern_versions = ("2026-07-28",)
        assert text_of(await client.call_tool("echo", {"text": "again"})) == "again"
        assert client.protocol_version == "2026-07-28"


async def test_pinned_eras(modern_server: ReferenceServer, server: ReferenceServer) -> None:
    client = AsyncClient(server.url, era="modern", timeout=10)
    with pytest.raises(ProtocolError, match="legacy server"):
        await client.connect()
    await client.close()
    assert not posts(server, "initialize")
    async with AsyncClient(modern_server.url, protocol_version="2026-07-28") as modern:
        assert modern.era == "modern"
    legacy = AsyncClient(modern_server.url, era="legacy", timeout=10)
    with pytest.raises(UnsupportedProtocolVersionError, match="2026-07-28") as caught:
        await legacy.connect()
    await legacy.close()
    assert caught.value.supported == ("2026-07-28",)
    with pytest.raises(ValueError, match="not of the legacy era"):
        AsyncClient(server.url, era="legacy", protocol_version="2026-07-28")


# -- requests and headers -------------------------------------------------------------------


async def test_every_request_carries_meta_matching_its_headers(
    modern_server: ReferenceServer,
) -> None:
    async with AsyncClient(modern_server.url, timeout=10) as client:
        await client.list_tools()
        await client.call_tool("echo", {"text": "ü"})
        await client.read_resource("mem://greeting")
        await client.get_prompt("greet", {"name": "Ada"})
    records = [r for r in modern_server.requests if isinstance(r.body, dict)]
    assert len(records) >= 5
    for record in records:
        body, headers = record.body, record.headers
        meta = body["params"]["_meta"]
        assert meta[META_VERSION] == headers["mcp-protocol-version"] == "2026-07-28"
        # no handlers: no sampling, elicitation or roots; call_tool follows tasks
        tasks = {"extensions": {"io.modelcontextprotocol/tasks": {}}}
        assert meta["io.modelcontextprotocol/clientCapabilities"] == tasks
        assert meta["io.modelcontextprotocol/clientInfo"]["name"] == "duomcp"
        assert headers["mcp-method"] == body["method"]
        target = body["params"].get("name") or body["params"].get("uri")
        if body["method"] in ("tools/call", "prompts/get", "resources/read"):
            assert decode(headers["mcp-name"]) == target
        assert "mcp-session-id" not in headers
        assert record.status == 200
    ids = [r.body["id"] for r in records]
    assert len(ids) == len(set(ids))


async def test_x_mcp_header_tools(
    modern_server: ReferenceServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="duomcp"):
        async with AsyncClient(modern_server.url, timeout=10) as client:
            names = {tool.name for tool in await client.list_tools()}
            rejected = client.rejected_tools
            args = {"region": "Zürich ", "priority": -7, "dry_run": False, "note": "n"}
            result = await client.call_tool("route", args)
            with pytest.raises(InvalidRequestError, match="bad_header_items"):
                await client.call_tool("bad_header_items", {})
            with pytest.raises(InvalidRequestError, match="Priority"):
                await client.call_tool("route", {"priority": "high"})
    bad = {"bad_header_empty", "bad_header_chars", "bad_header_duplicate"}
    bad |= {"bad_header_number", "bad_header_items"}
    assert "route" in names and not names & bad
    assert set(rejected) == bad
    assert "not an HTTP token" in rejected["bad_header_chars"]
    assert sum("dropped tool" in r.getMessage() for r in caplog.records) == len(bad)
    assert json.loads(text_of(result)) == args  # the server checked every header
    call = posts(modern_server, "tools/call")[-1]
    sent = next(r.headers for r in modern_server.requests if r.body == call)
    assert decode(sent["mcp-param-region"]) == "Zürich " != sent["mcp-param-region"]
    assert sent["mcp-param-priority"] == "-7" and sent["mcp-param-dry-run"] == "false"


async def test_header_mismatch_lists_tools_again_and_retries(
    modern_server: ReferenceServer,
) -> None:
    async with AsyncClient(modern_server.url, timeout=10) as client:
        await client.list_tools()
        # As if the tool gained its x-mcp-header annotations after the client listed it.
        client._engine.state.tool_headers["route"] = ()
        result = await client.call_tool("route", {"region": "eu-west1"})
        assert json.loads(text_of(result)) == {"region": "eu-west1"}
    calls = [r for r in modern_server.requests if isinstance(r.body, dict)]
    routed = [r for r in calls if r.body.get("method") == "tools/call"]
    assert [r.status for r in routed] == [400, 200]
    assert "mcp-param-region" not in routed[0].headers
    assert routed[1].headers["mcp-param-region"] == "eu-west1"
    between = calls[calls.index(routed[0]) + 1 : calls.index(routed[1])]
    assert between and all(r.body["method"] == "tools/list" for r in between)


async def test_missing_resource_is_a_json_rpc_error(modern_server: ReferenceServer) -> None:
    async with AsyncClient(modern_server.url, timeout=10) as client:
        with pytest.raises(Exception) as caught:
            await client.read_resource("mem://nope")
        assert getattr(caught.value, "code", None) == -32602


# -- multi round-trip requests --------------------------------------------------------------


async def test_mrtr_elicitation_uses_the_legacy_handler(modern_server: ReferenceServer) -> None:
    seen: list[ElicitRequestFormParams] = []

    async def elicit(params: Any) -> ElicitResult:
        seen.append(params)
        return ElicitResult(action="accept", content={"name": "Ada"})

    async with AsyncClient(modern_server.url, elicitation_handler=elicit, timeout=10) as client:
        result = await client.call_tool("mrtr_elicit", {"message": "Who?"})
    answer = json.loads(text_of(result))  # the schema's defaults filled in, as in legacy
    assert answer == {"action": "accept", "content": {"name": "Ada", "age": 36, "subscribe": True}}
    assert len(seen) == 1 and isinstance(seen[0], ElicitRequestFormParams)
    assert seen[0].message == "Who?"
    first, retry = posts(modern_server, "tools/call")
    assert first["id"] != retry["id"]
    assert "inputResponses" not in first["params"]
    assert retry["params"]["inputResponses"]["form"]["action"] == "accept"
    assert isinstance(retry["params"]["requestState"], str) and retry["params"]["requestState"]
    assert retry["params"]["arguments"] == first["params"]["arguments"]
    assert retry["params"]["_meta"]["io.modelcontextprotocol/clientCapabilities"] == {
        "elicitation": {"form": {}, "url": {}},
        "extensions": {"io.modelcontextprotocol/tasks": {}},
    }


async def test_mrtr_sampling_roots_prompt_and_resource(modern_server: ReferenceServer) -> None:
    async def sample(params: CreateMessageRequestParams) -> CreateMessageResult:
        assert params.max_tokens == 100
        return CreateMessageResult(
            role="assistant", content=TextContent(type="text", text="forty-two"), model="m"
        )

    async def elicit(params: Any) -> ElicitResult:
        return ElicitResult(action="accept", content={"topic": "tides", "ok": True})

    roots = [Root(uri="file:///work", name="work")]
    async with AsyncClient(
        modern_server.url,
        sampling_handler=sample,
        elicitation_handler=elicit,
        roots=roots,
        timeout=10,
    ) as client:
        assert text_of(await client.call_tool("mrtr_sample", {"prompt": "q"})) == "forty-two"
        listed = json.loads(text_of(await client.call_tool("mrtr_roots")))
        assert listed["roots"] == [{"uri": "file:///work", "name": "work"}]
        prompt = await client.get_prompt("mrtr_prompt")
        message = prompt.messages[0].content
        assert isinstance(message, TextContent) and message.text == "Write about tides."
        contents = (await client.read_resource("ref://mrtr")).contents
        assert "confirmation" in getattr(contents[0], "text", "")


async def test_json_replies_work_the_same(
    modern_server: ReferenceServer, faults: ServerFaults
) -> None:
    faults.reply_mode = "json"

    async def elicit(params: Any) -> ElicitResult:
        return ElicitResult(action="accept", content={"name": "Jo"})

    async with AsyncClient(modern_server.url, elicitation_handler=elicit, timeout=10) as client:
        assert client.era == "modern"
        assert text_of(await client.call_tool("echo", {"text": "plain"})) == "plain"
        answer = json.loads(text_of(await client.call_tool("mrtr_elicit", {"message": "?"})))
        assert answer["content"]["name"] == "Jo"
    replies = [r for r in modern_server.requests if isinstance(r.body, dict)]
    assert all(r.status == 200 for r in replies)


async def test_mrtr_round_limit(modern_server: ReferenceServer) -> None:
    async def elicit(params: Any) -> ElicitResult:
        return ElicitResult(action="accept", content={})

    async with AsyncClient(
        modern_server.url, elicitation_handler=elicit, max_input_rounds=2, timeout=10
    ) as client:
        assert text_of(await client.call_tool("mrtr_rounds", {"rounds": 2})) == (
            "completed 2 rounds"
        )
        with pytest.raises(InputRequiredLimitError, match="max_input_rounds=2"):
            await client.call_tool("mrtr_rounds", {"rounds": 3})
    assert len(posts(modern_server, "tools/call")) == 3 + 3  # no fourth send
    with pytest.raises(ValueError):
        AsyncClient(modern_server.url, max_input_rounds=0)


async def test_mrtr_without_a_handler_is_a_typed_error(modern_server: ReferenceServer) -> None:
    async with AsyncClient(modern_server.url, timeout=10) as client:
        with pytest.raises(CapabilityNotSupportedError, match="elicitation"):
            await client.call_tool("mrtr_elicit")
        assert text_of(await client.call_tool("echo", {"text": "fine"})) == "fine"


# -- streams --------------------------------------------------------------------------------


async def test_progress_and_logs_arrive_on_the_call_stream(modern_server: ReferenceServer) -> None:
    logs: list[LoggingMessageNotificationParams] = []
    progress: list[float] = []
    async with AsyncClient(modern_server.url, on_logging_message=logs.append, timeout=10) as client:
        await client.call_tool("log", {"message": "quiet", "level": "warning"})
        await client.set_logging_level("warning")
        await client.call_tool("log", {"message": "loud", "level": "error"})
        await client.call_tool("log", {"message": "below", "level": "info"})
        await client.call_tool(
            "progress", {"steps": 3}, on_progress=lambda p, t, m: progress.append(p)
        )
        await async_wait_until(lambda: len(progress) == 3)
    assert [(entry.level, entry.data) for entry in logs] == [("error", {"message": "loud"})]
    assert progress == [1, 2, 3]
    assert not posts(modern_server, "logging/setLevel")
    levels = [
        b["params"]["_meta"].get("io.modelcontextprotocol/logLevel")
        for b in posts(modern_server, "tools/call")
    ]
    assert levels == [None, "warning", "warning", "warning"]


async def test_timeout_closes_the_reply_stream_without_a_notification(
    modern_server: ReferenceServer,
) -> None:
    async with AsyncClient(modern_server.url, timeout=10) as client:
        with pytest.raises(RequestTimeoutError):
            await client.call_tool("slow", {"seconds": 5}, timeout=0.3)
        call = posts(modern_server, "tools/call")[-1]
        await async_wait_until(lambda: call["id"] in modern_server.cancelled_calls)
        assert text_of(await client.call_tool("echo", {"text": "next"})) == "next"
    assert not posts(modern_server, "notifications/cancelled")


async def test_a_lost_reply_of_a_read_is_sent_again_with_a_new_id(
    modern_server: ReferenceServer, faults: ServerFaults
) -> None:
    async with AsyncClient(modern_server.url, timeout=10, cache=False) as client:
        await client.list_tools()
        faults.modern_cut_replies = 1
        assert [tool.name for tool in await client.list_tools()]
        listed = posts(modern_server, "tools/list")
        cut = next(i for i, post in enumerate(listed) if post["id"] in modern_server.cut_replies)
        first, second = listed[cut], listed[cut + 1]
        assert second["id"] != first["id"]
        assert second["params"].get("cursor") == first["params"].get("cursor")
        before = len(posts(modern_server, "tools/list"))
        faults.modern_cut_replies = 3
        with pytest.raises(ReplyLostError):
            await client.list_tools()
        assert len(posts(modern_server, "tools/list")) == before + 3  # sent, then 2 more


async def test_a_lost_reply_of_a_tool_call_is_not_sent_again(
    modern_server: ReferenceServer, faults: ServerFaults
) -> None:
    async with AsyncClient(modern_server.url, timeout=10) as client:
        await client.list_tools()
        faults.modern_cut_replies = 1
        with pytest.raises(OutcomeUnknownError, match="may or may not have run"):
            await client.call_tool("echo", {"text": "once"})
        assert len(posts(modern_server, "tools/call")) == 1
        assert modern_server.tool_runs["echo"] == 1
        # an idempotent tool is sent again
        faults.modern_cut_replies = 1
        result = await client.call_tool("add", {"a": 2, "b": 3})
        assert result.structured_content == {"result": 5}
        assert modern_server.tool_runs["add"] == 2


# -- subscriptions --------------------------------------------------------------------------


async def test_list_changed_and_updates_through_subscriptions_listen(
    modern_thread: ServerThread,
) -> None:
    server = modern_thread.server
    changed: list[str] = []
    updated: list[str] = []
    async with AsyncClient(
        server.url,
        on_tools_changed=lambda: changed.append("tools"),
        on_resource_updated=updated.append,
        timeout=10,
    ) as client:
        await async_wait_until(lambda: server.listeners == 1)
        await client.subscribe_resource("mem://counter")
        await async_wait_until(lambda: server.listeners == 1)  # replaced, not added to
        listens = posts(server, "subscriptions/listen")
        assert listens[0]["params"]["notifications"] == {"toolsListChanged": True}
        assert listens[-1]["params"]["notifications"] == {
            "toolsListChanged": True,
            "resourceSubscriptions": ["mem://counter"],
        }
        modern_thread.run(server.notify("notifications/tools/list_changed"))
        modern_thread.run(
            server.notify("notifications/resources/updated", {"uri": "mem://counter"})
        )
        await async_wait_until(lambda: changed == ["tools"] and updated == ["mem://counter"])
        await client.unsubscribe_resource("mem://counter")
        assert posts(server, "subscriptions/listen")[-1]["params"]["notifications"] == {
            "toolsListChanged": True
        }
    await async_wait_until(lambda: server.listeners == 0)


async def test_listen_stream_comes_back_after_either_kind_of_end(
    modern_thread: ServerThread,
) -> None:
    server = modern_thread.server
    changed: list[int] = []
    async with AsyncClient(
        server.url, on_tools_changed=lambda: changed.append(1), timeout=10
    ) as client:
        await async_wait_until(lambda: server.listeners == 1)
        modern_thread.run(server.end_subscriptions(graceful=False))
        await async_wait_until(lambda: len(server.listen_requests) == 2 and server.listeners == 1)
        modern_thread.run(server.end_subscriptions(graceful=True))
        await async_wait_until(lambda: server.listeners == 0)
        await client.list_tools()  # a graceful end is re-opened on the next call
        await async_wait_until(lambda: len(server.listen_requests) == 3 and server.listeners == 1)
        modern_thread.run(server.notify("notifications/tools/list_changed"))
        await async_wait_until(lambda: changed == [1])


async def test_no_listen_stream_without_callbacks(modern_server: ReferenceServer) -> None:
    async with AsyncClient(modern_server.url, timeout=10) as client:
        await client.list_tools()
    assert not posts(modern_server, "subscriptions/listen")


# -- caching --------------------------------------------------------------------------------


async def test_ttl_cached_results_and_invalidation(modern_thread: ServerThread) -> None:
    server = modern_thread.server
    server.cache_hints["tools/list"] = (60_000, "public")
    server.cache_hints["resources/read"] = (60_000, "public")
    changed: list[int] = []
    async with AsyncClient(
        server.url, on_tools_changed=lambda: changed.append(1), timeout=10
    ) as client:
        await async_wait_until(lambda: server.listeners == 1)
        first = await client.list_tools()
        assert await client.list_tools() == first
        pages = len(posts(server, "tools/list"))
        assert pages >= 2  # several pages, each fetched once
        await client.read_resource("mem://greeting")
        await client.read_resource("mem://greeting")
        assert len(posts(server, "resources/read")) == 1
        modern_thread.run(server.notify("notifications/tools/list_changed"))
        await async_wait_until(lambda: changed == [1])
        await client.list_tools()
        assert len(posts(server, "tools/list")) == 2 * pages
        await client.clear_cache()
        await client.read_resource("mem://greeting")
        assert len(posts(server, "resources/read")) == 2
    async with AsyncClient(server.url, cache=False, timeout=10) as uncached:
        await uncached.list_tools()
        await uncached.list_tools()
    assert len(posts(server, "tools/list")) == 4 * pages


async def test_private_results_are_not_shared_across_credentials(
    modern_server: ReferenceServer,
) -> None:
    modern_server.cache_hints["resources/read"] = (60_000, "public")  # whoami stays private
    shared = ResultCache()

    async def whoami(token: str) -> str:
        async with AsyncClient(
            modern_server.url, auth=BearerToken(token), cache=shared, timeout=10
        ) as client:
            contents = (await client.read_resource("ref://whoami")).contents
            return str(getattr(contents[0], "text", ""))

    assert await whoami("alice") == "bearer alice"
    assert await whoami("bob") == "bearer bob"
    assert await whoami("alice") == "bearer alice"
    assert len(posts(modern_server, "resources/read")) == 2  # alice's second read was cached


async def test_credentials_in_plain_headers_keep_private_results_apart(
    modern_server: ReferenceServer,
) -> None:
    modern_server.cache_hints["resources/read"] = (60_000, "public")  # whoami stays private
    shared = ResultCache()

    async def whoami(headers: dict[str, str]) -> str:
        async with AsyncClient(
            modern_server.url, headers=headers, cache=shared, timeout=10
        ) as client:
            contents = (await client.read_resource("ref://whoami")).contents
            return str(getattr(contents[0], "text", ""))

    assert await whoami({"Authorization": "Bearer alice"}) == "bearer alice"
    assert await whoami({"Authorization": "Bearer bob"}) == "bearer bob"
    await whoami({"Authorization": "Bearer bob", "X-Api-Key": "k1"})
    await whoami({"Authorization": "Bearer bob", "X-Api-Key": "k2"})
    assert len(posts(modern_server, "resources/read")) == 4  # nobody got another's result
    await whoami({"authorization": "Bearer bob", "x-api-key": "k2"})  # names fold case
    assert len(posts(modern_server, "resources/read")) == 4


async def test_mrtr_results_are_not_cached(modern_server: ReferenceServer) -> None:
    modern_server.cache_hints["resources/read"] = (60_000, "public")

    async def elicit(params: Any) -> ElicitResult:
        return ElicitResult(action="accept", content={})

    async with AsyncClient(modern_server.url, elicitation_handler=elicit, timeout=10) as client:
        await client.read_resource("ref://mrtr")
        await client.read_resource("ref://mrtr")
    assert len(posts(modern_server, "resources/read")) == 4  # two rounds, twice


async def test_trace_context_goes_into_meta(modern_server: ReferenceServer) -> None:
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    async with AsyncClient(
        modern_server.url,
        trace_context=lambda: {"traceparent": parent, "tracestate": "duo=1"},
        timeout=10,
    ) as client:
        await client.list_tools()
    for body in posts(modern_server):
        assert body["params"]["_meta"]["traceparent"] == parent
        assert body["params"]["_meta"]["tracestate"] == "duo=1"
    client = AsyncClient(modern_server.url, trace_context=lambda: {"traceparent": "nope"})
    with pytest.raises(ValueError, match="traceparent"):
        await client.connect()
    await client.close()
