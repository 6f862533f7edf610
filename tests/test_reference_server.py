"""Self-tests of the reference server (duomcp.testing), spoken to by hand over real sockets:
aiohttp.ClientSession and raw JSON, no duomcp client involved."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from duomcp.testing import ReferenceServer, ServerFaults

ACCEPT = "application/json, text/event-stream"
EVENT_ID = re.compile(r"^[A-Za-z0-9]+:\d+$")


async def sse_events(resp: aiohttp.ClientResponse) -> AsyncIterator[dict[str, str]]:
    """The SSE events of ``resp`` as dicts of fields (``data`` joined), until it ends."""
    fields: dict[str, str] = {}
    data: list[str] = []
    async for raw in resp.content:
        line = raw.decode().rstrip("\r\n")
        if not line:
            if fields or data:
                yield {**fields, "data": "\n".join(data)}
            fields, data = {}, []
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        else:
            fields[name] = value


async def response_of(resp: aiohttp.ClientResponse) -> dict[str, Any]:
    """The JSON-RPC response in a JSON body or an SSE stream."""
    if resp.content_type == "application/json":
        body: dict[str, Any] = await resp.json()
        return body
    assert resp.content_type == "text/event-stream"
    async for event in sse_events(resp):
        message = json.loads(event["data"]) if event["data"] else {}
        if "result" in message or "error" in message:
            return message
    raise AssertionError("the stream ended without a response")


class Peer:
    """A client made by hand: it remembers the session id and the negotiated version."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http, self.url = http, url
        self.session_id: str | None = None
        self.version: str | None = None
        self.ids = itertools.count(1)
        self.auth: dict[str, str] = {}

    def headers(self, **extra: str) -> dict[str, str]:
        headers = {"Accept": ACCEPT, "Content-Type": "application/json", **self.auth}
        if self.session_id is not None:
            headers["Mcp-Session-Id"] = self.session_id
        if self.version is not None:
            headers["MCP-Protocol-Version"] = self.version
        return {**headers, **extra}

    def post(self, message: Any, **headers: str) -> Any:
        return self.http.post(self.url, json=message, headers=self.headers(**headers))

    def get(self, **headers: str) -> Any:
        return self.http.get(self.url, headers=self.headers(Accept="text/event-stream", **headers))

    def message(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": next(self.ids), "method": method}
        if params is not None:
            message["params"] = params
        return message

    async def initialize(
        self, version: str = "2025-11-25", capabilities: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        params = {
            "protocolVersion": version,
            "capabilities": capabilities or {},
            "clientInfo": {"name": "by-hand", "version": "0"},
        }
        async with self.post(self.message("initialize", params)) as resp:
            assert resp.status == 200
            reply = await response_of(resp)
            self.session_id = resp.headers.get("Mcp-Session-Id")
        self.version = reply["result"]["protocolVersion"]
        async with self.post({"jsonrpc": "2.0", "method": "notifications/initialized"}) as resp:
            assert resp.status == 202
            assert await resp.read() == b""
        return reply

    async def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        async with self.post(self.message(method, params)) as resp:
            assert resp.status == 200, await resp.text()
            return await response_of(resp)


@pytest.fixture
async def reference(faults: ServerFaults) -> AsyncIterator[ReferenceServer]:
    """A reference server on the test's own loop."""
    async with ReferenceServer(faults=faults) as server:
        yield server


@pytest.fixture
async def peer(reference: ReferenceServer) -> AsyncIterator[Peer]:
    async with aiohttp.ClientSession() as http:
        yield Peer(http, reference.url)


# -- lifecycle and sessions -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("offered", "answered"),
    [("2025-11-25", "2025-11-25"), ("2025-06-18", "2025-06-18"), ("1999-01-01", "2025-11-25")],
)
async def test_initialize_negotiates_and_issues_a_session(
    reference: ReferenceServer, peer: Peer, offered: str, answered: str
) -> None:
    reply = await peer.initialize(offered)
    result = reply["result"]
    assert result["protocolVersion"] == answered
    assert result["serverInfo"]["name"] == "duomcp-reference"
    assert set(result["capabilities"]) == {
        "tools",
        "resources",
        "prompts",
        "logging",
        "completions",
    }
    assert peer.session_id is not None and all(0x21 <= ord(c) <= 0x7E for c in peer.session_id)
    assert reference.sessions == {peer.session_id}
    assert (await peer.request("ping"))["result"] == {}
    recorded = reference.requests[-1]
    assert recorded.headers["mcp-session-id"] == peer.session_id
    assert recorded.body["method"] == "ping" and recorded.status == 200


async def test_forgotten_session_gets_404_and_delete_ends_one(
    reference: ReferenceServer, peer: Peer
) -> None:
    await peer.initialize()
    reference.forget_sessions()
    async with peer.post(peer.message("ping")) as resp:
        assert resp.status == 404
    await peer.initialize()  # a new session, as a client must do after 404
    async with peer.http.delete(peer.url, headers=peer.headers()) as resp:
        assert resp.status == 200
    assert reference.sessions == set()
    async with peer.post(peer.message("ping")) as resp:
        assert resp.status == 404


@pytest.mark.parametrize(
    ("headers", "body", "status", "code"),
    [
        ({"Accept": "application/json"}, None, 406, None),
        ({"Content-Type": "text/plain"}, None, 415, None),
        ({}, b"{not json", 400, -32700),
        ({"Mcp-Session-Id": ""}, None, 400, None),
        ({"MCP-Protocol-Version": "2025-06-18"}, None, 400, None),
    ],
)
async def test_bad_requests_are_refused(
    peer: Peer, headers: dict[str, str], body: bytes | None, status: int, code: int | None
) -> None:
    await peer.initialize()
    data = body if body is not None else json.dumps(peer.message("ping")).encode()
    async with peer.http.post(peer.url, data=data, headers=peer.headers(**headers)) as resp:
        assert resp.status == status
        if code is not None:
            error = await resp.json()
            assert error["error"]["code"] == code and "id" not in error


# -- replies, GET stream, resumption --------------------------------------------------------


@pytest.mark.parametrize("reply_mode", ["json", "sse"])
async def test_tool_call_in_both_reply_modes(
    reference: ReferenceServer, faults: ServerFaults, peer: Peer, reply_mode: Any
) -> None:
    faults.reply_mode = reply_mode
    await peer.initialize()
    call = peer.message("tools/call", {"name": "add", "arguments": {"a": 2, "b": 3}})
    async with peer.post(call) as resp:
        expected = "application/json" if reply_mode == "json" else "text/event-stream"
        assert resp.content_type == expected
        if reply_mode == "sse":
            events = [event async for event in sse_events(resp)]
            assert all(EVENT_ID.match(event["id"]) for event in events)
            reply = json.loads(events[-1]["data"])
        else:
            reply = await resp.json()
    assert reply["id"] == call["id"]
    assert reply["result"]["structuredContent"] == {"result": 5}
    assert reference.tool_runs["add"] == 1
    unknown = await peer.request("tools/call", {"name": "nope"})
    assert unknown["error"]["code"] == -32602


async def test_get_stream_405_when_disabled_409_when_open(
    reference: ReferenceServer, faults: ServerFaults, peer: Peer
) -> None:
    await peer.initialize()
    faults.get_stream = False
    async with peer.get() as resp:
        assert resp.status == 405
    faults.get_stream = True
    async with peer.get() as stream:
        assert stream.status == 200 and stream.content_type == "text/event-stream"
        async with peer.get() as second:
            assert second.status == 409
        await reference.notify("notifications/tools/list_changed")
        event = await anext(sse_events(stream))
    assert json.loads(event["data"])["method"] == "notifications/tools/list_changed"


async def test_broken_reply_resumes_with_last_event_id(
    reference: ReferenceServer, faults: ServerFaults, peer: Peer
) -> None:
    await peer.initialize()
    faults.retry_ms, faults.drop_reply_after = 10, 1
    seen: list[dict[str, str]] = []
    call = peer.message("tools/call", {"name": "echo", "arguments": {"text": "once"}})
    async with peer.post(call) as resp:
        with contextlib.suppress(aiohttp.ClientPayloadError):  # the cut
            async for event in sse_events(resp):
                seen.append(event)
    assert [event["data"] for event in seen] == [""]  # only the priming event got through
    assert seen[0]["retry"] == "10"
    async with peer.get(**{"Last-Event-ID": seen[0]["id"]}) as resumed:
        assert resumed.status == 200
        reply = await response_of(resumed)
    assert reply["id"] == call["id"] and reply["result"]["content"][0]["text"] == "once"
    assert reference.tool_runs["echo"] == 1


# -- auth -----------------------------------------------------------------------------------


async def test_bearer_is_required_on_every_method(faults: ServerFaults, peer: Peer) -> None:
    faults.require_bearer = "s3cret"
    peer.auth = {"Authorization": "Bearer s3cret"}
    await peer.initialize()
    peer.auth = {}
    for method in ("POST", "GET", "DELETE"):
        async with peer.http.request(method, peer.url, headers=peer.headers()) as resp:
            assert resp.status == 401, method
            assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]
    peer.auth = {"Authorization": "Bearer s3cret"}
    faults.forbid = True
    async with peer.post(peer.message("ping")) as resp:
        assert resp.status == 403
        challenge = resp.headers["WWW-Authenticate"]
        assert 'error="insufficient_scope"' in challenge and 'scope="admin"' in challenge


