"""Tasks in both eras: starting, polling, answering a task's input, the outcome, cancelling.

Owns the rules of :mod:`duomcp.tasks`:

- a deadline that means what the caller thinks: the call's timeout, restarted whenever the
  task shows life (a new status, message or update time) like progress restarts a call's,
  capped by ``max_timeout``;
- the server's poll interval honoured (within 50 ms and the deadline), and a status
  notification ends the wait at once; a task still going after its time to live (counted
  from when the wait began, so never early) is given up as :class:`TaskNotFoundError`;
- input a modern task asks for (``inputRequests``) answered once per key by the same
  responder as every other server request, and sent with ``tasks/update``; a legacy task's
  input arrives as ordinary server requests on the ``tasks/result`` stream;
- a task is never started again: a task the server forgot is :class:`TaskNotFoundError`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from .. import _jsonrpc as rpc
from .._timeouts import wait_for
from ..connection import ConnectionState
from ..errors import (
    CapabilityNotSupportedError,
    InvalidResponseError,
    JSONRPCError,
    RequestTimeoutError,
    TaskCancelledError,
    TaskFailedError,
    TaskNotFoundError,
)
from ..tasks import TERMINAL_STATUSES, ToolTask
from ._correlation import Correlator
from ._responder import answer_inputs

__all__ = ["TASKS_EXTENSION", "TaskDriver", "TaskStatusLog", "legacy_task_mode"]

log = logging.getLogger("duomcp")

TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
_MIN_POLL = 0.05
_DEFAULT_POLL = 0.5
_MAX_ANSWERED = 4096
_CANCEL_TIMEOUT = 5.0

Send = Callable[[str, "dict[str, Any] | None", "float | None"], Awaitable[Any]]
Serve = Callable[[str, Mapping[str, Any]], Awaitable[Any]]


class _Deadline:
    """A call's deadline: ``timeout`` after the last sign of life, never past ``cap``."""

    def __init__(self, timeout: float, cap: float | None, restart: bool) -> None:
        self._loop = asyncio.get_running_loop()
        self.began = now = self._loop.time()
        self._timeout = timeout
        self._end = now + timeout
        self._cap = None if cap is None else now + max(cap, timeout)
        self._restart = restart

    def alive(self) -> None:
        if self._restart:
            end = self._loop.time() + self._timeout
            self._end = end if self._cap is None else min(end, self._cap)

    def left(self) -> float:
        return self._end - self._loop.time()

    def waited(self) -> float:
        return self._loop.time() - self.began

    def cap_left(self) -> float | None:
        """Time left before ``max_timeout`` (``None``: no cap)."""
        return None if self._cap is None else self._cap - self._loop.time()


def _seen(task: ToolTask) -> tuple[str, str | None, str | None]:
    return task.status, task.status_message, task.last_updated_at


def _older(new: str | None, old: str | None) -> bool:
    """Whether timestamp ``new`` is strictly before ``old`` (False when either is unknown
    or unreadable: then nothing is held back)."""
    if new is None or old is None:
        return False
    try:
        a = datetime.fromisoformat(new.replace("Z", "+00:00"))
        b = datetime.fromisoformat(old.replace("Z", "+00:00"))
        return (a < b) if (a.tzinfo is None) == (b.tzinfo is None) else False
    except ValueError:
        return False


class _Gone(TaskNotFoundError):
    """The server said it does not know the task (nothing left to cancel)."""


