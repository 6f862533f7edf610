"""Thread pools of duomcp's own, for blocking work: never the event loop's default one.

The loop's default executor is small and shared with aiohttp's DNS lookups; a handler that
waits on a person there could stall name resolution for every client in the process. So
blocking user handlers (the blocking ``Client``'s), sign-in interactions and token storage
each run on a bounded pool with a name that shows in thread dumps.

A thread cannot be stopped from outside. Work whose waiter gave up while it ran (a handler
whose server request was cancelled, a sign-in that timed out) goes on in its thread until
it returns; such work no longer counts against the pool's bound, so it never holds up the
work that comes after it, and it does not keep the process from exiting.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextvars
import functools
import itertools
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["IDLE_SECONDS", "INTERACTIONS", "MAX_ABANDONED", "STORAGE", "Pool"]

log = logging.getLogger("duomcp")

_T = TypeVar("_T")

IDLE_SECONDS = 30.0
"""A pool thread with no work ends after this long."""
MAX_ABANDONED = 64
"""Abandoned work still running in one pool beyond which no more threads are added for it:
past this, given-up work counts against the bound again (and new work may wait)."""


class _Job:
    """One call handed to a pool, and what became of it."""

    __slots__ = ("abandoned", "call", "crew", "finished", "future")

    def __init__(self, call: Callable[[], Any], crew: _Crew) -> None:
        self.call = call
        self.crew = crew
        self.future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.abandoned = False  # its waiter gave up while it ran: it no longer counts
        self.finished = False  # its thread has moved on (under the pool's lock)


class _Crew:
    """One generation of a pool's threads; :meth:`Pool.shutdown` starts a new one."""

    __slots__ = ("abandoned", "closed", "counted", "idle", "queue")

    def __init__(self) -> None:
        self.queue: deque[_Job] = deque()  # work waiting for a thread
        # Idle threads' wake-ups (held locks: released when there is work, or at shutdown);
        # the most recently idle last: it takes work first.
        self.idle: list[threading.Lock] = []
        self.counted = 0  # live threads counted against max_workers, busy or idle
        self.abandoned = 0  # threads running given-up work (not counted)
        self.closed = False


_POOLS: weakref.WeakSet[Pool] = weakref.WeakSet()


