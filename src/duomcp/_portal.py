"""The portal: one process-wide event loop that blocking clients run their coroutines on.

Whoever needs the loop runs it. A blocking call made while nobody runs the loop runs it
itself, in the caller's thread, until its own coroutine is done: no thread switch, so a
blocking call costs about what the same ``await`` costs. While the loop has work of its own
(a GET stream, a subscription, another thread's call), a daemon thread runs it, and blocking
calls hand their coroutine to that thread and wait. The daemon thread gives the loop back
as soon as no handed call is left, so the fast path comes back by itself.

A loop with only background work (a stdio pipe or a GET stream to read) is left alone for
:data:`_ORPHAN_GRACE` after a call: a caller that comes back within it runs the loop itself
(no thread hop per call for a program calling in a row); otherwise the daemon thread takes
the loop, so what the background work waits for is held up for about 10 ms at most. The
daemon thread looks at such a loop now and then, not once per call; each look costs the
calling thread (the two contend for the GIL for up to 5 ms), so while calls come in a row
it looks less often: the work is then held up for at most half as long as the row of calls
has lasted, and never more than about 0.1 s.

This works where ``asyncio.run`` cannot: inside a running event loop (Jupyter, IPython: the
call goes to the daemon thread), from many threads at once, and after ``os.fork()`` (the
child starts a new loop on first use).
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import os
import selectors
import signal
import sys
import threading
import time
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["Portal", "portal"]

_T = TypeVar("_T")
_CANCEL_GRACE = 5.0  # seconds a cancelled call may take to tell the server, after Ctrl-C
_ORPHAN_GRACE = 0.005  # seconds a loop with background work waits for a caller to run it
_WATCH_MAX = 0.1  # the longest the daemon thread sleeps while a caller runs such a loop
_PATIENCE = 0.5  # of the time calls have come in a row: how long the daemon may sleep then
_NEVER = float("inf")


class Portal:
    """Runs coroutines on one shared event loop and blocks the caller on the result."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pid = 0
        self._reset()

    def _reset(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: threading.Thread | None = None  # the thread now running the loop
        self._pending = 0  # calls handed to the daemon thread and not finished
        self.driven = 0  # calls that ran the loop in their own thread (for tests, benchmarks)
        self.handed = 0  # calls handed to the daemon thread
        self._orphaned_at: float | None = None  # nobody runs the loop, which has work, since
        self._background = False  # the loop had background work when last left
        self._driven_since = 0.0  # when the caller now running the loop took it
        self._row_since = _NEVER  # when the calls in a row that run the loop began
        self._working: Callable[[], asyncio.Task[Any] | None] = _no_task
        """A weak reference to an unfinished task of the loop, last time one was looked for."""
        self._daemon_wakes_at = _NEVER  # when the daemon thread's wait ends by itself
        self._inbox: collections.deque[_Call] = collections.deque()  # calls not started yet
        self._inbox_ok = False  # the loop's selector takes calls from the inbox
        self._direct_ok = False  # the loop is asyncio's own: tasks made, steps run directly
        self._sleeping = False  # the loop is in, or about to enter, a select() that may block

    def loop(self) -> asyncio.AbstractEventLoop:
        """Return the portal's event loop, creating it on first use (and after a fork)."""
        loop = self._loop
        # After a fork, _after_fork has already dropped the parent's loop: no getpid()
        # system call per call where the fork hook exists.
        if loop is not None and (_FORK_HOOK or self._pid == os.getpid()):
            return loop
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                self._reset()
                self._loop, self._pid = self._new_loop(), os.getpid()
            return self._loop

    def _new_loop(self) -> asyncio.AbstractEventLoop:
        loop = self._make_loop()
        # Tasks made and steps run without the loop's methods (see _direct) where the loop
        # is asyncio's own, with its attributes, and its run_forever() does nothing more
        # (the proactor's also arms its wake-up pipe).
        self._direct_ok = (
            _EAGER
            and isinstance(loop, asyncio.BaseEventLoop)
            and type(loop).run_forever is asyncio.BaseEventLoop.run_forever
        )
        return loop

    def _make_loop(self) -> asyncio.AbstractEventLoop:
        if sys.platform == "win32":  # the proactor loop (subprocesses); no inbox
            self._inbox_ok = False
            return asyncio.new_event_loop()  # the policy's: perhaps not asyncio's own
        self._inbox_ok = True
        return asyncio.SelectorEventLoop(_Selector(self))

    def _direct(self, loop: Any) -> bool:
        """Whether a task for ``loop`` may be made directly (``asyncio.Task``, named: no
        create_task checks, no "Task-%d" to format) and its steps run by _run_driven: the
        loop is asyncio's own, open, not in debug mode, with no task factory set on it."""
        return (
            self._direct_ok and not loop._closed and not loop._debug and loop._task_factory is None
        )

    def _after_fork(self) -> None:
        # The child has only the forking thread: the loop (its epoll is shared with the
        # parent), the daemon thread and perhaps a held lock are the parent's. Start over.
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pid = 0
        self._reset()

    def call(self, fn: Callable[..., Coroutine[Any, Any, _T]], *args: Any, **kwargs: Any) -> _T:
        """Run ``fn(*args, **kwargs)`` on the portal loop and return its result.

        Ctrl-C (KeyboardInterrupt) while waiting cancels the coroutine before re-raising,
        so a request in flight is cancelled on the server too.
        """
        loop = self._loop  # self.loop(), without a call for what it does first
        if loop is None or not (_FORK_HOOK or self._pid == os.getpid()):
            loop = self.loop()
        running = _get_running_loop()
        if running is loop:
            raise RuntimeError(
                "a blocking duomcp client was called from its own event-loop thread; "
                "callbacks run in worker threads and may call the client from there"
            )
        coro = fn(*args, **kwargs)  # before taking a role: nothing to undo if this fails
        me = threading.current_thread()
        drive = False
        call: _Call | None = None
        try:
            with self._lock:  # no system call in here: other callers wait on this lock
                runner = self._runner
                if runner is me and running is None and self._inside(me):
                    raise RuntimeError(
                        "a blocking duomcp client was called from code run by the thread "
                        "that runs its event loop (a finalizer, a signal handler)"
                    )
                # A runner that is this very thread, outside the loop and outside any
                # call, is left over from a Ctrl-C that came where nothing could catch
                # it: the loop is free.
                if (runner is None or runner is me) and running is None:
                    drive = True  # first: a Ctrl-C from here on gives the loop back
                    self._runner = me
                    now = time.monotonic()
                    left = self._orphaned_at
                    if left is None or now - left > _ORPHAN_GRACE:  # not a call in a row
                        self._row_since = _NEVER  # a row begins as its first call ends
                    self._orphaned_at = None
                    self._driven_since = now
                    self.driven += 1
                else:
                    call = _Call(coro, self, loop, running)  # a Ctrl-C here: nothing counted
                    self._pending += 1
                    if self._inbox_ok:
                        # Signals are looked for after this call returns, not between
                        # the count and the queueing: a queued call is always counted.
                        self._inbox.append(call)
                    self.handed += 1
                    if runner is None:
                        self._hand_over()
            if drive:
                return self._drive(loop, coro, me)
            assert call is not None
            self._rouse(loop, call)
        except BaseException:
            if call is not None:  # counted: the loop ends it (never run, or cancelled)
                loop.call_soon_threadsafe(call.cancel)
            elif not drive:
                coro.close()
            raise
        finally:
            # However the call ended, even by a Ctrl-C before _drive began. Only this thread
            # changes a runner that is this thread: no lock needed to look.
            if drive and self._runner is me:
                self._release(loop, me)
        return call.wait()  # type: ignore[no-any-return]

    def _inside(self, me: threading.Thread) -> bool:
        """Whether this thread is inside one of this portal's calls or its daemon loop
        (code it runs outside the loop: a finalizer, a signal handler). Rare: only asked
        when this thread is recorded as the loop's runner."""
        frame = sys._getframe(2)
        while frame is not None:
            if frame.f_code in _OWNING_CODE and frame.f_locals.get("self") is self:
                return True
            frame = frame.f_back  # type: ignore[assignment]
        return False

    def _rouse(self, loop: asyncio.AbstractEventLoop, call: _Call) -> None:
        """Have the loop take a handed call (queued in the inbox already, where there is
        one)."""
        if not self._inbox_ok:
            loop.call_soon_threadsafe(call.start)
            return
        # The loop takes new calls from the inbox on every turn; it needs waking only when
        # it sleeps (or is about to) in select(). Publishing the call before reading the
        # flag, and the selector setting the flag before reading the inbox, means one of
        # the two always sees the other.
        if self._sleeping:
            self._sleeping = False
            loop.call_soon_threadsafe(_nothing)

    def _take_inbox(self) -> None:
        """Start the calls waiting in the inbox (on the loop, from its selector)."""
        inbox = self._inbox
        while inbox:
            inbox.popleft().start()

    # -- running the loop in the caller's thread ------------------------------------------

    def _drive(
        self,
        loop: asyncio.AbstractEventLoop,
        coro: Coroutine[Any, Any, _T],
        me: threading.Thread,
    ) -> _T:
        box: _Driven | None = None
        task: asyncio.Task[None] | None = None
        try:
            box = _Driven(coro, loop)
            # Made directly, its first step is the only callback queued, unless another
            # thread queued one meanwhile.
            direct = self._direct(loop)
            if direct:
                task = asyncio.Task(box.run(), loop=loop, name=_TASK_NAME)
            else:
                task = loop.create_task(box.run())
            if me is threading.main_thread():
                box.task = task
                box.install()
            try:
                _run_driven(loop, task, direct)  # stopped by the task's last step
                while not task.done():  # a stale stop() of an interrupted call came first
                    loop.run_forever()
                if getattr(loop, "_ready", None):
                    # What the call's last step scheduled (a transport closing its socket
                    # does so in a callback) runs now: the loop may have no owner next.
                    loop.call_soon(loop.stop)
                    loop.run_forever()
            except KeyboardInterrupt:  # a second Ctrl-C, the program's own handler, a task
                if not task.done():  # let it tell the server, for a while
                    task.cancel()
                    loop.call_soon(box.stop_unstarted)  # cancelled before its first step?
                    give_up = loop.time() + _CANCEL_GRACE
                    timer = loop.call_at(give_up, loop.stop)
                    try:
                        # A stale stop() (the Ctrl-C came just after one was scheduled)
                        # only ends one run early.
                        while not task.done() and loop.time() < give_up:
                            loop.run_forever()  # stopped by the task's last step
                    finally:
                        timer.cancel()
                raise
        finally:
            try:
                # While our handler still takes Ctrl-C: one raised in here would leave the
                # loop to nobody, and every later call waiting.
                self._release(loop, me)
            finally:
                # Free the task while our handler still takes Ctrl-C: freeing it runs
                # asyncio's weak-set callback, and a KeyboardInterrupt raised in such a
                # callback is printed and lost.
                task = None
                if box is not None and box.installed:
                    box.task = None
                    box.close()
                if box is None or not box.started:  # a Ctrl-C came before its first step
                    coro.close()
        if box.interrupted:
            raise KeyboardInterrupt
        if box.error is not None:
            raise box.error
        return box.result  # type: ignore[no-any-return]

    def _release(self, loop: asyncio.AbstractEventLoop, me: threading.Thread) -> None:
        """A driven call is over: the loop goes to the daemon thread if it has handed calls
        or background work, else to nobody.

        A Ctrl-C raised in here (the default handler raises at any line) is held until the
        loop has its next owner: each step may be done again, and ``_runner`` changes last.
        """
        interrupted = False
        while True:
            try:
                with self._lock:
                    if self._runner is me:
                        if self._pending:
                            self._hand_over()
                        else:
                            self._left(loop)
                            self._runner = None
                break
            except KeyboardInterrupt:
                interrupted = True
        if interrupted:
            raise KeyboardInterrupt

    # -- the daemon thread ------------------------------------------------------------------

    def _hand_over(self) -> None:
        """Give the loop to the daemon thread (lock held), starting it if needed."""
        thread = self._thread_for_loop()
        self._orphaned_at = None
        self._wake.notify()  # it looks once the lock is free
        self._runner = thread  # last: see _release

    def _left(self, loop: asyncio.AbstractEventLoop) -> None:
        """Nobody runs the loop now and no handed call waits (lock held)."""
        # The task found last time is most often still at work (a stream's reader): one
        # look at it, not at every task, at the end of every driven call.
        task = self._working()
        if task is None or task.done():
            task = _unfinished(loop)
            self._working = _no_task if task is None else weakref.ref(task)
        if task is not None:
            self._orphan()
        else:
            self._background = False

    def _orphan(self) -> None:
        """Nobody runs the loop, which has background work (lock held): the daemon thread
        takes it unless a caller comes within the grace time.

        While callers run such a loop, the daemon thread looks at it now and then on its
        own (see :meth:`_patience`), so a program calling in a row does not wake it once
        per call: a thread waking up takes the GIL from the one making calls.
        """
        now = time.monotonic()
        self._orphaned_at = now
        self._background = True
        if self._row_since == _NEVER:  # one call, however long, is no row yet
            self._row_since = now
        if self._daemon_wakes_at <= now + _ORPHAN_GRACE + self._patience(now):
            return  # it waits (so it is alive) and looks soon: no is_alive(), no wake-up
        thread = self._thread
        if thread is None or not thread.is_alive():
            self._thread_for_loop()
        else:
            self._wake.notify()

    def _patience(self, now: float) -> float:
        """How long the daemon thread may leave a loop with background work unwatched
        while callers run it in a row (lock held): :data:`_ORPHAN_GRACE` at first, then
        half as long as the row has lasted, at most :data:`_WATCH_MAX`."""
        patience = (now - self._row_since) * _PATIENCE  # (min() and max() cost more)
        if patience < _ORPHAN_GRACE:
            return _ORPHAN_GRACE
        return patience if patience < _WATCH_MAX else _WATCH_MAX

    def _thread_for_loop(self) -> threading.Thread:
        thread = self._thread
        if thread is None or not thread.is_alive():
            thread = threading.Thread(target=self._serve, name="duomcp-portal", daemon=True)
            self._thread = thread
            thread.start()
        return thread

    def _serve(self) -> None:
        me = threading.current_thread()
        loop = self._loop
        assert loop is not None
        while True:
            with self._lock:
                while self._runner is not me:
                    if self._thread is not me:
                        # Started twice: a Ctrl-C in Thread.start() made _release start
                        # another. The portal's thread is the other one.
                        return
                    now = time.monotonic()
                    timeout: float | None = None
                    if self._runner is None and self._orphaned_at is not None:
                        timeout = self._orphaned_at + _ORPHAN_GRACE - now
                        if timeout <= 0:  # nobody came: run the background work
                            self._runner = me
                            self._orphaned_at = None
                            break
                        # Left just now, by calls in a row: look again as if it ran.
                        timeout = max(timeout, self._patience(now))
                    elif self._runner is not None and self._background:
                        # Look again soon: the caller may leave the loop to its work. Less
                        # often while calls come in a row or one call runs longer, not at
                        # all once it has run _WATCH_MAX: _orphan wakes this thread when
                        # it ends.
                        running_for = now - self._driven_since
                        if running_for < _WATCH_MAX:
                            timeout = max(self._patience(now), running_for)
                    self._daemon_wakes_at = _NEVER if timeout is None else now + timeout
                    try:
                        self._wake.wait(timeout)
                    finally:  # not left stale by an exception (see _orphan)
                        self._daemon_wakes_at = _NEVER
            try:
                loop.run_forever()  # stopped by the last handed call
            except BaseException:  # SystemExit or the like from a task: this thread ends
                with self._lock:
                    self._thread = None  # the loop's next owner starts a new one
                raise
            finally:  # also when run_forever raised: never leave the loop owned by nobody
                with self._lock:
                    if self._pending:
                        if self._thread is None:  # handed calls wait: to a new thread
                            self._hand_over()
                    else:
                        self._runner = None
                        self._left(loop)
                        self._row_since = _NEVER  # calls from now on: a new row

    def _finished(self, loop: asyncio.AbstractEventLoop) -> None:
        """A handed call is done (called on the loop, from the call's task)."""
        with self._lock:
            self._pending -= 1
            if not self._pending and self._runner is self._thread:
                loop.stop()  # no handed call is left: give the loop back


_OWNING_CODE = frozenset((Portal.call.__code__, Portal._serve.__code__))


def _nothing() -> None:
    """Scheduled from another thread only to wake the loop."""


class _Selector(selectors.DefaultSelector):
    """The platform's selector; every turn of the loop also starts the inbox's calls."""

    def __init__(self, portal: Portal) -> None:
        super().__init__()
        self._portal = portal

    def select(self, timeout: float | None = None) -> list[tuple[Any, int]]:
        portal = self._portal
        if timeout is None or timeout > 0:
            portal._sleeping = True
            if portal._inbox:
                timeout = 0
        try:
            return _select(self, timeout)
        finally:
            portal._sleeping = False
            if portal._inbox:
                portal._take_inbox()


_select = selectors.DefaultSelector.select
_get_running_loop = asyncio._get_running_loop


class _Blocking:
    """What a call made from a thread that runs an event loop (a notebook's) tells the code
    it runs: that loop, stopped until the call ends, and the call's task. Both are cleared
    as the call ends (tasks it started keep this in their context)."""

    __slots__ = ("loop", "task")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop: asyncio.AbstractEventLoop | None = loop
        self.task: asyncio.Task[Any] | None = None


BLOCKING_CALL: contextvars.ContextVar[_Blocking | None] = contextvars.ContextVar(
    "duomcp_blocking_call", default=None
)


def loop_blocked_by(task: asyncio.Task[Any] | None) -> asyncio.AbstractEventLoop | None:
    """The event loop ``task`` keeps from running: that of the thread that made the blocking
    call ``task`` runs, while it runs; else ``None``. Anything waiting in ``task`` for work
    of that loop waits for ever."""
    blocking = BLOCKING_CALL.get()
    if blocking is None or task is None or blocking.task is not task:
        return None
    return blocking.loop


_FORK_HOOK = hasattr(os, "register_at_fork")


# The C functions under signal.signal and signal.getsignal (the signal module imported
# them), taking and returning plain values; the signal module's own where there are none.
# A monkeypatched signal.signal (gevent, eventlet) is not seen: this handler is Python's
# own SIGINT handling, swapped for the time of one call.
_set_handler: Callable[[int, Any], Any] = getattr(
    sys.modules.get("_signal"), "signal", signal.signal
)
_get_handler: Callable[[int], Any] = getattr(
    sys.modules.get("_signal"), "getsignal", signal.getsignal
)
_SIGINT = int(signal.SIGINT)


def _is_ours(handler: Any) -> bool:
    return getattr(handler, "__func__", None) is _Driven._on_sigint


def _run_driven(loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any], direct: bool) -> None:
    """``loop.run_forever()`` for a driven call whose task was just made: its first step
    runs at once, not after a turn of the loop (a select() and a pass over the loop's
    queues: about 15% of what the portal adds to a call), as the loop's own eager tasks
    (Python 3.12+) do once a loop runs; so do the callbacks a turn leaves (most often the
    task, woken by the reply it waited for), with a select() every other step at least.
    Where the loop is not as expected (another callback queued, debug mode, an asyncio
    without these internals), it is ``run_forever()``."""
    base: Any = loop
    # ``direct``: the task was just made on this open loop, not in debug mode, so its first
    # step is the last callback queued; the only one, unless another thread queued one.
    ready: Any = base._ready if direct else None
    if ready is None or len(ready) != 1:
        loop.run_forever()
        return
    hooks = sys.get_asyncgen_hooks()  # (the loop is open: the task's step was queued)
    try:
        base._thread_id = threading.get_ident()
        sys.set_asyncgen_hooks(base._asyncgen_firstiter_hook, base._asyncgen_finalizer_hook)
        _set_running_loop(loop)
        step = ready[0]  # the task's step (checked above; other threads only append)
        try:
            ready.popleft()
            step._run()
        except BaseException:
            # A Ctrl-C between taking the step and the coroutine's start: the step goes
            # back, so that the task's cancellation can run (the task ends).
            if _unstarted(task) and step not in ready:
                ready.appendleft(step)
            raise
        while True:  # at least one turn, as in run_forever(), even for a call done in
            base._run_once()  # its first step: calls in a row hold up no I/O nor timer
            if base._stopping:
                break
            ntodo = len(ready)
            if ntodo and not (
                base._scheduled  # a timer due comes first, as it would in that turn
                and base._scheduled[0]._when < base.time() + base._clock_resolution
            ):
                # Most often the call's task, woken by what this turn read: what the next
                # turn would run first runs now, without that turn's select() and pass
                # over the timers (none due; I/O is looked at with the turn after it).
                for _ in range(ntodo):
                    handle = ready.popleft()
                    if not handle._cancelled:
                        handle._run()
                handle = None  # (as asyncio does: no cycle through an exception)
                if base._stopping:
                    break
    finally:
        base._stopping = False
        base._thread_id = None
        _set_running_loop(None)
        sys.set_asyncgen_hooks(*hooks)


