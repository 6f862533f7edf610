"""Streamable HTTP transport behaviour over real sockets: auth on every request kind,
sessions, GET stream, resumption, retry, faults, connection reuse, timeouts."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from aiohttp import web

from duomcp import (
    AsyncClient,
    Auth,
    AuthChallenge,
    AuthorizationRequiredError,
    BearerToken,
    ConnectionClosedError,
    HTTPOptions,
    InvalidResponseError,
    OutcomeUnknownError,
    RequestTimeoutError,
    TransportError,
    UnsupportedProtocolVersionError,
)
from duomcp.testing import RecordedRequest, ReferenceServer, ServerFaults

from ._waits import async_wait_until
from .conftest import ServerThread

FAST = HTTPOptions(reconnect_delay=0.05, max_reconnect_attempts=2)


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


class RotatingToken(Auth):
    """A credential that records every challenge and, when allowed, adopts a new token."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.next_token: str | None = None
        self.challenges: list[AuthChallenge] = []

    async def auth_headers(self) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def handle_challenge(self, challenge: AuthChallenge) -> bool:
        self.challenges.append(challenge)
        if self.next_token is None:
            return False
        self.token, self.next_token = self.next_token, None
        return True


def legacy_initialize_result(capabilities: dict[str, Any]) -> dict[str, Any]:
    """What a small 2025-11-25 test server answers to ``initialize``."""
    return {
        "protocolVersion": "2025-11-25",
        "capabilities": capabilities,
        "serverInfo": {"name": "x", "version": "1"},
    }


async def read_request(request: web.Request) -> dict[str, Any] | web.Response:
    """A small test server's first step: the JSON-RPC request POSTed to it, or the answer
    to anything else (405 to other HTTP methods, 202 to a notification)."""
    if request.method != "POST":
        return web.Response(status=405)
    body: dict[str, Any] = await request.json()
    if "id" not in body:
        return web.Response(status=202)
    return body


def kinds(requests: list[RecordedRequest]) -> list[str]:
    out = []
    for r in requests:
        if r.method == "GET":
            out.append("resume" if "last-event-id" in r.headers else "get")
        else:
            out.append(r.method.lower())
    return out


# -- the seed bugs ------------------------------------------------------------------------


async def test_bearer_on_every_request_kind(server: ReferenceServer, faults: ServerFaults) -> None:
    """rmcp's bug: the bearer must be on initialize, GET, every resumption and DELETE."""
    faults.require_bearer = "s3cret"
    faults.retry_ms = 20
    client = AsyncClient(server.url, auth=BearerToken("s3cret"), timeout=10, http_options=FAST)
    async with client:
        await wait_until(lambda: "get" in kinds(server.requests))
        faults.drop_reply_after = 1  # break the reply after the priming event
        result = await client.call_tool("echo", {"text": "resumed"})
        assert result.content[0].text == "resumed"  # type: ignore[union-attr]
    seen = kinds(server.requests)
    assert {"post", "get", "resume", "delete"} <= set(seen), seen
    for request in server.requests:
        assert request.headers.get("authorization") == "Bearer s3cret", request
        assert request.status != 401


async def test_first_post_401_without_auth_fails_fast(
    server: ReferenceServer, faults: ServerFaults
) -> None:
    """The Inspector's bug: a 401 on the very first POST must surface, never hang."""
    faults.require_bearer = "s3cret"
    client = AsyncClient(server.url, timeout=30)
    started = time.monotonic()
    with pytest.raises(AuthorizationRequiredError) as info:
        await client.connect()
    assert time.monotonic() - started < 2
    assert info.value.status == 401
    assert 'error="invalid_token"' in (info.value.www_authenticate or "")
    await client.close()


async def test_401_on_initialize_reaches_auth_and_is_retried(
    server: ReferenceServer, faults: ServerFaults
) -> None:
    faults.require_bearer = "fresh"
    auth = RotatingToken("stale")
    auth.next_token = "fresh"
    async with AsyncClient(server.url, auth=auth, timeout=10) as client:
        await client.ping()
    assert [(c.status, c.request_kind) for c in auth.challenges] == [(401, "post")]
    assert auth.challenges[0].error == "invalid_token"


