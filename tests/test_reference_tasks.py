"""Tasks on the reference server (``ReferenceServer(tasks=...)``), over real sockets.

The modern era (the SEP-2663 extension) is checked by the official conformance suite's
``tasks-*`` server scenarios (pre-release suite, Node 22); the legacy era (the 2025-11-25
tasks utility), the status notifications and restarts by hand, with aiohttp and raw JSON.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from duomcp.testing import ReferenceServer, ServerFaults, TaskStore

from .conftest import ServerThread
from .test_reference_server import ModernPeer, Peer, response_of, sse_events

ROOT = Path(__file__).resolve().parents[1]
NODE = ROOT / ".ci-cache" / "node" / "node_modules" / ".bin" / "node"
NEXT_SUITE = ROOT / ".ci-cache" / "conformance-next" / "node_modules" / ".bin" / "conformance"

EXT = "io.modelcontextprotocol/tasks"
RELATED = "io.modelcontextprotocol/related-task"
TASK_CAPS: dict[str, Any] = {"elicitation": {"form": {}}, "extensions": {EXT: {}}}
LEGACY_CAPABILITY = {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}
TASK_TOOLS = {
    "greet": "forbidden",
    "slow_compute": "optional",
    "failing_job": "required",
    "protocol_error_job": "optional",
    "confirm_delete": "required",
    "multi_input": "required",
}

# -- the conformance suite's tasks scenarios (modern era) -----------------------------------

# Every check each scenario reports; all must be SUCCESS (tasks-status-notifications is
# skipped by design in this suite version: its harness awaits a rewrite).
SCENARIOS: dict[str, list[str]] = {
    "tasks-lifecycle": [
        "tasks-sync-tool-call",
        "sep-2663-result-type-task-on-create",
        "sep-2663-tasks-get-status-working",
        "sep-2663-tasks-get-status-completed",
        "sep-2663-tool-error-uses-completed-status",
        "sep-2663-tasks-get-status-failed",
        "sep-2663-cancel-ack-empty-result",
        "tasks-cancel-terminal-idempotent-ack",
    ],
    "tasks-capability-negotiation": [
        "tasks-extension-advertised",
        "sep-2663-tasks-methods-non-declaring",
        "sep-2663-server-rejects-undeclared-client",
        "tasks-per-request-meta-opt-in",
    ],
    "tasks-wire-fields": [
        "tasks-wire-field-renames",
        "tasks-no-early-ttl-expiry",
        "tasks-no-related-task-meta-on-inlined-result",
    ],
    "tasks-request-state-removal": [
        "tasks-create-result-no-request-state",
        "tasks-get-detailed-no-request-state",
    ],
    "tasks-mrtr-input": [
        "sep-2663-tasks-get-status-input-required",
        "tasks-mrtr-tasks-update-resumes",
        "tasks-mrtr-partial-fulfillment",
    ],
    "tasks-request-headers": [
        "tasks-headers-tolerate-mcp-method-on-tools-call",
        "sep-2663-routing-headers-accepted-on-tasks-get",
        "tasks-headers-reject-mismatched-method",
        "sep-2663-server-rejects-mismatched-mcp-name-on-tasks-get",
    ],
    "tasks-dispatch-and-envelope": [
        "sep-2663-tasks-result-removed-method-not-found",
        "tasks-removed-tasks-list",
        "tasks-server-directed-creation-no-hint",
        "sep-2663-legacy-task-param-ignored",
        "tasks-immediate-result-shortcut",
        "tasks-result-type-complete-on-non-task-responses",
        "sep-2663-durable-create-strong-consistency",
        "sep-2663-tasks-get-invalid-task-id-32602",
    ],
    "tasks-required-task-error": [
        "sep-2663-server-returns-missing-capability-when-required",
        "sep-2663-server-returns-missing-capability-data-shape",
    ],
    "tasks-mrtr-composition": ["sep-2663-mrtr-synchronous-before-task-creation"],
}


@pytest.fixture(scope="module")
def tasks_thread() -> Iterator[ServerThread]:
    """One modern server with tasks for every scenario (each makes its own tasks)."""
    with ServerThread.running(ServerFaults(), era="modern", tasks=True) as st:
        yield st


def _run_scenario(url: str, scenario: str) -> list[dict[str, Any]]:
    assert NODE.exists() and NEXT_SUITE.exists(), (
        f"the conformance suite is not installed at {NEXT_SUITE}: run bash .ci/install-node.sh"
    )
    command = [str(NODE), str(NEXT_SUITE), "server", "--url", url, "--scenario", scenario]
    proc = subprocess.run(
        [*command, "--verbose"], capture_output=True, text=True, timeout=100, cwd=ROOT
    )
    report = f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}"
    assert "[" in proc.stdout, report
    checks, _ = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("[") :])
    assert proc.returncode == 0, report
    return list(checks)


@pytest.mark.node
@pytest.mark.timeout(110)
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_tasks_conformance_scenario(tasks_thread: ServerThread, scenario: str) -> None:
    checks = _run_scenario(tasks_thread.server.url, scenario)
    statuses = {check["id"]: check["status"] for check in checks}
    failures = [check for check in checks if check["status"] != "SUCCESS"]
    assert not failures, json.dumps(failures, indent=1)[:6000]
    assert set(statuses) == {*SCENARIOS[scenario], "wire-schema-valid"}, statuses


@pytest.mark.node
@pytest.mark.timeout(110)
def test_tasks_status_notifications_scenario_is_skipped(tasks_thread: ServerThread) -> None:
    checks = _run_scenario(tasks_thread.server.url, "tasks-status-notifications")
    assert [(c["id"], c["status"]) for c in checks] == [("tasks-status-notifications", "SKIPPED")]


# -- legacy era (2025-11-25) ----------------------------------------------------------------


@pytest.fixture
def store() -> TaskStore:
    return TaskStore()


@pytest.fixture
async def tasks_server(faults: ServerFaults, store: TaskStore) -> AsyncIterator[ReferenceServer]:
    async with ReferenceServer(faults=faults, tasks=store, task_poll_interval_ms=250) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def port_of(url: str) -> int:
    port = URL(url).port
    assert port is not None
    return port


async def legacy_peer(
    http: aiohttp.ClientSession, url: str, capabilities: dict[str, Any] | None = None
) -> Peer:
    peer = Peer(http, url)
    await peer.initialize("2025-11-25", capabilities or {"elicitation": {"form": {}}})
    return peer


async def result_of(peer: Peer, method: str, params: dict[str, Any]) -> dict[str, Any]:
    reply = await peer.request(method, params)
    assert "result" in reply, reply
    result: dict[str, Any] = reply["result"]
    return result


async def error_of(peer: Peer, method: str, params: dict[str, Any]) -> dict[str, Any]:
    reply = await peer.request(method, params)
    assert "error" in reply, reply
    error: dict[str, Any] = reply["error"]
    return error


async def start(peer: Peer, name: str, arguments: dict[str, Any], **task: Any) -> dict[str, Any]:
    created = await result_of(
        peer, "tools/call", {"name": name, "arguments": arguments, "task": task}
    )
    assert set(created) == {"task"}, created
    return dict(created["task"])


async def until(peer: Peer, task_id: str, *statuses: str) -> dict[str, Any]:
    for _ in range(200):
        task = await result_of(peer, "tasks/get", {"taskId": task_id})
        if task["status"] in statuses:
            return task
        await asyncio.sleep(0.025)
    raise AssertionError(f"task {task_id} never reached {statuses}: {task}")


async def test_legacy_capability_and_tools(
    tasks_server: ReferenceServer, http: aiohttp.ClientSession
) -> None:
    peer = Peer(http, tasks_server.url)
    reply = await peer.initialize("2025-11-25")
    assert reply["result"]["capabilities"]["tasks"] == LEGACY_CAPABILITY
    tools: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = await result_of(peer, "tools/list", {"cursor": cursor} if cursor else {})
        tools += page["tools"]
        cursor = page.get("nextCursor")
        if cursor is None:
            break
    support = {t["name"]: t["execution"]["taskSupport"] for t in tools if "execution" in t}
    assert support == TASK_TOOLS
    assert "test_tool_with_task" not in {tool["name"] for tool in tools}  # modern only
    # an older session knows nothing of tasks
    old = Peer(http, tasks_server.url)
    reply = await old.initialize("2025-06-18")
    assert "tasks" not in reply["result"]["capabilities"]
    names = {tool["name"] for tool in (await result_of(old, "tools/list", {}))["tools"]}
    assert not names & set(TASK_TOOLS)
    assert (await error_of(old, "tasks/get", {"taskId": "x"}))["code"] == -32601
    # nor does a server without tasks
    async with ReferenceServer() as plain:
        reply = await Peer(http, plain.url).initialize("2025-11-25")
        assert "tasks" not in reply["result"]["capabilities"]
        assert plain.tasks == {} and plain.task_store is None


async def test_legacy_task_lifecycle(
    tasks_server: ReferenceServer, http: aiohttp.ClientSession, store: TaskStore
) -> None:
    peer = await legacy_peer(http, tasks_server.url)
    task = await start(peer, "slow_compute", {"seconds": 0.3, "label": "x"}, ttl=10**9)
    assert task["status"] == "working"
    assert task["ttl"] == store.max_ttl_ms and task["pollInterval"] == 250
    assert {"createdAt", "lastUpdatedAt", "taskId"} <= set(task)
    task_id = task["taskId"]
    assert tasks_server.tasks == {task_id: "working"}
    got = await result_of(peer, "tasks/get", {"taskId": task_id})
    assert got["taskId"] == task_id and got["status"] == "working"
    outcome = await result_of(peer, "tasks/result", {"taskId": task_id})  # blocks until done
    assert outcome["content"] == [{"type": "text", "text": "computed x in 0.3 s"}]
    assert outcome["_meta"][RELATED] == {"taskId": task_id}
    assert (await result_of(peer, "tasks/get", {"taskId": task_id}))["status"] == "completed"
    assert tasks_server.tasks[task_id] == "completed"
    assert tasks_server.tool_runs["slow_compute"] == 1
    # a ttl within bounds is granted as asked, none gets the default
    short = await start(peer, "slow_compute", {"seconds": 0}, ttl=5000)
    assert short["ttl"] == 5000
    assert (await start(peer, "slow_compute", {"seconds": 0}))["ttl"] == store.default_ttl_ms


async def test_legacy_task_support_rules(
    tasks_server: ReferenceServer, http: aiohttp.ClientSession
) -> None:
    peer = await legacy_peer(http, tasks_server.url)

    async def call(name: str, **params: Any) -> dict[str, Any]:
        arguments = {"name": "Ada"} if name == "greet" else {"seconds": 0}
        return await peer.request("tools/call", {"name": name, "arguments": arguments, **params})

    assert (await call("failing_job"))["error"]["code"] == -32601  # required: task only
    assert (await call("confirm_delete"))["error"]["code"] == -32601
    assert (await call("greet", task={}))["error"]["code"] == -32601  # forbidden
    assert (await call("echo", task={}))["error"]["code"] == -32601  # no task support
    assert (await call("nope", task={}))["error"]["code"] == -32602  # unknown tool
    assert (await call("slow_compute", task=[]))["error"]["code"] == -32602
    assert (await call("slow_compute", task={"ttl": -1}))["error"]["code"] == -32602
    greeting = (await call("greet"))["result"]
    assert greeting["content"] == [{"type": "text", "text": "Hello, Ada!"}]
    assert "content" in (await call("slow_compute"))["result"]  # optional: may run at once
    assert (await call("protocol_error_job"))["error"]["code"] == -32603
    assert tasks_server.tasks == {}


async def test_legacy_failed_tasks(
    tasks_server: ReferenceServer, http: aiohttp.ClientSession
) -> None:
    peer = await legacy_peer(http, tasks_server.url)
    # 2025-11-25: a tool result with isError fails the task; tasks/result returns it
    failing = await start(peer, "failing_job", {})
    outcome = await result_of(peer, "tasks/result", {"taskId": failing["taskId"]})
    assert outcome["isError"] is True and outcome["_meta"][RELATED]["taskId"]
    task = await result_of(peer, "tasks/get", {"taskId": failing["taskId"]})
    assert task["status"] == "failed" and task["statusMessage"]
    # a JSON-RPC error fails it too; tasks/result answers with that error
    broken = await start(peer, "protocol_error_job", {})
    error = await error_of(peer, "tasks/result", {"taskId": broken["taskId"]})
    assert error["code"] == -32603 and "protocol_error_job" in error["message"]
    assert (await result_of(peer, "tasks/get", {"taskId": broken["taskId"]}))["status"] == "failed"


async def test_legacy_list_cancel_and_scope(
    tasks_server: ReferenceServer, http: aiohttp.ClientSession
) -> None:
    peer = await legacy_peer(http, tasks_server.url)
    ids = [(await start(peer, "slow_compute", {"seconds": 60}))["taskId"] for _ in range(3)]
    listed: list[str] = []
    page = await result_of(peer, "tasks/list", {})
    listed += [task["taskId"] for task in page["tasks"]]
    assert len(page["tasks"]) == 2 and "nextCursor" in page
    page = await result_of(peer, "tasks/list", {"cursor": page["nextCursor"]})
    listed += [task["taskId"] for task in page["tasks"]]
    assert "nextCursor" not in page and listed == ids
    assert (await error_of(peer, "tasks/list", {"cursor": "bogus"}))["code"] == -32602
    cancelled = await result_of(peer, "tasks/cancel", {"taskId": ids[0]})
    assert cancelled["taskId"] == ids[0] and cancelled["status"] == "cancelled"
    assert tasks_server.tasks[ids[0]] == "cancelled"
    assert (await error_of(peer, "tasks/cancel", {"taskId": ids[0]}))["code"] == -32602
    assert (await error_of(peer, "tasks/result", {"taskId": ids[0]}))["code"] == -32602
    for method in ("tasks/get", "tasks/result", "tasks/cancel"):
        assert (await error_of(peer, method, {"taskId": "unknown"}))["code"] == -32602
    # another session sees none of them
    other = await legacy_peer(http, tasks_server.url)
    assert (await result_of(other, "tasks/list", {}))["tasks"] == []
    assert (await error_of(other, "tasks/get", {"taskId": ids[1]}))["code"] == -32602
    assert (await error_of(other, "tasks/cancel", {"taskId": ids[1]}))["code"] == -32602
    assert tasks_server.tasks[ids[1]] == "working"


@pytest.mark.parametrize("tool", ["confirm_delete", "multi_input"])
async def test_legacy_input_arrives_on_the_tasks_result_stream(
    tasks_server: ReferenceServer, http: aiohttp.ClientSession, tool: str
) -> None:
    peer = await legacy_peer(http, tasks_server.url)
    task_id = (await start(peer, tool, {"filename": "a.txt"} if tool == "confirm_delete" else {}))[
        "taskId"
    ]
    task = await until(peer, task_id, "input_required")
    assert task["status"] == "input_required"
    asked: list[dict[str, Any]] = []
    answer = {"action": "accept", "content": {"confirm": True, "name": "Ada"}}
    outcome: dict[str, Any] | None = None
    async with peer.post(peer.message("tasks/result", {"taskId": task_id})) as resp:
        assert resp.content_type == "text/event-stream"
        async for event in sse_events(resp):
            message = json.loads(event["data"]) if event["data"] else {}
            if message.get("method") == "elicitation/create":
                asked.append(message)
                assert message["params"]["_meta"][RELATED] == {"taskId": task_id}
                reply = {"jsonrpc": "2.0", "id": message["id"], "result": answer}
                async with peer.post(reply) as answered:
                    assert answered.status == 202
            elif "result" in message or "error" in message:
                outcome = message
                break
    assert len(asked) == (1 if tool == "confirm_delete" else 2)
    assert outcome is not None and "result" in outcome, outcome
    text = outcome["result"]["content"][0]["text"]
    assert '"confirm": true' in text
    if tool == "confirm_delete":
        assert text.startswith("deleted a.txt")
    assert outcome["result"]["_meta"][RELATED] == {"taskId": task_id}
    assert (await result_of(peer, "tasks/get", {"taskId": task_id}))["status"] == "completed"


async def test_legacy_status_notifications_on_the_get_stream(
    tasks_server: ReferenceServer, http: aiohttp.ClientSession
) -> None:
    peer = await legacy_peer(http, tasks_server.url)
    seen: list[dict[str, Any]] = []
    async with peer.get() as stream:
        assert stream.status == 200  # the server knows its reader once the headers are sent
        task_id = (await start(peer, "slow_compute", {"seconds": 0.1}))["taskId"]
        async for event in sse_events(stream):
            message = json.loads(event["data"]) if event["data"] else {}
            if message.get("method") == "notifications/tasks/status":
                seen.append(message["params"])
                if message["params"]["status"] == "completed":
                    break
    assert [params["taskId"] for params in seen] == [task_id]
    assert seen[0]["status"] == "completed" and seen[0]["ttl"] and "pollInterval" in seen[0]


# -- restarts -------------------------------------------------------------------------------


async def test_legacy_restart_keeps_tasks_with_the_store(http: aiohttp.ClientSession) -> None:
    store = TaskStore()
    faults = ServerFaults(session_required=False)  # no session ids: one context survives
    first = ReferenceServer(faults=faults, tasks=store)
    url = await first.start()
    peer = await legacy_peer(http, url)
    done = (await start(peer, "slow_compute", {"seconds": 0}))["taskId"]
    await result_of(peer, "tasks/result", {"taskId": done})
    running = (await start(peer, "slow_compute", {"seconds": 60}))["taskId"]
    await first.close()
    assert first.tasks == {done: "completed", running: "failed"}

    async with ReferenceServer(faults=faults, tasks=store, port=port_of(first.url)) as second:
        peer = await legacy_peer(http, second.url)
        assert (await result_of(peer, "tasks/get", {"taskId": done}))["status"] == "completed"
        outcome = await result_of(peer, "tasks/result", {"taskId": done})
        assert outcome["content"][0]["text"] == "computed a result in 0 s"
        lost = await result_of(peer, "tasks/get", {"taskId": running})
        assert lost["status"] == "failed" and lost["statusMessage"] == "the server restarted"
        error = await error_of(peer, "tasks/result", {"taskId": running})
        assert error == {"code": -32603, "message": "the server restarted"}
        listed = [task["taskId"] for task in (await result_of(peer, "tasks/list", {}))["tasks"]]
        assert listed == [done, running]

    async with ReferenceServer(faults=faults, tasks=True, port=port_of(first.url)) as third:
        peer = await legacy_peer(http, third.url)
        for task_id in (done, running):
            assert (await error_of(peer, "tasks/get", {"taskId": task_id}))["code"] == -32602
        assert third.tasks == {}


async def test_modern_restart_keeps_tasks_with_the_store(http: aiohttp.ClientSession) -> None:
    store = TaskStore()
    first = ReferenceServer(era="modern", tasks=store)
    await first.start()
    peer = ModernPeer(http, first.url)
    call = {"name": "slow_compute", "arguments": {"seconds": 0}}
    done = (await peer.result("tools/call", call, caps=TASK_CAPS))["taskId"]
    call = {"name": "slow_compute", "arguments": {"seconds": 60}}
    running = (await peer.result("tools/call", call, caps=TASK_CAPS))["taskId"]
    for _ in range(100):
        if first.tasks[done] == "completed":
            break
        await asyncio.sleep(0.01)
    await first.close()

    async def get(url: str, task_id: str) -> tuple[int, dict[str, Any]]:
        message = peer.message("tasks/get", {"taskId": task_id}, caps=TASK_CAPS)
        async with http.post(
            url, json=message, headers=peer.headers(message, **{"Mcp-Name": task_id})
        ) as resp:
            return resp.status, await response_of(resp)

    async with ReferenceServer(era="modern", tasks=store, port=port_of(first.url)) as second:
        _, reply = await get(second.url, done)
        assert reply["result"]["status"] == "completed" and reply["result"]["result"]["content"]
        _, reply = await get(second.url, running)
        assert reply["result"]["status"] == "failed"
        assert reply["result"]["error"] == {"code": -32603, "message": "the server restarted"}
    async with ReferenceServer(era="modern", tasks=True, port=port_of(first.url)) as third:
        _, reply = await get(third.url, done)
        assert reply["error"]["code"] == -32602


# -- modern extras (no Node needed) ---------------------------------------------------------


async def test_modern_status_notifications_on_a_listen_stream(http: aiohttp.ClientSession) -> None:
    async with ReferenceServer(era="modern", tasks=True) as server:
        peer = ModernPeer(http, server.url)
        listen = peer.message("subscriptions/listen", {"notifications": {"taskIds": ["x"]}})
        status, reply = await peer.send(listen)  # without the extension: refused
        assert (status, reply["error"]["code"]) == (400, -32021)
        assert reply["error"]["data"] == {"requiredCapabilities": {"extensions": {EXT: {}}}}
        call = {"name": "slow_compute", "arguments": {"seconds": 0.5}}
        task_id = (await peer.result("tools/call", call, caps=TASK_CAPS))["taskId"]
        listen = peer.message(
            "subscriptions/listen", {"notifications": {"taskIds": [task_id, "x"]}}, caps=TASK_CAPS
        )
        seen: list[dict[str, Any]] = []
        async with peer.post(listen) as resp:
            async for event in sse_events(resp):
                message = json.loads(event["data"])
                if message["method"] == "notifications/subscriptions/acknowledged":
                    assert message["params"]["notifications"] == {"taskIds": [task_id]}
                elif message["method"] == "notifications/tasks":
                    seen.append(message["params"])
                    if message["params"]["status"] == "completed":
                        break
        assert seen[-1]["taskId"] == task_id and seen[-1]["result"]["content"]
        assert seen[-1]["_meta"]["io.modelcontextprotocol/subscriptionId"] == listen["id"]