def _unstarted(task: asyncio.Task[Any]) -> bool:
    """Whether the task's coroutine has not begun (its first step never ran)."""
    import inspect

    coro: Any = task.get_coro()
    return not task.done() and inspect.getcoroutinestate(coro) == inspect.CORO_CREATED


_TASK_NAME = "duomcp-blocking-call"
_TASK_CONTEXT = sys.version_info >= (3, 11)  # Task(context=...)
_Task: Any = asyncio.Task  # (typed for the oldest Python: no context=)

# The asyncio internals _run_driven relies on (CPython's, 3.10 to 3.14); else run_forever().
_set_running_loop: Any = getattr(asyncio.events, "_set_running_loop", None)
_EAGER = _set_running_loop is not None and all(
    hasattr(asyncio.BaseEventLoop, name)
    for name in (
        "_run_once",
        "_asyncgen_firstiter_hook",
        "_asyncgen_finalizer_hook",
    )
)


def _unfinished(loop: asyncio.AbstractEventLoop) -> asyncio.Task[Any] | None:
    """One of the loop's unfinished tasks, if it has any."""
    if _TASKS is None:
        return next(iter(asyncio.all_tasks(loop)), None)
    # asyncio.all_tasks() itself, without its WeakSet iteration guard and per-task
    # function calls (about five times cheaper).
    for ref in list(_TASKS.data):
        task: asyncio.Task[Any] | None = ref()
        if task is not None and not task.done() and task.get_loop() is loop:
            return task
    return None


