"""Responses that arrive on one stream shared by every request (stdio, HTTP+SSE).

Such a transport sends a request, then waits until the reader of the shared stream has
handed its response to the engine. :class:`Awaited` keeps those waits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._jsonrpc import loads_messages
from ..errors import InvalidResponseError, TransportError

__all__ = ["Awaited"]

if TYPE_CHECKING:
    from ..connection import ConnectionState

log = logging.getLogger("duomcp")


class Awaited:
    """The requests waiting for their response on a shared stream, by id."""

    def __init__(
        self,
        on_message: Callable[[dict[str, Any]], None],
        state: ConnectionState | None = None,
    ) -> None:
        self._on_message = on_message
        # Where the server's notifications/cancelled may end one of our requests: only in
        # the modern era (a server ends a subscription so). In the legacy era its requestId
        # is one of the server's own requests, whose ids may equal ours.
        self._state = state
        self._waiting: dict[Any, asyncio.Future[None]] = {}
        # The futures of requests whose response settles a future of the engine's own
        # (handed over by the poster): waited on as they are, no second future per call.
        self._settled: dict[Any, asyncio.Future[Any]] = {}

    def expect(
        self, request_id: Any, response: asyncio.Future[Any] | None = None
    ) -> asyncio.Future[Any]:
        """A future done once the response to ``request_id`` was delivered: ``response``
        itself where given (the future ``on_message`` settles with that response), else
        a new one."""
        if response is not None:
            self._settled[request_id] = response
            return response
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = waiter
        return waiter

    def __len__(self) -> int:
        """How many requests wait for their response."""
        return len(self._waiting) + len(self._settled)

    def forget(self, request_id: Any) -> None:
        """Stop waiting for ``request_id`` (answered, failed or cancelled)."""
        self._waiting.pop(request_id, None)
        self._settled.pop(request_id, None)

    def deliver(self, raw: bytes | str, source: str) -> None:
        """Hand every message of ``raw`` to the engine, then release its waiter; a text
        that is not JSON-RPC is dropped with a warning."""
        try:
            messages = loads_messages(raw, source=source)
        except InvalidResponseError as exc:
            log.warning("dropped a message that is not JSON-RPC: %s", exc)
            return
        for message in messages:
            self._on_message(message)
            if "method" not in message:  # a response: its request is over
                request_id = message.get("id")
            elif message["method"] == "notifications/cancelled" and self._modern():
                # The server ended one of our requests (a modern server ends a subscription
                # so on stdio): it is over too, without a response.
                params = message.get("params")
                request_id = params.get("requestId") if isinstance(params, dict) else None
            else:
                continue
            waiter = self._waiting.get(request_id)
            if waiter is not None:
                if not waiter.done():
                    waiter.set_result(None)
                continue
            response = self._settled.get(request_id)
            if response is not None and not response.done():
                # Over, and the engine did not take it as the request's response.
                response.set_exception(
                    TransportError(f"{source} ended request {request_id!r} without a response")
                )

    def _modern(self) -> bool:
        return self._state is not None and self._state.era == "modern"

    def fail(self, error: BaseException) -> None:
        """The stream ended: every waiter fails with ``error``."""
        for waiter in (*self._waiting.values(), *self._settled.values()):
            if not waiter.done():
                waiter.set_exception(error)

    def clear(self) -> None:
        """Forget every waiter (a new stream starts)."""
        self._waiting.clear()
        self._settled.clear()