async def test_401_on_get_stream_reaches_auth(
    server: ReferenceServer, faults: ServerFaults, server_thread: ServerThread
) -> None:
    faults.require_bearer = "one"
    auth = RotatingToken("one")
    async with AsyncClient(server.url, auth=auth, timeout=10, http_options=FAST) as client:
        await wait_until(lambda: "get" in kinds(server.requests))
        faults.require_bearer = "two"
        auth.next_token = "two"
        await asyncio.wrap_future(
            asyncio.run_coroutine_threadsafe(server.drop_streams(), server_thread.loop)
        )
        await wait_until(lambda: len(auth.challenges) == 1)
        await wait_until(
            lambda: (
                server.requests[-1].method == "GET"
                and server.requests[-1].headers.get("authorization") == "Bearer two"
            )
        )
        await client.ping()
    assert auth.challenges[0].request_kind in ("get", "resume")
    assert auth.challenges[0].status == 401


async def test_401_on_resumption_reaches_auth(
    server: ReferenceServer, faults: ServerFaults
) -> None:
    faults.require_bearer = "one"
    faults.retry_ms = 300
    faults.drop_reply_after = 1
    auth = RotatingToken("one")
    async with AsyncClient(server.url, auth=auth, timeout=10, http_options=FAST) as client:
        await client.connect()
        call = asyncio.ensure_future(client.call_tool("echo", {"text": "x"}))
        await wait_until(lambda: server.tool_runs["echo"] == 1)
        faults.require_bearer = "two"  # rotated while the client waits `retry`
        auth.next_token = "two"
        result = await call
    assert result.content[0].text == "x"  # type: ignore[union-attr]
    resume_challenges = [c for c in auth.challenges if c.request_kind == "resume"]
    assert resume_challenges and resume_challenges[0].status == 401
    resumes = [r for r in server.requests if r.method == "GET" and "last-event-id" in r.headers]
    assert resumes[-1].headers["authorization"] == "Bearer two"
    assert server.tool_runs["echo"] == 1


async def test_401_on_delete_reaches_auth(server: ReferenceServer, faults: ServerFaults) -> None:
    faults.require_bearer = "one"
    faults.get_stream = False
    auth = RotatingToken("one")
    client = AsyncClient(server.url, auth=auth, timeout=10)
    await client.connect()
    faults.require_bearer = "two"
    await client.close()  # the DELETE's 401 is reported to auth; close still completes
    assert [c.request_kind for c in auth.challenges] == ["delete"]


async def test_403_insufficient_scope_reaches_auth(
    server: ReferenceServer, faults: ServerFaults
) -> None:
    faults.require_bearer = "one"
    auth = RotatingToken("one")
    async with AsyncClient(server.url, auth=auth, timeout=10) as client:
        faults.forbid = True
        with pytest.raises(AuthorizationRequiredError) as info:
            await client.ping()
        faults.forbid = False
    assert info.value.status == 403
    assert auth.challenges[-1].status == 403
    assert auth.challenges[-1].error == "insufficient_scope"
    assert auth.challenges[-1].scope == "admin"


# -- sessions and streams -----------------------------------------------------------------


async def test_405_on_get_is_not_retried(server: ReferenceServer, faults: ServerFaults) -> None:
    faults.get_stream = False
    async with AsyncClient(server.url, timeout=10, http_options=FAST) as client:
        await client.ping()
        await asyncio.sleep(0.3)
        await client.ping()
    assert kinds(server.requests).count("get") == 1


async def test_404_reinitializes_and_the_call_succeeds(server: ReferenceServer) -> None:
    async with AsyncClient(server.url, timeout=10) as async_client:
        await _reinitialize_case(server, async_client)


