"""BlockingEngine: the async :class:`Engine` driven from blocking code through the portal.

No protocol logic lives here: each method submits the same call of the one async engine
to the portal's loop thread and waits. User handlers and callbacks are plain functions and
run in worker threads, so they may block without stalling other calls.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from .._portal import portal
from ..connection import ConnectionState
from ..types import DiscoverResult, InitializeResult
from ._engine import Engine, Handlers, ProgressCallback

__all__ = ["BlockingEngine"]

if TYPE_CHECKING:
    from ..transports.stdio import StdioServer


def _in_thread(fn: Callable[..., Any] | None) -> Callable[..., Any] | None:
    if fn is None:
        return None

    @functools.wraps(fn)
    async def run(*args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    return run


class BlockingEngine:
    """Same surface as :class:`Engine`, every method blocking; safe to share between threads."""

    def __init__(self, url: str | StdioServer, *, handlers: Handlers, **options: Any) -> None:
        wrapped: dict[str, Any] = {
            field.name: _in_thread(getattr(handlers, field.name))
            for field in attrs.fields(Handlers)
            if field.name != "elicitation_modes"
        }
        threaded = attrs.evolve(handlers, **wrapped)
        self._engine = Engine(url, handlers=threaded, **options)

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
        """The server's answer to the handshake."""
        return self._engine.initialize_result

    @property
    def discover_result(self) -> DiscoverResult | None:
        """What a modern server said about itself."""
        return self._engine.discover_result

    @property
    def rejected_tools(self) -> dict[str, str]:
        """Tools dropped from listings for invalid definitions, and why."""
        return self._engine.rejected_tools

    def accept_tools(self, tools: Any) -> list[Any]:
        """Record listed tools; drop invalid ones (modern era)."""
        return self._engine.accept_tools(tools)

    def prepare_tool_call(self, name: str, timeout: float | None) -> None:
        """Know a tool's header annotations before calling it (modern era)."""
        engine = self._engine
        if engine.tool_call_prepared(name):
            return  # the common case costs no trip to the loop thread
        portal.call(engine.prepare_tool_call, name, timeout)

    def set_resource_subscription(self, uri: str, subscribed: bool, timeout: float | None) -> None:
        """Add or remove a URI of the modern subscription stream."""
        portal.call(self._engine.set_resource_subscription, uri, subscribed, timeout)

    def set_log_level(self, level: str | None) -> None:
        """The log level of later modern requests."""
        self._engine.set_log_level(level)

    def clear_cache(self) -> None:
        """Forget cached results of this endpoint."""
        self._engine.clear_cache()

    @property
    def tool_output_schemas(self) -> dict[str, Any]:
        """Output schemas of the tools last listed, by name."""
        return self._engine.tool_output_schemas

    def connect(self) -> None:
        """Perform the handshake if it has not happened yet."""
        portal.call(self._engine.connect)

    def close(self) -> None:
        """Close the underlying engine; idempotent."""
        if not self._engine.closed:
            portal.call(self._engine.close)

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
        return portal.call(
            self._engine.request,
            method,
            params,
            timeout=timeout,
            on_progress=_in_thread(on_progress),
            use_cache=use_cache,
        )

    def notify(self, method: str, params: Mapping[str, Any] | None = None) -> None:
        """Send a notification."""
        portal.call(self._engine.notify, method, None if params is None else dict(params))
