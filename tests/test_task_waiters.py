"""Several waiters on one task (both flavours: coroutines, and threads sharing a Client):
each input request the task makes reaches the handler once, and is answered once."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from duomcp import AsyncClient, Client, ToolTask
from duomcp.testing import ReferenceServer, ServerFaults
from duomcp.types import ElicitRequestFormParams, ElicitRequestURLParams, ElicitResult

from .conftest import ServerThread


@pytest.fixture
def modern_tasks(faults: ServerFaults) -> Iterator[ReferenceServer]:
    with ServerThread.running(faults, era="modern", tasks=True) as st:
        yield st.server


def updates(server: ReferenceServer) -> list[Any]:
    return [
        r.body
        for r in server.requests
        if isinstance(r.body, dict) and r.body.get("method") == "tasks/update"
    ]


async def test_two_coroutines_waiting_answer_once(modern_tasks: ReferenceServer) -> None:
    asked: list[str] = []

    async def answer(params: ElicitRequestFormParams | ElicitRequestURLParams) -> ElicitResult:
        asked.append(params.message)
        await asyncio.sleep(0.3)  # both waiters see the request pending meanwhile
        return ElicitResult(action="accept", content={"confirm": True})

    async with AsyncClient(modern_tasks.url, timeout=10, elicitation_handler=answer) as client:
        task = await client.start_tool_task("confirm_delete", {"filename": "x"})
        assert isinstance(task, ToolTask)
        first, second = await asyncio.gather(
            client.task_result(task.task_id), client.task_result(task.task_id)
        )
    assert first.text == second.text and first.text.startswith("deleted x")
    assert len(asked) == 1 and len(updates(modern_tasks)) == 1


def test_two_threads_waiting_answer_once(modern_tasks: ReferenceServer) -> None:
    asked: list[str] = []

    def answer(params: ElicitRequestFormParams | ElicitRequestURLParams) -> ElicitResult:
        asked.append(params.message)
        threading.Event().wait(0.3)
        return ElicitResult(action="accept", content={"confirm": True})

    with Client(modern_tasks.url, timeout=10, elicitation_handler=answer) as client:
        task = client.start_tool_task("confirm_delete", {"filename": "x"})
        assert isinstance(task, ToolTask)
        texts: list[str] = []
        threads = [
            threading.Thread(target=lambda: texts.append(client.task_result(task.task_id).text))
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert len(texts) == 2 and texts[0] == texts[1]
    assert len(asked) == 1 and len(updates(modern_tasks)) == 1
