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

__all__ = ["AnyLoopLock"]

_POLL_FIRST = 0.005  # seconds: how soon a waiter on another loop looks again, at first
_POLL_MAX = 0.1  # ... and at most, while the other loop's sign-in goes on


class AnyLoopLock:
    """``async with lock:`` from any event loop, in any thread.

    Waiters on one loop queue on that loop's own ``asyncio.Lock`` (no polling); the one in
    front takes a thread lock, and waits for it by looking again every 5 to 100 ms while
    another loop holds it (a sign-in there: rare, and seconds long at most but for a
    person's login). A holder whose loop was closed under it (its ``async with`` never
    ends) loses the lock to the next waiter.
    """

    def __init__(self) -> None:
        self._held = threading.Lock()
        self._guard = threading.Lock()
        self._owner: weakref.ref[asyncio.AbstractEventLoop] | None = None
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def _loop_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._guard:
            lock = self._by_loop.get(loop)
            if lock is None:
                lock = self._by_loop[loop] = asyncio.Lock()
            return lock

    def locked(self) -> bool:
        """Whether some loop holds the lock."""
        return self._held.locked()

    async def __aenter__(self) -> None:
        local = self._loop_lock()
        await local.acquire()
        try:
            delay = _POLL_FIRST
            while not self._held.acquire(blocking=False):
                self._free_if_abandoned()
                await asyncio.sleep(delay)
                delay = min(delay * 2, _POLL_MAX)
        except BaseException:
            local.release()
            raise
        self._owner = weakref.ref(asyncio.get_running_loop())

    def _free_if_abandoned(self) -> None:
        with self._guard:
            owner = None if self._owner is None else self._owner()
            if (
                self._held.locked()
                and self._owner is not None
                and (owner is None or owner.is_closed())
            ):
                self._owner = None
                self._held.release()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        with self._guard:
            if self._owner is not None and self._owner() is asyncio.get_running_loop():
                self._owner = None
                self._held.release()  # else taken over: this loop was closed meanwhile
        self._loop_lock().release()