async def _reinitialize_case(server: ReferenceServer, async_client: AsyncClient) -> None:
    first = async_client.session_id
    server.forget_sessions()
    result = await async_client.call_tool("echo", {"text": "again"})
    assert result.content[0].text == "again"  # type: ignore[union-attr]
    assert async_client.session_id not in (None, first)
    initializes = [
        r
        for r in server.requests
        if isinstance(r.body, dict) and r.body.get("method") == "initialize"
    ]
    assert len(initializes) == 2
    assert "mcp-session-id" not in initializes[1].headers
    assert server.tool_runs["echo"] == 1


async def test_broken_reply_is_resumed_and_the_tool_runs_once(
    server: ReferenceServer, faults: ServerFaults
) -> None:
    faults.retry_ms = 30
    faults.drop_reply_after = 1
    async with AsyncClient(server.url, timeout=10, http_options=FAST) as client:
        result = await client.call_tool("echo", {"text": "once"})
    assert result.content[0].text == "once"  # type: ignore[union-attr]
    assert server.tool_runs["echo"] == 1
    calls = [
        r
        for r in server.requests
        if isinstance(r.body, dict) and r.body.get("method") == "tools/call"
    ]
    assert len(calls) == 1  # the POST was never re-sent
    resumes = [r for r in server.requests if r.method == "GET" and "last-event-id" in r.headers]
    assert resumes, "the reply was not resumed with Last-Event-ID"


async def test_server_retry_is_honoured(server: ReferenceServer, faults: ServerFaults) -> None:
    faults.retry_ms = 400
    faults.close_after_priming = True
    async with AsyncClient(server.url, timeout=10, http_options=FAST) as client:
        await client.connect()
        started = time.monotonic()
        result = await client.call_tool("echo", {"text": "polled"})
        elapsed = time.monotonic() - started
    assert result.content[0].text == "polled"  # type: ignore[union-attr]
    assert elapsed >= 0.4


@pytest.mark.parametrize("reply_mode", ["json", "sse"])
async def test_server_dying_mid_call_fails_fast(
    server: ReferenceServer, faults: ServerFaults, reply_mode: str
) -> None:
    faults.reply_mode = reply_mode  # type: ignore[assignment]
    async with AsyncClient(server.url, timeout=30, http_options=FAST) as client:
        await client.ping()
        faults.die_mid_call = True
        started = time.monotonic()
        with pytest.raises(TransportError):
            await client.call_tool("echo", {"text": "x"})
        assert time.monotonic() - started < 3
        faults.die_mid_call = False
        assert (await client.call_tool("echo", {"text": "y"})).content[0].text == "y"  # type: ignore[union-attr]


@pytest.mark.parametrize("era", ["legacy", "modern"])
@pytest.mark.parametrize("reply_mode", ["json", "sse"])
async def test_no_new_tcp_connection_per_call(
    server: ReferenceServer,
    modern_server: ReferenceServer,
    faults: ServerFaults,
    reply_mode: str,
    era: str,
) -> None:
    faults.reply_mode = reply_mode  # type: ignore[assignment]
    if era == "modern":
        server = modern_server
    async with AsyncClient(server.url, timeout=10) as client:
        assert client.era == era
        await client.call_tool("echo", {"text": "warm"})
        before = server.connections_opened
        for i in range(50):
            await client.call_tool("echo", {"text": str(i)})
        assert server.connections_opened == before


@pytest.mark.parametrize("status", [500, 502, 404])
async def test_a_refused_connect_frees_the_connection_pool(
    raw_server: Callable[[Any], Any], status: int
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, text="<html>down</html>", content_type="text/html")

    url = await raw_server(handler)
    client = AsyncClient(url, timeout=5)
    with pytest.raises(TransportError):
        await client.connect()
    sender = client._engine.transport.sender  # type: ignore[attr-defined]
    await client.close()
    assert sender._users == 0 and sender._http is not None and sender._http.closed


