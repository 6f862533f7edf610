"""Tasks of the reference server: the store that may outlive a server, and the runner.

:class:`TaskStore` holds every task's state as plain data (no event loop in it), so a test
can close a server and start another one on the same store, as a server restart that kept
its database. :class:`TaskManager` (one per server) runs each task's tool in the
background, records its status changes, carries the input it asks for (a legacy task's
requests go out on a ``tasks/result`` stream, a modern task's wait in ``inputRequests``
until ``tasks/update``) and, when its server closes, fails the tasks still running with
"the server restarted". The wire shapes of a task in either era are here too.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any, Literal

import attrs

from ._session import CallContext, ProtocolFault, Session, encode_message
from ._streams import Event, EventStream

__all__ = [
    "RELATED_TASK",
    "RESTARTED",
    "TASKS_EXTENSION",
    "TERMINAL",
    "TaskContext",
    "TaskManager",
    "TaskRecord",
    "TaskStatuses",
    "TaskStore",
    "create_task_result",
    "detailed_task",
    "legacy_task",
]

TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
"""The modern (SEP-2663) tasks extension's identifier."""
RELATED_TASK = "io.modelcontextprotocol/related-task"
"""The ``_meta`` key tying a legacy message to its task."""
TERMINAL = frozenset({"completed", "failed", "cancelled"})
"""The statuses a task never leaves."""
RESTARTED: dict[str, Any] = {"code": -32603, "message": "the server restarted"}
"""The error of a task that was still running when its server closed."""

WAITING = "input_required"
Era = Literal["legacy", "modern"]
Work = Callable[[CallContext], Awaitable[dict[str, Any]]]


def _iso(stamp: float) -> str:
    moment = datetime.fromtimestamp(stamp, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@attrs.define(eq=False)
class TaskRecord:
    """One task's state: what ``tasks/get`` reports, and its outcome once terminal."""

    task_id: str
    era: Era
    owner: str | None
    """Legacy: the session context the task belongs to; modern: None (the id is the key)."""
    tool: str
    ttl_ms: int
    poll_interval_ms: int
    created: float = attrs.field(factory=time.time)
    updated: float = attrs.field(factory=time.time)
    status: str = "working"
    status_message: str | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    @property
    def terminal(self) -> bool:
        """Whether the task has ended (completed, failed or cancelled)."""
        return self.status in TERMINAL

    def expired(self, now: float) -> bool:
        """Whether the task's time to live has elapsed."""
        return now > self.created + self.ttl_ms / 1000


class TaskStore:
    """Every task of one or more servers in turn (pass the same store to a restarted one).

    ``default_ttl_ms`` is the time to live of a task whose client asked for none (every
    modern task), ``max_ttl_ms`` caps what a legacy client asks for. Finished tasks are
    dropped once their time to live has elapsed.
    """

    def __init__(self, *, default_ttl_ms: int = 600_000, max_ttl_ms: int = 3_600_000) -> None:
        self.default_ttl_ms = default_ttl_ms
        self.max_ttl_ms = max_ttl_ms
        self.records: dict[str, TaskRecord] = {}
        """The tasks by id, in creation order."""

    def ttl(self, requested: int | None) -> int:
        """The time to live granted for ``requested`` (None: the default)."""
        return min(self.default_ttl_ms if requested is None else requested, self.max_ttl_ms)

    def find(self, task_id: str) -> TaskRecord | None:
        """The task ``task_id``, unless unknown or finished and expired (then dropped)."""
        record = self.records.get(task_id)
        if record is not None and record.terminal and record.expired(time.time()):
            del self.records[task_id]
            return None
        return record


class TaskStatuses(Mapping[str, str]):
    """A read-only live view of a store: task id -> status."""

    def __init__(self, store: TaskStore | None) -> None:
        self._records = store.records if store is not None else {}

    def __getitem__(self, task_id: str) -> str:
        return self._records[task_id].status

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._records))

    def __len__(self) -> int:
        return len(self._records)


# -- wire shapes ----------------------------------------------------------------------------


def legacy_task(record: TaskRecord) -> dict[str, Any]:
    """The 2025-11-25 ``Task`` object."""
    task: dict[str, Any] = {"taskId": record.task_id, "status": record.status}
    if record.status_message is not None:
        task["statusMessage"] = record.status_message
    task["createdAt"] = _iso(record.created)
    task["lastUpdatedAt"] = _iso(record.updated)
    task["ttl"] = record.ttl_ms
    task["pollInterval"] = record.poll_interval_ms
    return task


def _modern_task(record: TaskRecord) -> dict[str, Any]:
    task: dict[str, Any] = {"taskId": record.task_id, "status": record.status}
    if record.status_message is not None:
        task["statusMessage"] = record.status_message
    task["createdAt"] = _iso(record.created)
    task["lastUpdatedAt"] = _iso(record.updated)
    task["ttlMs"] = record.ttl_ms
    task["pollIntervalMs"] = record.poll_interval_ms
    return task


