"""The server's requests that come on a call's reply stream (legacy Streamable HTTP) end
with the call: given up on, it closes that stream, and the server's cancellation of its
own requests has no way left to reach the client."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from duomcp import AsyncClient, Client
from duomcp.errors import RequestTimeoutError
from duomcp.testing import ReferenceServer, ServerFaults, _fixtures
from duomcp.types import CreateMessageRequestParams, CreateMessageResult, ElicitResult, TextContent

from .conftest import ServerThread


def _done(text: str) -> CreateMessageResult:
    return CreateMessageResult(role="assistant", content=TextContent(text=text), model="m")


async def test_a_handler_ends_with_the_call_it_came_with(server: ReferenceServer) -> None:
    # Two calls, each with a sampling request on its own reply stream: one times out and
    # its handler (an LLM request, say) is cancelled; the other's runs on and answers.
    release = asyncio.Event()
    started: dict[str, float] = {}
    cancelled: dict[str, float] = {}

    async def sample(params: CreateMessageRequestParams) -> CreateMessageResult:
        prompt = str(params.messages[0].content.text)  # type: ignore[union-attr]
        started[prompt] = time.monotonic()
        try:
            await release.wait()
        except asyncio.CancelledError:
            cancelled[prompt] = time.monotonic()
            raise
        return _done(f"answer to {prompt}")

    async with AsyncClient(server.url, timeout=30, sampling_handler=sample) as client:
        kept = asyncio.ensure_future(client.call_tool("sample", {"prompt": "kept"}))
        with pytest.raises(RequestTimeoutError):
            await client.call_tool("sample", {"prompt": "given up"}, timeout=0.5)
        for _ in range(100):
            if "given up" in cancelled:
                break
            await asyncio.sleep(0.01)
        assert set(cancelled) == {"given up"}  # at once, not when the client closes
        assert cancelled["given up"] - started["given up"] < 1.5
        release.set()
        result = await asyncio.wait_for(kept, 10)
        assert "answer to kept" in str(result.content)
        assert set(cancelled) == {"given up"}


def test_a_blocking_handler_given_up_with_its_call_is_never_answered(
    server: ReferenceServer,
) -> None:
    # A plain function cannot be stopped: it runs on, but its answer is not sent.
    release = threading.Event()
    returned = threading.Event()

    def sample(params: CreateMessageRequestParams) -> CreateMessageResult:
        release.wait(10)
        returned.set()
        return _done("late")

    def answers() -> list[Any]:  # the client's responses the server received
        bodies = [r.body for r in server.requests if r.method == "POST"]
        return [b for b in bodies if isinstance(b, dict) and "method" not in b]

    with Client(server.url, timeout=30, sampling_handler=sample) as client:
        inbound = client._engine._engine._inbound  # the server requests in progress
        with pytest.raises(RequestTimeoutError):
            client.call_tool("sample", {"prompt": "given up"}, timeout=0.5)
        deadline = time.monotonic() + 2
        while inbound._server_requests and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not inbound._server_requests  # ended with the call
        release.set()
        assert returned.wait(5)
        time.sleep(0.2)
        assert answers() == []  # its answer never went out
        # The next call's handler answers as usual.
        assert "late" in str(client.call_tool("sample", {"prompt": "next"}).content)
        assert len(answers()) == 1


async def test_a_tasks_input_outlives_a_wait_for_its_result_given_up_on() -> None:
    # A 2025-11-25 task asks for input on the stream of tasks/result. A wait with a
    # timeout leaves the task running ("ask again later"): the person answering goes on,
    # and the task completes.
    seen: list[str] = []

    async def answer(params: Any) -> ElicitResult:
        seen.append("asked")
        try:
            await asyncio.sleep(1.0)  # the person takes a second
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        seen.append("answered")
        return ElicitResult(action="accept", content={"confirm": True})

    with ServerThread.running(ServerFaults(), tasks=True) as st:
        async with AsyncClient(st.server.url, timeout=10, elicitation_handler=answer) as client:
            task = await client.start_tool_task("confirm_delete", {"filename": "x"})
            with pytest.raises(RequestTimeoutError):
                await client.task_result(task.task_id, timeout=0.5)
            result = await client.task_result(task.task_id, timeout=5)
            assert "deleted x" in str(result.content)
            assert (await client.get_task(task.task_id)).status == "completed"
    assert seen == ["asked", "answered"]


async def test_a_request_that_came_with_an_answered_call_outlives_the_next_call_given_up(
    server: ReferenceServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A tool asks the client something and answers its call without waiting; the same
    # task's next call then times out. The question belonged to the first call, which
    # ended well: its handler goes on and its answer reaches the server.
    answers: list[Any] = []

    async def fire(ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        prompt = {"role": "user", "content": {"type": "text", "text": "later"}}
        asked = ctx.request("sampling/createMessage", {"messages": [prompt], "maxTokens": 5})
        job = asyncio.ensure_future(asked)
        job.add_done_callback(lambda done: answers.append(done.result()))
        await asyncio.sleep(0.05)  # the request goes out on this call's stream first
        return {"content": [{"type": "text", "text": "fired"}]}

    monkeypatch.setitem(_fixtures.TOOLS, "fire", _fixtures.Tool("fire", "asks, answers", fire))
    handled: list[str] = []

    async def sample(params: CreateMessageRequestParams) -> CreateMessageResult:
        try:
            await asyncio.sleep(1.0)
        except asyncio.CancelledError:
            handled.append("cancelled")
            raise
        handled.append("answered")
        return _done("ok")

    async with AsyncClient(server.url, timeout=10, sampling_handler=sample) as client:
        assert "fired" in str((await client.call_tool("fire", {})).content)
        with pytest.raises(RequestTimeoutError):
            await client.call_tool("slow", {"seconds": 3}, timeout=0.3)
        for _ in range(300):
            if answers:
                break
            await asyncio.sleep(0.01)
    assert handled == ["answered"]
    assert [a.get("content", {}).get("text") for a in answers] == ["ok"]
