"""The methods of tasks in both eras, over :class:`._tasks.TaskManager`.

Legacy (2025-11-25, only for sessions at that version): the ``tasks`` capability, tools
with ``execution.taskSupport``, ``tools/call`` with ``params.task`` answered by a
``CreateTaskResult``, and ``tasks/get``, ``tasks/result`` (blocks; carries the task's
input requests), ``tasks/list`` and ``tasks/cancel``, scoped to the session.

Modern (the SEP-2663 extension ``io.modelcontextprotocol/tasks``): the server decides;
a request that declares the extension may get a flat ``CreateTaskResult``
(``resultType: "task"``); ``tasks/get`` carries the outcome or the open ``inputRequests``,
``tasks/update`` answers them, ``tasks/cancel`` acknowledges. Without the extension, a tool
that needs a task is refused with -32021 and one that may run without runs at once.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping
from typing import Any

from ._fixtures import TOOLS, TOOLS_PAGE, Tool, _object, _page, _string
from ._modern_fixtures import ModernContext, lacks
from ._session import CallContext, ProtocolFault, Session
from ._task_tools import (
    LEGACY_TASK_TOOLS,
    MODERN_TASK_TOOLS,
    NEEDS_ELICITATION,
    TASK_SUPPORT,
    ask_user_name,
)
from ._tasks import (
    RELATED_TASK,
    TASKS_EXTENSION,
    TaskManager,
    create_task_result,
    detailed_task,
    legacy_task,
    owner_of,
)

__all__ = [
    "LEGACY_CAPABILITY",
    "MODERN_TASK_METHODS",
    "declares_tasks",
    "legacy_tasks_request",
    "listen_task_ids",
    "modern_call",
    "modern_requirement",
    "modern_tasks_request",
]

TASKS_PAGE = 2
"""Tasks per ``tasks/list`` page."""
LEGACY_CAPABILITY: dict[str, Any] = {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}
"""The 2025-11-25 server capability ``tasks``."""
MODERN_TASK_METHODS = frozenset({"tasks/get", "tasks/update", "tasks/cancel"})
"""The extension's methods (``tasks/result`` and ``tasks/list`` do not exist any more)."""
_LEGACY_METHODS = frozenset({"tasks/get", "tasks/result", "tasks/list", "tasks/cancel"})
_EXTENSION: dict[str, Any] = {"extensions": {TASKS_EXTENSION: {}}}
_FORM: dict[str, Any] = {"elicitation": {"form": {}}}


async def run_now(
    tool_runs: collections.Counter[str], tool: Tool, arguments: dict[str, Any], ctx: CallContext
) -> dict[str, Any]:
    """Run a task tool without a task: a failing tool is an ``isError`` result, a
    :class:`ProtocolFault` the request's error."""
    try:
        tool.check(arguments)
        tool_runs[tool.name] += 1
        return await tool.run(ctx, arguments)
    except ProtocolFault:
        raise
    except Exception as exc:
        return {"content": [{"type": "text", "text": str(exc)}], "isError": True}


def _work(tool_runs: collections.Counter[str], tool: Tool, arguments: dict[str, Any]) -> Any:
    async def work(ctx: CallContext) -> dict[str, Any]:
        tool.check(arguments)
        tool_runs[tool.name] += 1
        return await tool.run(ctx, arguments)

    return work


# -- legacy ---------------------------------------------------------------------------------


async def legacy_tasks_request(
    manager: TaskManager,
    tool_runs: collections.Counter[str],
    session: Session,
    method: str,
    params: dict[str, Any],
    ctx: CallContext,
) -> dict[str, Any] | None:
    """Answer a request of a 2025-11-25 session that tasks change; None for the others."""
    if method == "tools/list":
        tools = [tool.definition(session) for tool in TOOLS.values()]
        for tool in LEGACY_TASK_TOOLS.values():
            definition = tool.definition(session)
            definition["execution"] = {"taskSupport": TASK_SUPPORT[tool.name]}
            tools.append(definition)
        return _page(params, "tools", tools, TOOLS_PAGE)
    if method == "tools/call":
        return await _legacy_call(manager, tool_runs, session, params, ctx)
    if method not in _LEGACY_METHODS:
        return None
    owner = owner_of(session)
    if method == "tasks/list":
        records = manager.owned("legacy", owner)
        return _page(params, "tasks", [legacy_task(record) for record in records], TASKS_PAGE)
    record = manager.find(_string(params, "taskId"), "legacy", owner)
    if method == "tasks/get":
        return legacy_task(record)
    if method == "tasks/cancel":
        if record.terminal:
            raise ProtocolFault(
                -32602, f"Cannot cancel task: it has already ended ({record.status})"
            )
        manager.cancel(record)
        return legacy_task(record)
    # tasks/result: its input requests go on this request's stream (JSON replies: the GET
    # stream, if one is open), and it is answered once the task has ended.
    reader = ctx.stream
    if reader is None and session.standalone.has_live_reader():
        reader = session.standalone
    record = await manager.wait(record, reader)
    related = {RELATED_TASK: {"taskId": record.task_id}}
    if record.result is not None:
        meta = record.result.get("_meta")
        return {**record.result, "_meta": {**(meta if isinstance(meta, dict) else {}), **related}}
    if record.status == "cancelled":
        raise ProtocolFault(-32602, f"Task {record.task_id} was cancelled: it has no result")
    error = record.error or {}
    raise ProtocolFault(
        int(error.get("code", -32603)), str(error.get("message", "")), error.get("data")
    )


