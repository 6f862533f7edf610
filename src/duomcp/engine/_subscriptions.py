"""Modern subscriptions: the one ``subscriptions/listen`` stream of a connection.

Owns: which notifications the client wants (from the callbacks it was given, the server's
capabilities, and the resource URIs subscribed), the stream that carries them (opened,
replaced -- the old one closed first -- or closed to match), its acknowledgement, the id
that tells its notifications from those of a replaced stream, and reconnection with
backoff after an abrupt end. A graceful end or a refusal is not retried for the same
filter.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from typing import Any

from .. import _jsonrpc as rpc
from .._timeouts import wait_for
from ..errors import AuthError, JSONRPCError, MCPError
from ..types import DiscoverResult
from ._correlation import Correlator
from ._responder import Handlers

__all__ = ["Subscriptions"]

log = logging.getLogger("duomcp")

_ACK_WAIT = 5.0


class Subscriptions:
    """Keeps the subscription stream in line with what the client wants."""

    def __init__(
        self,
        correlator: Correlator,
        handlers: Handlers,
        *,
        modern_params: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> None:
        self._correlator = correlator
        self.state = correlator.state
        self._handlers = handlers
        self._modern_params = modern_params
        self.discover_result: DiscoverResult | None = None
        """The server's capabilities decide which notifications can be asked for."""
        self._uris: set[str] = set()
        self._filter: dict[str, Any] = {}
        self._task: asyncio.Task[None] | None = None
        self._acked: asyncio.Event | None = None
        self._refused: dict[str, Any] | None = None
        self.listen_id: Any = None
        """The request id of the subscription stream now open."""
        self.acknowledged_filter: dict[str, Any] | None = None
        """What the server agreed to send on the subscription stream."""

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The task holding the stream open, if any."""
        return self._task

    def _wanted(self) -> dict[str, Any]:
        handlers = self._handlers
        caps = self.discover_result.capabilities if self.discover_result is not None else None
        wanted: dict[str, Any] = {}
        if caps is None:
            return wanted
        every = handlers.on_notification is not None
        if caps.tools is not None and caps.tools.list_changed:
            if handlers.on_tools_changed is not None or every:
                wanted["toolsListChanged"] = True
        if caps.prompts is not None and caps.prompts.list_changed:
            if handlers.on_prompts_changed is not None or every:
                wanted["promptsListChanged"] = True
        if caps.resources is not None:
            if caps.resources.list_changed and (handlers.on_resources_changed is not None or every):
                wanted["resourcesListChanged"] = True
            if caps.resources.subscribe and self._uris:
                wanted["resourceSubscriptions"] = sorted(self._uris)
        return wanted

    def revive(self) -> None:
        """Before a request: open the stream again if the server ended it."""
        if self._filter and (self._task is None or self._task.done()):
            self.ensure()

    def ensure(self) -> asyncio.Event | None:
        """Open, re-open or close the stream to match what is wanted; returns the event set
        when the server acknowledges a new stream."""
        if self._correlator.closed or self.state.era != "modern":
            return None
        wanted = self._wanted()
        running = self._task is not None and not self._task.done()
        if (running and wanted == self._filter) or wanted == self._refused:
            return None
        previous = self._task
        if previous is not None:
            previous.cancel()
            self._task = None
        self._filter = wanted
        if not wanted:
            return None
        acked = asyncio.Event()
        self._acked = acked
        self._task = asyncio.get_running_loop().create_task(self._listen(wanted, acked, previous))
        return acked

    def acknowledged(self, params: Mapping[str, Any]) -> None:
        """The server's ``notifications/subscriptions/acknowledged``."""
        honoured = params.get("notifications")
        self.acknowledged_filter = dict(honoured) if isinstance(honoured, dict) else {}
        if self.acknowledged_filter != self._filter:
            log.info(
                "%s honours only %s of the subscriptions %s",
                self.state.endpoint,
                self.acknowledged_filter,
                self._filter,
            )
        if self._acked is not None:
            self._acked.set()

    async def set_resource(self, uri: str, subscribed: bool, timeout: float | None) -> None:
        """Add or remove a URI of the stream and wait (bounded) until the server
        acknowledged the new stream."""
        if subscribed:
            self._uris.add(uri)
        else:
            self._uris.discard(uri)
        acked = self.ensure()
        if acked is None:
            return
        wait = min(self._correlator.timeout if timeout is None else timeout, _ACK_WAIT)
        try:
            await wait_for(acked.wait(), wait)
        except asyncio.TimeoutError:
            log.warning(
                "%s did not acknowledge the subscription stream within %.1f s",
                self.state.endpoint,
                wait,
            )

    async def _listen(
        self,
        wanted: dict[str, Any],
        acked: asyncio.Event,
        previous: asyncio.Task[None] | None = None,
    ) -> None:
        if previous is not None:  # its stream is closed before the new one opens
            await asyncio.gather(previous, return_exceptions=True)
        correlator = self._correlator
        options = correlator.transport.options
        failures = 0
        while not correlator.closed:
            request_id = correlator.next_id()
            message = rpc.request(
                request_id, "subscriptions/listen", self._modern_params({"notifications": wanted})
            )
            acked_before = acked.is_set()
            self.listen_id = request_id
            try:
                await correlator.transport.post(message, request_id=request_id)
            except (JSONRPCError, AuthError) as exc:
                log.warning("%s refused the subscription stream: %s", self.state.endpoint, exc)
                self._refused = wanted
                acked.set()
                return
            except MCPError as exc:
                log.debug("subscription stream of %s broke: %s", self.state.endpoint, exc)
                failures = 0 if acked.is_set() and not acked_before else failures + 1
                if failures > options.max_reconnect_attempts:
                    log.warning(
                        "subscription stream of %s given up after %d attempts",
                        self.state.endpoint,
                        failures,
                    )
                    acked.set()
                    return
                base = options.reconnect_delay * (2 ** max(failures - 1, 0))
                await asyncio.sleep(min(options.max_reconnect_delay, base) * random.uniform(0.5, 1))
                continue
            # The server ended the subscription with its result (e.g. shutting down): it is
            # opened again on the next request.
            log.info("%s ended the subscription stream", self.state.endpoint)
            acked.set()
            return
