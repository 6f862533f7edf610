"""The legacy (2024-11-05 ... 2025-11-25) session: requests in a session, and its GET stream.

Owns: what follows a legacy handshake (the GET stream the server may send requests and
notifications on, opened before the first call and waited for briefly), the request path
of the legacy era (trace context in ``_meta``; a session the server forgot is started
again once and the request sent in it, since a 404 means the server never took it), and
lost replies (reads are sent again; anything the server may act on is not).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .._timeouts import wait_for
from ..errors import ReplyLostError, SessionExpiredError
from ._correlation import Correlator, ProgressCallback
from ._negotiation import Negotiated
from ._tools import ToolRegistry

__all__ = ["LegacySession"]

log = logging.getLogger("duomcp")

_GET_STREAM_WAIT = 5.0


class LegacySession:
    """Sends requests in a legacy session and keeps its GET stream open."""

    def __init__(
        self,
        correlator: Correlator,
        tools: ToolRegistry,
        *,
        trace_fields: Callable[[], dict[str, str]] | None,
        reinitialize: Callable[[], Awaitable[Negotiated]],
    ) -> None:
        self._correlator = correlator
        self.state = correlator.state
        self._tools = tools
        self._trace_fields = trace_fields
        self._reinitialize = reinitialize
        self._listener: asyncio.Task[None] | None = None
        self._lock: asyncio.Lock | None = None
        self.generation = 0
        """How many sessions were established on this connection."""

    async def established(self) -> None:
        """A session began: open its GET stream and wait (briefly) until it is open, as
        a server may send requests on it as soon as the first call arrives."""
        self.stop()
        self.generation += 1
        opened = asyncio.Event()
        transport = self._correlator.transport
        self._listener = asyncio.get_running_loop().create_task(transport.listen(opened.set))
        wait = min(self._correlator.timeout, _GET_STREAM_WAIT)
        try:
            await wait_for(opened.wait(), wait)
        except asyncio.TimeoutError:
            log.debug("the GET stream of %s is not open yet; going on", self.state.endpoint)

    def stop(self) -> asyncio.Task[None] | None:
        """Stop the GET stream (before a new session, or at close); return its task."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
        return listener

    async def request(
        self,
        method: str,
        params: dict[str, Any] | None,
        timeout: float | None,
        on_progress: ProgressCallback | None,
    ) -> Any:
        """Send one request in the session and return its raw result."""
        if self._trace_fields is not None:
            params = dict(params or {})
            params["_meta"] = {**(params.get("_meta") or {}), **self._trace_fields()}
        reissues = 0
        while True:
            generation = self.generation
            try:
                try:
                    return await self._correlator.roundtrip(method, params, timeout, on_progress)
                except SessionExpiredError:
                    await self._recover(generation)
                    return await self._correlator.roundtrip(method, params, timeout, on_progress)
            except ReplyLostError as exc:
                self._tools.resend_or_raise(method, params, exc, reissues)
                reissues += 1

    async def _recover(self, generation: int) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.generation == generation:
                log.info("session with %s expired; initializing a new one", self.state.endpoint)
                self._tools.forget_schemas()
                await self._reinitialize()
