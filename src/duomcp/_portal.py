"""The portal: one process-wide daemon thread running an event loop for blocking clients.

Blocking calls submit a coroutine to the loop and wait for its result, so they work where
``asyncio.run`` cannot: inside a running event loop (Jupyter, IPython), from many threads,
and after ``os.fork()`` (the child starts a new loop thread on first use).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
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
                "a blocking duomcp client was called from one of its own callbacks' loop; "
                "callbacks run in worker threads and may call the client from there"
            )
        future = asyncio.run_coroutine_threadsafe(fn(*args, **kwargs), loop)
        try:
            return future.result()
        except KeyboardInterrupt:
            future.cancel()
            try:
                future.result(timeout=5)
            except (concurrent.futures.CancelledError, concurrent.futures.TimeoutError):
                pass
            except Exception:  # the call failed while being cancelled: nothing to report
                pass
            raise


portal = Portal()
"""The process-wide portal shared by every blocking client."""
