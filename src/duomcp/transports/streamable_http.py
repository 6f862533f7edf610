"""Streamable HTTP transport, both eras (2025-03-26 ... 2025-11-25, and 2026-07-28).

Every request goes through the shared :class:`~duomcp.transports._http.HTTPSender`, which
takes all headers from the :class:`~duomcp.connection.ConnectionState` and sends every
401/403 to the one auth path. POSTs never follow redirects and are never re-sent to
recover a broken reply: a broken legacy reply stream is resumed with GET and
``Last-Event-ID``; a broken modern one raises :class:`~duomcp.errors.ReplyLostError`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._jsonrpc import dumps, loads_messages
from .._lazy import LazyModule
from .._timeouts import wait_for
from ..auth import RequestKind
from ..connection import ConnectionState
from ..errors import (
    AuthError,
    HTTPStatusError,
    InvalidResponseError,
    MCPError,
    MessageTooLargeError,
    ReplyLostError,
    SessionExpiredError,
    SSEDecodeError,
    TransportError,
)
from ._http import HTTPOptions, HTTPSender
from ._sse_replies import DRAINING, SSEReplies, StreamBroken

__all__ = ["HTTPOptions", "StreamableHTTPTransport"]

if TYPE_CHECKING:
    import aiohttp

    from ._base import Transport
else:
    aiohttp = LazyModule("aiohttp")  # imported when the first transport is made

log = logging.getLogger("duomcp.transport")

GET_STREAM = "get"
# A server's `retry` is honoured up to an hour; beyond that it is a bug or an attack.
_MAX_SERVER_RETRY_MS = 3_600_000


def _is_success(status: int) -> bool:
    return 200 <= status < 300


class StreamableHTTPTransport:
    """Sends JSON-RPC messages by POST and reads replies and server streams over SSE.

    Incoming messages are handed, in order, to ``on_message``; the transport never
    interprets them beyond noticing the response it is waiting for.
    """

    probe_timeout: float | None = None
    """No bound of its own on the era probe: an HTTP server answers it or fails."""
    remembers_era = True
    """An endpoint URL's era is worth remembering for later clients."""
    generation = 0
    """Never restarted."""

    def __init__(
        self,
        state: ConnectionState,
        *,
        on_message: Callable[[dict[str, Any]], None],
        options: HTTPOptions | None = None,
        http: aiohttp.ClientSession | None = None,
        sender: HTTPSender | None = None,
    ) -> None:
        self._on_message = on_message
        self.sender = (sender or HTTPSender(state, options=options, http=http)).acquire()
        """The HTTP request path (and connection pool) this transport sends through."""
        self._closed = False
        self.state = state
        """The connection state every request takes its headers from."""
        self.options = self.sender.options
        """The limits and timings in force."""
        self._replies = SSEReplies(state, self.options, on_message)

    async def revive(self, generation: int) -> bool:
        """Nothing to start again over HTTP: ``False``."""
        return False

    def cancels_requests(self, era: str | None) -> bool:
        """Whether cancelling :meth:`post` tells the server itself: in the modern era,
        closing a request's reply stream is its cancellation; legacy servers need
        ``notifications/cancelled``."""
        return era == "modern"

    def fallback(self) -> Transport | None:
        """The deprecated HTTP+SSE transport for the same server, state and connection
        pool, to try when POSTs are refused (400/404/405) by what may be a 2024-11-05
        server."""
        from .legacy_sse import LegacySSETransport  # imported on first use

        return LegacySSETransport(self.state, on_message=self._on_message, sender=self.sender)

    async def close(self) -> None:
        """Let go of the connection pool (closed with its last user); idempotent."""
        if not self._closed:
            self._closed = True
            await self._replies.close()
            await self.sender.release()

    # -- POST ---------------------------------------------------------------------------

    async def post(
        self,
        message: dict[str, Any],
        *,
        request_id: str | int | None = None,
        initialize: bool = False,
        response: asyncio.Future[Any] | None = None,
    ) -> None:
        """POST one message and deliver every message of the reply.

        For a request (``request_id`` given) this returns once the response has been
        delivered and the reply stream has ended, resuming a broken stream with GET and
        ``Last-Event-ID``. For a notification or response it returns on 202 Accepted.

        Raises:
            TransportError: the POST or its reply failed and could not be resumed.
            JSONRPCError: the server refused the message with a JSON-RPC error body.
        """
        url = self.state.endpoint
        resp = await self.sender.send("post", body=dumps(message), message=message)
        stream_key = f"post:{request_id}"
        modern = self.state.era == "modern"
        draining = False
        try:
            if initialize:
                self.state.set_session_id(resp.headers.get("Mcp-Session-Id"))
            if not _is_success(resp.status):
                await self.sender.raise_for_status(resp, f"POST {url}")
            ctype = resp.content_type
            if request_id is None:
                if resp.status not in (200, 202, 204):
                    await self.sender.raise_for_status(resp, f"POST {url}")
                return
            if resp.status in (202, 204):
                raise InvalidResponseError(
                    f"POST {url} accepted a request ({resp.status}) but sent no response"
                )
            if ctype == "application/json":
                self._deliver_json(await self._read_body(resp, url), url, request_id)
                return
            if ctype != "text/event-stream":
                raise InvalidResponseError(
                    f"POST {url} answered with Content-Type {ctype!r}; "
                    "expected application/json or text/event-stream"
                )
            try:
                answered = await self._replies.read(resp, stream_key, request_id)
                draining = answered == DRAINING
                if answered:
                    return
            except StreamBroken as exc:
                log.debug("reply stream for request %s broke: %s", request_id, exc)
        except BaseException:
            # Cancelled or failed mid-reply: close the connection, never pool it. In the
            # modern era closing the reply stream is how a request is cancelled.
            resp.close()
            raise
        finally:
            if not draining:  # else the drain task releases it
                resp.release()
        if modern:
            raise ReplyLostError(
                f"the reply stream of request {request_id} to {url} ended before its response"
            )
        try:
            await self._resume(stream_key, request_id)
        except (AuthError, InvalidResponseError) as exc:
            # The POST was taken: whatever stopped its resumption, the request may have run.
            raise ReplyLostError(
                f"the reply of request {request_id} to {url} could not be resumed: {exc}"
            ) from exc
        finally:
            self.state.last_event_ids.pop(stream_key, None)

    def _deliver_json(self, raw: bytes, url: str, request_id: str | int) -> None:
        answered = False
        for message in loads_messages(raw, source=f"reply of {url}"):
            if message.get("id") == request_id and ("result" in message or "error" in message):
                answered = True
            self._on_message(message)
        if not answered:
            raise InvalidResponseError(
                f"the JSON reply of {url} holds no response to request {request_id}"
            )

    async def _read_body(self, resp: aiohttp.ClientResponse, url: str) -> bytes:
        cap = self.options.max_message_bytes
        length = resp.content_length
        if length is not None and length > cap:
            raise MessageTooLargeError(
                f"reply of {url} is {length} bytes, over the {cap}-byte cap "
                "(raise it with max_message_bytes)"
            )
        try:
            if length is not None:
                return await resp.read()
            # Chunked: read what arrives, counting against the cap; the usual reply is one
            # piece, returned as it is (no copy).
            content = resp.content
            chunks: list[bytes] = []
            size = 0
            while chunk := await content.readany():
                size += len(chunk)
                if size > cap:
                    raise MessageTooLargeError(
                        f"reply of {url} exceeds the {cap}-byte cap (raise max_message_bytes)"
                    )
                chunks.append(chunk)
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)  # b"" for none
        except MCPError:
            raise  # the size cap (a TransportError is an OSError too)
        except (aiohttp.ClientError, OSError) as exc:
            raise ReplyLostError(f"reply of {url} broke off: {exc}") from exc

    def _reconnect_delay(self, failures: int) -> float:
        retry_ms = self.state.server_retry_ms
        if retry_ms is not None:
            retry_ms = min(retry_ms, _MAX_SERVER_RETRY_MS)
        if retry_ms is not None and failures == 0:
            return retry_ms / 1000  # the server's retry is a MUST to honour
        base = retry_ms / 1000 if retry_ms is not None else self.options.reconnect_delay
        delay = min(self.options.max_reconnect_delay, base * (2**failures))
        return float(delay * random.uniform(0.5, 1.0) if failures else delay)

    async def _resume(self, stream_key: str, request_id: str | int | None) -> None:
        """Resume a request's reply stream with GET + Last-Event-ID until its response."""
        url = self.state.endpoint
        failures = 0
        while True:
            if stream_key not in self.state.last_event_ids:
                raise ReplyLostError(
                    f"the reply stream of request {request_id} to {url} ended before its "
                    "response and the server gave no event id to resume from"
                )
            await asyncio.sleep(self._reconnect_delay(failures))
            before = self.state.last_event_ids.get(stream_key)
            try:
                resp = await self.sender.send("resume", stream=stream_key)
                try:
                    if not _is_success(resp.status):
                        await self.sender.raise_for_status(resp, f"GET {url} (resuming)")
                    if resp.content_type != "text/event-stream":
                        raise InvalidResponseError(
                            f"GET {url} (resuming) answered {resp.content_type!r}, not SSE"
                        )
                    if await self._replies.read(resp, stream_key, request_id):
                        return
                finally:
                    resp.release()
            except SessionExpiredError as exc:
                # The POST was taken; only its reply is gone with the session. Not a
                # refusal: the request may have run, so it must not be sent again as one.
                raise ReplyLostError(
                    f"the session ended while resuming the reply of request {request_id}: {exc}"
                ) from exc
            except HTTPStatusError as exc:
                if 400 <= exc.status < 500 and exc.status not in (408, 429):
                    raise ReplyLostError(
                        f"could not resume the reply of request {request_id}: {exc}"
                    ) from exc
                log.debug("resuming request %s failed: %s", request_id, exc)
            except SSEDecodeError:
                raise
            except TransportError as exc:  # network trouble or another broken stream
                log.debug("resuming request %s failed: %s", request_id, exc)
            progressed = self.state.last_event_ids.get(stream_key) != before
            failures = 0 if progressed else failures + 1
            if failures > self.options.max_reconnect_attempts:
                raise ReplyLostError(
                    f"gave up resuming the reply of request {request_id} from {url} "
                    f"after {failures} attempts"
                )

    # -- GET stream ---------------------------------------------------------------------

    async def listen(self, opened: Callable[[], None] | None = None) -> None:
        """Hold the server's GET stream open, reconnecting with backoff, until cancelled.

        ``opened`` is called once, when the first attempt has an answer (a stream, a
        refusal or a failure), so a caller can wait until server messages can flow.
        Returns when the server offers no stream (405 or another 4xx), the session
        expired, auth failed, or the reconnection attempts ran out.
        """
        url = self.state.endpoint
        failures = 0
        first = True
        try:
            while True:
                if not first:
                    await asyncio.sleep(self._reconnect_delay(failures))
                first = False
                before = self.state.last_event_ids.get(GET_STREAM)
                kind: RequestKind = "resume" if before else "get"
                try:
                    resp = await self.sender.send(kind, stream=GET_STREAM)
                    try:
                        if resp.status == 405:
                            log.debug("%s offers no GET stream (405)", url)
                            return
                        if not _is_success(resp.status):
                            await self.sender.raise_for_status(resp, f"GET {url}")
                        if resp.content_type != "text/event-stream":
                            raise InvalidResponseError(
                                f"GET {url} answered {resp.content_type!r}, not an SSE stream"
                            )
                        if opened is not None:
                            opened()
                            opened = None
                        await self._replies.read(resp, GET_STREAM, None)
                    finally:
                        resp.release()
                except (SessionExpiredError, AuthError) as exc:
                    log.warning("GET stream of %s stopped: %s", url, exc)
                    return
                except HTTPStatusError as exc:
                    if 300 <= exc.status < 400:
                        log.warning("GET stream of %s stopped: %s", url, exc)
                        return  # never followed: the session would go to another URL
                    if 400 <= exc.status < 500 and exc.status not in (408, 429):
                        log.debug("%s offers no GET stream (%d)", url, exc.status)
                        return
                    failures += 1
                except MCPError as exc:
                    log.debug("GET stream of %s failed: %s", url, exc)
                    failures += 1
                else:
                    # A clean end is the server's way to make us poll (SEP-1699).
                    progressed = self.state.last_event_ids.get(GET_STREAM) != before
                    failures = 0 if progressed else failures + 1
                if opened is not None:
                    opened()
                    opened = None
                if failures > self.options.max_reconnect_attempts:
                    log.warning("GET stream of %s given up after %d attempts", url, failures)
                    return
        finally:
            if opened is not None:
                opened()

    # -- DELETE -------------------------------------------------------------------------

    async def delete_session(self) -> None:
        """End the session with DELETE (405 tolerated), bounded by ``delete_timeout``."""
        if self.state.session_id is None:
            return
        url = self.state.endpoint
        try:
            resp = await wait_for(self.sender.send("delete"), self.options.delete_timeout)
            resp.release()
            if resp.status not in (200, 202, 204, 404, 405):
                log.debug("DELETE %s answered %d", url, resp.status)
        except (MCPError, asyncio.TimeoutError) as exc:
            log.debug("DELETE %s failed: %s", url, exc)
        finally:
            self.state.session_id = None