class TaskStatusLog:
    """The last state seen of each task (bounded): reports each change once, never an
    older or ended state again, and wakes whoever waits on a task it is told about."""

    def __init__(self, endpoint: str, report: Callable[[ToolTask], None]) -> None:
        self._endpoint = endpoint
        self._report = report
        self._last_seen: dict[str, tuple[str, str | None, str | None]] = {}
        self.wakers: dict[str, asyncio.Event] = {}
        """An event per task being waited for, set by a status notification."""

    def notified(self, params: Mapping[str, Any]) -> None:
        """A status notification (``notifications/tasks/status`` or ``notifications/tasks``):
        report it and wake whoever waits on the task."""
        try:
            task = ToolTask.from_wire(params, what="a task status notification")
        except InvalidResponseError as exc:
            log.warning("ignored a task status notification from %s: %s", self._endpoint, exc)
            return
        self.observe(task)
        waker = self.wakers.get(task.task_id)
        if waker is not None:
            waker.set()

    def observe(self, task: ToolTask) -> bool:
        """Report ``task`` if it changed since last seen; whether it did."""
        seen = _seen(task)
        last = self._last_seen.get(task.task_id)
        if last is not None:
            if last == seen or last[0] in TERMINAL_STATUSES:
                return False
            if _older(seen[2], last[2]):
                return False  # older than what was seen (a notification overtaken by a poll)
        elif len(self._last_seen) >= _MAX_ANSWERED:
            self._last_seen.pop(next(iter(self._last_seen)))
        self._last_seen[task.task_id] = seen
        self._report(task)
        return True

    def forget(self, task_id: str) -> None:
        """Nothing more will be seen of ``task_id``."""
        self._last_seen.pop(task_id, None)


