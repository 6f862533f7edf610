"""Reading the SSE reply streams of Streamable HTTP: events decoded, messages delivered,
a request's response held until its stream ends (briefly), and a stream the server keeps
open after the response read on in a task, so the call it answers need not wait.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._jsonrpc import loads_messages
from .._lazy import LazyModule
from .._timeouts import wait_for
from ..connection import ConnectionState
from ..errors import InvalidResponseError, TransportError
from ._http import HTTPOptions
from ._sse import SSEDecoder

__all__ = ["DRAINING", "SSEReplies", "StreamBroken"]

if TYPE_CHECKING:
    import aiohttp
else:
    aiohttp = LazyModule("aiohttp")  # imported when the first transport is made

log = logging.getLogger("duomcp.transport")

_HOLD = 0.05  # seconds a reply stream may take to end after its response
DRAINING = 2
"""What :meth:`SSEReplies.read` returns when the response came and a task reads the rest."""


class StreamBroken(TransportError):
    """The connection dropped in the middle of an SSE stream."""


class SSEReplies:
    """Reads the SSE streams of one connection and delivers their messages to
    ``on_message``; owns the tasks that read on after a response (closed with it)."""

    def __init__(
        self,
        state: ConnectionState,
        options: HTTPOptions,
        on_message: Callable[[dict[str, Any]], None],
    ) -> None:
        self._state = state
        self._options = options
        self._on_message = on_message
        self._drains: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        """Stop reading the streams still open after their response; idempotent."""
        drains = list(self._drains)
        for task in drains:
            task.cancel()
        if drains:
            await asyncio.gather(*drains, return_exceptions=True)

    async def read(
        self,
        resp: aiohttp.ClientResponse,
        stream_key: str,
        request_id: str | int | None,
        decoder: SSEDecoder | None = None,
    ) -> int:
        """Deliver the messages of one SSE response; return whether ``request_id``'s
        response was among them (``DRAINING``: yes, and a task now reads the rest of a
        stream the server keeps open, and releases ``resp``). Raises
        :class:`StreamBroken` if the connection drops before the response (after it, a
        drop only costs the connection). With a ``decoder``, the response came already:
        read on for at most ``drain_timeout`` between two pieces."""
        answered = decoder is not None
        if decoder is None:
            decoder = SSEDecoder(
                max_line_bytes=self._options.max_sse_line_bytes,
                max_event_bytes=self._options.max_message_bytes,
            )
        state = self._state
        content = resp.content
        # The response is held until the stream ends (or briefly, _HOLD seconds): the
        # connection then goes back to the pool before the caller sends its next request.
        held: dict[str, Any] | None = None
        source = f"SSE event from {self._state.endpoint}"
        while True:
            try:
                if answered and not content.is_eof():
                    wait = _HOLD if held is not None else self._options.drain_timeout
                    chunk = await wait_for(content.readany(), wait)
                else:
                    # Nothing to wait for once the body is complete (the usual reply:
                    # one event, then the end): no timer, no task of wait_for.
                    chunk = await content.readany()
            except asyncio.TimeoutError:
                if held is not None:
                    self._on_message(held)
                    # The call has its answer: it does not wait for the server to end
                    # the stream; a task reads what else comes, as long as it comes.
                    task = asyncio.ensure_future(self._drain(resp, stream_key, decoder))
                    self._drains.add(task)
                    task.add_done_callback(self._drains.discard)
                    return DRAINING
                resp.close()  # the server keeps an answered stream open: give up the socket
                return True
            except (aiohttp.ClientError, OSError) as exc:
                if answered:
                    if held is not None:
                        self._on_message(held)
                    return True
                raise StreamBroken(f"SSE stream of {self._state.endpoint} broke: {exc}") from exc
            if not chunk:
                decoder.close()
                if held is not None:
                    self._on_message(held)
                return answered
            events = decoder.feed(chunk)
            if decoder.last_event_id:
                state.last_event_ids[stream_key] = decoder.last_event_id
            if decoder.retry is not None:
                state.server_retry_ms = decoder.retry
            for event in events:
                if not event.data or event.event != "message":
                    continue
                try:
                    messages = loads_messages(event.data, source=source)
                except InvalidResponseError:
                    if request_id is not None:
                        raise
                    log.warning("dropped an SSE event that is not JSON-RPC from %s", source)
                    continue
                for message in messages:
                    if (
                        request_id is not None
                        and message.get("id") == request_id
                        and "method" not in message
                    ):
                        answered = True
                        held = message
                        continue
                    self._on_message(message)

    async def _drain(
        self, resp: aiohttp.ClientResponse, stream_key: str, decoder: SSEDecoder
    ) -> None:
        """Read the rest of an answered reply stream (see :meth:`read`)."""
        try:
            await self.read(resp, stream_key, None, decoder)
        except asyncio.CancelledError:
            resp.close()
            raise
        except Exception as exc:  # nobody waits for this: it ends here
            resp.close()
            log.debug("stopped reading the rest of an answered reply stream: %s", exc)
        finally:
            resp.release()
