"""HTTP and JSON-RPC plumbing both eras of the reference server share.

JSON-RPC error bodies and the HTTP error responses that carry them, reading ``Accept``,
turning a request's work into its JSON-RPC response, writing an :class:`EventStream` to an
SSE response (:func:`pump`), and :class:`Cut`, what a handler returns once it has aborted
the connection. Nothing here knows sessions or eras.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Mapping
from typing import Any, Literal

from aiohttp import web

from ._session import ProtocolFault
from ._streams import EventStream

__all__ = [
    "POLL_SECONDS",
    "SSE_HEADERS",
    "UNLOSABLE_METHODS",
    "Cut",
    "PumpOutcome",
    "abort",
    "dumps",
    "error",
    "json_error",
    "media_types",
    "pump",
    "respond",
    "valid_id",
]

log = logging.getLogger("duomcp.testing")

SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
POLL_SECONDS = 0.05
"""How often a watched, idle SSE response checks whether the client closed it."""
UNLOSABLE_METHODS = frozenset({"initialize", "server/discover", "subscriptions/listen"})
"""Requests whose replies ``ServerFaults.lose_replies`` never loses."""

PumpOutcome = Literal["done", "closed", "cut"]


class Cut(web.Response):
    """What a handler returns after aborting the connection: nothing reaches the client."""


def abort(request: web.BaseRequest) -> Cut:
    """Abort ``request``'s connection at once (no status line if none was sent yet)."""
    if request.transport is not None:
        request.transport.abort()
    return Cut(status=500)


def dumps(message: Any) -> str:
    """``message`` as compact JSON text."""
    return json.dumps(message, separators=(",", ":"))


def error(request_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    """A JSON-RPC error response (without ``id`` when ``request_id`` is None)."""
    reply: dict[str, Any] = {"jsonrpc": "2.0"}
    if request_id is not None:
        reply["id"] = request_id
    reply["error"] = {"code": code, "message": message}
    if data is not None:
        reply["error"]["data"] = data
    return reply


def json_error(
    status: int,
    code: int,
    message: str,
    *,
    request_id: Any = None,
    data: Any = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """An HTTP error whose body is a JSON-RPC error."""
    body = error(request_id, code, message, data)
    return web.json_response(body, status=status, headers=headers)


def media_types(request: web.BaseRequest) -> set[str]:
    """The media types the ``Accept`` headers list, lower-cased, without parameters."""
    values = ",".join(request.headers.getall("Accept", []))
    return {part.split(";", 1)[0].strip().lower() for part in values.split(",")}


def valid_id(value: Any) -> bool:
    """Whether ``value`` may be a JSON-RPC request id (a string or an integer)."""
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


async def respond(request_id: Any, method: str, work: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    """The response to a request whose result ``work`` computes.

    A :class:`ProtocolFault` becomes the response's error; any other exception is a bug in
    a fixture and becomes -32603 (logged) instead of a hang. Cancellation propagates.
    """
    try:
        result = await work
    except ProtocolFault as fault:
        return {"jsonrpc": "2.0", "id": request_id, "error": fault.to_error()}
    except Exception as exc:
        log.exception("the reference server failed on %s", method)
        return error(request_id, -32603, f"Internal error: {exc!r}")
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


async def pump(
    request: web.BaseRequest,
    response: web.StreamResponse,
    stream: EventStream,
    after: int = -1,
    *,
    event_ids: bool = True,
    drop_after: int | None = None,
    cut_before_response: bool = False,
    end_after_priming: bool = False,
    watch: bool = False,
) -> PumpOutcome:
    """Write ``stream``'s events after sequence number ``after`` to ``response``.

    Returns ``done`` (the stream ended, and so did the response), ``closed`` (the client
    went away) or ``cut`` (the connection was closed on purpose: after ``drop_after``
    events, or before a response event when ``cut_before_response``). ``event_ids``: give
    every event its ``id``; ``end_after_priming``: end the response cleanly after a priming
    event; ``watch``: notice a closed connection while waiting, every :data:`POLL_SECONDS`.
    """
    seq, sent = after + 1, 0
    while True:
        transport = request.transport
        if watch and (transport is None or transport.is_closing()):
            return "closed"
        if drop_after is not None and sent >= drop_after:
            return _cut(request)
        try:
            waiting = stream.next_event(seq)
            item = await (asyncio.wait_for(waiting, POLL_SECONDS) if watch else waiting)
        except asyncio.TimeoutError:
            continue
        if item is None:
            break
        seq, event = item
        if cut_before_response and event.kind == "response":
            return _cut(request)
        try:
            await response.write(event.frame(stream.event_id(seq) if event_ids else None))
        except ConnectionError:
            return "closed"
        sent += 1
        stream.cursor = max(stream.cursor, seq)
        seq += 1
        if end_after_priming and event.kind == "priming":
            break
    try:
        await response.write_eof()
    except ConnectionError:
        return "closed"
    return "done"


def _cut(request: web.BaseRequest) -> PumpOutcome:
    """Close the connection mid-response: what was written is flushed, then FIN."""
    if request.transport is not None:
        request.transport.close()
    return "cut"


def server_capabilities() -> dict[str, Any]:
    """What the reference server offers, in either era."""
    return {
        "tools": {"listChanged": True},
        "resources": {"subscribe": True, "listChanged": True},
        "prompts": {"listChanged": True},
        "logging": {},
        "completions": {},
    }