class TaskDriver:
    """Drives tasks to their outcome over one connection."""

    def __init__(
        self,
        state: ConnectionState,
        correlator: Correlator,
        *,
        send: Send,
        serve: Serve,
        statuses: TaskStatusLog,
        default_timeout: Callable[[], float],
        max_timeout: float | None,
        restart_on_activity: bool,
    ) -> None:
        self._state = state
        self._send = send
        self._serve = serve
        self.statuses = statuses
        self._default_timeout = default_timeout
        self._max_timeout = max_timeout
        self._restart = restart_on_activity
        self._correlator = correlator
        # Input keys answered, by task, shared by every waiter on the task (bounded), and
        # one answering at a time per task: no input request is answered twice.
        self._answered: dict[str, set[str]] = {}
        self._answering: dict[str, asyncio.Lock] = {}
        self._cancels: set[asyncio.Task[Any]] = set()

    # -- what the server says -----------------------------------------------------------

    def created(self, raw: Any, asked: bool) -> ToolTask | None:
        """The task a ``tools/call`` result announces, or ``None`` for a plain result.

        Modern: ``resultType: "task"``; legacy: a ``task`` member, when one was asked for.
        """
        modern = self._state.era == "modern"
        if not (modern or asked) or not isinstance(raw, Mapping):
            return None  # a legacy call not asked to run as a task: its result, as it is
        if modern:
            if raw.get("resultType") != "task":
                return None
            wire = raw
        else:
            if "task" not in raw:
                raise InvalidResponseError(
                    f"tools/call on {self._state.endpoint} was asked to run as a task and "
                    "answered without one"
                )
            wire = raw["task"]
        try:
            task = ToolTask.from_wire(wire, what="the task created by tools/call")
        except InvalidResponseError:
            task_id = wire.get("taskId") if isinstance(wire, Mapping) else None
            if isinstance(task_id, str) and task_id:
                self._abandon(task_id)  # a task nobody can follow: cancelled on the server
            raise
        self.statuses.observe(task)
        return task

    # -- requests -----------------------------------------------------------------------

    async def get(self, task_id: str, timeout: float | None) -> tuple[ToolTask, dict[str, Any]]:
        """``tasks/get``: the task and the raw result (the modern one carries the outcome).

        Raises:
            TaskNotFoundError: the server does not know the task.
        """
        try:
            raw = await self._send("tasks/get", {"taskId": task_id}, timeout)
        except JSONRPCError as exc:
            raise self._not_found(task_id, exc) from exc
        task = ToolTask.from_wire(raw, what=f"tasks/get of {task_id!r}")
        if task.task_id != task_id:
            raise InvalidResponseError(f"tasks/get of {task_id!r} described task {task.task_id!r}")
        self.statuses.observe(task)
        return task, raw

    async def cancel(self, task_id: str, timeout: float | None) -> None:
        """``tasks/cancel``. Cancelling a task that is already over is not an error.

        Raises:
            TaskNotFoundError: the server does not know the task.
        """
        try:
            raw = await self._send("tasks/cancel", {"taskId": task_id}, timeout)
        except JSONRPCError as exc:
            if exc.code != rpc.INVALID_PARAMS or self._state.era == "modern":
                raise self._not_found(task_id, exc) from exc
            # 2025-11-25 refuses to cancel a terminal task with the code of an unknown one.
            task, _ = await self.get(task_id, timeout)
            if not task.terminal:
                raise
            return
        if self._state.era != "modern" and isinstance(raw, Mapping) and "taskId" in raw:
            self.statuses.observe(ToolTask.from_wire(raw, what=f"tasks/cancel of {task_id!r}"))

    def _forget(self, task_id: str) -> None:
        self.statuses.forget(task_id)
        self._answered.pop(task_id, None)
        self._answering.pop(task_id, None)

    def _not_found(self, task_id: str, exc: JSONRPCError) -> Exception:
        if exc.code != rpc.INVALID_PARAMS:
            return exc
        self._forget(task_id)
        return _Gone(
            f"{self._state.endpoint} no longer knows task {task_id!r} ({exc.message}): its "
            "time to live ran out or the server restarted; the work may or may not have "
            "run, and was not started again",
            task_id=task_id,
        )

    # -- waiting for the outcome --------------------------------------------------------

    async def outcome(
        self,
        task: ToolTask,
        timeout: float | None,
        *,
        cancel_on_abort: bool,
        raw: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Wait for ``task`` to end and return its raw result (a ``CallToolResult``).
        ``raw`` is the ``tasks/get`` result ``task`` was read from, if it was.

        With ``cancel_on_abort`` (the task stands for a plain ``call_tool``), giving up the
        wait for any reason but the task's own end (timeout, cancellation, a failing
        handler, a bad answer) cancels the task on the server too, in the background.

        Raises:
            TaskFailedError: the task failed with a JSON-RPC error.
            TaskCancelledError: the task was cancelled.
            TaskNotFoundError: the server forgot the task.
            RequestTimeoutError: no outcome in time (the task goes on unless
                ``cancel_on_abort``).
        """
        deadline = _Deadline(
            self._default_timeout() if timeout is None else timeout,
            self._max_timeout,
            self._restart,
        )
        waker = self.statuses.wakers.setdefault(task.task_id, asyncio.Event())
        try:
            if self._state.era == "modern":
                result = await self._modern(task, raw or {}, deadline, waker)
            else:
                result = await self._legacy(task, deadline, waker)
        except (TaskFailedError, TaskCancelledError, _Gone):
            raise  # the task is over (or unknown): nothing to cancel
        except BaseException:
            # A timeout, a cancelled wait, a handler that failed, a server that answered
            # nonsense: nobody will follow this task, so it is cancelled on the server.
            if cancel_on_abort:
                self._abandon(task.task_id)
            raise
        finally:
            if self.statuses.wakers.get(task.task_id) is waker:
                del self.statuses.wakers[task.task_id]
        self._forget(task.task_id)
        # Like any call: return after the callbacks of what arrived before the result.
        barrier = self._correlator.barrier
        if barrier is not None:
            await barrier.reached(barrier.mark(), max(deadline.left(), _MIN_POLL))
        return result

    def _abandon(self, task_id: str) -> None:
        """Cancel a task nobody waits for any more: in the background (the caller's error
        goes at once), bounded, owned by the connection (ended at close), never raises."""

        async def cancel() -> None:
            try:
                await self.cancel(task_id, _CANCEL_TIMEOUT)
            except Exception as exc:  # the caller's error matters more
                log.info("could not cancel task %r on %s: %s", task_id, self._state.endpoint, exc)

        self._forget(task_id)
        if not self._correlator.closed:
            job = self._correlator.spawn(cancel())
            self._cancels.add(job)
            job.add_done_callback(self._cancels.discard)

    async def settle(self) -> None:
        """Wait (at most the cancel timeout) for the cancels of abandoned tasks: before
        the connection closes, so that closing does not cut them off."""
        if self._cancels:
            await asyncio.wait(set(self._cancels), timeout=_CANCEL_TIMEOUT)

    async def _pause(self, task: ToolTask, deadline: _Deadline, waker: asyncio.Event) -> float:
        """Sleep the poll interval (or until a notification); the time left after it.

        Raises:
            RequestTimeoutError: the deadline passed.
        """
        left = deadline.left()
        if left <= 0:
            raise self._timeout(task)
        interval = (task.poll_interval_ms or _DEFAULT_POLL * 1000) / 1000
        interval = min(max(interval, _MIN_POLL), left)
        waker.clear()
        try:
            await wait_for(waker.wait(), interval)
        except asyncio.TimeoutError:
            pass
        left = deadline.left()
        if left <= 0:
            raise self._timeout(task)
        return left

    def _check_ttl(self, task: ToolTask, deadline: _Deadline) -> None:
        """The backstop SEP-2663 allows: a task the server still shows going after its time
        to live (counted from when the wait began: never early) is not usable."""
        if not task.terminal and task.ttl_ms is not None and deadline.waited() * 1000 > task.ttl_ms:
            raise TaskNotFoundError(
                f"task {task.task_id!r} on {self._state.endpoint} was still {task.status} "
                f"after its time to live ({task.ttl_ms} ms); the work may or may not have "
                "run, and was not started again",
                task_id=task.task_id,
            )

    def _timeout(self, task: ToolTask) -> RequestTimeoutError:
        return RequestTimeoutError(
            f"task {task.task_id!r} on {self._state.endpoint} was still {task.status} when "
            "the call's timeout ran out"
        )

    def _ended(self, task: ToolTask, raw: Mapping[str, Any]) -> Exception | None:
        """The error for a task that ended without a result, if it did."""
        if task.status == "cancelled":
            return TaskCancelledError(
                f"task {task.task_id!r} on {self._state.endpoint} was cancelled"
                + (f": {task.status_message}" if task.status_message else ""),
                task_id=task.task_id,
            )
        if task.status == "failed":
            error = raw.get("error")
            if isinstance(error, Mapping) and isinstance(error.get("code"), int):
                message = error.get("message")
                return TaskFailedError(
                    task.task_id,
                    error["code"],
                    message if isinstance(message, str) else "",
                    error.get("data"),
                )
            return TaskFailedError(
                task.task_id, rpc.INTERNAL_ERROR, task.status_message or "the task failed"
            )
        return None

    async def _modern(
        self, task: ToolTask, raw: Mapping[str, Any], deadline: _Deadline, waker: asyncio.Event
    ) -> dict[str, Any]:
        while True:
            if task.terminal:
                error = self._ended(task, raw)
                if error is not None:
                    raise error
                result = raw.get("result")
                if not isinstance(result, dict):
                    raise InvalidResponseError(
                        f"task {task.task_id!r} completed without a result object"
                    )
                return result
            if task.status == "input_required":
                await self._answer(task, raw.get("inputRequests"), deadline)
            left = await self._pause(task, deadline, waker)
            before = _seen(task)
            task, raw = await self.get(task.task_id, left)
            if _seen(task) != before:
                deadline.alive()
            self._check_ttl(task, deadline)

    async def _answer(self, task: ToolTask, requests: Any, deadline: _Deadline) -> None:
        """Answer the input requests nobody answered yet and send them with
        ``tasks/update``, within the call's deadline; one answering at a time per task."""
        if requests is None:
            return
        lock = self._answering.setdefault(task.task_id, asyncio.Lock())
        try:
            await wait_for(lock.acquire(), max(deadline.left(), 0))
        except asyncio.TimeoutError:
            raise self._timeout(task) from None
        try:
            answered = self._answered.setdefault(task.task_id, set())
            fresh = (
                {k: v for k, v in requests.items() if k not in answered}
                if isinstance(requests, Mapping)
                else requests  # answer_inputs says what is wrong with it
            )
            if not fresh:
                return
            if len(answered) + len(fresh) > _MAX_ANSWERED:
                raise InvalidResponseError(
                    f"task {task.task_id!r} asked for input more than {_MAX_ANSWERED} times"
                )
            responses = await answer_inputs(
                self._serve,
                fresh,
                what=f"task {task.task_id!r}",
                endpoint=self._state.endpoint,
                timeout=deadline.left(),
            )
            if responses is None or deadline.left() <= 0:
                raise self._timeout(task)  # answered too late: nothing is sent
            params = {"taskId": task.task_id, "inputResponses": responses}
            try:
                await self._send("tasks/update", params, deadline.left())
            except JSONRPCError as exc:
                raise self._not_found(task.task_id, exc) from exc
            answered.update(responses)
            if len(self._answered) > _MAX_ANSWERED:
                self._answered.pop(next(iter(self._answered)))
        finally:
            lock.release()
        deadline.alive()

    async def _legacy(
        self, task: ToolTask, deadline: _Deadline, waker: asyncio.Event
    ) -> dict[str, Any]:
        while task.status == "working":
            left = await self._pause(task, deadline, waker)
            before = _seen(task)
            task, _ = await self.get(task.task_id, left)
            if _seen(task) != before:
                deadline.alive()
            self._check_ttl(task, deadline)
        error = self._ended(task, {}) if task.status == "cancelled" else None
        if error is not None:
            raise error
        # Completed, failed, or waiting for input: tasks/result answers with the outcome,
        # and carries the server's requests for input (answered by the usual handlers).
        try:
            raw = await self._result(task, deadline, waker)
        except JSONRPCError as exc:
            if exc.code == rpc.INVALID_PARAMS:
                try:
                    task, _ = await self.get(task.task_id, max(deadline.left(), _MIN_POLL))
                except TaskNotFoundError:
                    raise self._not_found(task.task_id, exc) from exc
                if task.status == "cancelled":
                    raise self._ended(task, {}) or exc from exc
            raise TaskFailedError(task.task_id, exc.code, exc.message, exc.data) from exc
        if not isinstance(raw, dict):
            raise InvalidResponseError(f"tasks/result of {task.task_id!r} is not an object")
        return raw

    async def _result(self, task: ToolTask, deadline: _Deadline, waker: asyncio.Event) -> Any:
        """``tasks/result``, which blocks until the task ends: within the call's deadline,
        restarted by the task's status notifications meanwhile."""
        cap = deadline.cap_left()
        # The request's own timeout is the cap (or none worth the name): the loop below
        # ends the wait at the call's deadline, which activity restarts.
        job = asyncio.ensure_future(
            self._send("tasks/result", {"taskId": task.task_id}, 1e9 if cap is None else cap)
        )
        try:
            while True:
                waker.clear()
                woken = asyncio.ensure_future(waker.wait())
                done, _ = await asyncio.wait(
                    {job, woken},
                    timeout=max(deadline.left(), 0),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                woken.cancel()
                if job in done:
                    return job.result()
                if woken not in done:
                    raise self._timeout(task)
                deadline.alive()
        finally:
            if not job.done():
                job.cancel()  # the request is cancelled on the server too
                await asyncio.gather(job, return_exceptions=True)


def legacy_task_mode(
    endpoint: str, name: str, support: str | None, declared: bool, asked: bool
) -> bool:
    """Whether a 2025-11-25 ``tools/call`` of ``name`` goes as a task: when the tool
    requires it, or when asked and allowed.

    Raises:
        CapabilityNotSupportedError: asked for a task the server or tool does not offer.
    """
    if not declared:
        if asked:
            raise CapabilityNotSupportedError(
                f"{endpoint} does not run tools/call as tasks (no tasks.requests.tools.call "
                "capability)"
            )
        return False
    if support == "required":
        return True
    if asked and support != "optional":
        raise CapabilityNotSupportedError(
            f"tool {name!r} of {endpoint} does not run as a task "
            f"(execution.taskSupport: {support or 'forbidden'})"
        )
    return asked
