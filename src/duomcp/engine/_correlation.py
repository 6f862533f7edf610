"""Request correlation: ids, pending calls, timeouts, cancellation and task ownership.

Owns: the JSON-RPC ids of this connection, the calls waiting for their response, each
call's deadline (restarted by progress, capped by ``max_timeout``, paused while the auth
path signs in), cancellation (closing the reply stream where that cancels, else
``notifications/cancelled``), and every background task the engine starts, so that
:meth:`Correlator.close` leaves nothing running. It posts through the engine's current
transport and knows nothing of eras beyond asking the transport how it cancels.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from .. import _jsonrpc as rpc
from .._timeouts import wait_for
from ..connection import ConnectionState
from ..errors import (
    ConnectionClosedError,
    JSONRPCError,
    MCPError,
    RequestTimeoutError,
    TransportError,
)
from ..transports._base import Transport

__all__ = ["Correlator", "ProgressCallback"]

log = logging.getLogger("duomcp")

ProgressCallback = Callable[[float, "float | None", "str | None"], Any]
_CANCEL_TIMEOUT = 5.0
_SETTLE_AFTER = 0.001  # seconds without a call after which a call lets the loop turn first


class _Pending:
    """One call waiting for its response (a plain class with slots: one is made per call,
    at a third of an attrs class's cost)."""

    __slots__ = (
        "future",
        "last_activity",
        "left",
        "mark",
        "method",
        "on_progress",
        "signed_in_at_activity",
        "signed_in_at_start",
        "started",
        "stopped",
        "task",
        "timeout",
    )

    def __init__(
        self,
        future: asyncio.Future[Any],
        method: str,
        timeout: float,
        now: float,
        signed_in: float,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.future = future
        self.method = method
        self.timeout = timeout
        self.started = self.last_activity = now
        # The connection's sign-in clock when the call started, and at its last activity:
        # sign-in time since does not count.
        self.signed_in_at_start = self.signed_in_at_activity = signed_in
        self.on_progress = on_progress
        # The callbacks queued when the response arrived: they run before the call returns.
        self.mark = 0
        # The caller's task, while it posts the request (and waits for its reply) itself.
        self.task: asyncio.Task[Any] | None = None
        # The correlator cancelled ``task`` (timeout, close): the future says why.
        self.stopped = False
        # Set by close(), which waits for the stopped call to leave its post.
        self.left: asyncio.Future[None] | None = None


def _cancelling(task: asyncio.Task[Any] | None) -> int:
    """How many cancellations of ``task`` are pending (Python 3.11+; 0 before)."""
    cancelling = getattr(task, "cancelling", None)
    return cancelling() if cancelling is not None else 0


def _cancelled_beside(task: asyncio.Task[Any] | None, before: int, pending: _Pending) -> bool:
    """Take back the correlator's own cancellation of ``task``; return whether another
    one (the caller's) came too, and is to be raised instead of the call's error.

    Python 3.10 does not count cancellations: there, one that came in the same loop turn
    as the correlator's is taken for it (the call then raises its timeout or close).
    """
    uncancel = getattr(task, "uncancel", None)
    if uncancel is None or uncancel() <= before:
        return False
    if pending.future.done() and not pending.future.cancelled():
        pending.future.exception()  # read: not reported as never retrieved
    return True


class Barrier(Protocol):
    """Where queued user callbacks are counted (the inbound router)."""

    def mark(self) -> int:
        """A mark of the callbacks queued so far."""

    async def reached(self, mark: int, timeout: float) -> None:
        """Wait until the callbacks queued before ``mark`` have run."""


class Correlator:
    """Sends requests through ``transport`` and matches their responses."""

    def __init__(
        self,
        state: ConnectionState,
        transport: Transport,
        *,
        timeout: float,
        max_timeout: float | None,
        progress_resets_timeout: bool,
    ) -> None:
        self.state = state
        self.transport = transport
        """Where messages go; the negotiation may swap it (HTTP+SSE fallback)."""
        self.timeout = timeout
        """The default timeout of a request, in seconds."""
        self._max_timeout = max_timeout
        self._progress_resets = progress_resets_timeout
        self._ids = itertools.count(1)
        self._pending: dict[Any, _Pending] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        # One timer for all pending calls, at the earliest deadline: a call whose deadline
        # is later than that (the common case: the same timeout for every call) costs no
        # timer of its own to schedule and cancel.
        self._watch: asyncio.TimerHandle | None = None
        self._watch_at = 0.0
        self._active_at = 0.0  # when a call last started or ended
        self._loop: asyncio.AbstractEventLoop | None = None  # the last call's
        self._loop_thread = 0  # and the thread it ran in
        self.closed = False
        self.barrier: Barrier | None = None
        """Set by the inbound router: a call returns after the callbacks queued before
        its response have run."""
        self.on_given_up: Callable[[Any], None] | None = None
        """Set by the inbound router: told the id of a call given up on (timed out or
        cancelled)."""

    def next_id(self) -> int:
        """A fresh JSON-RPC id."""
        return next(self._ids)

    def check_open(self) -> None:
        """Raise :class:`ConnectionClosedError` once closed."""
        if self.closed:
            raise ConnectionClosedError("the client is closed")

    # -- requests -----------------------------------------------------------------------

    async def roundtrip(
        self,
        method: str,
        params: dict[str, Any] | None,
        timeout: float | None,
        on_progress: ProgressCallback | None,
        *,
        handshake: bool = False,
    ) -> Any:
        """Send one request and return its raw ``result``.

        Raises:
            JSONRPCError: the server answered with an error.
            RequestTimeoutError: no response in time; the request was cancelled.
            TransportError: the message could not be sent or its reply was lost.
        """
        if self.closed:
            raise ConnectionClosedError("the client is closed")
        # The loop of the last call, if this call runs in one of its tasks, in its thread:
        # no get_running_loop(), which costs a getpid() system call each time.
        loop = self._loop
        if (
            loop is None
            or self._loop_thread != threading.get_ident()
            or (task := asyncio.current_task(loop)) is None
        ):
            loop, task = self._take_loop()
        now = loop.time()
        if now - self._active_at > _SETTLE_AFTER:
            # After a pause, let the loop turn once before sending, so what arrived while
            # it was busy or idle (a pooled connection the server closed) is seen first:
            # a request written on such a connection is a reply lost, not a retry. Twice:
            # the turn's I/O callbacks run after this task's step, which was queued first.
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            self.check_open()  # close() may have run meanwhile
            now = loop.time()
        self._active_at = now
        request_id = next(self._ids)
        if on_progress is not None:
            params = dict(params or {})
            params["_meta"] = {**(params.get("_meta") or {}), "progressToken": request_id}
        signed_in = self.state.sign_in_seconds()
        pending = _Pending(
            loop.create_future(),
            method,
            self.timeout if timeout is None else timeout,
            now,
            signed_in,
            on_progress,
        )
        self._pending[request_id] = pending
        transport = self.transport
        due = now + pending.timeout
        if self._watch is None or due < self._watch_at:
            self._watch_at_(loop, due)
        try:
            # The caller's own task posts the request and reads its reply: no task per
            # call. A deadline or close() cancels it there (``stopped``); the transport
            # cancels the request on the server the way it does (HTTP: closes the reply
            # stream; stdio: notifications/cancelled).
            pending.task = task
            cancelling = _cancelling(task)
            try:
                try:
                    await transport.post(
                        rpc.request(request_id, method, params),
                        request_id=request_id,
                        initialize=handshake,
                        response=pending.future,
                    )
                finally:
                    pending.task = None  # past its post: nothing of ours to cancel now
            except asyncio.CancelledError:
                if not pending.stopped or _cancelled_beside(task, cancelling, pending):
                    raise  # cancelled by the caller (too)
            except Exception as exc:
                # Our cancellation, turned into an error (or taken in) by the transport.
                if pending.stopped and _cancelled_beside(task, cancelling, pending):
                    raise asyncio.CancelledError from None
                if not pending.future.done():
                    pending.future.set_exception(self._post_error(pending, exc))
            else:
                if pending.stopped and _cancelled_beside(task, cancelling, pending):
                    raise asyncio.CancelledError
                if not pending.future.done():
                    pending.future.set_exception(
                        TransportError(
                            f"the reply of {method} from {self.state.endpoint} ended "
                            "without a response"
                        )
                    )
            result = pending.future.result()
            barrier = self.barrier
            if barrier is not None and pending.mark:
                await barrier.reached(pending.mark, pending.timeout)
            return result
        except RequestTimeoutError:
            if not handshake and not transport.cancels_requests(self.state.era):
                self.spawn(self.send_cancelled(request_id, "timed out"))
            self._given_up(request_id)
            raise
        except asyncio.CancelledError:
            cancels = transport.cancels_requests(self.state.era)
            if not handshake and not self.closed and not cancels:
                self.spawn(self.send_cancelled(request_id, "cancelled by the caller"))
            self._given_up(request_id)
            raise
        finally:
            del self._pending[request_id]
            self._active_at = loop.time()
            if pending.left is not None and not pending.left.done():
                pending.left.set_result(None)

    def _given_up(self, request_id: Any) -> None:
        """Call ``request_id`` was given up on (timed out, cancelled): what the server
        asked while answering it (requests on its reply stream) is moot too."""
        if self.on_given_up is not None:
            self.on_given_up(request_id)

    def reading(self) -> Any:
        """The id of the call whose request the current task is posting, and whose reply
        it is reading (a Streamable HTTP reply stream), if any. Not ``tasks/result``: what
        the server asks on its stream is the task's, which outlives a wait given up on."""
        task = asyncio.current_task()
        if task is not None:
            for request_id, pending in self._pending.items():
                if pending.task is task:
                    return request_id if pending.method != "tasks/result" else None
        return None

    def _take_loop(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Task[Any] | None]:
        """The running loop and task, for the first call or one in another loop (a new
        ``asyncio.run()``). A client runs in one loop at a time: a call from another loop
        while calls are in flight in a running one raises ``RuntimeError``."""
        loop = asyncio.get_running_loop()
        before = self._loop
        if loop is not before:
            if before is not None and before.is_running():
                for pending in self._pending.values():
                    if pending.future.get_loop() is before:
                        raise RuntimeError(
                            "this client has calls in flight in another event loop; a "
                            "client runs in one loop at a time"
                        )
            # The timer of the loop before, if any, is left to fire there and do nothing
            # (see _check_timeouts): a call in this loop gets a timer of its own.
            self._watch = None
            self._loop = loop
        self._loop_thread = threading.get_ident()
        return loop, asyncio.current_task(loop)

    def _watch_at_(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        """Look at the pending calls' deadlines at ``when`` (the earliest one)."""
        if self._watch is not None:
            self._watch.cancel()
        self._watch = loop.call_at(when, self._check_timeouts)
        self._watch_at = when

    def _check_timeouts(self) -> None:
        """Fail the calls past their deadline; look again at the earliest one left."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a timer left on a loop the client has since left
            return
        self._watch = None
        if not self._pending:
            return
        now = loop.time()
        state = self.state
        signing_in = state.is_signing_in
        signed_in = state.sign_in_seconds()
        earliest = float("inf")
        for pending in list(self._pending.values()):
            if pending.future.done() or pending.future.get_loop() is not loop:
                continue  # (a call left behind by a loop closed under it: never to end)
            if signing_in:
                # A person may be signing in: that time is not the call's. Look again later.
                earliest = min(earliest, now + min(pending.timeout, 1.0))
                continue
            deadline = (
                pending.last_activity + pending.timeout + signed_in - pending.signed_in_at_activity
            )
            if self._max_timeout is not None:
                cap = pending.started + self._max_timeout + signed_in - pending.signed_in_at_start
                deadline = min(deadline, cap)
            if deadline > now:
                earliest = min(earliest, deadline)
                continue
            self._stop(
                pending,
                RequestTimeoutError(
                    f"{pending.method} to {state.endpoint} got no response within "
                    f"{pending.timeout} s; it was cancelled"
                ),
            )
        if earliest != float("inf"):
            self._watch_at_(loop, earliest)

    def _post_error(self, pending: _Pending, exc: Exception) -> MCPError:
        """What a call raises when posting its request failed with ``exc``."""
        if isinstance(exc, MCPError):
            return exc
        log.error("bug: unexpected error sending %s", pending.method, exc_info=exc)
        return TransportError(f"sending {pending.method} failed: {exc!r}")

    @staticmethod
    def _stop(pending: _Pending, error: MCPError) -> None:
        """End a pending call with ``error``, interrupting its post if under way."""
        pending.future.set_exception(error)
        task = pending.task
        if task is not None:
            pending.stopped = True
            task.cancel()

    async def notify(self, method: str, params: dict[str, Any] | None) -> None:
        """Send a notification, bounded by the default timeout."""
        await self.post(rpc.notification(method, params), method)

    async def post(self, message: dict[str, Any], what: str) -> None:
        """Send a message that expects no response (a notification, or an answer to a
        server request), bounded by the default timeout."""
        self.check_open()
        try:
            await wait_for(self.transport.post(message), self.timeout)
        except asyncio.TimeoutError as exc:
            raise RequestTimeoutError(
                f"{what} to {self.state.endpoint} was not accepted within {self.timeout} s"
            ) from exc

    async def send_cancelled(self, request_id: Any, reason: str) -> None:
        """Tell the server a request is cancelled (best effort, bounded)."""
        message = rpc.notification(
            "notifications/cancelled", {"requestId": request_id, "reason": reason}
        )
        try:
            await wait_for(self.transport.post(message), _CANCEL_TIMEOUT)
        except (MCPError, asyncio.TimeoutError) as exc:
            log.debug("could not cancel request %s: %s", request_id, exc)

    # -- responses ----------------------------------------------------------------------

    def resolve(self, message: dict[str, Any], *, error: bool) -> None:
        """Settle the pending call a response or error message answers."""
        pending = self._pending.get(message.get("id"))
        if pending is None or pending.future.done():
            log.debug("ignored a response to unknown or finished request %r", message.get("id"))
            return
        if self.barrier is not None:
            pending.mark = self.barrier.mark()
        if not error:
            pending.future.set_result(message["result"])
            return
        body = message["error"]
        code = body.get("code")
        pending.future.set_exception(
            JSONRPCError(
                code if isinstance(code, int) else rpc.INTERNAL_ERROR,
                str(body.get("message", "")),
                body.get("data"),
            )
        )

    def progressed(self, token: Any) -> ProgressCallback | None:
        """A progress notification for ``token`` arrived: restart that call's clock (when
        progress resets timeouts) and return its progress callback, if any."""
        pending = self._pending.get(token)
        if pending is None:
            return None
        if self._progress_resets:
            pending.last_activity = asyncio.get_running_loop().time()
            pending.signed_in_at_activity = self.state.sign_in_seconds()
        return pending.on_progress

    # -- tasks --------------------------------------------------------------------------

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run ``coro`` as a task owned by this connection (cancelled at close)."""
        task = asyncio.ensure_future(coro)
        self._track(task)
        return task

    async def close(self, *others: asyncio.Task[Any] | None) -> None:
        """Fail every pending call, cancel every owned task (and ``others``), and wait for
        them to end. Idempotent."""
        self.closed = True
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        closed = ConnectionClosedError("the client was closed")
        loop = asyncio.get_running_loop()
        current = asyncio.current_task()
        leaving: list[asyncio.Future[None]] = []
        for pending in list(self._pending.values()):
            if not pending.future.done():
                self._stop(pending, closed)
            if pending.task is not None and pending.task is not current:
                pending.left = loop.create_future()  # set once it left its post
                leaving.append(pending.left)
        tasks = [*self._tasks, *(task for task in others if task is not None)]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if leaving:  # each stopped call has told the server, before the transport closes
            await asyncio.wait(leaving, timeout=_CANCEL_TIMEOUT)
