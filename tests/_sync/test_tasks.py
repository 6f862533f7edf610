# Generated from tests/_async/test_tasks.py by codegen/unasync.py -- do not edit.
# Change the async original and run: python codegen/unasync.py
"""Tasks through the client, in both eras and both flavours, against the reference server
with tasks (``ReferenceServer(tasks=...)``): 2025-11-25 tasks in the legacy era, the
``io.modelcontextprotocol/tasks`` extension in the modern one. Success, failure, cancel,
input during a task, a lost reply, a timeout, and restarts with and without the tasks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from duomcp import (
    CapabilityNotSupportedError,
    Client,
    JSONRPCError,
    OutcomeUnknownError,
    RequestTimeoutError,
    TaskCancelledError,
    TaskFailedError,
    TaskNotFoundError,
    ToolTask,
)
from duomcp.testing import ReferenceServer, ServerFaults, TaskStore
from duomcp.types import ElicitRequestFormParams, ElicitRequestURLParams, ElicitResult

from .._waits import pause, wait_until
from ..conftest import ServerThread
from ..faulty import deadline

ERAS = ["legacy", "modern"]


@pytest.fixture(params=ERAS)
def task_server(request: pytest.FixtureRequest, faults: ServerFaults) -> Iterator[ReferenceServer]:
    """A reference server with tasks, of each era."""
    with ServerThread.running(faults, era=request.param, tasks=True) as st:
        yield st.server


def posts(server: ReferenceServer, method: str) -> list[Any]:
    return [
        r.body
        for r in server.requests
        if r.method == "POST" and isinstance(r.body, dict) and r.body.get("method") == method
    ]


def test_a_task_runs_to_its_result(task_server: ReferenceServer) -> None:
    seen: list[ToolTask] = []
    with Client(task_server.url, timeout=10, on_task_status=seen.append) as client:
        started = client.start_tool_task("slow_compute", {"seconds": 0.2, "label": "x"})
        assert isinstance(started, ToolTask) and started.status == "working"
        assert started.poll_interval_ms == 100 and started.ttl_ms
        result = client.task_result(started.task_id)
        assert result.text == "computed x in 0.2 s" and not result.is_error
        assert (client.get_task(started.task_id)).status == "completed"
        wait_until(lambda: seen and seen[-1].status == "completed", 5)
    assert task_server.tool_runs["slow_compute"] == 1
    assert task_server.tasks == {started.task_id: "completed"}
    assert {task.task_id for task in seen} == {started.task_id}


def test_call_tool_follows_a_task_only_where_the_rules_say(
    task_server: ReferenceServer,
) -> None:
    """Modern: the server decides, and slow_compute always makes a task. Legacy: the tool
    only allows one (taskSupport optional), so call_tool asks for none."""
    with Client(task_server.url, timeout=10) as client:
        result = client.call_tool("slow_compute", {"seconds": 0.1, "label": "y"})
        assert result.text == "computed y in 0.1 s"
    modern = task_server.era == "modern"
    assert len(task_server.tasks) == (1 if modern else 0)
    call = posts(task_server, "tools/call")[-1]["params"]
    assert "task" not in call
    assert bool(posts(task_server, "tasks/get")) is modern


def test_a_followed_task_reports_its_end_before_call_tool_returns(
    task_server: ReferenceServer,
) -> None:
    seen: list[str] = []
    with Client(
        task_server.url, timeout=10, on_task_status=lambda task: seen.append(task.status)
    ) as client:
        client.call_tool("failing_job")
        assert seen[-1] in ("completed", "failed")  # at return, like any call's callbacks


def test_a_failing_input_handler_cancels_the_hidden_task(
    task_server: ReferenceServer,
) -> None:
    def broken(params: ElicitRequestFormParams | ElicitRequestURLParams) -> ElicitResult:
        raise RuntimeError("the dialog crashed")

    with Client(task_server.url, timeout=10, elicitation_handler=broken) as client:
        if task_server.era == "modern":
            with pytest.raises(JSONRPCError, match="handler failed"):
                client.call_tool("confirm_delete")
        else:  # legacy: the server gets the handler's error and the tool reports it
            result = client.call_tool("confirm_delete")
            assert result.is_error and "handler failed" in result.text
    if task_server.era == "modern":
        assert list(task_server.tasks.values()) == ["cancelled"]
        assert len(posts(task_server, "tasks/cancel")) == 1


def test_input_answered_too_late_is_not_sent(task_server: ReferenceServer) -> None:
    """The handler outlives the call's timeout: the answer is never sent, and the task is
    cancelled; the caller has its timeout on time."""

    def slow(params: ElicitRequestFormParams | ElicitRequestURLParams) -> ElicitResult:
        pause(1.0)
        return ElicitResult(action="accept", content={"confirm": True})

    with Client(task_server.url, timeout=10, max_timeout=0.5, elicitation_handler=slow) as client:
        with deadline(0.9):
            with pytest.raises(RequestTimeoutError):
                client.call_tool("confirm_delete", timeout=0.3)
    wait_until(lambda: list(task_server.tasks.values()) == ["cancelled"], 5)
    assert posts(task_server, "tasks/update") == []


def test_a_tool_that_fails_and_a_task_that_fails(task_server: ReferenceServer) -> None:
    with Client(task_server.url, timeout=10) as client:
        result = client.call_tool("failing_job")  # required: a task in both eras
        assert result.is_error
        started = client.start_tool_task("protocol_error_job")
        assert isinstance(started, ToolTask)
        with pytest.raises(TaskFailedError) as caught:
            client.task_result(started.task_id)
        assert caught.value.code == -32603 and caught.value.task_id == started.task_id
    status = "failed" if task_server.era == "legacy" else "completed"  # see docs/tasks.md
    assert sorted(task_server.tasks.values()) == sorted([status, "failed"])


def test_a_task_is_cancelled(task_server: ReferenceServer) -> None:
    with Client(task_server.url, timeout=10) as client:
        started = client.start_tool_task("slow_compute", {"seconds": 30})
        assert isinstance(started, ToolTask)
        client.cancel_task(started.task_id)
        with pytest.raises(TaskCancelledError):
            client.task_result(started.task_id)
        client.cancel_task(started.task_id)  # over already: nothing to do
        assert (client.get_task(started.task_id)).status == "cancelled"
    assert task_server.tasks == {started.task_id: "cancelled"}
    assert task_server.tool_runs["slow_compute"] == 1


def test_input_during_a_task_reaches_the_handler_once_per_request(
    task_server: ReferenceServer,
) -> None:
    asked: list[str] = []

    def answer(params: ElicitRequestFormParams | ElicitRequestURLParams) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"confirm": True, "name": "Ada"})

    with Client(task_server.url, timeout=10, elicitation_handler=answer) as client:
        result = client.call_tool("confirm_delete", {"filename": "old.txt"})
        assert result.text.startswith("deleted old.txt")
        assert asked == ["Delete old.txt?"]
        result = client.call_tool("multi_input")
        assert not result.is_error and "Ada" in result.text
    assert len(asked) == 3  # polls showed the pending requests again: answered once each
    assert sorted(task_server.tasks.values()) == ["completed", "completed"]


def test_a_task_without_a_handler_for_its_input(task_server: ReferenceServer) -> None:
    with Client(task_server.url, timeout=10) as client:
        if task_server.era == "modern":
            with pytest.raises(CapabilityNotSupportedError, match="elicitation"):
                client.call_tool("confirm_delete")
        else:  # the server checks the declared capabilities: the tool reports it
            result = client.call_tool("confirm_delete")
            assert result.is_error and "did not declare form elicitation" in result.text


def test_a_lost_poll_is_sent_again_a_lost_start_is_not(
    task_server: ReferenceServer, faults: ServerFaults
) -> None:
    with Client(task_server.url, timeout=10) as client:
        client.list_tools()
        started = client.start_tool_task("slow_compute", {"seconds": 0.2})
        assert isinstance(started, ToolTask)
        faults.lose_replies = 1
        assert (client.task_result(started.task_id)).text.startswith("computed")
        assert len(task_server.lost_replies) == 1
        faults.lose_replies = 1
        with pytest.raises(OutcomeUnknownError, match="may or may not have run"):
            client.start_tool_task("slow_compute", {"seconds": 0.2})
    assert task_server.tool_runs["slow_compute"] == 2
    assert len(task_server.tasks) == 2


def test_a_call_that_times_out_cancels_its_task(task_server: ReferenceServer) -> None:
    with Client(task_server.url, timeout=10) as client:
        with pytest.raises(RequestTimeoutError):
            client.call_tool("failing_job", {}, timeout=0.15)  # 0.3 s of work
        if task_server.era == "modern":
            with pytest.raises(RequestTimeoutError, match="still working"):
                client.call_tool("slow_compute", {"seconds": 30}, timeout=0.3)
    wait_until(lambda: set(task_server.tasks.values()) == {"cancelled"}, 5)
    assert len(posts(task_server, "tasks/cancel")) == len(task_server.tasks)


def test_a_task_past_its_time_to_live_is_given_up(faults: ServerFaults) -> None:
    """2025-11-25 lets the client ask for a time to live; the task outlives it on this
    server, and the client stops waiting (outcome unknown) instead of polling on."""
    with ServerThread.running(faults, era="legacy", tasks=True) as st:
        with Client(st.server.url, timeout=10) as client:
            started = client.start_tool_task("slow_compute", {"seconds": 30}, ttl_ms=300)
            assert isinstance(started, ToolTask) and started.ttl_ms == 300
            with pytest.raises(TaskNotFoundError, match="after its time to live"):
                client.task_result(started.task_id)
            assert (client.get_task(started.task_id)).status == "working"
            client.cancel_task(started.task_id)


@pytest.mark.parametrize("era", ERAS)
def test_a_server_restarted_during_a_task(era: str) -> None:
    """A task id kept by one process, asked about by another after the server restarted.
    The store kept: a finished task's result is still there, a running one failed with
    the restart. A new store: the task is unknown, and nothing is started again."""
    store = TaskStore()
    faults = ServerFaults(session_required=False)  # legacy: tasks that outlive a session
    first = ServerThread(faults, era=era, tasks=store)
    port = urlsplit(first.server.url).port
    try:
        with Client(first.server.url, era=era, timeout=10) as client:  # type: ignore[arg-type]
            done = client.start_tool_task("slow_compute", {"seconds": 0, "label": "a"})
            running = client.start_tool_task("slow_compute", {"seconds": 60})
            assert isinstance(done, ToolTask) and isinstance(running, ToolTask)
            wait_until(lambda: first.server.tasks.get(done.task_id) == "completed", 5)
    finally:
        first.stop()
    with ServerThread.running(faults, era=era, port=port, tasks=store) as again:
        with Client(again.server.url, era=era, timeout=10) as client:  # type: ignore[arg-type]
            assert (client.task_result(done.task_id)).text == "computed a in 0 s"
            with pytest.raises(TaskFailedError, match="the server restarted"):
                client.task_result(running.task_id)
        assert again.server.tool_runs["slow_compute"] == 0
    with ServerThread.running(faults, era=era, port=port, tasks=True) as fresh:
        with Client(fresh.server.url, era=era, timeout=10) as client:  # type: ignore[arg-type]
            with pytest.raises(TaskNotFoundError, match="may or may not have run"):
                client.task_result(done.task_id)
        assert fresh.server.tool_runs["slow_compute"] == 0
        assert dict(fresh.server.tasks) == {}
