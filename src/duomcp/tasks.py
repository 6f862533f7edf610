"""Tasks: a tool call the server runs in the background and the client polls.

Two wire forms exist, and the client speaks both:

- the 2025-11-25 protocol (legacy era): the client asks for a task with ``params.task`` on
  ``tools/call`` (only for tools whose ``execution.taskSupport`` allows it), then polls
  ``tasks/get`` and fetches the outcome with ``tasks/result``;
- the ``io.modelcontextprotocol/tasks`` extension (SEP-2663, modern era): the server alone
  decides to answer ``tools/call`` with a task (``resultType: "task"``); ``tasks/get``
  carries the outcome, and input the task needs is answered with ``tasks/update``.

:meth:`~duomcp.AsyncClient.call_tool` hides all of it: it returns the tool's result
whether or not a task ran. :meth:`~duomcp.AsyncClient.start_tool_task`,
:meth:`~duomcp.AsyncClient.get_task`, :meth:`~duomcp.AsyncClient.task_result` and
:meth:`~duomcp.AsyncClient.cancel_task` expose the lifecycle, for work that outlives a
process (keep the task id, ask for its result later).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from .errors import InvalidResponseError

__all__ = ["TERMINAL_STATUSES", "TaskStatus", "ToolTask"]

TaskStatus = Literal["working", "input_required", "completed", "failed", "cancelled"]
"""The states of a task; the last three are terminal."""

TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
"""The states a task never leaves."""

_STATUSES = frozenset({"working", "input_required", *TERMINAL_STATUSES})
_MAX_MS = 2**53  # larger durations are taken as this (a JSON number can be anything)


@attrs.frozen(kw_only=True)
class ToolTask:
    """A task as the server last described it, in the same shape in both eras."""

    task_id: str
    """The server's id of the task: keep it to ask for the result later."""
    status: TaskStatus
    """``working``, ``input_required``, ``completed``, ``failed`` or ``cancelled``."""
    status_message: str | None = None
    """What the server says about the current state, if anything."""
    created_at: str | None = None
    """When the task was created (ISO 8601, as the server wrote it)."""
    last_updated_at: str | None = None
    """When the task last changed (ISO 8601, as the server wrote it)."""
    ttl_ms: int | None = None
    """How long the server keeps the task after its creation, in milliseconds
    (``None``: no limit given)."""
    poll_interval_ms: int | None = None
    """How often the server would like to be asked, in milliseconds."""

    @property
    def terminal(self) -> bool:
        """Whether the task is over (completed, failed or cancelled)."""
        return self.status in TERMINAL_STATUSES

    @classmethod
    def from_wire(cls, raw: Any, *, what: str = "task") -> ToolTask:
        """A task from either era's wire form (``ttl``/``pollInterval`` of 2025-11-25, or
        ``ttlMs``/``pollIntervalMs`` of the extension).

        Raises:
            InvalidResponseError: ``raw`` is not a task.
        """
        if not isinstance(raw, Mapping):
            raise InvalidResponseError(f"{what} is not an object")
        task_id, status = raw.get("taskId"), raw.get("status")
        if not isinstance(task_id, str) or not task_id:
            raise InvalidResponseError(f"{what} has no taskId")
        if status not in _STATUSES:
            raise InvalidResponseError(f"{what} {task_id!r} has an unknown status {status!r}")
        return cls(
            task_id=task_id,
            status=status,
            status_message=_optional(raw, "statusMessage", str, what),
            created_at=_optional(raw, "createdAt", str, what),
            last_updated_at=_optional(raw, "lastUpdatedAt", str, what),
            ttl_ms=_milliseconds(raw, "ttlMs", "ttl", what),
            poll_interval_ms=_milliseconds(raw, "pollIntervalMs", "pollInterval", what),
        )


def _optional(raw: Mapping[str, Any], key: str, kind: type, what: str) -> Any:
    value = raw.get(key)
    if value is not None and not isinstance(value, kind):
        raise InvalidResponseError(f"{what}: {key} is not a {kind.__name__}")
    return value


def _milliseconds(raw: Mapping[str, Any], key: str, legacy_key: str, what: str) -> int | None:
    value = raw.get(key, raw.get(legacy_key))
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (isinstance(value, float) and not math.isfinite(value))
        or value < 0
    ):
        raise InvalidResponseError(f"{what}: {key} is not a number of milliseconds")
    return min(int(value), _MAX_MS)