async def _legacy_call(
    manager: TaskManager,
    tool_runs: collections.Counter[str],
    session: Session,
    params: dict[str, Any],
    ctx: CallContext,
) -> dict[str, Any] | None:
    name = _string(params, "name")
    task = params.get("task")
    tool = LEGACY_TASK_TOOLS.get(name)
    support = TASK_SUPPORT.get(name, "forbidden")
    if task is not None and support == "forbidden":
        if name not in TOOLS and tool is None:
            return None  # an unknown tool: the usual -32602
        raise ProtocolFault(-32601, f"Tool {name} does not support task-augmented execution")
    if tool is None:
        return None
    arguments = _object(params, "arguments")
    if task is None:
        if support == "required":
            raise ProtocolFault(-32601, f"Tool {name} requires task-augmented execution")
        return await run_now(tool_runs, tool, arguments, ctx)
    if not isinstance(task, dict):
        raise ProtocolFault(-32602, "Invalid params: 'task' must be an object")
    ttl = task.get("ttl")
    if ttl is not None and (not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 0):
        raise ProtocolFault(-32602, "Invalid params: 'task.ttl' must be a non-negative integer")
    work = _work(tool_runs, tool, arguments)
    record = manager.start(
        work, tool=name, era="legacy", session=session, params=params, ttl_ms=ttl
    )
    return {"task": legacy_task(record)}


# -- modern ---------------------------------------------------------------------------------


def declares_tasks(capabilities: Mapping[str, Any]) -> bool:
    """Whether a modern request's client capabilities declare the tasks extension."""
    extensions = capabilities.get("extensions")
    return isinstance(extensions, dict) and isinstance(extensions.get(TASKS_EXTENSION), dict)


def modern_requirement(
    method: str, params: Mapping[str, Any], capabilities: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The client capabilities a modern request lacks to be served (for -32021), or None."""
    needed: dict[str, Any] = {}
    if method in MODERN_TASK_METHODS and not declares_tasks(capabilities):
        needed.update(_EXTENSION)
    if method == "tools/call":
        name = params.get("name")
        if TASK_SUPPORT.get(str(name)) == "required" and not declares_tasks(capabilities):
            needed.update(_EXTENSION)
        if name in NEEDS_ELICITATION and lacks(capabilities, _FORM):
            needed.update(_FORM)
    return needed or None


async def modern_call(
    manager: TaskManager,
    tool_runs: collections.Counter[str],
    params: dict[str, Any],
    ctx: ModernContext,
) -> dict[str, Any] | None:
    """A modern ``tools/call`` of a task tool (None for other tools)."""
    name = _string(params, "name")
    tool = MODERN_TASK_TOOLS.get(name)
    if tool is None:
        return None
    arguments = _object(params, "arguments")
    if TASK_SUPPORT[name] == "forbidden" or not declares_tasks(ctx.client_capabilities):
        return await run_now(tool_runs, tool, arguments, ctx)
    if name == "test_tool_with_task":  # MRTR first, then the task
        answer = ctx.answer("user_name")
        if answer is None:
            return ctx.input_required({"user_name": ask_user_name()}, round=1)
        content = answer.get("content")
        user = content.get("name") if isinstance(content, dict) else None
        arguments = {"user_name": str(user) if user is not None else "stranger"}
    work = _work(tool_runs, tool, arguments)
    record = manager.start(work, tool=name, era="modern", session=ctx.session, params=params)
    return create_task_result(record)


def modern_tasks_request(
    manager: TaskManager, method: str, params: dict[str, Any]
) -> dict[str, Any]:
    """``tasks/get``, ``tasks/update`` or ``tasks/cancel`` (the extension was checked)."""
    record = manager.find(_string(params, "taskId"), "modern", None)
    if method == "tasks/get":
        return detailed_task(record, manager.inputs(record))
    if method == "tasks/update":
        responses = params.get("inputResponses")
        if not isinstance(responses, dict):
            raise ProtocolFault(-32602, "Invalid params: 'inputResponses' must be an object")
        manager.answer(record, responses)
        return {}
    manager.cancel(record)  # tasks/cancel: an ended task is acknowledged all the same
    return {}


def listen_task_ids(manager: TaskManager, asked: Any) -> list[str]:
    """The task ids of a ``subscriptions/listen`` request that name modern tasks."""
    granted: list[str] = []
    for task_id in asked if isinstance(asked, list) else ():
        record = manager.store.find(task_id) if isinstance(task_id, str) else None
        if record is not None and record.era == "modern":
            granted.append(task_id)
    return granted
