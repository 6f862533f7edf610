"""The deprecated HTTP+SSE transport against a small 2024-11-05 server on real sockets.

The official SDK's SSE servers (mcp 2.3.0 and 1.30.0) are covered in tests/interop; this
server makes the faults they do not: a foreign endpoint, a 401 on the stream, a stream
that ends.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import attrs
import pytest
from aiohttp import web

from duomcp import AsyncClient, BearerToken, HTTPOptions, OutcomeUnknownError, RequestTimeoutError
from duomcp.auth import Auth, AuthChallenge
from duomcp.errors import MCPError, MessageTooLargeError
from duomcp.transports.streamable_http import StreamableHTTPTransport
from duomcp.types import TextContent

from ._waits import async_wait_until


@attrs.define
class SSEServer:
    """A 2024-11-05 HTTP+SSE server: GET /sse streams, POST /messages?session=N."""

    endpoint_data: str = "/messages?session={session}"
    token: str | None = None
    end_stream_after: str | None = None  # end the stream once this method was answered
    url: str = ""
    gets: list[Mapping[str, str]] = attrs.field(factory=list)
    refused_posts: int = 0  # POSTs to /sse: a Streamable HTTP client's attempts
    refuse_next_post: bool = False  # one 401 on a message POST (a token that just expired)
    posts: list[tuple[Mapping[str, str], dict[str, Any]]] = attrs.field(factory=list)
    queues: dict[str, asyncio.Queue[dict[str, Any] | None]] = attrs.field(factory=dict)
    fault: str | None = None  # on tools/call: "cut", "comments", "huge"
    calls_run: int = 0  # tools/call the server acted on
    forget_on_call: bool = False  # once: a tools/call POST ends its stream, then gets 404

    def refused(self, request: web.Request) -> web.Response | None:
        if self.refuse_next_post and request.method == "POST":
            self.refuse_next_post = False
            return web.Response(status=401, headers={"WWW-Authenticate": "Bearer"})
        if self.token and request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.Response(status=401, headers={"WWW-Authenticate": "Bearer"})
        return None

    async def stream(self, request: web.Request) -> web.StreamResponse:
        self.gets.append(dict(request.headers))
        refusal = self.refused(request)
        if refusal is not None:
            return refusal
        session = str(len(self.queues) + 1)
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.queues[session] = queue
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        data = self.endpoint_data.format(session=session)
        await resp.write(f"event: endpoint\ndata: {data}\n\n".encode())
        while (message := await queue.get()) is not None:
            fault = message.pop("_fault", None)
            if fault == "cut":
                assert request.transport is not None
                request.transport.abort()  # the call ran; its response never comes
                return resp
            if fault == "comments":
                while True:  # keep-alives, forever: not an answer
                    await resp.write(b": still here\n\n")
                    await asyncio.sleep(0.05)
            if fault == "huge":
                blob = "x" * (2 << 20)
                await resp.write(f"event: message\ndata: {blob}\n\n".encode())
                continue
            await resp.write(f"event: message\ndata: {json.dumps(message)}\n\n".encode())
        return resp

    async def post_to_stream(self, request: web.Request) -> web.Response:
        self.refused_posts += 1
        return web.Response(status=405, headers={"Allow": "GET"})

    async def message(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.posts.append((dict(request.headers), body))
        refusal = self.refused(request)
        if refusal is not None:
            return refusal
        queue = self.queues.get(request.query.get("session", ""))
        if queue is None:
            return web.Response(status=404)
        if self.forget_on_call and body.get("method") == "tools/call":
            self.forget_on_call = False  # the session is gone before the call ran
            del self.queues[request.query["session"]]
            await queue.put(None)  # its stream ends first...
            await asyncio.sleep(0.3)
            return web.Response(status=404)  # ... then the POST learns it
        reply = self.answer(body)
        if body.get("method") == "tools/call":
            self.calls_run += 1
            if self.fault is not None and reply is not None:
                reply["_fault"] = self.fault
        if reply is not None:
            await queue.put(reply)
            if body.get("method") == self.end_stream_after:
                self.end_stream_after = None
                await queue.put(None)
        return web.Response(status=202)

    def answer(self, body: dict[str, Any]) -> dict[str, Any] | None:
        method, request_id = body.get("method"), body.get("id")
        if request_id is None or (method == "tools/call" and body["params"]["name"] == "slow"):
            return None
        if method == "initialize":
            info = {"name": "sse", "version": "1"}
            result: dict[str, Any] = {
                "protocolVersion": "2024-11-05",
                "capabilities": {"tools": {}},
                "serverInfo": info,
            }
        elif method == "tools/call":
            text = body["params"]["arguments"]["text"]
            result = {"content": [{"type": "text", "text": text}]}
        elif method == "tools/list":
            result = {
                "tools": [{"name": n, "inputSchema": {"type": "object"}} for n in ("echo", "slow")]
            }
        elif method == "ping":
            result = {}
        else:
            error = {"code": -32601, "message": f"no {method}"}
            return {"jsonrpc": "2.0", "id": request_id, "error": error}
        return {"jsonrpc": "2.0", "id": request_id, "result": result}


@pytest.fixture
async def sse_server() -> AsyncIterator[SSEServer]:
    server = SSEServer()
    app = web.Application()
    app.router.add_get("/sse", server.stream)
    app.router.add_post("/messages", server.message)
    app.router.add_post("/sse", server.post_to_stream)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.url = f"http://127.0.0.1:{runner.addresses[0][1]}/sse"
    yield server
    for queue in server.queues.values():
        queue.put_nowait(None)
    await runner.cleanup()


def text_of(result: Any) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


async def test_found_with_no_configuration_and_the_token_on_every_request(
    sse_server: SSEServer,
) -> None:
    sse_server.token = "s3cret"
    async with AsyncClient(sse_server.url, auth=BearerToken("s3cret"), timeout=10) as client:
        assert (client.era, client.protocol_version) == ("legacy", "2024-11-05")
        assert text_of(await client.call_tool("echo", {"text": "hi"})) == "hi"
    methods = [body.get("method") for _, body in sse_server.posts]
    assert methods[:2] == ["initialize", "notifications/initialized"]
    assert sse_server.refused_posts == 2  # server/discover, then initialize: both 405
    assert len(sse_server.gets) == 1
    every = [*sse_server.gets, *(headers for headers, _ in sse_server.posts)]
    assert all(h.get("Authorization") == "Bearer s3cret" for h in every)
    async with AsyncClient(sse_server.url, auth=BearerToken("s3cret"), timeout=10) as client:
        await client.ping()
    assert sse_server.refused_posts == 2  # remembered: the second client went straight to GET


async def test_pinned_sse_skips_the_streamable_http_attempts(sse_server: SSEServer) -> None:
    async with AsyncClient(sse_server.url, transport="sse", timeout=10) as client:
        await client.ping()
    assert sse_server.refused_posts == 0


async def test_an_endpoint_on_another_origin_is_refused(sse_server: SSEServer) -> None:
    sse_server.endpoint_data = "http://127.0.0.2:9/steal?session={session}"
    with pytest.raises(MCPError, match="not the same origin"):
        async with AsyncClient(sse_server.url, transport="sse", auth=BearerToken("t"), timeout=5):
            pass
    assert sse_server.posts == []


async def test_a_failed_switch_leaves_streamable_http_in_place(sse_server: SSEServer) -> None:
    sse_server.endpoint_data = "http://127.0.0.2:9/steal?session={session}"
    client = AsyncClient(sse_server.url, timeout=5)
    with pytest.raises(MCPError, match="not the same origin"):
        await client.connect()
    assert type(client._engine.transport) is StreamableHTTPTransport
    await client.close()  # closes the one pool (an unclosed one would fail this test)


class CountingAuth(Auth):
    """Gives the right token only after the first 401, as a refresh would."""

    def __init__(self) -> None:
        self.challenges: list[AuthChallenge] = []

    async def auth_headers(self) -> Mapping[str, str]:
        return {"Authorization": "Bearer good" if self.challenges else "Bearer stale"}

    async def handle_challenge(self, challenge: AuthChallenge) -> bool:
        self.challenges.append(challenge)
        return True


async def test_a_401_on_the_stream_goes_to_the_auth_path(sse_server: SSEServer) -> None:
    sse_server.token = "good"
    auth = CountingAuth()
    async with AsyncClient(sse_server.url, transport="sse", auth=auth, timeout=10) as client:
        assert text_of(await client.call_tool("echo", {"text": "in"})) == "in"
    assert [(c.status, c.request_kind) for c in auth.challenges] == [(401, "get")]
    sse_server.refuse_next_post = True
    async with AsyncClient(sse_server.url, transport="sse", auth=auth, timeout=10) as client:
        assert text_of(await client.call_tool("echo", {"text": "again"})) == "again"
    assert [(c.status, c.request_kind) for c in auth.challenges][1:] == [(401, "post")]
    # the challenge names the protected resource (the stream's URL), not the POST URL
    assert {c.url for c in auth.challenges} == {sse_server.url}


async def test_a_stream_that_ends_starts_a_new_session(sse_server: SSEServer) -> None:
    sse_server.end_stream_after = "tools/call"
    async with AsyncClient(
        sse_server.url, transport="sse", timeout=10, validate_structured_content=False
    ) as client:
        assert text_of(await client.call_tool("echo", {"text": "one"})) == "one"
        await async_wait_until(lambda: client._engine.transport._ended is not None)  # type: ignore[union-attr]
        assert text_of(await client.call_tool("echo", {"text": "two"})) == "two"
    assert len(sse_server.gets) == 2  # a second stream, a second initialize
    methods = [body.get("method") for _, body in sse_server.posts]
    assert methods.count("initialize") == 2


async def test_a_call_the_server_refused_with_404_as_its_stream_ended_is_sent_again(
    sse_server: SSEServer,
) -> None:
    """The stream ends while a call's POST is under way, and the POST then gets 404: the
    session is gone and the call never ran, so it goes again in a new session (the 404
    decides, not the stream's end, which alone would leave the outcome unknown)."""
    async with AsyncClient(sse_server.url, transport="sse", timeout=10) as client:
        await client.ping()
        sse_server.forget_on_call = True
        assert text_of(await client.call_tool("echo", {"text": "once"})) == "once"
    assert sse_server.calls_run == 1
    assert len(sse_server.gets) == 2  # a new stream, a new session


async def test_a_timeout_is_cancelled_with_a_notification(sse_server: SSEServer) -> None:
    async with AsyncClient(sse_server.url, transport="sse", timeout=10) as client:
        with pytest.raises(RequestTimeoutError):
            await client.call_tool("slow", {"text": ""}, timeout=0.3)
        call = next(b for _, b in sse_server.posts if b.get("method") == "tools/call")

        def cancelled() -> list[Any]:
            return [
                b["params"]["requestId"]
                for _, b in sse_server.posts
                if b.get("method") == "notifications/cancelled"
            ]

        await async_wait_until(lambda: bool(cancelled()))
        assert cancelled() == [call["id"]]


# -- faults of the HTTP+SSE stream (the fault suite's cases that apply to this transport) --


async def test_a_call_whose_stream_breaks_is_not_sent_again(sse_server: SSEServer) -> None:
    async with AsyncClient(sse_server.url, timeout=5) as client:
        sse_server.fault = "cut"
        with pytest.raises(OutcomeUnknownError, match="may or may not have run"):
            await client.call_tool("echo", {"text": "once"})
        assert sse_server.calls_run == 1
        sse_server.fault = None
        assert text_of(await client.call_tool("echo", {"text": "again"})) == "again"
    assert sse_server.calls_run == 2  # the second call, in a new session; nothing twice


async def test_a_stream_of_keepalives_only_times_out(sse_server: SSEServer) -> None:
    async with AsyncClient(sse_server.url, timeout=0.5) as client:
        sse_server.fault = "comments"
        started = asyncio.get_running_loop().time()
        with pytest.raises(RequestTimeoutError):
            await client.call_tool("echo", {"text": "x"})
        assert asyncio.get_running_loop().time() - started < 1.5


async def test_an_event_over_the_cap_is_refused_by_size(sse_server: SSEServer) -> None:
    options = HTTPOptions(max_message_bytes=1 << 20, max_sse_line_bytes=1 << 20)
    async with AsyncClient(sse_server.url, timeout=5, http_options=options) as client:
        sse_server.fault = "huge"
        with pytest.raises(MessageTooLargeError):
            await client.call_tool("echo", {"text": "x"})


async def test_a_redirected_stream_goes_nowhere_else() -> None:
    hits: list[str] = []

    async def elsewhere(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(status=200)

    async def redirect(request: web.Request) -> web.Response:
        if request.method == "POST":
            return web.Response(status=405)
        return web.Response(status=307, headers={"Location": other + "/sse"})

    runners = []
    urls = []
    for handler in (elsewhere, redirect):
        app = web.Application()
        app.router.add_route("*", "/sse", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.2" if handler is elsewhere else "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        host = "127.0.0.2" if handler is elsewhere else "127.0.0.1"
        urls.append(f"http://{host}:{runner.addresses[0][1]}")
        if handler is elsewhere:
            other = urls[0]
    try:
        client = AsyncClient(urls[1] + "/sse", timeout=5, transport="sse", auth=BearerToken("t"))
        with pytest.raises(MCPError, match="redirect"):
            await client.connect()
        await client.close()
    finally:
        for runner in runners:
            await runner.cleanup()
    assert hits == []
