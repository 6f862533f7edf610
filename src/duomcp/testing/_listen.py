"""The modern era's ``subscriptions/listen`` streams: who listens to what, and fan-out.

:class:`Subscriptions` serves an accepted listen request as an SSE stream that opens with
``notifications/subscriptions/acknowledged``, sends each listener the change notifications
it opted in to (tagged with its subscription id), and ends the streams gracefully (with
the listen result) or abruptly. Validating the request is :mod:`._modern`'s job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from aiohttp import web

from ._http import SSE_HEADERS, dumps, pump
from ._streams import Event, EventStream

__all__ = ["LIST_FLAGS", "META_SUBSCRIPTION", "Listener", "Subscriptions", "honoured"]

META_SUBSCRIPTION = "io.modelcontextprotocol/subscriptionId"
LIST_FLAGS = {
    "notifications/tools/list_changed": "toolsListChanged",
    "notifications/prompts/list_changed": "promptsListChanged",
    "notifications/resources/list_changed": "resourcesListChanged",
}
"""The list-changed notifications, by the flag a listen request opts in with."""


def honoured(asked: Mapping[str, Any], readable: Callable[[str], bool]) -> dict[str, Any]:
    """What of the ``notifications`` asked for is granted: the flags that are true, and the
    subscriptions to resources that exist."""
    granted: dict[str, Any] = {}
    for flag in LIST_FLAGS.values():
        if asked.get(flag) is True:
            granted[flag] = True
    uris = asked.get("resourceSubscriptions")
    if isinstance(uris, list):
        granted["resourceSubscriptions"] = [
            uri for uri in uris if isinstance(uri, str) and readable(uri)
        ]
    return granted


@attrs.define(eq=False)
class Listener:
    """One open ``subscriptions/listen`` stream."""

    request_id: Any
    honoured: dict[str, Any]
    stream: EventStream
    transport: asyncio.Transport | None
    ended: asyncio.Event = attrs.field(factory=asyncio.Event)

    def wants(self, method: str, params: Mapping[str, Any]) -> bool:
        """Whether the listener asked for this notification."""
        flag = LIST_FLAGS.get(method)
        if flag is not None:
            return self.honoured.get(flag) is True
        if method == "notifications/resources/updated":
            return params.get("uri") in self.honoured.get("resourceSubscriptions", ())
        if method == "notifications/tasks":
            return params.get("taskId") in self.honoured.get("taskIds", ())
        return False


class Subscriptions:
    """The open listen streams of a modern endpoint; ``result_meta`` goes in their results."""

    def __init__(self, result_meta: Mapping[str, Any]) -> None:
        self.result_meta = dict(result_meta)
        self.listeners: list[Listener] = []

    async def serve(
        self, request: web.Request, request_id: Any, granted: dict[str, Any]
    ) -> web.StreamResponse:
        """Acknowledge ``granted`` and stream notifications until the listen ends."""
        stream = EventStream("l")
        ack = {
            "jsonrpc": "2.0",
            "method": "notifications/subscriptions/acknowledged",
            "params": {"_meta": {META_SUBSCRIPTION: request_id}, "notifications": granted},
        }
        stream.append(Event("message", dumps(ack)))
        listener = Listener(request_id, granted, stream, request.transport)
        self.listeners.append(listener)
        response = web.StreamResponse(headers=SSE_HEADERS)
        try:
            await response.prepare(request)
            await pump(request, response, stream, event_ids=False, watch=True)
        finally:
            if listener in self.listeners:
                self.listeners.remove(listener)
            listener.ended.set()
        return response

    def announce(self, method: str, params: dict[str, Any] | None = None) -> None:
        """Send a change notification to every listener that asked for it."""
        params = params or {}
        for listener in list(self.listeners):
            if not listener.wants(method, params):
                continue
            meta = params.get("_meta")
            tagged = {
                **params,
                "_meta": {
                    **(meta if isinstance(meta, dict) else {}),
                    META_SUBSCRIPTION: listener.request_id,
                },
            }
            message = {"jsonrpc": "2.0", "method": method, "params": tagged}
            listener.stream.append(Event("message", dumps(message)))

    async def end(self, graceful: bool) -> None:
        """End every listen stream: with its result (graceful) or by cutting the connection."""
        listeners = list(self.listeners)
        for listener in listeners:
            if graceful:
                meta = {META_SUBSCRIPTION: listener.request_id, **self.result_meta}
                result = {"resultType": "complete", "_meta": meta}
                reply = {"jsonrpc": "2.0", "id": listener.request_id, "result": result}
                listener.stream.append(Event("response", dumps(reply)))
                listener.stream.finish()
            elif listener.transport is not None:
                listener.transport.abort()
        if listeners:
            waiters = [asyncio.ensure_future(listener.ended.wait()) for listener in listeners]
            await asyncio.wait(waiters, timeout=2.0)
            for waiter in waiters:
                waiter.cancel()

    def close(self) -> None:
        """End every listen stream where it stands (server shutdown)."""
        for listener in list(self.listeners):
            listener.stream.finish()
