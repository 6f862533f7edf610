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
    person's login).
    """

    def __init__(self) -> None:
        self._held = threading.Lock()
        self._guard = threading.Lock()
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
                await asyncio.sleep(delay)
                delay = min(delay * 2, _POLL_MAX)
        except BaseException:
            local.release()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._held.release()
        self._loop_lock().release()