async def test_the_connection_pool_is_bounded(modern_server: ReferenceServer) -> None:
    options = HTTPOptions(max_connections=2)
    async with AsyncClient(modern_server.url, timeout=10, http_options=options) as client:
        await client.list_tools()
        before = modern_server.connections_opened
        started = time.monotonic()
        results = await asyncio.gather(
            *(client.call_tool("slow", {"seconds": 0.2}) for _ in range(6))
        )
        assert len(results) == 6
        assert time.monotonic() - started >= 0.55  # three rounds of two
    assert modern_server.connections_opened - before <= 2
    with pytest.raises(ValueError):
        HTTPOptions(max_connections=0)


def _pooled(client: AsyncClient) -> list[Any]:
    """The protocols of the client's pooled HTTP connections (one at least)."""
    connector = client._engine.transport.sender.session().connector  # type: ignore[attr-defined]
    assert connector is not None
    pooled = [proto for conns in connector._conns.values() for proto, _ in conns]
    assert pooled
    return pooled


async def test_socket_reads_use_small_buffers(server: ReferenceServer) -> None:
    # asyncio's default 256 KiB read buffer costs an mmap and two page faults per read.
    async with AsyncClient(server.url, timeout=10) as client:
        await client.call_tool("echo", {"text": "x"})
        for proto in _pooled(client):
            assert proto.transport is not None
            assert proto.transport.max_size == 64 << 10  # type: ignore[attr-defined]


async def test_socket_reads_grow_while_a_big_reply_arrives(server: ReferenceServer) -> None:
    # A read that fills 64 KiB means more is waiting: the next ones take asyncio's 256 KiB
    # (a big reply in fewer reads); a read under 16 KiB goes back to 64 KiB.
    async with AsyncClient(server.url, timeout=10) as client:
        await client.call_tool("echo", {"text": "x"})
        seen: list[tuple[int, int]] = []  # (bytes read, size of the next read)
        for proto in _pooled(client):
            receive, transport = proto.data_received, proto.transport

            def counting(data: bytes, receive: Any = receive, transport: Any = transport) -> None:
                receive(data)
                seen.append((len(data), transport.max_size))

            proto.data_received = counting  # type: ignore[method-assign]
        text = "y" * 900_000  # the request stays under aiohttp's 1 MiB warning
        result = await client.call_tool("echo", {"text": text})
        assert result.content[0].text == text  # type: ignore[union-attr]
        for n, after in seen:
            if n >= 64 << 10:  # a full read: more is coming
                assert after == 256 << 10
            elif 0 < n < 16 << 10:  # a short one: the reply is over
                assert after == 64 << 10
        assert sum(n for n, _ in seen) > 900_000
        assert len([n for n, _ in seen if n]) < 900_000 // (64 << 10)  # fewer than 13 reads
        seen.clear()
        await client.call_tool("echo", {"text": "x"})
        assert seen and seen[-1][1] == 64 << 10


async def test_an_argument_over_a_mebibyte_goes_without_a_warning(server: ReferenceServer) -> None:
    # aiohttp warns (ResourceWarning) for raw request bodies over 1 MiB; this suite, like
    # many, turns warnings into errors: the call would fail.
    text = "z" * (1 << 20)
    async with AsyncClient(server.url, timeout=10) as client:
        result = await client.call_tool("echo", {"text": text})
    assert result.content[0].text == text  # type: ignore[union-attr]
    sent = [r for r in server.requests if r.method == "POST" and r.body and "params" in r.body]
    big = [r for r in sent if r.body["params"].get("arguments", {}).get("text") == text]
    assert len(big) == 1  # sent once, whole, as JSON
    assert big[0].headers["content-type"] == "application/json"


async def test_get_stream_delivers_notifications(server: ReferenceServer) -> None:
    changed: list[str] = []
    updated: list[str] = []
    async with AsyncClient(
        server.url,
        timeout=10,
        on_tools_changed=lambda: changed.append("tools"),
        on_resource_updated=updated.append,
    ) as client:
        await wait_until(lambda: "get" in kinds(server.requests))
        await client.call_tool("notify_changed")
        await wait_until(lambda: bool(changed and updated))
    assert updated == ["mem://counter"]


