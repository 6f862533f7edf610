"""The engine's rules, in both eras and both flavours, against the reference server:
nothing the server may act on is sent twice, a call's timeout is the call's own (not a
sign-in's), and server requests run within the handler cap."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from duomcp import AsyncClient, AuthError, HTTPOptions, OutcomeUnknownError
from duomcp.auth import OAuth
from duomcp.testing import AuthServerSettings, ReferenceServer, ServerFaults
from duomcp.types import Root, TextContent

from .._signin import SlowBrowser
from .._waits import async_pause, async_wait_until
from ..conftest import ServerThread

REDIRECT = "http://127.0.0.1:1/callback"


@pytest.fixture(params=["legacy", "modern"])
def era_server(request: pytest.FixtureRequest, faults: ServerFaults) -> Iterator[ReferenceServer]:
    """A reference server of each era."""
    with ServerThread.running(faults, era=request.param) as st:
        yield st.server


def text_of(result: Any) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


def posts(server: ReferenceServer, method: str) -> list[Any]:
    return [
        r.body
        for r in server.requests
        if r.method == "POST" and isinstance(r.body, dict) and r.body.get("method") == method
    ]


@pytest.mark.parametrize("reply_mode", ["json", "sse"])
async def test_a_lost_tool_call_is_never_sent_again(
    era_server: ReferenceServer, faults: ServerFaults, reply_mode: str
) -> None:
    faults.reply_mode = reply_mode  # type: ignore[assignment]
    async with AsyncClient(era_server.url, timeout=10) as client:
        await client.list_tools()
        faults.lose_replies = 1
        with pytest.raises(OutcomeUnknownError, match="may or may not have run") as caught:
            await client.call_tool("echo", {"text": "once"})
        assert caught.value.method == "tools/call"
        assert era_server.tool_runs["echo"] == 1
        assert len(posts(era_server, "tools/call")) == 1
        assert len(era_server.lost_replies) == 1
        assert text_of(await client.call_tool("echo", {"text": "after"})) == "after"
        assert era_server.tool_runs["echo"] == 2


@pytest.mark.parametrize("reply_mode", ["json", "sse"])
async def test_a_lost_read_or_idempotent_call_is_sent_again(
    era_server: ReferenceServer, faults: ServerFaults, reply_mode: str
) -> None:
    faults.reply_mode = reply_mode  # type: ignore[assignment]
    async with AsyncClient(era_server.url, timeout=10, cache=False) as client:
        listed = [tool.name for tool in await client.list_tools()]
        faults.lose_replies = 1
        result = await client.call_tool("add", {"a": 2, "b": 3})  # declared idempotentHint
        assert result.structured_content == {"result": 5}
        assert era_server.tool_runs["add"] == 2
        faults.lose_replies = 1
        assert [tool.name for tool in await client.list_tools()] == listed
        assert len(era_server.lost_replies) == 2
        faults.lose_replies = 1
        read = await client.read_resource("mem://greeting")
        assert read.contents
        assert len(era_server.lost_replies) == 3


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_a_sign_in_longer_than_the_timeout_does_not_fail_the_call(
    faults: ServerFaults, era: str
) -> None:
    with ServerThread.running(faults, oauth=AuthServerSettings(), era=era) as st:
        authz = st.server.auth_server
        assert authz is not None
        browser = SlowBrowser()
        auth = OAuth(interaction=browser, redirect_uri=REDIRECT)
        async with AsyncClient(st.server.url, auth=auth, timeout=0.5) as client:
            assert text_of(await client.call_tool("echo", {"text": "a"})) == "a"
            # The tokens die and cannot be refreshed: the next call needs a person again,
            # who takes three times the call's timeout.
            browser.delay = 1.5
            authz.expire_all()
            authz.revoke_refresh_tokens()
            started = time.monotonic()
            assert text_of(await client.call_tool("echo", {"text": "b"}, timeout=0.5)) == "b"
            assert time.monotonic() - started >= 1.5
        assert browser.logins == 2


async def test_a_sign_in_has_its_own_bound(faults: ServerFaults) -> None:
    with ServerThread.running(faults, oauth=AuthServerSettings()) as st:
        auth = OAuth(interaction=SlowBrowser(delay=2.0), redirect_uri=REDIRECT)
        options = HTTPOptions(sign_in_timeout=0.3)
        client = AsyncClient(st.server.url, auth=auth, timeout=10, http_options=options)
        started = time.monotonic()
        with pytest.raises(AuthError, match="did not finish within"):
            await client.connect()
        assert time.monotonic() - started < 1.9
        await client.close()


@pytest.mark.parametrize(("era", "count"), [("legacy", 1000), ("modern", 64)])
async def test_server_requests_run_within_the_handler_cap(
    faults: ServerFaults, era: str, count: int
) -> None:
    lock = threading.Lock()
    running = peak = answered = 0

    async def roots() -> list[Root]:
        nonlocal running, peak, answered
        with lock:
            running += 1
            peak = max(peak, running)
        await async_pause(0.002)
        with lock:
            running -= 1
            answered += 1
        return [Root(uri="file:///tmp")]

    with ServerThread.running(faults, era=era) as st:
        async with AsyncClient(
            st.server.url, timeout=60, roots=roots, max_concurrent_handlers=4
        ) as client:
            result = await client.call_tool("flood", {"count": count})
    assert text_of(result) == f"{count} answered"
    assert answered == count
    assert peak == 4


@pytest.mark.parametrize("reply_mode", ["json", "sse"])
async def test_callbacks_of_what_came_before_a_result_have_run_when_it_returns(
    era_server: ReferenceServer, faults: ServerFaults, reply_mode: str
) -> None:
    # A modern JSON reply has no room for notifications: there is nothing to order, and
    # nothing may arrive late either.
    carried = not (era_server.era == "modern" and reply_mode == "json")
    faults.reply_mode = reply_mode  # type: ignore[assignment]
    logged: list[str] = []

    async def on_log(params: Any) -> None:
        await async_pause(0.005)  # a callback slower than the server
        logged.append(params.data["message"])

    async with AsyncClient(era_server.url, timeout=10, on_logging_message=on_log) as client:
        await client.set_logging_level("debug")
        for run in range(8):
            seen: list[float] = []

            async def on_progress(progress: float, total: float | None, message: Any) -> None:
                await async_pause(0.005)
                seen.append(progress)  # noqa: B023 - this run's list

            await client.call_tool("progress", {"steps": 4, "delay": 0}, on_progress=on_progress)
            assert seen == ([1, 2, 3, 4] if carried else [])
            await client.call_tool("log", {"message": f"m{run}", "level": "warning"})
            assert logged[-1:] == ([f"m{run}"] if carried else [])


async def test_a_callback_may_call_the_client(era_server: ReferenceServer) -> None:
    listed: list[int] = []
    holder: list[AsyncClient] = []

    async def on_progress(progress: float, total: float | None, message: Any) -> None:
        if progress == 1:  # a call from inside a callback does not wait for itself
            listed.append(len(await holder[0].list_tools()))

    async with AsyncClient(era_server.url, timeout=5) as client:
        holder.append(client)
        started = time.monotonic()
        await client.call_tool("progress", {"steps": 2, "delay": 0}, on_progress=on_progress)
        assert time.monotonic() - started < 4
    assert listed and listed[0] > 0


async def test_server_logs_go_to_the_duomcp_server_logger_without_a_callback(
    era_server: ReferenceServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="duomcp.server")
    async with AsyncClient(era_server.url, timeout=10) as client:
        await client.set_logging_level("debug")
        await client.call_tool("log", {"message": "disk nearly full", "level": "warning"})
        await client.call_tool("log", {"message": "all good", "level": "notice"})
        await client.ping()  # a legacy server's messages may come on the GET stream
        await async_wait_until(lambda: "all good" in caplog.text)
    records = [r for r in caplog.records if r.name == "duomcp.server"]
    full = [r.levelno for r in records if "disk nearly full" in r.getMessage()]
    good = [r.levelno for r in records if "all good" in r.getMessage()]
    assert full == [logging.WARNING] and good == [logging.INFO]
    assert all(era_server.url in r.getMessage() for r in records)
