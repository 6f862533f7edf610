"""ToolCalls: ``tools/call`` and the tasks it may start, with the tool listing a call needs.

Owns: one shared ``tools/list`` walk when a call needs what only a listing says (a
modern tool's header annotations, an output schema, a 2025-11-25 tool's task support);
whether a legacy call asks for a task; and the task API (state, outcome, cancel, list),
driven by :class:`~._tasks.TaskDriver`. The engine gives it what it needs as functions.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

from ..connection import ConnectionState
from ..errors import CapabilityNotSupportedError, RequestTimeoutError
from ..tasks import ToolTask
from ..types import ServerCapabilities
from ._correlation import ProgressCallback
from ._inbound import IN_CALLBACK
from ._tasks import TaskDriver, legacy_task_mode
from ._tools import ToolRegistry

_UNKNOWN: Any = object()  # not in the last listing

__all__ = ["ToolCalls"]

Request = Callable[..., Awaitable[Any]]


class ToolCalls:
    """Tool calls and their tasks over one connection."""

    def __init__(
        self,
        state: ConnectionState,
        tools: ToolRegistry,
        tasks: TaskDriver,
        *,
        connect: Callable[[], Awaitable[None]],
        connected: Callable[[], bool],
        request: Request,
        pages: Callable[[str, float | None], AsyncIterator[Any]],
        capabilities: Callable[[], ServerCapabilities | None],
        invalidate: Callable[[str], None],
        default_timeout: Callable[[], float],
    ) -> None:
        self.state = state
        self.tools = tools
        """What the listings said (output schemas, header annotations, task support)."""
        self.tasks = tasks
        self._connect = connect
        self._connected = connected
        self._request = request
        self._pages = pages
        self._capabilities = capabilities
        self._invalidate = invalidate
        self._default_timeout = default_timeout
        self.listing: asyncio.Future[None] | None = None
        """The ``tools/list`` walk under way, shared by the calls that wait for it."""
        self._listing_timeout = 0.0  # the timeout it was begun with, in seconds

    # -- the listing a call needs --------------------------------------------------------

    async def relist(self, timeout: float | None) -> None:
        """List the tools again; concurrent callers share one listing.

        A caller joining a listing another began under a different timeout waits for it
        no longer than its own timeout (:class:`RequestTimeoutError`), and lists again
        under its own when the other's ran out first: a deadline is the caller's own.
        """
        own = self._default_timeout() if timeout is None else timeout
        listing = self.listing
        if listing is None or listing.done():
            self._listing_timeout = own
            listing = self.listing = asyncio.ensure_future(self._list(timeout))
        elif own != self._listing_timeout:
            await self._join(listing, timeout, own)
            return
        await asyncio.shield(listing)

    async def _join(self, listing: asyncio.Future[None], timeout: float | None, own: float) -> None:
        theirs = self._listing_timeout
        # asyncio.wait: neither cancels the listing nor loses this task's cancellation.
        done, _ = await asyncio.wait({listing}, timeout=own)
        if not done:
            raise RequestTimeoutError(
                f"tools/list to {self.state.endpoint} (begun by another call) got no "
                f"response within {own:g} s"
            )
        if not listing.cancelled() and isinstance(listing.exception(), RequestTimeoutError):
            if own > theirs:
                await self.relist(timeout)  # its time was shorter than ours: ours now
                return
        listing.result()  # its outcome is ours

    async def _list(self, timeout: float | None) -> None:
        # Shared by callers of all kinds, a callback among them maybe: it must not wait
        # for callbacks to run (that callback would wait for it). Its own task's context.
        IN_CALLBACK.set(True)
        self._invalidate("tools/list")
        async for _ in self._pages("tools/list", timeout):
            pass

    def known_output_schema(self, name: str) -> tuple[bool, Any]:
        """Whether tool ``name`` is known from a listing, and its output schema if so
        (``None``: it declares none): the common case needs no coroutine."""
        # One lookup: a blocking client asks from its own thread while the loop's thread
        # may clear the schemas (tools/list_changed).
        schema = self.tools.output_schemas.get(name, _UNKNOWN)
        if schema is _UNKNOWN:
            return False, None
        return True, schema

    async def output_schema(self, name: str, timeout: float | None) -> Any:
        """The output schema of tool ``name`` (``None``: it declares none), listing the
        tools once if it is not known yet."""
        known, schema = self.known_output_schema(name)
        if known:
            return schema
        await self.relist(timeout)
        return self.tools.output_schemas.get(name)

    def prepared(self, name: str) -> bool:
        """Whether a call of ``name`` may go at once (connected; its headers known)."""
        return self.tools.prepared(name, self._connected())

    async def _prepare(self, name: str, timeout: float | None) -> None:
        """Before a modern ``tools/call``: know the tool's header annotations.

        Raises:
            InvalidRequestError: the tool was dropped because its definition is invalid.
        """
        if self.prepared(name):
            return
        await self._connect()
        if self.state.era != "modern":
            return
        if self.tools.needs_listing(name):
            await self.relist(timeout)
        self.tools.check_offered(name)

    # -- tools/call ---------------------------------------------------------------------

    async def call_tool(
        self,
        params: dict[str, Any],
        *,
        timeout: float | None,
        on_progress: ProgressCallback | None,
        as_task: bool = False,
        ttl_ms: int | None = None,
    ) -> tuple[ToolTask | None, Any]:
        """``tools/call``: the task it started (``None`` if none) and the raw result.

        The legacy era asks for a task when the tool requires one or ``as_task`` is set
        (``CapabilityNotSupportedError`` if the server or tool cannot); the modern server
        decides alone. Without ``as_task``, a task is driven to its end here (cancelled
        on the server if the wait is given up) and its result returned.
        """
        name = params["name"]
        if not self.prepared(name):
            await self._prepare(name, timeout)
        asked = False
        if self.state.era != "modern":
            caps = self._capabilities()
            requests = caps.tasks.requests if caps is not None and caps.tasks else None
            declared = bool(requests and requests.tools and requests.tools.call is not None)
            if declared and name not in self.tools.task_support:
                await self.relist(timeout)
                # Not listed (the server's choice): no task, and no listing per call.
                self.tools.task_support.setdefault(name, "forbidden")
            if declared or as_task:  # else: no task, nothing to check
                support = self.tools.task_support.get(name)
                asked = legacy_task_mode(self.state.endpoint, name, support, declared, as_task)
            if asked:
                params = {**params, "task": {} if ttl_ms is None else {"ttl": ttl_ms}}
        raw = await self._request("tools/call", params, timeout=timeout, on_progress=on_progress)
        task = self.tasks.created(raw, asked)
        if task is None or as_task:
            return task, raw
        return task, await self.tasks.outcome(task, timeout, cancel_on_abort=True)

    # -- the task API -------------------------------------------------------------------

    async def get_task(self, task_id: str, timeout: float | None) -> ToolTask:
        """``tasks/get``: the task's state (``TaskNotFoundError`` if unknown)."""
        await self._connect()
        task, _ = await self.tasks.get(task_id, timeout)
        return task

    async def task_outcome(self, task_id: str, timeout: float | None) -> Any:
        """Wait for a task to end; its raw result. A timeout leaves the task running."""
        await self._connect()
        task, raw = await self.tasks.get(task_id, timeout)
        return await self.tasks.outcome(task, timeout, cancel_on_abort=False, raw=raw)

    async def cancel_task(self, task_id: str, timeout: float | None) -> None:
        """``tasks/cancel``; a task already over is left as it is."""
        await self._connect()
        await self.tasks.cancel(task_id, timeout)

    async def task_pages(self, timeout: float | None) -> AsyncGenerator[Any, None]:
        """The raw pages of ``tasks/list`` (2025-11-25 servers that declare it).

        Raises:
            CapabilityNotSupportedError: the server offers no task list.
        """
        await self._connect()
        endpoint = self.state.endpoint
        if self.state.era == "modern":
            raise CapabilityNotSupportedError(
                f"{endpoint} speaks the tasks extension, which has no tasks/list"
            )
        caps = self._capabilities()
        if caps is None or caps.tasks is None or caps.tasks.list is None:
            raise CapabilityNotSupportedError(
                f"{endpoint} does not declare the tasks.list capability"
            )
        async for page in self._pages("tasks/list", timeout):
            yield page