# -- timeouts and cancellation ------------------------------------------------------------


async def test_timeout_cancels_on_the_server(server: ReferenceServer) -> None:
    async with AsyncClient(server.url, timeout=10) as client:
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError):
            await client.call_tool("slow", {"seconds": 5}, timeout=0.3)
        assert time.monotonic() - started < 1.5
        await wait_until(lambda: len(server.cancelled) == 1)
        assert (await client.call_tool("echo", {"text": "alive"})).content[0].text == "alive"  # type: ignore[union-attr]


async def test_timeout_error_is_a_builtin_timeout(server: ReferenceServer) -> None:
    async with AsyncClient(server.url, timeout=10) as client:
        with pytest.raises(TimeoutError):
            await client.call_tool("slow", {"seconds": 5}, timeout=0.2)


async def test_progress_restarts_the_timeout(server: ReferenceServer) -> None:
    async with AsyncClient(server.url, timeout=10) as client:
        result = await client.call_tool(
            "progress", {"steps": 6, "delay": 0.15}, timeout=0.5, on_progress=lambda *a: None
        )
    assert not result.is_error


async def test_max_timeout_caps_progress(server: ReferenceServer) -> None:
    async with AsyncClient(server.url, timeout=10, max_timeout=0.4) as client:
        with pytest.raises(RequestTimeoutError):
            await client.call_tool(
                "progress", {"steps": 20, "delay": 0.1}, timeout=0.3, on_progress=lambda *a: None
            )


async def test_task_cancellation_sends_cancelled(server: ReferenceServer) -> None:
    async with AsyncClient(server.url, timeout=10) as client:
        call = asyncio.ensure_future(client.call_tool("slow", {"seconds": 5}))
        await wait_until(lambda: server.tool_runs["slow"] == 1)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        await wait_until(lambda: len(server.cancelled) == 1)
        await client.ping()


async def test_close_fails_pending_calls(server: ReferenceServer) -> None:
    client = AsyncClient(server.url, timeout=10)
    await client.connect()
    call = asyncio.ensure_future(client.call_tool("slow", {"seconds": 5}))
    await wait_until(lambda: server.tool_runs["slow"] == 1)
    await client.close()
    with pytest.raises(ConnectionClosedError):
        await call


async def test_delete_405_is_tolerated(server: ReferenceServer, faults: ServerFaults) -> None:
    faults.delete_status = 405
    client = AsyncClient(server.url, timeout=10)
    await client.connect()
    await client.close()
    assert [r.status for r in server.requests if r.method == "DELETE"] == [405]


@pytest.mark.parametrize("version", ["2025-06-18", "2024-11-05"])
async def test_older_version_is_accepted_and_sent(server: ReferenceServer, version: str) -> None:
    async with AsyncClient(server.url, timeout=10, protocol_version=version) as client:
        await client.ping()
        assert client.protocol_version == version
    later = [r for r in server.requests if r.method == "POST"][1:]
    assert later and all(r.headers.get("mcp-protocol-version") == version for r in later)


# -- tiny servers for faults the reference server must not make ---------------------------


async def test_unknown_server_version_is_refused(raw_server: Callable[[Any], Any]) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        body = await read_request(request)
        if isinstance(body, web.Response):
            return body
        result = {
            "protocolVersion": "1999-01-01",
            "capabilities": {},
            "serverInfo": {"name": "old", "version": "0"},
        }
        return web.json_response({"jsonrpc": "2.0", "id": body["id"], "result": result})

    url = await raw_server(handler)
    client = AsyncClient(url, timeout=5)
    with pytest.raises(UnsupportedProtocolVersionError, match="1999-01-01"):
        await client.connect()
    await client.close()


