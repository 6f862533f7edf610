"""A lock for a credential shared by clients on several event loops.

One :class:`~duomcp.auth.OAuth` may serve an ``AsyncClient`` in one ``asyncio.run()`` and
then in the next, or a blocking ``Client`` (the portal's loop) beside an ``AsyncClient``
(the program's). An ``asyncio.Lock`` belongs to the first loop that waits on it, and
raises ``RuntimeError`` in any other. :class:`AnyLoopLock` lets one sign-in or renewal
run at a time across every loop and thread, so a rotated refresh token is never spent
twice.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from types import TracebackType
from typing import Any

from .._portal import loop_blocked_by
from ..errors import CredentialInUseError

__all__ = ["AnyLoopLock"]

_POLL_FIRST = 0.005  # seconds: how soon a waiter on another loop looks again, at first
_POLL_MAX = 0.1  # ... and at most, while the other loop's sign-in goes on


class AnyLoopLock:
    """``async with lock.hold():`` from any event loop, in any thread.

    Waiters on one loop queue on that loop's own ``asyncio.Lock`` (no polling); the one in
    front takes a thread lock, and waits for it by looking again every 5 to 100 ms while
    another loop holds it (a sign-in there: rare, and seconds long at most but for a
    person's login). Each ``hold()`` is one holding: only its own exit frees the lock. A
    holding whose loop was closed under it (its ``async with`` never ends), or whose task
    is gone, loses the lock to the next waiter; its exit, if it ever runs, then does
    nothing.
    """

    def __init__(self) -> None:
        self._held = threading.Lock()
        self._guard = threading.Lock()  # _held and _owner change together, under it
        self._owner: _Holding | None = None
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def hold(self) -> _Holding:
        """One holding of the lock, for ``async with``."""
        return _Holding(self)

    def locked(self) -> bool:
        """Whether some holding has the lock."""
        return self._held.locked()

    def _loop_lock(self, loop: asyncio.AbstractEventLoop) -> asyncio.Lock:
        with self._guard:
            lock = self._by_loop.get(loop)
            if lock is None:
                # A loop's lock may refer to its loop (once waited on), which then never
                # leaves this map by itself: closed loops go as a new one comes.
                for old in [old for old in self._by_loop if old.is_closed()]:
                    del self._by_loop[old]
                lock = self._by_loop[loop] = asyncio.Lock()
            return lock

    def _take(self, holding: _Holding) -> bool:
        """Give the lock to ``holding`` if it is free, or its holding is abandoned."""
        with self._guard:
            owner = self._owner
            if self._held.locked() and (owner is None or owner.abandoned()):
                # Its loop was closed under it, or its task is gone (or a signal came
                # between taking the lock and recording who took it).
                self._owner = None
                self._held.release()
            if not self._held.acquire(blocking=False):
                return False
            self._owner = holding
            return True

    def _refuse_deadlock(self, task: asyncio.Task[Any]) -> None:
        """Raise if the holder is a task of the loop that ``task``, a blocking call's, keeps
        from running (a notebook cell's ``Client`` call while its ``AsyncClient`` signs in)."""
        blocked = loop_blocked_by(task)
        if blocked is None:
            return
        owner = self._owner
        holder = None if owner is None or owner._task is None else owner._task()
        if holder is not None and holder.get_loop() is blocked:
            raise CredentialInUseError(
                "this blocking call needs the credential, which a task of the event loop "
                "this thread runs is using (a sign-in or renewal, by an AsyncClient sharing "
                "it): that task cannot go on while this call blocks its loop. Await that "
                "client's work first, or use AsyncClient in async code"
            )

    def _give_back(self, holding: _Holding) -> bool:
        """Free the lock if ``holding`` has it; whether it had."""
        with self._guard:
            if self._owner is not holding:
                return False
            self._owner = None
            self._held.release()
            return True


class _Holding:
    """One ``async with`` of an :class:`AnyLoopLock`."""

    __slots__ = ("_local", "_lock", "_task")

    def __init__(self, lock: AnyLoopLock) -> None:
        self._lock = lock
        self._task: weakref.ref[asyncio.Task[Any]] | None = None
        self._local: asyncio.Lock | None = None

    def abandoned(self) -> bool:
        """Whether the task holding this can never end it."""
        task = None if self._task is None else self._task()
        return task is None or task.get_loop().is_closed()

    async def __aenter__(self) -> None:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("AnyLoopLock is held by a task")
        self._task = weakref.ref(task)
        local = self._lock._loop_lock(task.get_loop())
        self._lock._refuse_deadlock(task)  # (its loop's waiters may be queued ahead of it)
        await local.acquire()
        try:
            delay = _POLL_FIRST
            while not self._lock._take(self):
                self._lock._refuse_deadlock(task)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _POLL_MAX)
        except BaseException:
            local.release()
            raise
        self._local = local

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        local, self._local = self._local, None
        if self._lock._give_back(self) and local is not None:
            local.release()
        # Else the lock went to another holding meanwhile (this one's loop was closed, and
        # its coroutine is closed now by the garbage collector): nothing of it is held.
