"""Long-running tools as tasks, in both protocol eras, with the blocking client.

Starts the reference server with tasks (one legacy, 2025-11-25 tasks; one modern, the
io.modelcontextprotocol/tasks extension) and, on each: calls a tool that runs as a task
and asks for a confirmation on the way; starts a task, keeps only its id, and collects
the result later (modern: from a second client, as another process would); cancels
a task.

Run: .venv/bin/python examples/tasks.py
"""

from __future__ import annotations

import logging
import subprocess
import sys

from duomcp import Client, TaskCancelledError, ToolTask
from duomcp.types import ElicitRequestFormParams, ElicitRequestURLParams, ElicitResult


def confirm(params: ElicitRequestFormParams | ElicitRequestURLParams) -> ElicitResult:
    print(f"  the task asks: {params.message}")
    return ElicitResult(action="accept", content={"confirm": True})


def show(task: ToolTask) -> None:
    print(f"  task {task.status}")


def tour(url: str, era: str) -> None:
    print(f"{era} server")
    with Client(url, elicitation_handler=confirm, on_task_status=show, timeout=10) as client:
        result = client.call_tool("confirm_delete", {"filename": "old.txt"})
        print(f"  confirm_delete -> {result.text}")
        started = client.start_tool_task("slow_compute", {"seconds": 0.3, "label": "report"})
        assert isinstance(started, ToolTask)
        task_id = started.task_id
        doomed = client.start_tool_task("slow_compute", {"seconds": 60})
        assert isinstance(doomed, ToolTask)
        client.cancel_task(doomed.task_id)
        try:
            client.task_result(doomed.task_id)
        except TaskCancelledError:
            print("  slow_compute(60 s) -> cancelled")
        if era == "legacy":  # 2025-11-25 tasks belong to the session that started them
            print(f"  later: {client.task_result(task_id).text}")
    if era == "modern":  # the extension's task ids are all another process needs
        with Client(url, timeout=10) as later:
            print(f"  later, from another client: {later.task_result(task_id).text}")


def main() -> None:
    logging.getLogger("duomcp").setLevel(logging.ERROR)  # the modern server's odd tools
    for era in ("legacy", "modern"):
        server = subprocess.Popen(
            [sys.executable, "-m", "duomcp.testing", "--port", "0", "--era", era, "--tasks"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            tour(server.stdout.readline().strip(), era)  # the server prints its endpoint first
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
