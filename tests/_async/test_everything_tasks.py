"""Tasks against the official "everything" server (@modelcontextprotocol/server-everything,
pinned in tests/interop/everything, installed into .ci-cache/everything), over stdio, at
protocol 2025-11-25: its ``simulate-research-query`` tool requires a task, moves through
four one-second stages, and asks for a clarification (elicitation) during the task when
the topic is ambiguous."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from duomcp import (
    AsyncClient,
    CapabilityNotSupportedError,
    RequestTimeoutError,
    StdioServer,
    TaskCancelledError,
    TaskNotFoundError,
    ToolTask,
)
from duomcp.types import ElicitRequestFormParams, ElicitRequestURLParams, ElicitResult

from .._waits import async_pause, async_wait_until

ROOT = Path(__file__).resolve().parents[2]
NODE = ROOT / ".ci-cache" / "node" / "node_modules" / ".bin" / "node"
EVERYTHING = (
    ROOT / ".ci-cache" / "everything" / "node_modules" / "@modelcontextprotocol"
    / "server-everything" / "dist" / "index.js"
)  # fmt: skip
RESEARCH = "simulate-research-query"


@pytest.fixture
def everything() -> StdioServer:
    """How to start the everything server (never skipped: CI installs it)."""
    assert EVERYTHING.is_file(), "run: python3 dev.py test (installs .ci-cache/everything)"
    return StdioServer(
        command=str(NODE), args=(str(EVERYTHING), "stdio"), stderr=subprocess.DEVNULL
    )


async def test_a_task_runs_to_its_result_with_input_on_the_way(everything: StdioServer) -> None:
    asked: list[str] = []
    seen: list[ToolTask] = []

    async def clarify(params: ElicitRequestFormParams | ElicitRequestURLParams) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"interpretation": "technical"})

    async with AsyncClient(
        everything, elicitation_handler=clarify, on_task_status=seen.append, timeout=20
    ) as client:
        assert client.protocol_version == "2025-11-25"
        tool = {tool.name: tool for tool in await client.list_tools()}[RESEARCH]
        assert tool.execution is not None and tool.execution.task_support == "required"
        result = await client.call_tool(RESEARCH, {"topic": "python", "ambiguous": True})
        await async_wait_until(lambda: any(task.status == "completed" for task in seen), 5)
    assert not result.is_error
    assert "python (technical)" in result.text
    assert len(asked) == 1 and "python" in asked[0]
    statuses = [task.status for task in seen]
    assert statuses[0] == "working" and statuses[-1] == "completed"
    assert "input_required" in statuses
    assert len({task.task_id for task in seen}) == 1


async def test_a_task_is_started_listed_and_cancelled(everything: StdioServer) -> None:
    async with AsyncClient(everything, timeout=20) as client:
        started = await client.start_tool_task(RESEARCH, {"topic": "x"}, ttl_ms=60_000)
        assert isinstance(started, ToolTask)
        assert started.status == "working" and not started.terminal
        assert started.poll_interval_ms is not None and started.ttl_ms is not None
        assert started.task_id in [task.task_id for task in await client.list_tasks()]
        await client.cancel_task(started.task_id)
        assert (await client.get_task(started.task_id)).status == "cancelled"
        with pytest.raises(TaskCancelledError) as caught:
            await client.task_result(started.task_id)
        assert caught.value.task_id == started.task_id
        await client.cancel_task(started.task_id)  # already over: nothing to do
        with pytest.raises(TaskNotFoundError):
            await client.get_task("no-such-task")
        with pytest.raises(CapabilityNotSupportedError, match="taskSupport: forbidden"):
            await client.start_tool_task("echo", {"message": "hi"})


async def test_a_call_that_times_out_cancels_its_task(everything: StdioServer) -> None:
    """The timeout restarts when the task changes state (like progress), and the stages
    take a second each: half a second without a change times the call out."""
    async with AsyncClient(everything, timeout=20) as client:
        with pytest.raises(RequestTimeoutError, match="still working"):
            await client.call_tool(RESEARCH, {"topic": "slow"}, timeout=0.5)
        for _ in range(50):  # the cancel goes out in the background, at once
            statuses = [task.status for task in await client.list_tasks()]
            if statuses == ["cancelled"]:
                break
            await async_pause(0.1)
        assert statuses == ["cancelled"]


async def test_a_server_restarted_during_a_task(everything: StdioServer) -> None:
    """The server dies with the task; the client starts it again (stdio restart policy),
    asks the new process about the task, and says the outcome is unknown: the task is
    never started again."""
    async with AsyncClient(everything, timeout=20) as client:
        started = await client.start_tool_task(RESEARCH, {"topic": "x"})
        assert isinstance(started, ToolTask)
        first = client._engine.transport.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        with pytest.raises(TaskNotFoundError, match="may or may not have run") as caught:
            await client.task_result(started.task_id)
        assert caught.value.task_id == started.task_id
        assert client._engine.transport.pid not in (None, first)
        assert await client.list_tasks() == []  # nothing was started again
