"""BlockingEngine: the async :class:`Engine` driven from blocking code through the portal.

No protocol logic lives here, and no list of the engine's methods: any coroutine method
of the engine is offered as a blocking one that submits the same call to the portal's
loop and waits, so a new engine method needs nothing here. User handlers and callbacks
are plain functions and run in worker threads, so they may block without stalling calls.
A blocking call runs with its thread's context variables (the portal carries them to the
loop), so one made from a user callback is known as such (``IN_CALLBACK``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

import attrs

from .._executors import Pool
from .._portal import portal
from ..connection import ConnectionState
from ..tasks import ToolTask
from ..types import DiscoverResult, InitializeResult, ServerCapabilities
from ._calls import ToolCalls
from ._correlation import ProgressCallback
from ._engine import Engine
from ._responder import Handlers

__all__ = ["BlockingCalls", "BlockingEngine"]

if TYPE_CHECKING:
    from ..transports.stdio import StdioServer


async def _next(pages: AsyncIterator[Any]) -> Any:
    return await pages.__anext__()


async def _close(pages: AsyncGenerator[Any, None]) -> None:
    await pages.aclose()


def _in_pool(fn: Callable[..., Any] | None, pool: Pool) -> Callable[..., Any] | None:
    """``fn`` as a coroutine function: a plain function runs in ``pool``; a coroutine
    function (given to the blocking client all the same) is awaited on the loop."""
    if fn is None or inspect.iscoroutinefunction(fn):
        return fn

    @functools.wraps(fn)
    async def run(*args: Any) -> Any:
        result = await pool.run(fn, *args)
        if inspect.isawaitable(result):  # a plain function that returned a coroutine
            result = await result
        return result

    return run


class BlockingEngine:
    """Same surface as :class:`Engine`, every method blocking; safe to share between threads.

    Attributes and properties are the engine's own; coroutine methods block until done.
    """

    def __init__(self, url: str | StdioServer, *, handlers: Handlers, **options: Any) -> None:
        # The handlers' own pool: as many threads as handlers may run at once, so a
        # handler waiting on a person never holds up DNS or another client's handlers.
        self._pool = Pool("duomcp-handler", options.get("max_concurrent_handlers", 16) + 1)
        wrapped: dict[str, Any] = {
            field.name: _in_pool(getattr(handlers, field.name), self._pool)
            for field in attrs.fields(Handlers)
            if field.name != "elicitation_modes"
        }
        threaded = attrs.evolve(handlers, **wrapped)
        self._engine = Engine(url, handlers=threaded, **options)
        self.calls = BlockingCalls(self._engine.calls, self._pool)
        """``tools/call``, its tasks and the tool listing it needs, blocking."""

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._engine, name)
        if inspect.iscoroutinefunction(value):

            @functools.wraps(value)
            def blocking(*args: Any, **kwargs: Any) -> Any:
                return portal.call(value, *args, **kwargs)

            return blocking
        return value

    # The engine's state, typed (coroutine methods come through __getattr__).

    @property
    def state(self) -> ConnectionState:
        """The connection state of the underlying engine."""
        return self._engine.state

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._engine.closed

    @property
    def connected(self) -> bool:
        """Whether the handshake with the server is done."""
        return self._engine.connected

    @property
    def initialize_result(self) -> InitializeResult | None:
        """A legacy server's answer to ``initialize``."""
        return self._engine.initialize_result

    @property
    def discover_result(self) -> DiscoverResult | None:
        """What a modern server said about itself."""
        return self._engine.discover_result

    @property
    def server_capabilities(self) -> ServerCapabilities | None:
        """The server's capabilities (either era), once connected."""
        return self._engine.server_capabilities

    @property
    def rejected_tools(self) -> dict[str, str]:
        """Tools dropped from listings for invalid definitions, and why."""
        return self._engine.rejected_tools

    @property
    def tool_output_schemas(self) -> dict[str, Any]:
        """Output schemas of the tools last listed, by name."""
        return self._engine.tool_output_schemas

    def close(self) -> None:
        """Close the underlying engine; idempotent."""
        if not self._engine.closed:
            try:
                portal.call(self._engine.close)
            finally:
                self._pool.shutdown()

    def request(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        use_cache: bool = True,
    ) -> Any:
        """Send a request and block until its result."""
        progress = _in_pool(on_progress, self._pool)
        return portal.call(
            self._engine.request,
            method,
            params,
            timeout=timeout,
            on_progress=progress,
            use_cache=use_cache,
        )

    def pages(self, method: str, timeout: float | None = None) -> Iterator[Any]:
        """Yield the raw pages of a list method, each fetched when needed."""
        return _iterate(self._engine.pages(method, timeout))


def _iterate(pages: AsyncGenerator[Any, None]) -> Iterator[Any]:
    try:
        while True:
            try:
                yield portal.call(_next, pages)
            except StopAsyncIteration:
                return
    finally:
        portal.call(_close, pages)


class BlockingCalls:
    """:class:`~._calls.ToolCalls` with every method blocking."""

    def __init__(self, calls: ToolCalls, pool: Pool) -> None:
        self._calls = calls
        self._pool = pool

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return portal.call(fn, *args, **kwargs)

    def call_tool(
        self,
        params: dict[str, Any],
        *,
        timeout: float | None,
        on_progress: ProgressCallback | None,
        as_task: bool = False,
        ttl_ms: int | None = None,
    ) -> tuple[ToolTask | None, Any]:
        """``tools/call`` (and the task it may start): see :meth:`ToolCalls.call_tool`."""
        if on_progress is not None:
            on_progress = _in_pool(on_progress, self._pool)
        return portal.call(
            self._calls.call_tool,
            params,
            timeout=timeout,
            on_progress=on_progress,
            as_task=as_task,
            ttl_ms=ttl_ms,
        )

    def known_output_schema(self, name: str) -> tuple[bool, Any]:
        """See :meth:`ToolCalls.known_output_schema`."""
        return self._calls.known_output_schema(name)

    def output_schema(self, name: str, timeout: float | None) -> Any:
        """The output schema of tool ``name``, listing the tools once if it is unknown."""
        return self._call(self._calls.output_schema, name, timeout)

    def get_task(self, task_id: str, timeout: float | None) -> ToolTask:
        """``tasks/get``: see :meth:`ToolCalls.get_task`."""
        return self._call(self._calls.get_task, task_id, timeout)  # type: ignore[no-any-return]

    def task_outcome(self, task_id: str, timeout: float | None) -> Any:
        """Wait for a task to end: see :meth:`ToolCalls.task_outcome`."""
        return self._call(self._calls.task_outcome, task_id, timeout)

    def cancel_task(self, task_id: str, timeout: float | None) -> None:
        """``tasks/cancel``: see :meth:`ToolCalls.cancel_task`."""
        self._call(self._calls.cancel_task, task_id, timeout)

    def task_pages(self, timeout: float | None) -> Iterator[Any]:
        """Yield the raw pages of ``tasks/list``, each fetched when needed."""
        return _iterate(self._calls.task_pages(timeout))