def _no_task() -> None:
    """A weak reference to no task."""


# The WeakSet asyncio.all_tasks() reads, where it is the only place tasks are registered
# (CPython 3.10 to 3.13, and the portal loop makes no eager tasks); else all_tasks() is used.
_TASKS: Any = None
if sys.implementation.name == "cpython" and sys.version_info < (3, 14):
    _TASKS = getattr(asyncio.tasks, "_scheduled_tasks", getattr(asyncio.tasks, "_all_tasks", None))
    if not isinstance(getattr(_TASKS, "data", None), set):
        _TASKS = None


class _Call:
    """One coroutine run on the portal loop; ``done`` is released when it finishes.

    Lighter than ``asyncio.run_coroutine_threadsafe``: one lock, no concurrent Future,
    no second thread-safe callback to copy the result back.
    """

    __slots__ = (
        "blocking",
        "cancelled",
        "context",
        "coro",
        "done",
        "error",
        "finished",
        "loop",
        "portal",
        "result",
        "started",
        "task",
    )

    def __init__(
        self,
        coro: Coroutine[Any, Any, Any],
        portal: Portal,
        loop: asyncio.AbstractEventLoop,
        blocked: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.coro = coro
        # The caller's context variables, as a driven call's task has them: the thread
        # that starts this call on the loop is another one, with its own.
        self.context = contextvars.copy_context()
        self.blocking = None if blocked is None else _Blocking(blocked)
        if self.blocking is not None:
            self.context.run(BLOCKING_CALL.set, self.blocking)
        self.portal = portal
        self.loop = loop
        self.done = threading.Lock()
        self.done.acquire()
        self.result: Any = None
        self.error: BaseException | None = None
        self.task: asyncio.Task[Any] | None = None
        self.started = self.finished = False
        self.cancelled = False

    def start(self) -> None:
        if self.cancelled:  # Ctrl-C before the loop took the call
            self._never_ran()
            return
        loop = self.loop
        run = self.run()
        try:
            if _TASK_CONTEXT and self.portal._direct(loop):  # the task itself, as in _drive
                task = _Task(run, loop=loop, name=_TASK_NAME, context=self.context)
            else:
                task = self.context.run(loop.create_task, run)
        except Exception as exc:  # no task: the caller is told, not left waiting
            run.close()
            self._never_ran(error=exc)
            return
        self.task = task
        if self.blocking is not None:
            self.blocking.task = task

    async def run(self) -> None:
        # The caller is released from within the task's last step: no done-callback, so
        # no extra turn of the loop per call.
        self.started = True
        try:
            self.result = await self.coro
        except (KeyboardInterrupt, SystemExit):
            # Meant for the thread running the loop, not for the one that handed this call.
            self.error = InterruptedError("interrupted in the thread running the event loop")
            raise
        except BaseException as exc:  # handed to the caller, which raises it
            self.error = exc
        finally:
            self._end()

    def _never_ran(self, _: object = None, *, error: BaseException | None = None) -> None:
        if not self.started:
            self.started = True
            self.coro.close()
            self.error = asyncio.CancelledError() if error is None else error
            self._end()

    def _end(self) -> None:
        """The call is over (run, or never ran): the caller is released."""
        if self.blocking is not None:
            self.blocking.loop = self.blocking.task = None
        self.portal._finished(self.loop)
        self.finished = True
        self.done.release()

    def wait(self) -> Any:
        try:
            self.done.acquire()
        except KeyboardInterrupt:
            if not self.finished:  # (else done may be ours already: nothing to wait for)
                self.loop.call_soon_threadsafe(self.cancel)
                self.done.acquire(timeout=_CANCEL_GRACE)
            raise
        if self.error is not None:
            raise self.error
        return self.result

    def cancel(self) -> None:
        self.cancelled = True
        if self.task is not None:
            self.task.add_done_callback(self._never_ran)  # cancelled before its first step
            self.task.cancel()


class _Driven:
    """A coroutine run by the caller's own thread; its last step stops the loop.

    In the main thread, Ctrl-C during the call cancels it (:meth:`install`), instead of
    raising wherever the loop happens to be (perhaps in a stream's reader, or in another
    thread's call); a second one raises. The handler goes in as the call starts and comes
    out as it ends: with the C functions of ``_signal`` that costs about 1 µs
    (``signal.signal`` converts to and from enums: about 11 µs).
    """

    __slots__ = (
        "coro",
        "error",
        "installed",
        "interrupted",
        "loop",
        "result",
        "started",
        "task",
    )

    def __init__(self, coro: Coroutine[Any, Any, Any], loop: asyncio.AbstractEventLoop) -> None:
        self.coro = coro
        self.loop = loop
        self.result: Any = None
        self.error: BaseException | None = None
        self.interrupted = self.started = self.installed = False
        self.task: asyncio.Task[Any] | None = None  # while the Ctrl-C handler may cancel it

    def install(self) -> None:
        """Put in the Ctrl-C handler (main thread)."""
        # Only in place of Python's own handler, or of another call's left in (a second
        # Ctrl-C as it was taken out): a program that handles Ctrl-C itself, ignores it,
        # or had it handled from C (getsignal: None) keeps its handler, untouched.
        current = _get_handler(_SIGINT)
        if current is signal.default_int_handler or _is_ours(current):
            self.installed = True  # first: close() looks at what is in, either way
            try:
                _set_handler(_SIGINT, self._on_sigint)
            except ValueError:  # the main thread of another interpreter: no signals here
                self.installed = False

    def _on_sigint(self, signum: int, frame: Any) -> None:
        if self.interrupted:
            raise KeyboardInterrupt  # the cancellation takes too long for the user
        self.interrupted = True  # raised once the call has given the loop back
        task = self.task
        if task is not None:  # the call still runs
            task.cancel()
            # Thread-safe: also wakes the loop if it sleeps in select().
            self.loop.call_soon_threadsafe(self.stop_unstarted)

    def close(self) -> None:
        """Take out the Ctrl-C handler: Python's own back in place of ours; a handler the
        program set meanwhile (code the call ran in this thread) stays."""
        if _is_ours(_get_handler(_SIGINT)):
            _set_handler(_SIGINT, signal.default_int_handler)

    def stop_unstarted(self) -> None:
        """After a cancel: a task cancelled before its first step never runs ``run``, so
        nothing else would stop the loop (and a loop with background work never stops)."""
        if not self.started:
            self.coro.close()
            self.loop.stop()

    async def run(self) -> None:
        self.started = True
        try:
            self.result = await self.coro
        except BaseException as exc:  # raised by the caller
            self.error = exc
        finally:
            self.loop.stop()


portal = Portal()
"""The process-wide portal shared by every blocking client."""

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=portal._after_fork)
