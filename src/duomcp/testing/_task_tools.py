"""The tools a reference server with tasks offers (their names are the conformance suite's).

Each tool has a task support: ``forbidden`` (always run at once), ``optional`` (a task when
the client allows one, else at once) or ``required`` (only as a task). The tools ask for
input with ``ctx.request``: run as a task, that goes through the task (see
:class:`._tasks.TaskContext`). Nothing here knows either era's wire.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Literal

from ._fixtures import Tool
from ._session import CallContext, ProtocolFault, ToolFailure

__all__ = [
    "LEGACY_TASK_TOOLS",
    "MODERN_TASK_TOOLS",
    "NEEDS_ELICITATION",
    "TASK_SUPPORT",
    "TaskSupport",
    "ask_user_name",
]

TaskSupport = Literal["forbidden", "optional", "required"]

FAILING_JOB_SECONDS = 0.3
"""How long ``failing_job`` works before it reports its error."""


def _text(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}]}


def _form(message: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": required}
    return {"mode": "form", "message": message, "requestedSchema": schema}


def _answer_text(answer: dict[str, Any]) -> str:
    return json.dumps({k: answer[k] for k in ("action", "content") if k in answer}, sort_keys=True)


async def _elicit(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    declared = ctx.client_capabilities.get("elicitation")
    if not isinstance(declared, dict) or (declared and "form" not in declared):
        raise ToolFailure("the client did not declare form elicitation")
    return await ctx.request("elicitation/create", params)


async def _greet(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    return _text(f"Hello, {args['name']}!")


async def _slow_compute(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    seconds = args["seconds"]
    await asyncio.sleep(seconds)
    return _text(f"computed {args.get('label', 'a result')} in {seconds} s")


async def _failing_job(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    await asyncio.sleep(FAILING_JOB_SECONDS)
    raise ToolFailure("failing_job failed, as it always does")


async def _protocol_error_job(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    await asyncio.sleep(0.05)
    raise ProtocolFault(-32603, "protocol_error_job hit an internal error, as it always does")


async def _confirm_delete(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    filename = args.get("filename", "file.txt")
    params = _form(f"Delete {filename}?", {"confirm": {"type": "boolean"}}, ["confirm"])
    answer = await _elicit(ctx, params)
    content = answer.get("content")
    confirmed = isinstance(content, dict) and content.get("confirm") is True
    done = "deleted" if answer.get("action") == "accept" and confirmed else "kept"
    return _text(f"{done} {filename} (answer: {_answer_text(answer)})")


async def _multi_input(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    name = _form("What is your name?", {"name": {"type": "string"}}, ["name"])
    confirm = _form("Shall I go on?", {"confirm": {"type": "boolean"}}, ["confirm"])
    first, second = await asyncio.gather(_elicit(ctx, name), _elicit(ctx, confirm))
    return _text(f"answers: {_answer_text(first)} and {_answer_text(second)}")


async def _hello_user(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    await asyncio.sleep(0.1)
    return _text(f"Hello, {args.get('user_name', 'stranger')}! (a name asked for before the task)")


def ask_user_name() -> dict[str, Any]:
    """The MRTR input request ``test_tool_with_task`` makes before it starts its task."""
    params = _form("What is your name?", {"name": {"type": "string"}}, ["name"])
    return {"method": "elicitation/create", "params": params}


_STR = {"type": "string"}
LEGACY_TASK_TOOLS: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool("greet", "Say hello (never a task).", _greet, {"name": _STR}, ("name",)),
        Tool(
            "slow_compute",
            "Work for `seconds`, then report (a task if the client allows; cancellable).",
            _slow_compute,
            {"seconds": {"type": "number", "minimum": 0, "maximum": 600}, "label": _STR},
            ("seconds",),
        ),
        Tool("failing_job", "A task that ends with a tool error (isError).", _failing_job),
        Tool(
            "protocol_error_job",
            "Fail with a JSON-RPC error (-32603): a failed task.",
            _protocol_error_job,
        ),
        Tool(
            "confirm_delete",
            "A task that asks the user to confirm (one elicitation), then reports.",
            _confirm_delete,
            {"filename": _STR},
        ),
        Tool("multi_input", "A task that asks two elicitations at once.", _multi_input),
    )
}
"""The task tools of a legacy (2025-11-25) session."""

MODERN_TASK_TOOLS: dict[str, Tool] = {
    **LEGACY_TASK_TOOLS,
    "test_tool_with_task": Tool(
        "test_tool_with_task",
        "Ask the user's name (MRTR), then greet them from a task.",
        _hello_user,
    ),
}
"""The task tools of the modern era."""

TASK_SUPPORT: dict[str, TaskSupport] = {
    "greet": "forbidden",
    "slow_compute": "optional",
    "failing_job": "required",
    "protocol_error_job": "optional",
    "confirm_delete": "required",
    "multi_input": "required",
    "test_tool_with_task": "required",
}
"""How each task tool may run."""

NEEDS_ELICITATION = frozenset({"confirm_delete", "multi_input", "test_tool_with_task"})
"""The task tools that ask the user (form elicitation)."""