# -- server-to-client requests, cancellation, batches, shutdown -----------------------------


async def test_sampling_round_trip_by_hand(peer: Peer) -> None:
    await peer.initialize(capabilities={"sampling": {}})
    call = peer.message("tools/call", {"name": "sample", "arguments": {"prompt": "2+2?"}})
    async with peer.post(call) as resp:
        events = sse_events(resp)
        asked = json.loads((await anext(events))["data"])
        assert asked["method"] == "sampling/createMessage"
        assert asked["params"]["messages"][0]["content"]["text"] == "2+2?"
        answer = {
            "jsonrpc": "2.0",
            "id": asked["id"],
            "result": {
                "role": "assistant",
                "content": {"type": "text", "text": "four"},
                "model": "by-hand",
            },
        }
        async with peer.post(answer) as posted:
            assert posted.status == 202
        reply = json.loads((await anext(events))["data"])
    assert reply["id"] == call["id"]
    assert reply["result"]["content"] == [{"type": "text", "text": "four"}]


async def test_cancelled_call_stops_and_gets_no_response(
    reference: ReferenceServer, peer: Peer
) -> None:
    await peer.initialize()
    call = peer.message("tools/call", {"name": "slow", "arguments": {"seconds": 30}})
    async with peer.post(call) as resp:
        while reference.tool_runs["slow"] == 0:  # noqa: ASYNC110 - polling the server
            await asyncio.sleep(0.01)
        cancel = {
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": call["id"], "reason": "test"},
        }
        async with peer.post(cancel) as posted:
            assert posted.status == 202
        events = [event async for event in sse_events(resp)]
    assert events == []
    assert reference.cancelled == [call["id"]]


async def test_batches_only_in_2025_03_26(peer: Peer) -> None:
    await peer.initialize("2025-03-26")
    batch = [peer.message("ping"), peer.message("tools/call", {"name": "echo"})]
    async with peer.post(batch) as resp:
        replies = [json.loads(e["data"]) async for e in sse_events(resp)]
    assert sorted(r["id"] for r in replies) == [2, 3]
    assert {r["id"]: "isError" in r.get("result", {}) for r in replies} == {2: False, 3: True}
    await peer.initialize("2025-06-18")
    async with peer.post([peer.message("ping")]) as resp:
        assert resp.status == 400