async def test_batch_replies_are_accepted(raw_server: Callable[[Any], Any]) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        if request.method != "POST":
            return web.Response(status=405)
        body = await request.json()
        assert not isinstance(body, list), "the client must never send batches"
        if "id" not in body:
            return web.Response(status=202)
        if body["method"] == "initialize":
            result: Any = {
                "protocolVersion": "2025-03-26",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "b", "version": "0"},
            }
        else:
            result = {}
        log = {
            "jsonrpc": "2.0",
            "method": "notifications/message",
            "params": {"level": "info", "data": "batched"},
        }
        return web.json_response([log, {"jsonrpc": "2.0", "id": body["id"], "result": result}])

    url = await raw_server(handler)
    logs: list[Any] = []
    async with AsyncClient(url, timeout=5, on_logging_message=logs.append) as client:
        assert client.protocol_version == "2025-03-26"
        await client.ping()
        await client.ping()
    assert len(logs) >= 2


def test_proxy_comes_from_the_environment_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from duomcp._net import env_proxy

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.test:3128")
    monkeypatch.setenv("NO_PROXY", "internal.test")
    assert env_proxy("https://mcp.example/mcp") == "http://proxy.test:3128"
    assert env_proxy("https://internal.test/mcp") is None
    monkeypatch.delenv("HTTPS_PROXY")
    assert env_proxy("https://mcp.example/mcp") is None


