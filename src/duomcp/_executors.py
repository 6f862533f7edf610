"""Thread pools of duomcp's own, for blocking work: never the event loop's default one.

The loop's default executor is small and shared with aiohttp's DNS lookups; a handler that
waits on a person there could stall name resolution for every client in the process. So
blocking user handlers (the blocking ``Client``'s), sign-in interactions and token storage
each run on a bounded pool with a name that shows in thread dumps.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["INTERACTIONS", "STORAGE", "Pool"]

_T = TypeVar("_T")


class Pool:
    """A named, bounded thread pool, made on first use."""

    def __init__(self, name: str, max_workers: int) -> None:
        if max_workers < 1:
            raise ValueError("a pool needs at least one worker")
        self.name = name
        self.max_workers = max_workers
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _get(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.max_workers, thread_name_prefix=self.name)
            return self._executor

    async def run(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run ``fn(*args)`` in the pool (with the caller's context variables)."""
        loop = asyncio.get_running_loop()
        call = functools.partial(contextvars.copy_context().run, fn, *args)
        return await loop.run_in_executor(self._get(), call)

    def shutdown(self) -> None:
        """Let the pool's threads end once idle; work not started is dropped."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


STORAGE = Pool("duomcp-storage", 2)
"""Token storage file I/O."""
INTERACTIONS = Pool("duomcp-sign-in", 4)
"""Plain-function sign-in interactions (a person in the browser)."""