async def test_close_ends_open_streams_promptly(reference: ReferenceServer, peer: Peer) -> None:
    await peer.initialize()
    call = peer.message("tools/call", {"name": "slow", "arguments": {"seconds": 30}})
    async with peer.get() as stream, peer.post(call):
        started = time.monotonic()
        await reference.close()
        assert time.monotonic() - started < 3
        assert [event async for event in sse_events(stream)] == []


@pytest.mark.parametrize("reply_mode", ["json", "sse"])
async def test_lost_replies_run_then_vanish(
    reference: ReferenceServer, faults: ServerFaults, peer: Peer, reply_mode: Any
) -> None:
    faults.reply_mode, faults.lose_replies = reply_mode, 2
    await peer.initialize()  # initialize is never lost
    assert faults.lose_replies == 2
    lost = [peer.message("tools/call", {"name": "notify_changed"}), peer.message("ping")]
    for message in lost:
        with pytest.raises(aiohttp.ClientConnectionError):
            async with peer.post(message) as resp:
                await resp.read()
    assert faults.lose_replies == 0
    assert reference.lost_replies == [message["id"] for message in lost]
    assert reference.tool_runs["notify_changed"] == 1
    recorded = [r for r in reference.requests if r.body in lost]
    assert [r.status for r in recorded] == [0, 0]
    async with peer.post(peer.message("resources/read", {"uri": "mem://counter"})) as resp:
        if reply_mode == "sse":  # no reply stream was made for the lost ones
            events = [event async for event in sse_events(resp)]
            assert [event["id"].split(":")[0] for event in events] == ["s2"]
            counter = json.loads(events[-1]["data"])
        else:
            counter = await resp.json()
    assert counter["result"]["contents"][0]["text"] == "1"  # the lost call had its effect


async def test_tool_annotations_from_2025_03_26(peer: Peer) -> None:
    for version, expected in (("2025-11-25", True), ("2025-03-26", True), ("2024-11-05", False)):
        await peer.initialize(version)
        page = (await peer.request("tools/list"))["result"]
        tools = {tool["name"]: tool for tool in page["tools"]}
        annotations = {"readOnlyHint": True, "idempotentHint": True}
        assert tools["add"].get("annotations") == (annotations if expected else None), version
        assert "annotations" not in tools["echo"]


async def test_flood_asks_all_at_once(reference: ReferenceServer, peer: Peer) -> None:
    await peer.initialize(capabilities={"roots": {}})
    call = peer.message("tools/call", {"name": "flood", "arguments": {"count": 5}})
    async with peer.post(call) as resp:
        events = sse_events(resp)
        asked = [json.loads((await anext(events))["data"]) for _ in range(5)]
        assert {message["method"] for message in asked} == {"roots/list"}
        assert len({message["id"] for message in asked}) == 5  # all out before any answer
        for message in reversed(asked):
            answer = {"jsonrpc": "2.0", "id": message["id"], "result": {"roots": []}}
            async with peer.post(answer) as posted:
                assert posted.status == 202
        reply = json.loads((await anext(events))["data"])
    assert reply["id"] == call["id"]
    assert reply["result"]["content"] == [{"type": "text", "text": "5 answered"}]
    flat = await peer.request("tools/call", {"name": "flood", "arguments": {"count": 1001}})
    assert flat["result"]["isError"] is True
    await peer.initialize()  # without the roots capability
    refused = await peer.request("tools/call", {"name": "flood", "arguments": {"count": 1}})
    assert refused["result"]["isError"] is True
    assert reference.tool_runs["flood"] == 2


async def test_flood_failure_withdraws_the_other_asks(peer: Peer) -> None:
    await peer.initialize(capabilities={"roots": {}})
    call = peer.message("tools/call", {"name": "flood", "arguments": {"count": 3}})
    async with peer.post(call) as resp:
        events = sse_events(resp)
        asked = [json.loads((await anext(events))["data"]) for _ in range(3)]
        error = {"jsonrpc": "2.0", "id": asked[1]["id"], "error": {"code": -1, "message": "no"}}
        async with peer.post(error) as posted:
            assert posted.status == 202
        rest = [json.loads(event["data"]) async for event in sse_events(resp)]
    cancelled = [m["params"]["requestId"] for m in rest if m.get("method")]
    assert sorted(cancelled) == sorted([asked[0]["id"], asked[2]["id"]])
    assert rest[-1]["id"] == call["id"] and rest[-1]["result"]["isError"] is True


# -- modern era (2026-07-28) ----------------------------------------------------------------

MODERN = "2026-07-28"
V_KEY = "io.modelcontextprotocol/protocolVersion"
CAPS_KEY = "io.modelcontextprotocol/clientCapabilities"
LOG_KEY = "io.modelcontextprotocol/logLevel"
INFO_KEY = "io.modelcontextprotocol/serverInfo"
SUB_KEY = "io.modelcontextprotocol/subscriptionId"
ALL_CAPS: dict[str, Any] = {"elicitation": {"form": {}}, "sampling": {}, "roots": {}}


def sentinel(value: str) -> str:
    return f"=?base64?{base64.b64encode(value.encode()).decode()}?="