async def test_netrc_never_adds_credentials(
    server: ReferenceServer, faults: ServerFaults, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login user password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    async with AsyncClient(server.url, auth=BearerToken("t"), timeout=10) as client:
        await client.ping()
    assert all(r.headers.get("authorization") == "Bearer t" for r in server.requests)


async def test_a_web_page_instead_of_mcp_is_a_clear_error(
    raw_server: Callable[[Any], Any],
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(text="<html>hello</html>", content_type="text/html")

    url = await raw_server(handler)
    client = AsyncClient(url, timeout=5)
    with pytest.raises(InvalidResponseError, match="text/html"):
        await client.connect()
    await client.close()


async def test_nothing_listening_fails_fast_with_a_connection_error() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = AsyncClient(f"http://127.0.0.1:{port}/mcp", timeout=30)
    started = time.monotonic()
    with pytest.raises(ConnectionError):
        await client.connect()
    assert time.monotonic() - started < 2
    await client.close()


def test_an_absurd_server_retry_is_clamped() -> None:
    from duomcp.connection import ConnectionState
    from duomcp.transports.streamable_http import StreamableHTTPTransport

    state = ConnectionState(endpoint="http://127.0.0.1:1/mcp", server_retry_ms=10**3999)
    transport = StreamableHTTPTransport(state, on_message=lambda message: None)
    assert transport._reconnect_delay(0) == 3600.0
    assert transport._reconnect_delay(3) <= 30.0


async def test_a_reply_lost_with_its_session_is_not_sent_again(
    raw_server: Callable[[Any], Any],
) -> None:
    # The POST was taken and its stream gave an event id, then broke; the server forgot the
    # session, so resuming gets 404. The call ran: it must not go again in a new session.
    calls: list[tuple[str | None, Any]] = []
    known: set[str] = set()

    async def handler(request: web.Request) -> web.StreamResponse:
        sid = request.headers.get("Mcp-Session-Id")
        if request.method == "GET":
            return web.Response(status=404 if sid not in known else 405)
        if request.method != "POST":
            return web.Response(status=405)
        body = await request.json()
        if body.get("method") == "initialize":
            known.add(new := f"s{len(known) + 1}")
            result = legacy_initialize_result({"tools": {}})
            reply = {"jsonrpc": "2.0", "id": body["id"], "result": result}
            return web.json_response(reply, headers={"Mcp-Session-Id": new})
        if sid not in known:
            return web.Response(status=404)
        if "id" not in body:
            return web.Response(status=202)
        if body["method"] == "tools/call":
            calls.append((sid, body["id"]))
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await resp.prepare(request)
            await resp.write(b"id: e1\ndata:\n\n")
            await asyncio.sleep(0.05)
            known.discard(sid)  # the server forgets the session...
            assert request.transport is not None
            request.transport.abort()  # ... and the reply breaks
            return resp
        tools = {"tools": [{"name": "transfer", "inputSchema": {"type": "object"}}]}
        return web.json_response({"jsonrpc": "2.0", "id": body["id"], "result": tools})

    url = await raw_server(handler)
    async with AsyncClient(url, era="legacy", timeout=10) as client:
        with pytest.raises(OutcomeUnknownError, match="may or may not have run"):
            await client.call_tool("transfer", {"amount": 100})
    assert len(calls) == 1


async def test_a_message_with_a_strange_id_is_dropped_not_fatal(
    raw_server: Callable[[Any], Any],
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        body = await read_request(request)
        if isinstance(body, web.Response):
            return body
        if body["method"] == "initialize":
            result = legacy_initialize_result({"tools": {}})
            return web.json_response({"jsonrpc": "2.0", "id": body["id"], "result": result})
        weird = {"jsonrpc": "2.0", "id": {"weird": 1}, "method": "ping"}
        answer = {"jsonrpc": "2.0", "id": body["id"], "result": {"content": [], "tools": []}}
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for message in (weird, answer):
            await resp.write(b"data: " + json.dumps(message).encode() + b"\n\n")
        await resp.write_eof()
        return resp

    url = await raw_server(handler)
    async with AsyncClient(url, era="legacy", timeout=5) as client:
        for _ in range(3):  # the stream, and the client, go on
            await client.ping()


async def test_close_from_a_callback_frees_everything(server: ReferenceServer) -> None:
    holder: list[AsyncClient] = []

    async def on_progress(progress: float, total: float | None, message: Any) -> None:
        await holder[0].close()

    client = AsyncClient(server.url, timeout=5)
    holder.append(client)
    await client.connect()
    with pytest.raises((ConnectionClosedError, asyncio.CancelledError)):
        await client.call_tool("progress", {"steps": 3, "delay": 0.05}, on_progress=on_progress)
    await client.close()  # waits for the closing the callback began
    sender = client._engine.transport.sender  # type: ignore[attr-defined]
    assert sender._users == 0 and sender._http is not None and sender._http.closed
    assert any(r.method == "DELETE" for r in server.requests)


async def test_a_callback_calling_during_the_shared_tool_listing_does_not_stall(
    raw_server: Callable[[Any], Any],
) -> None:
    # The tools/list reply carries a log message; its callback calls a tool, which joins
    # the listing under way. Neither may wait for the other (it used to: the timeout).
    async def handler(request: web.Request) -> web.StreamResponse:
        body = await read_request(request)
        if isinstance(body, web.Response):
            return body
        method = body["method"]
        if method == "initialize":
            result: dict[str, Any] = legacy_initialize_result({"tools": {}, "logging": {}})
        elif method == "tools/list":
            result = {"tools": [{"name": n, "inputSchema": {"type": "object"}} for n in "ab"]}
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await resp.prepare(request)
            note = {"level": "info", "data": "listing"}
            for message in (
                {"jsonrpc": "2.0", "method": "notifications/message", "params": note},
                {"jsonrpc": "2.0", "id": body["id"], "result": result},
            ):
                await resp.write(b"data: " + json.dumps(message).encode() + b"\n\n")
                await asyncio.sleep(0.05)
            await resp.write_eof()
            return resp
        else:
            result = {"content": []}
        return web.json_response({"jsonrpc": "2.0", "id": body["id"], "result": result})

    url = await raw_server(handler)
    holder: list[AsyncClient] = []
    took: list[float] = []

    async def on_log(entry: Any) -> None:
        if not took:
            started = time.monotonic()
            await holder[0].call_tool("b")
            took.append(time.monotonic() - started)

    async with AsyncClient(url, era="legacy", timeout=5, on_logging_message=on_log) as client:
        holder.append(client)
        started = time.monotonic()
        await client.call_tool("a")
        assert time.monotonic() - started < 2
        await async_wait_until(lambda: bool(took))
    assert took[0] < 2


@pytest.mark.parametrize("joiner", ["longer", "shorter"])
async def test_a_call_joining_the_tool_listing_keeps_its_own_timeout(
    raw_server: Callable[[Any], Any], joiner: str
) -> None:
    # Two calls need the tool listing (for output schemas); the first begins it, the other
    # joins it with another timeout. tools/list takes 0.6 s. A joiner with the longer
    # timeout gets its result although the first's listing timed out (it lists again); a
    # joiner with the shorter one times out at its own deadline, not at the listing's end.
    listings: list[float] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        body = await read_request(request)
        if isinstance(body, web.Response):
            return body
        method = body["method"]
        if method == "initialize":
            result: dict[str, Any] = legacy_initialize_result({"tools": {}})
        elif method == "tools/list":
            listings.append(time.monotonic())
            await asyncio.sleep(0.6)
            result = {"tools": [{"name": n, "inputSchema": {"type": "object"}} for n in "ab"]}
        else:  # tools/call: "b" answers 0.1 s after "a", so "a" begins the listing
            if body["params"]["name"] == "b":
                await asyncio.sleep(0.1)
            result = {"content": [{"type": "text", "text": "ok"}]}
        return web.json_response({"jsonrpc": "2.0", "id": body["id"], "result": result})

    url = await raw_server(handler)
    first, second = (0.3, 5.0) if joiner == "longer" else (5.0, 0.3)
    async with AsyncClient(url, era="legacy", timeout=30) as client:
        started = time.monotonic()

        async def timed(name: str, timeout: float) -> tuple[object, float]:
            try:
                outcome: object = await client.call_tool(name, timeout=timeout)
            except RequestTimeoutError as exc:
                outcome = exc
            return outcome, time.monotonic() - started

        (a, a_took), (b, b_took) = await asyncio.gather(timed("a", first), timed("b", second))
    if joiner == "longer":
        assert isinstance(a, RequestTimeoutError) and a_took < 0.55
        assert not isinstance(b, Exception), b  # listed again under its own 5 s
        assert len(listings) == 2
    else:
        assert not isinstance(a, Exception), a
        assert isinstance(b, RequestTimeoutError)
        assert 0.35 < b_took < 0.55  # joined at 0.1 s, gave up 0.3 s later
        assert len(listings) == 1


async def test_a_reply_whose_resumption_is_refused_is_not_sent_again(
    raw_server: Callable[[Any], Any],
) -> None:
    # The call was taken and its stream broke; resuming is refused (401). It may have run:
    # the caller hears so, and the call is not sent again.
    calls: list[Any] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.method == "GET":
            if request.headers.get("Last-Event-ID"):
                return web.Response(status=401, headers={"WWW-Authenticate": "Bearer"})
            return web.Response(status=405)
        body = await read_request(request)
        if isinstance(body, web.Response):
            return body
        if body["method"] == "initialize":
            result = legacy_initialize_result({"tools": {}})
            return web.json_response({"jsonrpc": "2.0", "id": body["id"], "result": result})
        if body["method"] == "tools/call":
            calls.append(body["id"])
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await resp.prepare(request)
            await resp.write(b"id: e1\ndata:\n\n")
            assert request.transport is not None
            request.transport.abort()
            return resp
        tools = {"tools": [{"name": "transfer", "inputSchema": {"type": "object"}}]}
        return web.json_response({"jsonrpc": "2.0", "id": body["id"], "result": tools})

    url = await raw_server(handler)
    async with AsyncClient(url, era="legacy", timeout=10, auth=BearerToken("t")) as client:
        with pytest.raises(OutcomeUnknownError, match="could not be resumed"):
            await client.call_tool("transfer", {})
    assert len(calls) == 1
