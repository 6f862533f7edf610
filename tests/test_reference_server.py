"""Self-tests of the reference server (duomcp.testing), spoken to by hand over real sockets:
aiohttp.ClientSession and raw JSON, no duomcp client involved."""

from __future__ import annotations

import asyncio
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