class ModernPeer:
    """A modern-era client made by hand: ``_meta`` and headers on every request."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http, self.url = http, url
        self.ids = itertools.count(1)

    def message(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        version: str = MODERN,
        caps: dict[str, Any] | None = None,
        **meta: Any,
    ) -> dict[str, Any]:
        params = dict(params or {})
        params["_meta"] = {V_KEY: version, CAPS_KEY: caps if caps is not None else {}, **meta}
        return {"jsonrpc": "2.0", "id": next(self.ids), "method": method, "params": params}

    @staticmethod
    def headers(message: dict[str, Any], **extra: str) -> dict[str, str]:
        params = message.get("params", {})
        headers = {"Accept": ACCEPT, "Content-Type": "application/json"}
        version = params.get("_meta", {}).get(V_KEY)
        if isinstance(version, str):
            headers["MCP-Protocol-Version"] = version
        headers["Mcp-Method"] = message["method"]
        name = params.get("uri" if message["method"] == "resources/read" else "name")
        if isinstance(name, str):
            headers["Mcp-Name"] = name
        return {**headers, **extra}

    def post(self, message: Any, **headers: str) -> Any:
        return self.http.post(self.url, json=message, headers=self.headers(message, **headers))

    async def send(self, message: dict[str, Any], **headers: str) -> tuple[int, dict[str, Any]]:
        async with self.post(message, **headers) as resp:
            return resp.status, await response_of(resp)

    async def result(
        self, method: str, params: dict[str, Any] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        headers = kwargs.pop("headers", {})
        status, reply = await self.send(self.message(method, params, **kwargs), **headers)
        assert status == 200, reply
        assert "result" in reply, reply
        result: dict[str, Any] = reply["result"]
        return result


@pytest.fixture
def era() -> str:
    return "modern"


@pytest.fixture
def cache_hints() -> dict[str, tuple[int, str]] | None:
    return None


@pytest.fixture
async def modern(
    faults: ServerFaults, era: Any, cache_hints: dict[str, tuple[int, str]] | None
) -> AsyncIterator[ReferenceServer]:
    async with ReferenceServer(faults=faults, era=era, cache_hints=cache_hints) as server:
        yield server


@pytest.fixture
async def mpeer(modern: ReferenceServer) -> AsyncIterator[ModernPeer]:
    async with aiohttp.ClientSession() as http:
        yield ModernPeer(http, modern.url)


@pytest.mark.parametrize("era", ["legacy", "modern", "dual"])
async def test_eras_route_requests(modern: ReferenceServer, mpeer: ModernPeer, era: str) -> None:
    status, reply = await mpeer.send(mpeer.message("server/discover"))
    if era == "legacy":  # today's answer: a 400 whose code is not a modern one
        assert status == 400
        assert reply["error"]["code"] == -32600
    else:
        assert status == 200
        assert reply["result"]["supportedVersions"] == [MODERN]
    legacy = Peer(mpeer.http, modern.url)
    if era == "modern":  # initialize is refused with the versions the server speaks
        init = legacy.message(
            "initialize",
            {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "x"}},
        )
        async with legacy.post(init) as resp:
            assert resp.status == 400
            error = (await resp.json())["error"]
        assert error["code"] == -32022
        assert error["data"] == {"supported": [MODERN], "requested": "2025-11-25"}
    else:
        await legacy.initialize()
        assert (await legacy.request("tools/list"))["result"]["tools"]


@pytest.mark.parametrize("era", ["dual"])
async def test_dual_routes_by_version_header(modern: ReferenceServer, mpeer: ModernPeer) -> None:
    # an unknown version goes modern and gets a modern error; no header goes legacy
    status, reply = await mpeer.send(mpeer.message("tools/list", version="2099-01-01"))
    assert (status, reply["error"]["code"]) == (400, -32022)
    message = mpeer.message("tools/list")
    async with mpeer.http.post(modern.url, json=message, headers={"Accept": ACCEPT}) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["code"] == -32600


@pytest.mark.parametrize("era", ["legacy"])
async def test_legacy_empty_400_fault(
    faults: ServerFaults, modern: ReferenceServer, mpeer: ModernPeer
) -> None:
    faults.legacy_empty_400 = True
    async with mpeer.post(mpeer.message("server/discover")) as resp:
        assert resp.status == 400
        assert await resp.read() == b""
    legacy = Peer(mpeer.http, modern.url)
    await legacy.initialize()  # initialize and session requests are not affected
    assert "result" in await legacy.request("ping")


async def test_modern_is_post_only_and_sessionless(mpeer: ModernPeer) -> None:
    for method in ("GET", "DELETE"):
        async with mpeer.http.request(method, mpeer.url, headers={"Accept": ACCEPT}) as resp:
            assert resp.status == 405
            assert resp.headers["Allow"] == "POST"
    result = await mpeer.result("tools/list", headers={"Mcp-Session-Id": "nonsense"})
    assert result["tools"]
    notification = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {}}
    async with mpeer.post(notification) as resp:
        assert resp.status == 202


async def test_modern_validation_errors(mpeer: ModernPeer) -> None:
    async def code_of(message: dict[str, Any], **headers: str) -> tuple[int, int, Any]:
        status, reply = await mpeer.send(message, **headers)
        assert reply["id"] == message["id"]
        return status, reply["error"]["code"], reply["error"].get("data")

    no_meta = {"jsonrpc": "2.0", "id": 99, "method": "tools/list", "params": {}}
    headers = {"MCP-Protocol-Version": MODERN}
    assert (await code_of(no_meta, **headers))[:2] == (400, -32602)
    no_caps = mpeer.message("tools/list")
    del no_caps["params"]["_meta"][CAPS_KEY]
    assert (await code_of(no_caps))[:2] == (400, -32602)
    assert await code_of(mpeer.message("tools/list", version="2030-01-01")) == (
        400,
        -32022,
        {"supported": [MODERN], "requested": "2030-01-01"},
    )
    message = mpeer.message("tools/list")
    assert (await code_of(message, **{"MCP-Protocol-Version": "2025-11-25"}))[:2] == (
        400,
        -32020,
    )
    message = mpeer.message("tools/list")
    assert (await code_of(message, **{"Mcp-Method": "prompts/list"}))[:2] == (400, -32020)
    call = mpeer.message("tools/call", {"name": "echo", "arguments": {"text": "hi"}})
    assert (await code_of(call, **{"Mcp-Name": "add"}))[:2] == (400, -32020)
    read = mpeer.message("resources/read", {"uri": "mem://greeting"})
    assert (await code_of(read, **{"Mcp-Name": "mem://other"}))[:2] == (400, -32020)
    read = mpeer.message("resources/read", {"uri": "mem://greeting"})
    assert (await code_of(read, **{"Mcp-Name": sentinel("mem://other")}))[:2] == (400, -32020)
    status, reply = await mpeer.send(read, **{"Mcp-Name": sentinel("mem://greeting")})
    assert status == 200
    assert reply["result"]["contents"][0]["text"] == "Hello, world!"
    for method in ("initialize", "ping", "logging/setLevel", "resources/subscribe", "nope/x"):
        assert (await code_of(mpeer.message(method)))[:2] == (404, -32601)
    bad_level = mpeer.message("tools/list")
    bad_level["params"]["_meta"][LOG_KEY] = "loud"
    assert (await code_of(bad_level))[:2] == (400, -32602)
    missing = mpeer.message("resources/read", {"uri": "mem://missing"})
    status, reply = await mpeer.send(missing)
    assert reply["error"]["code"] == -32602


async def test_discover_and_result_metadata(mpeer: ModernPeer) -> None:
    result = await mpeer.result("server/discover")
    assert result["resultType"] == "complete"
    assert result["supportedVersions"] == [MODERN]
    assert result["capabilities"] == {
        "tools": {"listChanged": True},
        "resources": {"subscribe": True, "listChanged": True},
        "prompts": {"listChanged": True},
        "logging": {},
        "completions": {},
    }
    assert result["instructions"]
    assert (result["ttlMs"], result["cacheScope"]) == (0, "public")
    assert result["_meta"][INFO_KEY]["name"] == "duomcp-reference"
    call = await mpeer.result("tools/call", {"name": "echo", "arguments": {"text": "x"}})
    assert call["resultType"] == "complete"
    assert INFO_KEY in call["_meta"]
    assert "ttlMs" not in call
    completion = await mpeer.result(
        "completion/complete",
        {
            "ref": {"type": "ref/prompt", "name": "greet"},
            "argument": {"name": "name", "value": "A"},
        },
    )
    assert completion["completion"]["values"] == ["Ada", "Alan"]


@pytest.mark.parametrize(
    "cache_hints", [{"tools/list": (60000, "public"), "resources/read": (5000, "public")}]
)
async def test_cache_hints_and_private_whoami(mpeer: ModernPeer) -> None:
    tools = await mpeer.result("tools/list")
    assert (tools["ttlMs"], tools["cacheScope"]) == (60000, "public")
    prompts = await mpeer.result("prompts/list")
    assert (prompts["ttlMs"], prompts["cacheScope"]) == (0, "public")
    greeting = await mpeer.result("resources/read", {"uri": "mem://greeting"})
    assert (greeting["ttlMs"], greeting["cacheScope"]) == (5000, "public")
    texts = []
    for auth in ({}, {"Authorization": "Bearer alice"}, {"Authorization": "Bearer bob"}):
        result = await mpeer.result("resources/read", {"uri": "ref://whoami"}, headers=auth)
        assert (result["ttlMs"], result["cacheScope"]) == (5000, "private")
        texts.append(result["contents"][0]["text"])
    assert texts == ["anonymous", "bearer alice", "bearer bob"]


async def list_all(mpeer: ModernPeer, method: str, key: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {}
    while True:
        page = await mpeer.result(method, params)
        items += page[key]
        if page.get("nextCursor") is None:
            return items
        params = {"cursor": page["nextCursor"]}


@pytest.mark.parametrize("era", ["dual"])
async def test_modern_listings_extend_legacy_ones(
    modern: ReferenceServer, mpeer: ModernPeer
) -> None:
    from duomcp.testing._fixtures import TOOLS
    from duomcp.testing._modern_fixtures import invalid_x_mcp_header

    tools = {tool["name"]: tool for tool in await list_all(mpeer, "tools/list", "tools")}
    broken = {name for name, tool in tools.items() if invalid_x_mcp_header(tool["inputSchema"])}
    assert broken == {
        "bad_header_empty",
        "bad_header_chars",
        "bad_header_duplicate",
        "bad_header_number",
        "bad_header_items",
    }
    assert {"route", "mrtr_elicit", "mrtr_sample", "mrtr_roots", "mrtr_rounds"} <= set(tools)
    assert "sample" not in tools  # needs a server-to-client request
    resources = await list_all(mpeer, "resources/list", "resources")
    assert {"ref://whoami", "ref://mrtr"} <= {r["uri"] for r in resources}
    prompts = await list_all(mpeer, "prompts/list", "prompts")
    assert "mrtr_prompt" in {p["name"] for p in prompts}
    legacy = Peer(mpeer.http, modern.url)
    await legacy.initialize()
    names: list[str] = []
    params: dict[str, Any] = {}
    while True:
        page = (await legacy.request("tools/list", params))["result"]
        names += [tool["name"] for tool in page["tools"]]
        if "nextCursor" not in page:
            break
        params = {"cursor": page["nextCursor"]}
    assert names == list(TOOLS)
    page = (await legacy.request("resources/list"))["result"]
    assert "ref://whoami" not in {r["uri"] for r in page["resources"]}


async def test_x_mcp_header_params_are_checked(mpeer: ModernPeer) -> None:
    args = {"region": "eu-west", "priority": 7, "dry_run": False, "note": "n"}
    good = {"Mcp-Param-Region": "eu-west", "Mcp-Param-Priority": "7", "Mcp-Param-Dry-Run": "false"}
    result = await mpeer.result("tools/call", {"name": "route", "arguments": args}, headers=good)
    assert json.loads(result["content"][0]["text"]) == args
    # header names are case-insensitive; values may use the Base64 sentinel
    encoded = {**good, "mcp-param-region": sentinel("eu-west")}
    del encoded["Mcp-Param-Region"]
    result = await mpeer.result("tools/call", {"name": "route", "arguments": args}, headers=encoded)
    assert "isError" not in result
    # an absent argument needs an absent header
    call = {"name": "route", "arguments": {"region": "é"}}
    await mpeer.result("tools/call", call, headers={"Mcp-Param-Region": sentinel("é")})
    wrong = [
        {**good, "Mcp-Param-Region": "us-east"},
        {**good, "Mcp-Param-Priority": "07"},
        {**good, "Mcp-Param-Dry-Run": "False"},
        {key: value for key, value in good.items() if key != "Mcp-Param-Priority"},
    ]
    for headers in wrong:
        message = mpeer.message("tools/call", {"name": "route", "arguments": args})
        status, reply = await mpeer.send(message, **headers)
        assert (status, reply["error"]["code"]) == (400, -32020), headers
    message = mpeer.message("tools/call", {"name": "route", "arguments": {}})
    status, reply = await mpeer.send(message, **{"Mcp-Param-Region": "eu-west"})
    assert (status, reply["error"]["code"]) == (400, -32020)


async def test_mrtr_elicit_round_trip_and_tamper(
    modern: ReferenceServer, mpeer: ModernPeer
) -> None:
    params = {"name": "mrtr_elicit", "arguments": {"message": "Who are you?"}}
    first = await mpeer.result("tools/call", params, caps=ALL_CAPS)
    assert first["resultType"] == "input_required"
    assert INFO_KEY in first["_meta"]
    request = first["inputRequests"]["form"]
    assert request["method"] == "elicitation/create"
    assert request["params"]["message"] == "Who are you?"
    answer = {"action": "accept", "content": {"name": "Ada"}}
    retry = {**params, "inputResponses": {"form": answer}, "requestState": first["requestState"]}
    done = await mpeer.result("tools/call", retry, caps=ALL_CAPS)
    assert done["resultType"] == "complete"
    assert json.loads(done["content"][0]["text"]) == answer
    assert modern.tool_runs["mrtr_elicit"] == 2
    recorded = [r for r in modern.requests if r.headers.get("mcp-name") == "mrtr_elicit"]
    assert [r.status for r in recorded] == [200, 200]
    assert recorded[1].headers["mcp-method"] == "tools/call"
    assert recorded[1].body["params"]["requestState"] == first["requestState"]
    state = first["requestState"]
    tampered = state[:-1] + ("0" if state[-1] != "0" else "1")
    for bad in (tampered, "made-up", state.replace(".", "x.", 1)):
        message = mpeer.message("tools/call", {**retry, "requestState": bad}, caps=ALL_CAPS)
        status, reply = await mpeer.send(message)
        assert (status, reply["error"]["code"]) == (400, -32602)
    # a state is bound to its tool
    other = {"name": "mrtr_roots", "inputResponses": {}, "requestState": state}
    status, reply = await mpeer.send(mpeer.message("tools/call", other, caps=ALL_CAPS))
    assert (status, reply["error"]["code"]) == (400, -32602)


async def test_mrtr_sample_roots_rounds_prompt_resource(mpeer: ModernPeer) -> None:
    async def run(method: str, params: dict[str, Any], answer: Any) -> tuple[int, dict[str, Any]]:
        rounds = 0
        result = await mpeer.result(method, params, caps=ALL_CAPS)
        while result["resultType"] == "input_required":
            rounds += 1
            responses = {key: answer(request) for key, request in result["inputRequests"].items()}
            retry = {**params, "inputResponses": responses, "requestState": result["requestState"]}
            result = await mpeer.result(method, retry, caps=ALL_CAPS)
        return rounds, result

    def sample(request: dict[str, Any]) -> dict[str, Any]:
        assert request["method"] == "sampling/createMessage"
        assert request["params"]["maxTokens"] == 100
        content = {"type": "text", "text": "Paris"}
        return {"role": "assistant", "content": content, "model": "m"}

    rounds, result = await run("tools/call", {"name": "mrtr_sample", "arguments": {}}, sample)
    assert (rounds, result["content"][0]["text"]) == (1, "Paris")

    def roots(request: dict[str, Any]) -> dict[str, Any]:
        assert request["method"] == "roots/list"
        return {"roots": [{"uri": "file:///tmp", "name": "tmp"}]}

    rounds, result = await run("tools/call", {"name": "mrtr_roots"}, roots)
    assert json.loads(result["content"][0]["text"])["roots"][0]["uri"] == "file:///tmp"

    def form(request: dict[str, Any]) -> dict[str, Any]:
        assert request["method"] == "elicitation/create"
        return {"action": "accept", "content": {"topic": "owls", "confirm": True}}

    for count in (0, 1, 3):
        call = {"name": "mrtr_rounds", "arguments": {"rounds": count}}
        rounds, result = await run("tools/call", call, form)
        assert (rounds, result["content"][0]["text"]) == (count, f"completed {count} rounds")
    rounds, result = await run("prompts/get", {"name": "mrtr_prompt"}, form)
    assert rounds == 1
    assert result["messages"][0]["content"]["text"] == "Write about owls."
    rounds, result = await run("resources/read", {"uri": "ref://mrtr"}, form)
    assert rounds == 1
    assert "accept" in result["contents"][0]["text"]
    assert (result["ttlMs"], result["cacheScope"]) == (0, "public")


async def test_mrtr_needs_declared_capabilities(mpeer: ModernPeer) -> None:
    cases: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any] | None]] = [
        ("tools/call", {"name": "mrtr_elicit"}, {}, {"elicitation": {"form": {}}}),
        ("tools/call", {"name": "mrtr_elicit"}, {"elicitation": {"url": {}}}, None),
        ("tools/call", {"name": "mrtr_rounds", "arguments": {"rounds": 1}}, {}, None),
        ("tools/call", {"name": "mrtr_sample"}, {"elicitation": {}}, {"sampling": {}}),
        ("tools/call", {"name": "mrtr_roots"}, {"sampling": {}}, {"roots": {}}),
        ("prompts/get", {"name": "mrtr_prompt"}, {}, None),
        ("resources/read", {"uri": "ref://mrtr"}, {"roots": {}}, None),
    ]
    for method, params, caps, needed in cases:
        status, reply = await mpeer.send(mpeer.message(method, params, caps=caps))
        assert (status, reply["error"]["code"]) == (400, -32021), params
        assert reply["error"]["data"]["requiredCapabilities"] == (
            needed or {"elicitation": {"form": {}}}
        )
    result = await mpeer.result("tools/call", {"name": "mrtr_elicit"}, caps={"elicitation": {}})
    assert result["resultType"] == "input_required"


async def test_modern_sse_carries_progress_and_gated_logs(mpeer: ModernPeer) -> None:
    async def events(params: dict[str, Any], **meta: Any) -> list[dict[str, Any]]:
        message = mpeer.message("tools/call", params, **meta)
        async with mpeer.post(message) as resp:
            assert resp.content_type == "text/event-stream"
            raw = [event async for event in sse_events(resp)]
        assert all("id" not in event for event in raw)  # no event ids in the modern era
        messages = [json.loads(event["data"]) for event in raw]
        assert messages[-1]["id"] == message["id"]
        return messages[:-1]

    log_call = {"name": "log", "arguments": {"level": "info", "message": "hello"}}
    assert await events(log_call) == []
    assert await events(log_call, **{LOG_KEY: "warning"}) == []
    logged = await events(log_call, **{LOG_KEY: "debug"})
    assert [m["method"] for m in logged] == ["notifications/message"]
    assert logged[0]["params"]["data"] == {"message": "hello"}
    assert await events(log_call, **{LOG_KEY: "info"}) != []
    progress = {"name": "progress", "arguments": {"steps": 3, "delay": 0}}
    assert await events(progress) == []
    notes = await events(progress, progressToken="tok")
    assert [n["params"]["progress"] for n in notes] == [1, 2, 3]
    assert all(n["params"]["progressToken"] == "tok" for n in notes)


@pytest.mark.parametrize("faults", [ServerFaults(reply_mode="json")])
async def test_modern_json_replies(mpeer: ModernPeer) -> None:
    message = mpeer.message("tools/call", {"name": "echo", "arguments": {"text": "j"}})
    async with mpeer.post(message) as resp:
        assert resp.content_type == "application/json"
        reply = await resp.json()
    assert reply["result"]["content"][0]["text"] == "j"


async def test_closing_the_reply_stream_cancels(modern: ReferenceServer, mpeer: ModernPeer) -> None:
    message = mpeer.message("tools/call", {"name": "slow", "arguments": {"seconds": 30}})
    resp = await mpeer.post(message)
    while modern.tool_runs["slow"] == 0:  # noqa: ASYNC110 - polling the server
        await asyncio.sleep(0.01)
    resp.close()  # drop the connection: the cancellation
    for _ in range(200):
        if modern.cancelled_calls:
            break
        await asyncio.sleep(0.01)
    assert modern.cancelled_calls == [message["id"]]
    assert not modern._modern.tasks


async def test_cut_reply_fault_then_reissue(
    faults: ServerFaults, modern: ReferenceServer, mpeer: ModernPeer
) -> None:
    faults.modern_cut_replies = 1
    params = {"name": "progress", "arguments": {"steps": 2, "delay": 0}}
    first = mpeer.message("tools/call", params, progressToken=1)
    async with mpeer.post(first) as resp:
        assert resp.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            async for _ in sse_events(resp):
                pass
    assert modern.cut_replies == [first["id"]]
    assert faults.modern_cut_replies == 0
    status, reply = await mpeer.send(mpeer.message("tools/call", params))
    assert status == 200
    assert reply["result"]["content"][0]["text"] == "2 steps done"


async def next_message(events: AsyncIterator[dict[str, str]]) -> dict[str, Any]:
    event = await asyncio.wait_for(events.__anext__(), 5)
    message: dict[str, Any] = json.loads(event["data"])
    return message


async def test_listen_acknowledges_and_fans_out(modern: ReferenceServer, mpeer: ModernPeer) -> None:
    asked = {
        "toolsListChanged": True,
        "promptsListChanged": False,
        "resourceSubscriptions": ["mem://counter", "mem://nope"],
    }
    listen = mpeer.message("subscriptions/listen", {"notifications": asked})
    other = mpeer.message("subscriptions/listen", {"notifications": {"promptsListChanged": True}})
    async with mpeer.post(listen) as resp, mpeer.post(other) as resp2:
        assert resp.content_type == "text/event-stream"
        events, events2 = sse_events(resp), sse_events(resp2)
        ack = await next_message(events)
        assert ack["method"] == "notifications/subscriptions/acknowledged"
        assert ack["params"]["_meta"] == {SUB_KEY: listen["id"]}
        assert ack["params"]["notifications"] == {
            "toolsListChanged": True,
            "resourceSubscriptions": ["mem://counter"],
        }
        assert (await next_message(events2))["params"]["notifications"] == {
            "promptsListChanged": True
        }
        assert modern.listen_requests == [listen["id"], other["id"]]
        assert modern.listeners == 2
        await modern.notify("notifications/resources/updated", {"uri": "mem://nope"})
        await modern.notify("notifications/prompts/list_changed")
        await modern.notify("notifications/resources/updated", {"uri": "mem://counter"})
        updated = await next_message(events)
        assert updated == {
            "jsonrpc": "2.0",
            "method": "notifications/resources/updated",
            "params": {"uri": "mem://counter", "_meta": {SUB_KEY: listen["id"]}},
        }
        prompts = await next_message(events2)
        assert prompts["method"] == "notifications/prompts/list_changed"
        assert prompts["params"]["_meta"] == {SUB_KEY: other["id"]}
        # a tool's change announcement reaches listeners too
        await mpeer.result("tools/call", {"name": "notify_changed"})
        assert (await next_message(events))["method"] == "notifications/tools/list_changed"
        assert (await next_message(events))["params"]["uri"] == "mem://counter"
        await modern.end_subscriptions(graceful=True)
        end = await next_message(events)
        assert end == {
            "jsonrpc": "2.0",
            "id": listen["id"],
            "result": {
                "resultType": "complete",
                "_meta": {SUB_KEY: listen["id"], INFO_KEY: end["result"]["_meta"][INFO_KEY]},
            },
        }
        with pytest.raises(StopAsyncIteration):
            await next_message(events)
        assert (await next_message(events2))["id"] == other["id"]
    assert modern.listeners == 0


async def test_listen_abrupt_end_and_client_close(
    modern: ReferenceServer, mpeer: ModernPeer
) -> None:
    listen = mpeer.message("subscriptions/listen", {"notifications": {"toolsListChanged": True}})
    async with mpeer.post(listen) as resp:
        events = sse_events(resp)
        await next_message(events)
        await modern.end_subscriptions(graceful=False)
        with pytest.raises(aiohttp.ClientPayloadError):
            await next_message(events)
    assert modern.listeners == 0
    resp = await mpeer.post(mpeer.message("subscriptions/listen", {"notifications": {}}))
    await next_message(sse_events(resp))
    assert modern.listeners == 1
    resp.close()
    for _ in range(200):
        if modern.listeners == 0:
            break
        await asyncio.sleep(0.01)
    assert modern.listeners == 0
    assert len(modern.listen_requests) == 2
    assert modern.cancelled_calls == []


async def test_close_ends_modern_streams_promptly(
    modern: ReferenceServer, mpeer: ModernPeer
) -> None:
    listen = mpeer.message("subscriptions/listen", {"notifications": {"toolsListChanged": True}})
    call = mpeer.message("tools/call", {"name": "slow", "arguments": {"seconds": 30}})
    async with mpeer.post(listen) as resp, mpeer.post(call):
        events = sse_events(resp)
        await next_message(events)
        started = time.monotonic()
        await modern.close()
        assert time.monotonic() - started < 3
        with contextlib.suppress(aiohttp.ClientPayloadError):
            assert [event async for event in events] == []


@pytest.mark.parametrize("reply_mode", ["json", "sse"])
async def test_modern_lost_replies(
    faults: ServerFaults, modern: ReferenceServer, mpeer: ModernPeer, reply_mode: Any
) -> None:
    faults.reply_mode, faults.lose_replies = reply_mode, 1
    assert (await mpeer.result("server/discover"))["supportedVersions"] == [MODERN]
    listen = mpeer.message("subscriptions/listen", {"notifications": {}})
    async with mpeer.post(listen) as resp:
        assert (await next_message(sse_events(resp)))["method"].endswith("acknowledged")
        await modern.end_subscriptions(graceful=True)
    assert faults.lose_replies == 1
    call = mpeer.message("tools/call", {"name": "progress", "arguments": {"steps": 2, "delay": 0}})
    with pytest.raises(aiohttp.ClientConnectionError):
        async with mpeer.post(call) as resp:
            await resp.read()
    assert faults.lose_replies == 0
    assert modern.lost_replies == [call["id"]]
    assert modern.tool_runs["progress"] == 1
    assert [r.status for r in modern.requests if r.body == call] == [0]
    assert modern.cancelled_calls == [] and modern.cut_replies == []
    status, reply = await mpeer.send(mpeer.message("tools/call", call["params"]))
    assert status == 200 and reply["result"]["content"][0]["text"] == "2 steps done"


async def test_modern_annotations_and_flood(modern: ReferenceServer, mpeer: ModernPeer) -> None:
    tools = {tool["name"]: tool for tool in await list_all(mpeer, "tools/list", "tools")}
    assert tools["add"]["annotations"] == {"readOnlyHint": True, "idempotentHint": True}
    assert "flood" in tools
    params = {"name": "flood", "arguments": {"count": 3}}
    status, reply = await mpeer.send(mpeer.message("tools/call", params))
    assert (status, reply["error"]["code"]) == (400, -32021)
    first = await mpeer.result("tools/call", params, caps=ALL_CAPS)
    assert first["resultType"] == "input_required"
    assert first["inputRequests"] == {
        f"r{index}": {"method": "roots/list", "params": {}} for index in range(3)
    }
    answers: dict[str, Any] = {key: {"roots": []} for key in first["inputRequests"]}
    retry = {**params, "inputResponses": answers, "requestState": first["requestState"]}
    done = await mpeer.result("tools/call", retry, caps=ALL_CAPS)
    assert done["resultType"] == "complete"
    assert done["content"] == [{"type": "text", "text": "3 answered"}]
    partial = {**retry, "inputResponses": {"r0": {"roots": []}}}
    again = await mpeer.result("tools/call", partial, caps=ALL_CAPS)
    assert again["resultType"] == "input_required" and len(again["inputRequests"]) == 3
    default = await mpeer.result("tools/call", {"name": "flood"}, caps=ALL_CAPS)
    assert list(default["inputRequests"]) == [f"r{index}" for index in range(10)]
    assert modern.tool_runs["flood"] == 4