class Pool:
    """A named pool of at most ``max_workers`` threads for work somebody waits for.

    Threads are made on demand and end after :data:`IDLE_SECONDS` idle. They are daemon
    threads: at exit, work still running is waited for up to ``finish_at_exit`` seconds
    (token storage writes), then left.
    """

    def __init__(self, name: str, max_workers: int, *, finish_at_exit: float = 0.0) -> None:
        if max_workers < 1:
            raise ValueError("a pool needs at least one worker")
        self.name = name
        self.max_workers = max_workers
        self.finish_at_exit = finish_at_exit
        self._lock = threading.Lock()
        self._crew = _Crew()
        self._busy = 0  # jobs queued or running, in any generation
        self._ids = itertools.count(1)
        self._warned = False
        _POOLS.add(self)

    @property
    def threads(self) -> int:
        """Threads of the current generation: counted ones and those running given-up work."""
        with self._lock:
            return self._crew.counted + self._crew.abandoned

    async def run(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run ``fn(*args)`` in the pool (with the caller's context variables).

        If the caller is cancelled before ``fn`` starts, it never runs; if while it runs,
        it runs on, given up: its thread no longer counts against the bound.
        """
        loop = asyncio.get_running_loop()
        call = functools.partial(contextvars.copy_context().run, fn, *args)
        job = self.submit(call)
        try:
            return await asyncio.wrap_future(job.future, loop=loop)
        except asyncio.CancelledError:
            if not job.future.cancel():  # started: cannot be taken back
                self._abandon(job)
            raise

    def submit(self, call: Callable[[], Any]) -> _Job:
        """Queue ``call`` and see that a thread takes it: an idle one woken, or a new one
        while under the bound; else the next thread to finish. Returns its job."""
        with self._lock:
            crew = self._crew
            job = _Job(call, crew)
            crew.queue.append(job)
            self._busy += 1  # until it has run or been dropped: the exit waits on it
            if crew.idle:
                crew.idle.pop().release()
                return job
            if crew.counted >= self.max_workers:
                return job  # the next thread to finish takes it
            crew.counted += 1
        self._start(crew)
        return job

    def _start(self, crew: _Crew) -> None:
        """A new thread of ``crew``, already counted, for the work in its queue."""
        name = f"{self.name}_{next(self._ids)}"
        thread = threading.Thread(target=self._work, args=(crew,), name=name, daemon=True)
        try:
            thread.start()
        except Exception as exc:  # the system's thread limit, memory
            with self._lock:
                crew.counted -= 1
                # The newest job, which this thread was for, fails; with no thread left,
                # nothing would take the rest of the queue either.
                stranded = [crew.queue.pop()] if crew.queue else []
                if crew.counted == 0:
                    stranded.extend(crew.queue)
                    crew.queue.clear()
                self._busy -= len(stranded)
            for job in stranded:
                job.finished = True  # never ran: nothing to give up on
                if job.future.set_running_or_notify_cancel():
                    job.future.set_exception(exc)

    def _work(self, crew: _Crew) -> None:
        idle = threading.Lock()  # this thread's wake-up, each time it waits
        idle.acquire()
        job = self._take(crew, idle)
        while job is not None:
            future = job.future
            if future.set_running_or_notify_cancel():  # (else cancelled while queued)
                try:
                    future.set_result(job.call())
                except BaseException as exc:  # the waiter gets it, whatever it is
                    future.set_exception(exc)
            carry_on = self._done(crew, job)
            del job, future  # nothing of it (arguments, result) is kept while idle
            if not carry_on:
                return
            job = self._take(crew, idle)

    def _done(self, crew: _Crew, job: _Job) -> bool:
        """``job`` ran (or was dropped, cancelled while queued): whether its thread goes on."""
        with self._lock:
            self._busy -= 1
            job.finished = True
            if job.abandoned:
                crew.abandoned -= 1
                if crew.counted >= self.max_workers:
                    return False  # replaced meanwhile: this thread is one too many
                crew.counted += 1
            return True

    def _take(self, crew: _Crew, idle: threading.Lock) -> _Job | None:
        """The next job for this thread, waiting while there is none; ``None``: the thread
        ends (the pool shut down, or idle too long)."""
        lock = self._lock
        with lock:
            while True:
                if crew.closed:
                    crew.counted -= 1
                    return None
                if crew.queue:
                    return crew.queue.popleft()
                crew.idle.append(idle)
                lock.release()
                try:
                    woken = idle.acquire(timeout=IDLE_SECONDS)
                finally:
                    lock.acquire()
                if not woken:
                    if idle in crew.idle:  # (locks compare by identity)
                        crew.idle.remove(idle)  # idle too long: the thread ends
                        crew.counted -= 1
                        return None
                    # Woken as the wait ended: take the wake-up, then look again.
                    lock.release()
                    try:
                        idle.acquire()
                    finally:
                        lock.acquire()

    def _abandon(self, job: _Job) -> None:
        """``job``'s waiter gave up while it ran: it stops counting, and queued work gets a
        thread of its own if that was the one it waited for."""
        with self._lock:
            crew = job.crew
            if job.finished or job.abandoned or crew.closed:
                return
            if crew.abandoned >= MAX_ABANDONED:
                if not self._warned:
                    self._warned = True
                    log.warning(
                        "%d calls given up on are still running in %s threads; more given up "
                        "on will keep counting against its %d threads",
                        crew.abandoned,
                        self.name,
                        self.max_workers,
                    )
                return
            job.abandoned = True
            crew.abandoned += 1
            crew.counted -= 1
            if not crew.queue:
                return
            crew.counted += 1
        self._start(crew)

    def shutdown(self) -> None:
        """Let the pool's threads end once idle; work not started is dropped. The pool
        still takes work after this, on new threads."""
        with self._lock:
            crew, self._crew = self._crew, _Crew()
            crew.closed = True
            idle, crew.idle = crew.idle, []
            queued, crew.queue = list(crew.queue), deque()
            self._busy -= len(queued)
        for waiting in idle:
            waiting.release()  # it sees the crew closed, and ends
        for job in queued:
            job.future.cancel()

    def _wait_at_exit(self) -> None:
        deadline = time.monotonic() + self.finish_at_exit
        while self._busy and time.monotonic() < deadline:
            time.sleep(0.005)

    def _after_fork(self) -> None:
        # The child has none of the parent's threads, and maybe a lock a thread held.
        self._lock = threading.Lock()
        self._crew = _Crew()
        self._busy = 0


def _at_exit() -> None:
    for pool in list(_POOLS):
        if pool.finish_at_exit > 0:
            pool._wait_at_exit()


def _after_fork_in_child() -> None:
    for pool in list(_POOLS):
        pool._after_fork()


atexit.register(_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

STORAGE = Pool("duomcp-storage", 2, finish_at_exit=5.0)
"""Token storage file I/O."""
INTERACTIONS = Pool("duomcp-sign-in", 4)
"""Plain-function sign-in interactions (a person in the browser)."""