def create_task_result(record: TaskRecord) -> dict[str, Any]:
    """The SEP-2663 ``CreateTaskResult``: flat, ``resultType`` ``task``."""
    return {"resultType": "task", **_modern_task(record)}


def detailed_task(record: TaskRecord, inputs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The SEP-2663 ``DetailedTask``: the task with its result, error or open input."""
    task = _modern_task(record)
    if record.status == "completed" and record.result is not None:
        task["result"] = record.result
    elif record.status == "failed":
        task["error"] = record.error if record.error is not None else dict(RESTARTED)
    elif record.status == "input_required":
        task["inputRequests"] = dict(inputs or {})
    return task


# -- running --------------------------------------------------------------------------------


@attrs.define(eq=False)
class LiveTask:
    """A task running on this server: its coroutine and the input it waits for."""

    record: TaskRecord
    session: Session | None
    """Legacy: the session its input requests go to."""
    runner: asyncio.Task[None] | None = None
    inputs: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    """Modern: the outstanding input requests by key (what ``inputRequests`` shows)."""
    answers: dict[str, asyncio.Future[dict[str, Any]]] = attrs.field(factory=dict)
    outbox: list[Event] = attrs.field(factory=list)
    """Legacy: input requests not yet sent on any stream."""
    readers: list[EventStream] = attrs.field(factory=list)
    """Legacy: the streams of the ``tasks/result`` requests waiting for the task."""
    asking: int = 0
    keys: Iterator[int] = attrs.field(factory=lambda: itertools.count(1))
    wake: asyncio.Event = attrs.field(factory=asyncio.Event)

    def signal(self) -> None:
        """Wake everyone waiting for a change of this task."""
        self.wake.set()
        self.wake = asyncio.Event()


class TaskContext(CallContext):
    """The context a task's tool runs in: its requests for input go through the task."""

    def __init__(
        self, session: Session, params: dict[str, Any], manager: TaskManager, live: LiveTask
    ) -> None:
        super().__init__(session, None, params)
        self._manager = manager
        self._live = live

    async def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Ask the client for input on behalf of the task; the task is ``input_required``
        until it answers."""
        return await self._manager.ask(self._live, method, dict(params or {}))


class TaskManager:
    """Runs the tasks of one server on its store; see the module documentation."""

    def __init__(self, store: TaskStore, poll_interval_ms: int) -> None:
        if poll_interval_ms <= 0:
            raise ValueError("the task poll interval must be a positive number of ms")
        self.store = store
        self.poll_interval_ms = poll_interval_ms
        self.live: dict[str, LiveTask] = {}
        self.announce: Callable[[str, dict[str, Any] | None], None] | None = None
        """Sends a notification to the modern ``subscriptions/listen`` streams."""

    def start(
        self,
        work: Work,
        *,
        tool: str,
        era: Era,
        session: Session,
        params: dict[str, Any],
        ttl_ms: int | None = None,
    ) -> TaskRecord:
        """Store a new task (it is found from now on) and run ``work`` in the background."""
        legacy = era == "legacy"
        record = TaskRecord(
            task_id=secrets.token_urlsafe(18),
            era=era,
            owner=owner_of(session) if legacy else None,
            tool=tool,
            ttl_ms=self.store.ttl(ttl_ms),
            poll_interval_ms=self.poll_interval_ms,
        )
        self.store.records[record.task_id] = record
        live = LiveTask(record, session if legacy else None)
        self.live[record.task_id] = live
        ctx = TaskContext(session, params, self, live)
        live.runner = asyncio.get_running_loop().create_task(self._run(live, work, ctx))
        return record

    def find(self, task_id: str, era: Era, owner: str | None) -> TaskRecord:
        """The task ``task_id`` of this era and owner; -32602 when there is none."""
        record = self.store.find(task_id)
        if record is None or record.era != era or record.owner != owner:
            raise ProtocolFault(-32602, f"Failed to retrieve task: Task not found: {task_id}")
        if not record.terminal and task_id not in self.live:  # its server went away
            record.status, record.error = "failed", dict(RESTARTED)
            record.status_message, record.updated = RESTARTED["message"], time.time()
        return record

    def owned(self, era: Era, owner: str | None) -> list[TaskRecord]:
        """Every task of this era and owner still kept, oldest first."""
        found = []
        for record in list(self.store.records.values()):
            if (record.era, record.owner) == (era, owner) and self.store.find(record.task_id):
                found.append(self.find(record.task_id, era, owner))
        return found

    def inputs(self, record: TaskRecord) -> dict[str, dict[str, Any]]:
        """A modern task's outstanding input requests."""
        live = self.live.get(record.task_id)
        return dict(live.inputs) if live is not None else {}

    # -- changes ----------------------------------------------------------------------------

    def _status(self, live: LiveTask, status: str, message: str | None = None) -> None:
        record = live.record
        if record.terminal or (record.status, record.status_message) == (status, message):
            return
        record.status, record.status_message, record.updated = status, message, time.time()
        live.signal()
        if record.era == "modern":
            if self.announce is not None:
                self.announce("notifications/tasks", detailed_task(record, live.inputs))
        elif live.session is not None and live.session.standalone.has_live_reader():
            notice = encode_message("notifications/tasks/status", legacy_task(record))
            live.session.standalone.append(Event("message", notice))

    def _settle(
        self,
        live: LiveTask,
        status: str,
        *,
        result: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
        message: str | None = None,
    ) -> None:
        if live.record.terminal:
            return
        live.record.result, live.record.error = result, error
        self._status(live, status, message)

    async def _run(self, live: LiveTask, work: Work, ctx: CallContext) -> None:
        legacy = live.record.era == "legacy"
        try:
            result = await work(ctx)
        except asyncio.CancelledError:
            self._settle(live, "cancelled", message="The task was cancelled.")
            raise
        except ProtocolFault as fault:
            self._settle(live, "failed", error=fault.to_error(), message=fault.message)
            return
        except Exception as exc:  # a failing tool is a result, not a protocol error
            result = {"content": [{"type": "text", "text": str(exc)}], "isError": True}
        finally:
            live.outbox.clear()
        if result.get("isError") is True and legacy:  # 2025-11-25: isError -> failed
            self._settle(live, "failed", result=result, message="The tool reported an error.")
        else:
            self._settle(live, "completed", result=result)

    def cancel(self, record: TaskRecord) -> None:
        """Cancel a task that has not ended: it is ``cancelled`` at once, its tool stopped."""
        live = self.live.get(record.task_id)
        if live is None or record.terminal:
            return
        self._settle(live, "cancelled", message="The task was cancelled by the client.")
        if live.runner is not None:
            live.runner.cancel()

    # -- input ------------------------------------------------------------------------------

    async def ask(self, live: LiveTask, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Send the client a request for the task and wait for its answer."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        live.asking += 1
        if live.record.era == "modern":
            key = f"input-{next(live.keys)}-{secrets.token_hex(4)}"
            live.inputs[key], live.answers[key] = {"method": method, "params": params}, future
            self._status(live, WAITING, None)
            try:
                return await future
            finally:
                live.inputs.pop(key, None)
                live.answers.pop(key, None)
                self._resume(live)
        session = live.session
        assert session is not None
        request_id = session.new_request_id()
        meta = params.get("_meta")
        related = {RELATED_TASK: {"taskId": live.record.task_id}}
        params["_meta"] = {**(meta if isinstance(meta, dict) else {}), **related}
        event = Event("message", encode_message(method, params, request_id))
        session.pending[request_id] = future
        live.outbox.append(event)
        self._status(live, WAITING, None)
        self.deliver(live)
        try:
            return await future
        finally:
            session.pending.pop(request_id, None)
            if event in live.outbox:
                live.outbox.remove(event)
            self._resume(live)

    def _resume(self, live: LiveTask) -> None:
        live.asking -= 1
        if live.asking == 0 and not live.inputs:
            self._status(live, "working")

    def answer(self, record: TaskRecord, responses: Mapping[str, Any]) -> None:
        """Hand a modern task the answers to its outstanding input requests; other keys,
        and answers that are not objects, are ignored."""
        live = self.live.get(record.task_id)
        if live is None:
            return
        for key, value in responses.items():
            future = live.answers.get(key)
            if future is None or future.done() or not isinstance(value, dict):
                continue
            del live.answers[key]
            live.inputs.pop(key, None)
            future.set_result(value)
        if not live.inputs and record.status == "input_required":
            self._status(live, "working")

    def deliver(self, live: LiveTask) -> None:
        """Send a legacy task's queued input requests on a waiting ``tasks/result`` stream."""
        while live.outbox:
            target = next((stream for stream in live.readers if not stream.done), None)
            if target is None:
                return
            target.append(live.outbox.pop(0))

    async def wait(self, record: TaskRecord, reader: EventStream | None) -> TaskRecord:
        """Wait until the task ends; meanwhile its input requests go on ``reader``."""
        live = self.live.get(record.task_id)
        if live is None:
            return record
        if reader is not None:
            live.readers.append(reader)
            self.deliver(live)
        try:
            while not record.terminal:
                await live.wake.wait()
        finally:
            if reader is not None:
                live.readers.remove(reader)
        return record

    async def close(self) -> None:
        """Fail every task still running ("the server restarted") and stop its tool."""
        runners: list[asyncio.Task[None]] = []
        for live in self.live.values():
            self._settle(live, "failed", error=dict(RESTARTED), message=RESTARTED["message"])
            if live.runner is not None and not live.runner.done():
                live.runner.cancel()
                runners.append(live.runner)
        self.live.clear()
        if runners:
            await asyncio.wait(runners, timeout=2.0)


def owner_of(session: Session) -> str:
    """The context a legacy session's tasks belong to (one for all anonymous sessions)."""
    return f"session:{session.id}" if session.id is not None else "session:anonymous"
