"""The portal: one process-wide daemon thread running an event loop for blocking clients.

Blocking calls submit a coroutine to the loop and wait for its result, so they work where
``asyncio.run`` cannot: inside a running event loop (Jupyter, IPython), from many threads,
and after ``os.fork()`` (the child starts a new loop thread on first use).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["Portal", "portal"]

_T = TypeVar("_T")


class Portal:
    """Runs coroutines on a private event-loop thread and blocks the caller on the result."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = 0

    def loop(self) -> asyncio.AbstractEventLoop:
        """Return the portal's running loop, starting its thread on first use."""
        loop = self._loop
        if loop is not None and self._pid == os.getpid() and self._thread_alive():
            return loop
        with self._lock:
            if self._loop is None or self._pid != os.getpid() or not self._thread_alive():
                self._start()
            assert self._loop is not None
            return self._loop

    def _thread_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _start(self) -> None:
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        thread = threading.Thread(target=run, name="duomcp-portal", daemon=True)
        thread.start()
        if not ready.wait(10):
            raise RuntimeError("the duomcp event-loop thread did not start")
        self._loop, self._thread, self._pid = loop, thread, os.getpid()

    def call(self, fn: Callable[..., Coroutine[Any, Any, _T]], *args: Any, **kwargs: Any) -> _T:
        """Run ``fn(*args, **kwargs)`` on the portal loop and return its result.

        Ctrl-C (KeyboardInterrupt) while waiting cancels the coroutine before re-raising,
        so a request in flight is cancelled on the server too.
        """
        loop = self.loop()
        if self._thread is threading.current_thread():
            raise RuntimeError(
                "a blocking duomcp client was called from its own event-loop thread; "
                "callbacks run in worker threads and may call the client from there"
            )
        call = _Call(fn(*args, **kwargs))
        loop.call_soon_threadsafe(call.start)
        try:
            call.done.acquire()
        except KeyboardInterrupt:
            loop.call_soon_threadsafe(call.cancel)
            call.done.acquire(timeout=5)
            raise
        if call.error is not None:
            raise call.error
        return call.result  # type: ignore[no-any-return]


class _Call:
    """One coroutine handed to the loop thread; ``done`` is released when it finishes.

    Lighter than ``asyncio.run_coroutine_threadsafe``: one lock, no concurrent Future,
    no second thread-safe callback to copy the result back.
    """

    __slots__ = ("coro", "done", "error", "result", "task")

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.coro = coro
        self.done = threading.Lock()
        self.done.acquire()
        self.result: Any = None
        self.error: BaseException | None = None
        self.task: asyncio.Task[Any] | None = None

    def start(self) -> None:
        self.task = asyncio.ensure_future(self.run())

    async def run(self) -> None:
        # The caller is released from within the task's last step: no done-callback, so
        # no extra turn of the loop per call.
        try:
            self.result = await self.coro
        except BaseException as exc:  # handed to the caller, which raises it
            self.error = exc
        finally:
            self.done.release()

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()


portal = Portal()
"""The process-wide portal shared by every blocking client."""
